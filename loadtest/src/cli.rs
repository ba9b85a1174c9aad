//! Command-line interface: `run` (the default), `replay` and `redis-bench`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ops::{OpKind, MIX_KINDS};

/// Load test and trace replay for the invite-limiter engine.
#[derive(Debug, Parser)]
#[command(
    name = "invite-loadtest",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = "With no subcommand, `run` is assumed: `invite-loadtest --members 10000` \
                  is `invite-loadtest run --members 10000`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a synthetic workload on the in-memory or the Redis engine and print a report (the default).
    Run(Box<RunArgs>),
    /// Replay a JSON Lines trace of timestamped operations and write each decision as JSON Lines.
    Replay(ReplayArgs),
    /// Side by side on one Redis backend: the engine's send, a hand-written sliding-window
    /// log script, the in-memory engine, and the near-cache on and off.
    RedisBench(RedisBenchArgs),
    /// The latency of sends while one thread sweeps a million due invitations, against
    /// the same sends with nothing to sweep (in-memory engine).
    SweepStall(SweepStallArgs),
}

/// Which engine a run drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory `Engine`.
    Memory,
    /// The Redis engine on one server (one URL) or a cluster (several URLs).
    Redis(String),
}

impl Backend {
    /// The name reports give the backend.
    pub fn describe(&self) -> String {
        match self {
            Backend::Memory => "memory".into(),
            Backend::Redis(urls) if urls.contains(',') => format!("redis cluster {urls}"),
            Backend::Redis(url) => format!("redis {url}"),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Backend::Redis(_))
    }
}

fn parse_backend(text: &str) -> Result<Backend, String> {
    let text = text.trim();
    if text == "memory" {
        return Ok(Backend::Memory);
    }
    redis_urls(text).map(Backend::Redis)
}

/// One Redis URL, or a comma-separated list of cluster node URLs, normalised.
fn redis_urls(text: &str) -> Result<String, String> {
    let urls: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err("expected `memory`, a redis:// URL or a comma-separated list of them".into());
    }
    for u in &urls {
        if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
            return Err(format!(
                "`{u}` is not a redis:// URL (expected `memory`, redis://host:port/ \
                 or a comma-separated list of cluster node URLs)"
            ));
        }
    }
    Ok(urls.join(","))
}

/// Baselines that can run on the same operation stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Baseline {
    /// governor 0.10 `check_key` (keyed, DashMap store, quota 30 per day) on every send.
    Governor,
}

/// Which code decides on a Redis server (`RedisBuilder::server_side`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServerSide {
    /// The Redis module where the server has it loaded, else the engine's Lua script.
    Auto,
    /// The Redis module; the run fails when the server lacks it.
    Module,
    /// The engine's Lua script, even where the server has the module.
    Script,
}

impl From<ServerSide> for invite_limiter::redis::ServerSide {
    fn from(side: ServerSide) -> Self {
        match side {
            ServerSide::Auto => invite_limiter::redis::ServerSide::Auto,
            ServerSide::Module => invite_limiter::redis::ServerSide::Module,
            ServerSide::Script => invite_limiter::redis::ServerSide::Script,
        }
    }
}

/// What to do with a malformed trace line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Report it (stderr and an output line) and go on with the next line.
    Continue,
    /// Report it and stop with a non-zero exit status.
    Stop,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The engine: `memory`, or `redis://host:port/`, or a comma-separated list of
    /// cluster node URLs (the Redis engine; see loadtest/README.md).
    #[arg(long, default_value = "memory", value_parser = parse_backend)]
    pub backend: Backend,
    /// Redis only: engine instances, each with its own connection; workers are spread
    /// across them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub connections: u64,
    /// Redis only: prefix of every key of this run [default: `ilt-`, the start time in ms
    /// and the process id].
    #[arg(long)]
    pub redis_prefix: Option<String>,
    /// Redis only: keep this run's keys instead of deleting them at the end.
    #[arg(long)]
    pub redis_keep: bool,
    /// Redis only: which code decides on the server (a note in the report says which
    /// one did).
    #[arg(long, value_enum, default_value_t = ServerSide::Auto)]
    pub server_side: ServerSide,
    /// Redis only: the engine's deadline for each call, in milliseconds (a call past
    /// it is an `Unavailable` decision).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub deadline_ms: u64,
    /// Members in the population [default: 1,000,000; 100,000 with a Redis backend].
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub members: Option<u64>,
    /// Share of Premium members (0 to 1).
    #[arg(long, default_value_t = 0.1, value_parser = share)]
    pub premium_share: f64,
    /// Sender skew: exponent of the Zipf law senders are drawn from (0 = uniform).
    #[arg(long, default_value_t = 0.9, value_parser = non_negative)]
    pub zipf: f64,
    /// Workers: threads on the in-memory engine, tokio tasks on Redis
    /// [default: all cores; 16 with a Redis backend].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Run time in seconds (ignored when --ops is given).
    #[arg(long, default_value_t = 10.0, value_parser = positive)]
    pub duration: f64,
    /// Stop after about this many operations (engine calls) instead of after --duration.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
    /// Seed of every random choice (same seed, same operation stream per thread).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated time per real time: 3600 makes an hour of traffic pass each second.
    #[arg(long, default_value_t = 3600.0, value_parser = positive)]
    pub time_factor: f64,
    /// Pending invitations to pre-populate, with ages spanning the pending TTL [default: members / 2].
    #[arg(long)]
    pub pending: Option<u64>,
    /// Recent sends to pre-populate (sent and declined within the last day, so they count
    /// in the windows) [default: members / 10].
    #[arg(long)]
    pub recent: Option<u64>,
    /// Share of members who are spammers bursting one template note.
    #[arg(long, default_value_t = 0.001, value_parser = share)]
    pub spammer_share: f64,
    /// Sends in one spammer burst.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub spam_burst: u32,
    /// Operation mix as name=weight pairs; names: send, note, template, email, keyed,
    /// retry, spam, accept, decline, withdraw, report, capacity, diagnose (missing names weigh 0).
    #[arg(long, default_value = DEFAULT_MIX, value_parser = parse_mix)]
    pub mix: Mix,
    /// Real milliseconds between background sweeps.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub sweep_every_ms: u64,
    /// Engine lock shards [default: the engine's default].
    #[arg(long)]
    pub shards: Option<usize>,
    /// Turn every spam signal off (SpamPolicy::disabled()); the default with a Redis backend.
    #[arg(long)]
    pub no_spam: bool,
    /// Turn the spam signals on (the default on the in-memory engine; off by default
    /// with a Redis backend).
    #[arg(long, conflicts_with = "no_spam")]
    pub spam: bool,
    /// Real milliseconds per point of the timeline (plot and JSON).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..))]
    pub interval_ms: u64,
    /// Write the report as JSON to FILE ("-" for stdout; the text report then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw throughput and p99 over time as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Also run a baseline on the same operation stream and report it next to ours.
    #[arg(long, value_enum)]
    pub baseline: Option<Baseline>,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The trace: one JSON object per line ("-" for stdin).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write one decision per line [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// What a malformed line does to the replay.
    #[arg(long, value_enum, default_value_t = OnError::Continue)]
    pub on_error: OnError,
    /// Policy as JSON (the serde form of invite_limiter::Policy) [default: Policy::default()].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RedisBenchArgs {
    /// The Redis server (redis://host:port/) or a comma-separated list of cluster node URLs.
    #[arg(long, value_parser = redis_urls)]
    pub backend: String,
    /// Connection counts to measure, comma-separated (one task per connection; on the
    /// in-memory engine, as many threads).
    #[arg(long, default_value = "1,16", value_parser = parse_counts)]
    pub connections: Counts,
    /// Seconds each case runs.
    #[arg(long, default_value_t = 3.0, value_parser = positive)]
    pub duration: f64,
    /// Senders (members `1..=N`, drawn uniformly; recipients too).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(2..))]
    pub senders: u64,
    /// Near-cache case: share of senders already over their daily limit.
    #[arg(long, default_value_t = 0.2, value_parser = share)]
    pub over_share: f64,
    /// Seed of the sender stream.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the results as JSON to FILE ("-" for stdout; the table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Keep the keys of every case instead of deleting them at the end.
    #[arg(long)]
    pub redis_keep: bool,
    /// Also run the engine case with `wait_for_replicas(N, 1 s)` (strict durability;
    /// the backend's masters need N replicas each).
    #[arg(long, value_name = "N")]
    pub wait_for_replicas: Option<usize>,
    /// Memory step (standalone server): senders that each send 5 invitations, through
    /// the engine's scripts and through the Redis module; 0 skips it.
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    pub memory_senders: u64,
}

/// A list of positive counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts(pub Vec<u64>);

fn parse_counts(text: &str) -> Result<Counts, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: u64 = part
            .parse()
            .map_err(|_| format!("`{part}` is not a count"))?;
        if !(1..=1024).contains(&n) {
            return Err(format!("`{part}`: counts go from 1 to 1024"));
        }
        out.push(n);
    }
    if out.is_empty() {
        return Err("give at least one count".into());
    }
    Ok(Counts(out))
}

pub const DEFAULT_MIX: &str = "send=44,note=6,template=4,email=5,keyed=4,retry=1,spam=0.2,\
accept=8,decline=5,withdraw=2,report=1,capacity=10,diagnose=9.8";

/// Relative weights of the operation kinds a generator step picks from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    pub weights: Vec<(OpKind, f64)>,
}

fn parse_mix(text: &str) -> Result<Mix, String> {
    let mut weights: Vec<(OpKind, f64)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not name=weight"))?;
        let kind = MIX_KINDS
            .iter()
            .copied()
            .find(|k| k.mix_name() == name.trim())
            .ok_or_else(|| format!("unknown operation `{}` in the mix", name.trim()))?;
        let weight: f64 = weight
            .trim()
            .parse()
            .map_err(|_| format!("weight of `{}` is not a number", name.trim()))?;
        if !weight.is_finite() || weight < 0.0 {
            return Err(format!("weight of `{}` must be zero or more", name.trim()));
        }
        if weights.iter().any(|(k, _)| *k == kind) {
            return Err(format!("`{}` appears twice in the mix", name.trim()));
        }
        weights.push((kind, weight));
    }
    if weights.iter().all(|(_, w)| *w == 0.0) {
        return Err("the mix needs at least one operation with a weight above zero".into());
    }
    Ok(Mix { weights })
}

fn parse_f64(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("`{text}` is not a finite number"))
    }
}

fn share(text: &str) -> Result<f64, String> {
    let v = parse_f64(text)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0 and 1".into())
    }
}

fn non_negative(text: &str) -> Result<f64, String> {
    let v = parse_f64(text)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err("must be zero or more".into())
    }
}

fn positive(text: &str) -> Result<f64, String> {
    let v = parse_f64(text)?;
    if v > 0.0 && v < 1e12 {
        Ok(v)
    } else {
        Err("must be above zero".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mix_parses_and_bad_mixes_are_errors() {
        let mix = parse_mix(DEFAULT_MIX).unwrap();
        assert_eq!(mix.weights.len(), MIX_KINDS.len());
        assert!(parse_mix("send=1,bogus=2").unwrap_err().contains("bogus"));
        assert!(parse_mix("send=x").is_err());
        assert!(parse_mix("send=0").is_err());
        assert!(parse_mix("send=1,send=2").is_err());
        assert!(parse_mix("send=-1").is_err());
    }

    #[test]
    fn no_arguments_is_a_default_run() {
        let cli = Cli::try_parse_from(["invite-loadtest"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.members, None);
        assert_eq!(cli.run.backend, Backend::Memory);
        let cli = Cli::try_parse_from(["invite-loadtest", "replay", "--input", "t.jsonl"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Replay(_))));
    }

    #[test]
    fn backends_and_counts_parse() {
        assert_eq!(parse_backend("memory").unwrap(), Backend::Memory);
        assert_eq!(
            parse_backend("redis://127.0.0.1:6390/").unwrap(),
            Backend::Redis("redis://127.0.0.1:6390/".into())
        );
        let cluster = parse_backend(" redis://a:1/, redis://b:2/ ,").unwrap();
        assert_eq!(cluster, Backend::Redis("redis://a:1/,redis://b:2/".into()));
        assert!(cluster.describe().starts_with("redis cluster"));
        assert!(parse_backend("127.0.0.1:6379").is_err());
        assert!(parse_backend("").is_err());
        assert_eq!(parse_counts("1, 16").unwrap(), Counts(vec![1, 16]));
        assert!(parse_counts("0").is_err());
        assert!(parse_counts("x").is_err());
        let cli = Cli::try_parse_from([
            "invite-loadtest",
            "redis-bench",
            "--backend",
            "redis://127.0.0.1:6390/",
        ])
        .unwrap();
        match cli.command {
            Some(Command::RedisBench(b)) => {
                assert_eq!(b.connections, Counts(vec![1, 16]));
                assert_eq!(b.duration, 3.0);
                assert_eq!(b.over_share, 0.2);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["invite-loadtest", "--spam", "--no-spam"]).is_err());
    }
}

#[derive(Debug, Clone, Args)]
pub struct SweepStallArgs {
    /// Invitations that fall due at once (10 per sender).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub due: u64,
    /// Seconds of timed sends with nothing to sweep.
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Seed of the senders and recipients drawn.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}
