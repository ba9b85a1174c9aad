//! The Redis engine under failures: a server that dies and comes back, a server that
//! hangs, a cluster master killed mid-load, and data under our prefix that the engine
//! did not write. Each test starts its own servers (on ports no other test uses) so
//! it can kill them; they run when the Redis suite runs (see `redis_support`).
#![cfg(feature = "redis")]

mod redis_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use invite_limiter::redis::{FailureMode, RedisEngine, RedisTarget, ServerSide};
use invite_limiter::{
    DenyReason, InviteError, InviteId, InviteRequest, ManualClock, MemberId, Outage, Timestamp,
};
use redis_support::{address, unique_prefix, STANDALONE};

const T0: u64 = 1_700_000_000_000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("il-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/redis.sh")
}

fn redis_sh(args: &[&str]) {
    let status = Command::new("bash")
        .arg(script())
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("bash runs");
    assert!(status.success(), "scripts/redis.sh {args:?} failed");
}

/// A server process, stopped when dropped (also when a test fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server with an append-only file synced on every write, so a restart keeps
/// every acknowledged write.
fn durable_server(port: u16, dir: &Path) -> Server {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .args(["--enable-debug-command", "local"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let child = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let pong = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "ping"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
            .unwrap_or(false);
        if pong {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("redis-server on {port} did not answer");
}

/// The limits alone: these tests hammer one sender on purpose.
fn quiet() -> invite_limiter::Policy {
    invite_limiter::Policy {
        spam: invite_limiter::SpamPolicy::disabled(),
        ..invite_limiter::Policy::default()
    }
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

fn unavailable(d: &invite_limiter::Denied) -> Option<Outage> {
    match d.reason() {
        DenyReason::Unavailable { cause } => Some(*cause),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_gives_clear_outcomes_and_a_restart_loses_nothing() {
    if address(STANDALONE).is_none() {
        return;
    }
    let dir = scratch("restart");
    let port = 6411;
    let server = durable_server(port, &dir);
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let url = format!("redis://127.0.0.1:{port}/");
    let deadline = Duration::from_millis(300);
    let engine = RedisEngine::builder(RedisTarget::parse(&url))
        .prefix(unique_prefix("restart"))
        .clock(clock.clone())
        .policy(quiet())
        .deadline(deadline)
        .connect()
        .await
        .unwrap();
    let open = RedisEngine::builder(RedisTarget::parse(&url))
        .prefix(unique_prefix("restart-open"))
        .clock(clock.clone())
        .policy(quiet())
        .deadline(deadline)
        .failure_mode(FailureMode::Open)
        .connect()
        .await
        .unwrap();
    for r in 0..20 {
        engine.send(req(1, 100 + r)).await.unwrap();
    }

    // A hung server: the call returns at its deadline, not when the server wakes.
    // Whether that send was committed is unknown to the caller; its idempotency key
    // settles it later.
    let paused = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "client", "pause", "1500", "ALL"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(paused.success());
    let started = Instant::now();
    let d = engine
        .send(req(1, 500).idempotency_key(500))
        .await
        .unwrap_err();
    assert_eq!(unavailable(&d), Some(Outage::Timeout), "{d}");
    assert!(started.elapsed() < deadline + Duration::from_millis(1000));
    assert!(d.retry_at().is_some_and(|t| t > Timestamp::from_millis(T0)));
    tokio::time::sleep(Duration::from_millis(1600)).await;

    // Killed: every call answers within the deadline with a distinct outcome.
    drop(server);
    let mut causes = Vec::new();
    for i in 0..6 {
        let started = Instant::now();
        let d = engine.send(req(1, 600 + i)).await.unwrap_err();
        assert!(
            started.elapsed() < deadline + Duration::from_millis(400),
            "{d}"
        );
        let cause = unavailable(&d).unwrap_or_else(|| panic!("not an outage: {d}"));
        assert!(d.retry_at().is_some(), "time clears an outage");
        causes.push(cause);
    }
    assert!(
        causes.contains(&Outage::CircuitOpen),
        "the breaker opens after repeated failures: {causes:?}"
    );
    assert!(engine.stats().outages >= 6, "{:?}", engine.stats());
    let dx = engine.diagnose_request(&req(1, 700)).await;
    assert!(matches!(
        dx.blockers()[0].reason(),
        DenyReason::Unavailable { .. }
    ));
    assert!(matches!(
        engine.capacity(MemberId(1)).await,
        Err(Outage::Connection | Outage::CircuitOpen | Outage::Timeout)
    ));
    // Fail-open admits, unrecorded: its id is unknown afterwards.
    let lucky = open.send(req(2, 3)).await.expect("fail-open admits");
    assert!(matches!(
        open.accept(lucky.id()).await,
        Err(InviteError::Unknown(_))
    ));

    // Back: the engine reconnects by itself and the 20 sends are still counted. The
    // repeat of the timed-out send, with its key, spends at most one slot in all.
    let server = durable_server(port, &dir);
    let back = Instant::now();
    let retried = loop {
        assert!(back.elapsed() < Duration::from_secs(15), "no recovery");
        match engine.send(req(1, 500).idempotency_key(500)).await {
            Ok(sent) => break sent,
            Err(d) if unavailable(&d).is_some() => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(d) => panic!("{d}"),
        }
    };
    let again = engine.send(req(1, 500).idempotency_key(500)).await.unwrap();
    assert_eq!(retried, again);
    let tally = send_until_full(&engine, Duration::from_secs(15), Duration::from_millis(50)).await;
    assert_eq!(
        tally.admitted, 9,
        "20 before + the keyed one + 9 after = the limit"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_data_under_our_prefix_is_a_clear_error() {
    let Some(addr) = address(STANDALONE) else {
        return;
    };
    let prefix = unique_prefix("foreign");
    // The foreign data below sits in the script's key layout.
    let engine = RedisEngine::builder(RedisTarget::parse(&addr))
        .server_side(ServerSide::Script)
        .prefix(prefix.clone())
        .connect()
        .await
        .unwrap();
    let client = redis::Client::open(addr.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let put = |args: Vec<String>| {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        cmd
    };
    let s = |x: &str| x.to_string();
    for cmd in [
        // A key of the wrong type.
        put(vec![
            s("SET"),
            format!("{{{prefix}:1}}:s"),
            s("not a sorted set"),
        ]),
        // A field that does not parse.
        put(vec![
            s("HSET"),
            format!("{{{prefix}:2}}:h"),
            s("tier"),
            s("gold"),
        ]),
        // A pair record of another format.
        put(vec![
            s("HSET"),
            format!("{{{prefix}:3}}:q"),
            s("4"),
            s("??"),
        ]),
        // An invitation record of another format.
        put(vec![
            s("HSET"),
            format!("{{{prefix}:6}}:i"),
            s("99"),
            s("junk"),
        ]),
        // An email owner that is not a member id.
        put(vec![
            s("SET"),
            format!("{{{prefix}:@x@y.co}}"),
            s("someone"),
        ]),
    ] {
        let _: () = cmd.query_async(&mut raw).await.unwrap();
    }
    let bad = |d: invite_limiter::Denied| {
        assert_eq!(unavailable(&d), Some(Outage::BadData), "{d}");
        assert_eq!(d.retry_at(), None, "bad data needs someone to look");
    };
    bad(engine.send(req(1, 9)).await.unwrap_err());
    assert_eq!(engine.capacity(MemberId(1)).await, Err(Outage::BadData));
    bad(engine.send(req(2, 9)).await.unwrap_err());
    bad(engine.send(req(3, 4)).await.unwrap_err());
    assert!(engine.send(req(3, 5)).await.is_ok(), "other pairs are fine");
    let id: InviteId = "inv-6-63".parse().unwrap();
    assert_eq!(
        engine.accept(id).await,
        Err(InviteError::Unavailable(Outage::BadData))
    );
    assert!(matches!(
        engine.register_email(MemberId(7), "x@y.co").await,
        Err(invite_limiter::EmailError::Unavailable(Outage::BadData))
    ));
    // Bad data is not an outage: the breaker stays closed for everyone else.
    for r in 0..5 {
        assert!(engine.send(req(8, 100 + r)).await.is_ok());
    }
}

/// The master that owns `key`'s slot, from `CLUSTER NODES` on `port`.
fn master_of(port: u16, key: &str) -> u16 {
    let slot: u16 = cli(port, &["cluster", "keyslot", key])
        .trim()
        .parse()
        .unwrap();
    for line in cli(port, &["cluster", "nodes"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
            continue;
        }
        let owns = f[8..].iter().any(|range| {
            let mut it = range.split('-');
            let lo: u16 = it.next().and_then(|x| x.parse().ok()).unwrap_or(u16::MAX);
            let hi: u16 = it.next().and_then(|x| x.parse().ok()).unwrap_or(lo);
            (lo..=hi).contains(&slot)
        });
        if owns {
            let addr = f[1].split('@').next().unwrap();
            return addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    }
    panic!("no master owns slot {slot}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_fails_over_without_over_admission() {
    if address(redis_support::CLUSTER).is_none() {
        return;
    }
    let dir = scratch("failover");
    let base = 7300u16;
    redis_sh(&["cluster", &base.to_string(), dir.to_str().unwrap()]);
    let _stop = ClusterDir(dir.clone());
    replicas_online(base);
    let nodes: Vec<String> = (0..6)
        .map(|i| format!("redis://127.0.0.1:{}/", base + i))
        .collect();
    let prefix = unique_prefix("failover");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let engine = RedisEngine::builder(RedisTarget::Cluster(nodes))
        .prefix(prefix.clone())
        .clock(clock.clone())
        .policy(quiet())
        .deadline(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    for r in 0..30 {
        engine.send(req(1, 100 + r)).await.unwrap();
    }
    let full = engine.send(req(1, 200)).await.unwrap_err();
    assert!(matches!(full.reason(), DenyReason::DailyLimit { .. }));
    // Let the replica catch up (replication is asynchronous; see the module docs):
    // its master confirms the replica has every write before it is killed, so a
    // busy machine cannot turn replication lag into a failure of this test.
    let victim = master_of(base, &format!("{{{prefix}:1}}:h"));
    caught_up(victim);
    // The replica holds the sender's keys before its master goes.
    let heir = replica_of(victim);
    let pattern = format!("{{{prefix}:1}}*");
    let held = |port: u16| cli(port, &["--scan", "--pattern", &pattern]);
    assert!(
        !held(heir).trim().is_empty(),
        "replica {heir} of {victim} holds no key of sender 1; by node: {:?}",
        (base..base + 6)
            .map(|p| (
                p,
                cli(p, &["role"]).lines().next().map(str::to_owned),
                held(p)
            ))
            .collect::<Vec<_>>()
    );
    let pidfile = dir.join(format!("node-{victim}/redis-{victim}.pid"));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();

    let started = Instant::now();
    let tally = send_until_full(&engine, Duration::from_secs(30), Duration::from_millis(100)).await;
    assert_eq!(tally.admitted, 0, "over-admitted after failover");
    eprintln!(
        "failover: {} unavailable answers, recovered in {:?}",
        tally.outages,
        started.elapsed()
    );
    // Writes work again on the promoted replica.
    assert!(engine.send(req(2, 3)).await.is_ok());
}

/// What member 1's fresh sends met until one was denied at the full daily limit.
struct UntilFull {
    admitted: u32,
    outages: u32,
}

/// Sends for member 1 to fresh recipients until the daily limit (30) denies, waiting
/// `pause` after each outage answer; fails past `within`, or if an attempt hangs.
async fn send_until_full(engine: &RedisEngine, within: Duration, pause: Duration) -> UntilFull {
    let started = Instant::now();
    let mut tally = UntilFull {
        admitted: 0,
        outages: 0,
    };
    let mut r = 1_000;
    loop {
        assert!(started.elapsed() < within, "no recovery within {within:?}");
        let attempt = Instant::now();
        match engine.send(req(1, r)).await {
            Ok(_) => tally.admitted += 1,
            Err(d) if unavailable(&d).is_some() => {
                // Never hangs past the deadline (plus the client's own retries).
                assert!(attempt.elapsed() < Duration::from_secs(5), "{d}");
                tally.outages += 1;
                tokio::time::sleep(pause).await;
            }
            Err(d) => {
                assert_eq!(
                    *d.reason(),
                    DenyReason::DailyLimit {
                        used: 30,
                        limit: 30
                    }
                );
                return tally;
            }
        }
        r += 1;
    }
}

/// Stops a test's cluster when dropped (also when the test fails).
struct ClusterDir(PathBuf);

impl Drop for ClusterDir {
    fn drop(&mut self) {
        // No assertion here: this may run while a failed test unwinds.
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.0)
            .stdout(Stdio::null())
            .status();
        if std::thread::panicking() {
            // The nodes' logs and files say what the cluster did: keep them.
            eprintln!("the cluster's files are kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `redis-cli -p port args…`, its standard output.
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until every master of the cluster at `base..base + 6` has its replica
/// online, so that a failover promotes a replica that has followed all along.
fn replicas_online(base: u16) {
    let started = Instant::now();
    loop {
        let online = (base..base + 6)
            .filter(|&p| cli(p, &["role"]).starts_with("master"))
            .all(|p| {
                let info = cli(p, &["info", "replication"]);
                info.contains("connected_slaves:1") && info.contains("state=online")
            });
        if online {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replicas not online"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `master`'s replica has acknowledged everything the master wrote so
/// far. (`WAIT` would not do: it waits for the writes of its own connection, and a
/// fresh connection has written nothing, so it returns at once.)
fn caught_up(master: u16) {
    let field = |info: &str, key: &str| -> Option<u64> {
        info.split(['\n', ','])
            .find_map(|f| f.trim().strip_prefix(key))
            .and_then(|v| v.parse().ok())
    };
    let info = cli(master, &["info", "replication"]);
    let written = field(&info, "master_repl_offset:").expect("the master's offset");
    let started = Instant::now();
    loop {
        let info = cli(master, &["info", "replication"]);
        if field(&info, "offset=").is_some_and(|acked| acked >= written) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica never acknowledged offset {written}: {info}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The port of `master`'s replica.
fn replica_of(master: u16) -> u16 {
    let info = cli(master, &["info", "replication"]);
    let line = info
        .lines()
        .find(|l| l.starts_with("slave0:"))
        .unwrap_or_else(|| panic!("{master} has no replica: {info}"));
    line.split(',')
        .find_map(|f| f.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line}"))
}
