//! The engine on shared state: a Redis server, cluster or Sentinel-managed master
//! that a fleet of gateways shares, with the same contract as the in-memory
//! [`Engine`](crate::Engine).
//!
//! # Layout and atomicity
//! Everything a sender's decision reads or writes — sends, notes, pending invitations,
//! pair state, cooldowns, idempotency records, tier, status, connections — lives under
//! keys tagged with the sender (`{prefix:id}:…`), so a cluster keeps them on one slot.
//! One Lua script settles what time has ended, judges the request and commits it, in
//! one atomic step and one round trip. An [`InviteId`] names its sender, so
//! `accept(id)` goes straight to the sender's slot.
//!
//! # Consistency model
//! The sender's rules (windows, note quota, pair cap, cooldown, idempotency, the
//! sender's status) are exact and linearizable per sender across every gateway: they
//! are judged and committed by one script on the master that owns the sender's slot.
//! Redis replicates asynchronously, so a failover can lose the writes a dead master
//! acknowledged but had not yet passed to its replica (typically well under a second
//! of traffic); the sends among them can then be admitted again, unless
//! [`RedisBuilder::wait_for_replicas`] makes every acknowledged change wait for the
//! replicas. A [`RedisTarget::Sentinel`] target follows the master the Sentinels name.
//! The recipient's facts (banned or not, invite setting, contacts, follows, shared
//! connections) live on the recipient's slot and are read before the script runs, so
//! they may be stale by one round trip, or, when the facts cache answers, until a
//! change notice arrives (pub/sub, normally within a millisecond) and at most by its
//! time to live (default 1 s, [`RedisBuilder::facts_ttl`]). That is the race the contract
//! allows: a recipient who bans invitations a moment before a send may still receive
//! it, as with the in-memory engine when the two calls race; no quota is ever
//! exceeded by it. Accepting connects the sender's side in the same script, then the
//! recipient's side in a second call; between the two, only the recipient's view of
//! the new connection lags.
//!
//! # Time
//! By default the Redis server's clock decides (the script reads `TIME`): gateways'
//! clocks skew, while one sender's slot lives on one master. With
//! [`RedisBuilder::clock`] the engine's clock decides instead (tests drive a
//! [`ManualClock`](crate::ManualClock) this way). Either way each sender's state
//! keeps the latest instant it has seen and never acts earlier, so a clock that steps
//! backwards (a failover to a replica whose clock lags) frees nothing early.
//!
//! # Failures
//! Every call has a deadline. A timeout, refused connection, failover or redirect
//! storm yields [`DenyReason::Unavailable`] (ahead of
//! every other reason) with a `retry_at` after a backoff, or with
//! [`FailureMode::Open`] an unrecorded [`Sent`]. After repeated failures a circuit
//! breaker answers at once until a probe succeeds. The engine never repeats a send by
//! itself; a caller that repeats one with its idempotency key gets the first
//! decision's `Sent` back, so nothing is spent twice.
//!
//! # Expiry
//! Pending invitations expire exactly at their instant: every script first releases
//! what the sender has due. A sender's activity keys carry a Redis TTL as long as the
//! longest window, so idle state disappears without any scan.

mod blocking;
mod conn;
mod health;
mod keys;
mod live;
mod members;
mod near;
mod replies;
mod sentinel;
mod setup;
mod stats;
mod wait;
mod watch;

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::Script;

pub use blocking::BlockingRedisEngine;
pub use conn::BreakerPolicy;
pub use live::RolloutError;
pub use stats::RedisStats;

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::decide::Verdicts;
use crate::email::{normalize, EmailError};
use crate::ids::{InviteId, MemberId};
use crate::limits::MemberLimits;
use crate::outage::Outage;
use crate::outcome::{Denied, DenyReason, InviteError, Sent};
use crate::policy::{ConfigError, Policy};
use crate::policy::{RateRule, SpamPolicy};
use crate::report::{Blocker, Capacity, Diagnosis};
use crate::request::InviteRequest;
use crate::shadow::Shadow;
use crate::spam::note_fingerprint;
use crate::time::{millis, Clock, SystemClock, Timestamp};
use conn::{guarded, Breaker, Conn, Failure};
use keys::{email_owner, MemberKeys};
use live::Live;
use near::{DeniedSenders, Facts, FactsCache};
use replies::{setting_code, setting_from, Rule, ScriptReply};
use stats::{Count, Counters};

const ENGINE_SCRIPT: &str = include_str!("engine.lua");
/// Marks the ids of sends admitted without Redis under [`FailureMode::Open`].
const UNRECORDED: u64 = 1 << 63;

/// What a decision does when Redis cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Deny with [`DenyReason::Unavailable`] and a
    /// `retry_at` after the backoff (the default: no quota is ever exceeded).
    #[default]
    Closed,
    /// Allow the send without recording it: its id is unknown to `accept` and its
    /// send counts against no window. For deployments where an invitation lost is
    /// worse than one over the limit.
    Open,
}

/// Where the Redis engine connects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisTarget {
    /// One server, e.g. `redis://127.0.0.1:6379/`.
    Standalone(String),
    /// Some nodes of a cluster; the client learns the rest.
    Cluster(Vec<String>),
    /// A master that Redis Sentinel manages: the engine asks `sentinels` (each
    /// `host:port`) which server is the master of `service`, and asks again after a
    /// failover.
    Sentinel {
        /// The name the Sentinels monitor the master under.
        service: String,
        /// The Sentinels' addresses, `host:port`.
        sentinels: Vec<String>,
    },
}

impl RedisTarget {
    /// One address is a standalone server; a comma-separated list is a cluster;
    /// `redis+sentinel://host:port,host:port/service` is a Sentinel-managed master.
    /// Parsing never fails: a Sentinel address without a service or a Sentinel is
    /// kept as given and [`RedisBuilder::connect`] reports what it lacks.
    pub fn parse(text: &str) -> Self {
        if let Some(target) = sentinel::parse(text) {
            return target;
        }
        let nodes: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match nodes.as_slice() {
            [one] => RedisTarget::Standalone(one.clone()),
            _ => RedisTarget::Cluster(nodes),
        }
    }
}

/// Why the Redis engine could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisSetupError {
    /// The policy cannot work, or asks for what this engine does not do.
    Config(ConfigError),
    /// The server or cluster could not be reached or refused the connection.
    Connect(String),
    /// A builder setting (not a policy field) is out of range, e.g. a deadline of
    /// more than a day.
    Setting {
        /// The setting, e.g. `deadline` or `breaker.max_backoff`.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// [`RedisBuilder::wait_for_replicas`] asks for more replicas than a master has
    /// connected.
    Replicas {
        /// The replicas asked for.
        wanted: usize,
        /// The fewest replicas connected to a master of the target.
        connected: usize,
    },
    /// The durability settings cannot work together or on this server.
    Durability(String),
}

impl std::fmt::Display for RedisSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisSetupError::Config(e) => e.fmt(f),
            RedisSetupError::Connect(e) => write!(
                f,
                "could not connect to Redis ({e}); check the address and that the server runs"
            ),
            RedisSetupError::Setting { field, problem } => write!(
                f,
                "Redis engine setting `{field}` {problem}; fix it and connect again."
            ),
            RedisSetupError::Replicas { wanted, connected } => write!(
                f,
                "wait_for_replicas asks for {wanted} replicas but a master has {connected} \
                 connected; attach replicas or ask for fewer"
            ),
            RedisSetupError::Durability(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for RedisSetupError {}

/// Builds a [`RedisEngine`].
pub struct RedisBuilder {
    target: RedisTarget,
    policy: Policy,
    clock: Option<Arc<dyn Clock>>,
    prefix: String,
    deadline: Duration,
    breaker: BreakerPolicy,
    failure: FailureMode,
    near_cache: Option<Duration>,
    facts_ttl: Duration,
    connections: usize,
    limits: MemberLimits,
    shadow: Shadow,
    policy_refresh: Duration,
    wait: Option<wait::Wait>,
}

impl std::fmt::Debug for RedisBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBuilder")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl RedisBuilder {
    /// The policy; defaults to [`Policy::default`].
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Lets `clock` decide time instead of the Redis server (see the module docs).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The prefix of every key (default `il`), so several engines or tests can share a
    /// server without seeing each other.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest any call waits for Redis (default 200 ms).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The circuit breaker's settings.
    pub fn breaker(mut self, breaker: BreakerPolicy) -> Self {
        self.breaker = breaker;
        self
    }

    /// What a send does when Redis cannot answer (default [`FailureMode::Closed`]).
    pub fn failure_mode(mut self, mode: FailureMode) -> Self {
        self.failure = mode;
        self
    }

    /// Remembers, for at most `ttl`, senders denied by a rule that holds for every
    /// recipient (banned, restricted, daily or weekly limit, spam cooldown), and
    /// denies their sends locally without a round trip (off by default). While an entry holds, the
    /// denial names that rule even where an earlier rule about the recipient would
    /// also deny; a tier or status change made through another gateway reaches this
    /// one within `ttl`.
    pub fn near_cache(mut self, ttl: Duration) -> Self {
        self.near_cache = Some(ttl);
        self
    }

    /// How long a recipient's status and invite setting are reused before they are
    /// read again (default 1 s; zero reads them on every send).
    pub fn facts_ttl(mut self, ttl: Duration) -> Self {
        self.facts_ttl = ttl;
        self
    }

    /// Connections the engine opens and spreads its calls over (default 1; each is
    /// multiplexed, so one already carries many calls in flight). All of them share
    /// the engine's caches and circuit breaker.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// Caps on one member's connections, follows, emails and contact imports
    /// (default: [`MemberLimits::default`]).
    pub fn limits(mut self, limits: MemberLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Acknowledges a change (a send admitted, an invitation ended, a setter, a
    /// relation, contacts, an email) only after `replicas` replicas of the master
    /// that owns it confirmed it within `timeout`, so a failover cannot lose it.
    /// When they do not, a send is denied with [`DenyReason::Unavailable`] and
    /// [`Outage::ReplicasUnconfirmed`], and the other calls fail with that outage;
    /// what the master recorded without confirmation can then only under-admit.
    /// `replicas` should be every replica of a master, since a failover may promote
    /// any of them (see `docs/redis.md`, "Failover"). Each change then waits a
    /// replica round trip; calls get `timeout` on top of their deadline.
    pub fn wait_for_replicas(mut self, replicas: usize, timeout: Duration) -> Self {
        self.wait = Some(wait::Wait {
            replicas,
            timeout,
            fsync: self.wait.is_some_and(|w| w.fsync),
        });
        self
    }

    /// With [`RedisBuilder::wait_for_replicas`], also waits for the master's and the
    /// replicas' append-only file to reach the disk (`WAITAOF`, Redis 7.2 and later,
    /// with `appendonly yes`); [`RedisBuilder::connect`] refuses it on older servers.
    pub fn wait_for_fsync(mut self) -> Self {
        self.wait = Some(wait::Wait {
            fsync: true,
            ..self.wait.unwrap_or(wait::Wait {
                replicas: 0,
                timeout: Duration::ZERO,
                fsync: true,
            })
        });
        self
    }

    fn check(&self) -> Result<(), RedisSetupError> {
        self.policy.validate().map_err(RedisSetupError::Config)?;
        self.limits.validate().map_err(RedisSetupError::Config)?;
        setup::check_policy(&self.policy)?;
        setup::check_waits(
            self.deadline,
            self.near_cache,
            self.facts_ttl,
            &self.breaker,
        )?;
        if self.prefix.contains(['{', '}']) {
            return Err(RedisSetupError::Setting {
                field: "prefix",
                problem: "must not contain `{` or `}` (they would move the keys' hash tag)",
            });
        }
        match self.wait {
            Some(w) => w.check(self.failure == FailureMode::Open),
            None => Ok(()),
        }
    }

    /// The longest a call may take: the deadline, plus the wait for replicas.
    fn call_deadline(&self) -> Duration {
        self.deadline
            .saturating_add(self.wait.map_or(Duration::ZERO, |w| w.timeout))
    }

    /// Connects and returns the engine. Must run inside a tokio runtime with its time
    /// driver enabled.
    ///
    /// # Errors
    /// [`RedisSetupError`] for a policy that cannot work (or has a span longer than
    /// 100 years), a wait longer than a day, or a server that cannot be reached.
    pub async fn connect(self) -> Result<RedisEngine, RedisSetupError> {
        self.check()?;
        let mut conns = Vec::new();
        for _ in 0..self.connections.max(1) {
            conns.push(self.open().await?);
        }
        if let (Some(w), Some(conn)) = (self.wait, conns.first_mut()) {
            tokio::time::timeout(
                self.deadline.saturating_mul(5),
                wait::check_replicas(conn, w),
            )
            .await
            .map_err(|_| RedisSetupError::Connect("timed out".into()))??;
        }
        let nodes = match (&self.target, conns.first()) {
            (_, Some(Conn::Sentinel(c))) => watch::Nodes::Sentinel(c.clone()),
            (RedisTarget::Cluster(nodes), _) => watch::Nodes::Fixed(nodes.clone()),
            (RedisTarget::Standalone(url), _) => watch::Nodes::Fixed(vec![url.clone()]),
            _ => watch::Nodes::Fixed(Vec::new()),
        };
        let engine = RedisEngine {
            inner: Arc::new(Inner {
                standalone: matches!(conns.first(), Some(Conn::Single(_) | Conn::Sentinel(_))),
                conns,
                next: AtomicUsize::new(0),
                stats: Counters::default(),
                prefix: self.prefix,
                live: parking_lot::RwLock::new(Live::new(self.policy, self.shadow, 0)),
                policy_checked: AtomicU64::new(0),
                policy_refresh: self.policy_refresh,
                born: std::time::Instant::now(),
                clock: self.clock,
                latest: AtomicU64::new(0),
                deadline: self.deadline,
                wait: self.wait,
                breaker: Breaker::new(self.breaker, self.deadline),
                failure: self.failure,
                near: self.near_cache.map(DeniedSenders::new),
                facts: FactsCache::new(self.facts_ttl),
                script: Script::new(ENGINE_SCRIPT),
                members: members::Scripts::new(),
                unrecorded: AtomicU64::new(0),
                limits: self.limits,
                last_error: parking_lot::Mutex::new(None),
                #[cfg(feature = "metrics")]
                metrics: crate::metrics::EngineMetrics::new("redis", true),
                #[cfg(feature = "metrics")]
                redis_metrics: crate::metrics::RedisMetrics::new(true),
            }),
        };
        let channel = watch::channel(&engine.inner.prefix);
        tokio::spawn(watch::watch(Arc::downgrade(&engine.inner), nodes, channel));
        // A policy stored for the fleet wins over the builder's.
        engine
            .reload()
            .await
            .map_err(|f| RedisSetupError::Connect(f.cause.to_string()))?;
        Ok(engine)
    }

    /// One connection, of the target's kind.
    async fn open(&self) -> Result<Conn, RedisSetupError> {
        let connect_err = |e: redis::RedisError| RedisSetupError::Connect(e.to_string());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.deadline))
            .set_response_timeout(Some(self.call_deadline()))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        Ok(match &self.target {
            RedisTarget::Sentinel { service, sentinels } => {
                let sentinels = sentinel::check(service, sentinels)?;
                let conn = sentinel::SentinelConn::open(&sentinels, service, config, self.deadline)
                    .await?;
                Conn::Sentinel(conn)
            }
            RedisTarget::Standalone(url) => {
                let client = redis::Client::open(url.as_str()).map_err(connect_err)?;
                let manager = tokio::time::timeout(
                    self.deadline.saturating_mul(5),
                    redis::aio::ConnectionManager::new_with_config(client, config),
                )
                .await
                .map_err(|_| RedisSetupError::Connect("timed out".into()))?
                .map_err(connect_err)?;
                Conn::Single(manager)
            }
            RedisTarget::Cluster(nodes) => {
                let client = redis::cluster::ClusterClient::builder(nodes.clone())
                    .connection_timeout(self.deadline)
                    .response_timeout(self.call_deadline())
                    .retries(2)
                    .build()
                    .map_err(connect_err)?;
                let c = tokio::time::timeout(
                    self.deadline.saturating_mul(5),
                    client.get_async_connection(),
                )
                .await
                .map_err(|_| RedisSetupError::Connect("timed out".into()))?
                .map_err(connect_err)?;
                Conn::Cluster(c)
            }
        })
    }

    /// Connects and returns an engine for synchronous callers, with its own runtime.
    ///
    /// # Errors
    /// As [`RedisBuilder::connect`].
    pub fn connect_blocking(self) -> Result<BlockingRedisEngine, RedisSetupError> {
        BlockingRedisEngine::connect(self)
    }
}

struct Inner {
    conns: Vec<Conn>,
    next: AtomicUsize,
    standalone: bool,
    stats: Counters,
    prefix: String,
    /// The rules in force, as last read from the fleet's stored policy.
    live: parking_lot::RwLock<Arc<Live>>,
    /// When `live` was last checked against the stored version (see `live.rs`);
    /// zero when a change notice says it is stale.
    policy_checked: AtomicU64,
    policy_refresh: Duration,
    born: std::time::Instant,
    clock: Option<Arc<dyn Clock>>,
    latest: AtomicU64,
    deadline: Duration,
    wait: Option<wait::Wait>,
    breaker: Breaker,
    failure: FailureMode,
    near: Option<DeniedSenders>,
    facts: FactsCache,
    script: Script,
    members: members::Scripts,
    unrecorded: AtomicU64,
    limits: MemberLimits,
    /// The latest failed call's cause and instant (the engine's clock).
    last_error: parking_lot::Mutex<Option<(Outage, u64)>>,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::EngineMetrics,
    #[cfg(feature = "metrics")]
    redis_metrics: crate::metrics::RedisMetrics,
}

impl Inner {
    /// Drops what the caches hold about `m`.
    fn forget(&self, m: u64) {
        self.facts.forget(m);
        if let Some(near) = &self.near {
            near.forget(m);
        }
    }

    /// Marks the rules as needing a read of the stored policy before the next decision.
    fn policy_stale(&self) {
        self.policy_checked.store(0, Ordering::Release);
    }

    /// Drops everything the caches hold (notices may have been missed).
    fn forget_all(&self) {
        self.facts.clear();
        if let Some(near) = &self.near {
            near.clear();
        }
    }
}

/// The engine on a Redis server or cluster shared by many gateways. Cheap to clone;
/// every clone shares one connection.
#[derive(Clone)]
pub struct RedisEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("prefix", &self.inner.prefix)
            .field("deadline", &self.inner.deadline)
            .field("failure", &self.inner.failure)
            .finish_non_exhaustive()
    }
}

/// The spam rules as script arguments 19 to 33 (see `engine.lua`).
fn spam_args(p: &SpamPolicy) -> Vec<String> {
    let rule = |r: Option<RateRule>| match r {
        Some(r) => [r.max.to_string(), millis(r.per).to_string()],
        None => ["-1".to_string(), "0".to_string()],
    };
    let mut out = vec![if p.is_enabled() { "1" } else { "0" }.to_string()];
    for r in [p.burst, p.strangers, p.template, p.reports] {
        out.extend(rule(r));
    }
    match p.ignored {
        Some(i) => out.extend([
            i.max_percent.to_string(),
            i.min_resolved.to_string(),
            millis(i.per).to_string(),
        ]),
        None => out.extend(["-1".to_string(), "0".to_string(), "0".to_string()]),
    }
    out.push(millis(p.cooldown).to_string());
    out.push(millis(p.strike_memory).to_string());
    let ladder: Vec<String> = p
        .restriction_ladder
        .iter()
        .map(|d| millis(*d).to_string())
        .collect();
    out.push(ladder.join(","));
    out
}

fn fold(rules: &[Rule]) -> Option<Denied> {
    let mut v = Verdicts::default();
    for r in rules {
        v.add(r.reason, r.at);
    }
    v.into_denied()
}

impl RedisEngine {
    /// A builder connecting to `target`: `RedisTarget::parse("redis://127.0.0.1/")`,
    /// or a comma-separated list of cluster nodes.
    pub fn builder(target: RedisTarget) -> RedisBuilder {
        RedisBuilder {
            target,
            policy: Policy::default(),
            clock: None,
            prefix: "il".into(),
            deadline: Duration::from_millis(200),
            breaker: BreakerPolicy::default(),
            failure: FailureMode::Closed,
            near_cache: None,
            facts_ttl: Duration::from_secs(1),
            connections: 1,
            limits: MemberLimits::default(),
            shadow: Shadow::none(),
            policy_refresh: Duration::from_secs(1),
            wait: None,
        }
    }

    /// The next connection, round robin.
    fn conn(&self) -> Conn {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.conns.len();
        self.inner.conns[i].clone()
    }

    /// What this engine has done so far: round trips, cache hits, outages.
    pub fn stats(&self) -> RedisStats {
        self.inner.stats.read()
    }

    fn keys(&self, m: u64) -> MemberKeys {
        MemberKeys::new(&self.inner.prefix, m)
    }

    /// The instant argument of a script: the engine's clock, or empty for the server's.
    fn now_arg(&self) -> String {
        match &self.inner.clock {
            Some(c) => {
                let t = c.now().clamped().as_millis();
                let prev = self.inner.latest.fetch_max(t, Ordering::AcqRel);
                prev.max(t).to_string()
            }
            None => String::new(),
        }
    }

    /// The local idea of now, for instants the server did not give (outages).
    fn local_now(&self) -> u64 {
        let t = match &self.inner.clock {
            Some(c) => c.now().clamped(),
            None => SystemClock.now(),
        };
        t.as_millis().max(self.inner.latest.load(Ordering::Acquire))
    }

    async fn call<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> Result<T, Failure> {
        self.call_within(self.inner.deadline, f).await
    }

    async fn call_within<T>(
        &self,
        deadline: Duration,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Failure> {
        let stats = &self.inner.stats;
        stats.bump(Count::RoundTrip);
        #[cfg(feature = "metrics")]
        self.inner.redis_metrics.round_trip();
        let result = guarded(&self.inner.breaker, deadline, f).await;
        match &result {
            Err(f) if f.cause == Outage::BadData => stats.bump(Count::BadData),
            Err(_) => stats.bump(Count::Outage),
            Ok(_) => {}
        }
        if let Err(f) = &result {
            *self.inner.last_error.lock() = Some((f.cause, self.local_now()));
            #[cfg(feature = "metrics")]
            self.inner
                .redis_metrics
                .outage(f.cause, self.inner.breaker.state());
        }
        #[cfg(feature = "metrics")]
        if result.is_ok() && self.inner.redis_metrics.breaker_was_open() {
            self.inner.redis_metrics.breaker(self.inner.breaker.state());
        }
        result
    }

    async fn cmd<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, Failure> {
        let mut conn = self.conn();
        self.call(async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// A command that changes state: with [`RedisBuilder::wait_for_replicas`], it is
    /// acknowledged only once the replicas confirm it.
    async fn write_cmd<T: redis::FromRedisValue + Send + 'static>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, Failure> {
        let Some(w) = self.inner.wait else {
            return self.cmd(cmd).await;
        };
        let mut conn = self.conn();
        let got = self
            .call_within(self.inner.deadline.saturating_add(w.timeout), async move {
                wait::command::<T>(&mut conn, &cmd, w).await
            })
            .await?;
        got.map_err(|cause| self.unconfirmed(cause))
    }

    /// A script that changes state, waited for as [`RedisEngine::write_cmd`].
    async fn write_script<
        T: redis::FromRedisValue + Send + 'static,
        A: redis::ToRedisArgs + Sync,
    >(
        &self,
        w: wait::Wait,
        source: &str,
        hash: &str,
        keys: &[String],
        args: &[A],
    ) -> Result<T, Failure> {
        let mut conn = self.conn();
        let got = self
            .call_within(self.inner.deadline.saturating_add(w.timeout), async move {
                wait::script::<T, A>(&mut conn, source, hash, keys, args, w).await
            })
            .await?;
        got.map_err(|cause| self.unconfirmed(cause))
    }

    fn unconfirmed(&self, cause: Outage) -> Failure {
        self.inner.stats.bump(Count::Outage);
        Failure {
            cause,
            wait: self.inner.breaker.retry_after(),
        }
    }

    async fn script(
        &self,
        member: u64,
        mode: &str,
        extra: &[String],
    ) -> Result<ScriptReply, Failure> {
        let live = self.fresh_live().await?;
        self.script_with(&live, member, &[], mode, extra).await
    }

    /// The engine script on `member`'s keys, plus `more_keys` (standalone only),
    /// under the rules `live`.
    async fn script_with(
        &self,
        live: &Live,
        member: u64,
        more_keys: &[String],
        mode: &str,
        extra: &[String],
    ) -> Result<ScriptReply, Failure> {
        let words = match self.inner.wait {
            Some(w) if wait::changes_state(mode) => {
                let keys: Vec<String> = self
                    .keys(member)
                    .script_keys()
                    .into_iter()
                    .chain(more_keys.iter().cloned())
                    .collect();
                let mut args = vec![mode.to_string(), self.now_arg()];
                args.extend(live.common.iter().chain(extra).cloned());
                let hash = self.inner.script.get_hash();
                self.write_script(w, ENGINE_SCRIPT, hash, &keys, &args)
                    .await?
            }
            _ => {
                let mut inv = self.inner.script.prepare_invoke();
                for k in self.keys(member).script_keys().iter().chain(more_keys) {
                    inv.key(k);
                }
                inv.arg(mode).arg(self.now_arg());
                for a in live.common.iter().chain(extra) {
                    inv.arg(a);
                }
                let mut conn = self.conn();
                self.call(async move { inv.invoke_async::<Vec<String>>(&mut conn).await })
                    .await?
            }
        };
        ScriptReply::parse(words).map_err(|cause| Failure {
            cause,
            wait: Duration::ZERO,
        })
    }

    fn retry_after(&self, f: Failure) -> Option<Timestamp> {
        match f.cause {
            Outage::BadData | Outage::BlockingInAsync => None,
            _ => Some(Timestamp::from_millis(
                self.local_now().saturating_add(millis(f.wait).max(1)),
            )),
        }
    }

    fn unavailable(&self, f: Failure) -> Denied {
        Denied {
            reason: DenyReason::Unavailable { cause: f.cause },
            retry_at: self.retry_after(f),
        }
    }

    /// The recipient's status and setting, from the facts cache or Redis.
    async fn facts(&self, r: u64) -> Result<Facts, Failure> {
        if let Some(f) = self.inner.facts.get(r) {
            self.inner.stats.bump(Count::FactsCacheHit);
            return Ok(f);
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys(r).key("h")).arg("st").arg("set");
        let got: Vec<Option<String>> = self.cmd(cmd).await?;
        let bad = |cause| Failure {
            cause,
            wait: Duration::ZERO,
        };
        let banned = match got.first().cloned().flatten().as_deref() {
            None | Some("0" | "1") => false,
            Some("2") => true,
            Some(_) => return Err(bad(Outage::BadData)),
        };
        let setting =
            setting_from(got.get(1).cloned().flatten().as_deref().unwrap_or("0")).map_err(bad)?;
        let facts = Facts { banned, setting };
        self.inner.facts.put(r, facts);
        Ok(facts)
    }

    async fn is_member(&self, key: String, item: String) -> Result<bool, Failure> {
        let mut cmd = redis::cmd("SISMEMBER");
        cmd.arg(key).arg(item);
        self.cmd(cmd).await
    }

    async fn members(&self, key: String) -> Result<Vec<String>, Failure> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(key);
        self.cmd(cmd).await
    }

    /// Whether any of `items` is in the set `key`.
    async fn any_member(&self, key: String, items: &[String]) -> Result<bool, Failure> {
        if items.is_empty() {
            return Ok(false);
        }
        let mut cmd = redis::cmd("SMISMEMBER");
        cmd.arg(key).arg(items);
        let hits: Vec<u8> = self.cmd(cmd).await?;
        Ok(hits.contains(&1))
    }

    /// Whether the two members share a connection: the smaller set is read and
    /// probed against the larger, so the cost is the smaller member's connections.
    async fn share_connection(&self, a: u64, b: u64) -> Result<bool, Failure> {
        let (ka, kb) = (self.keys(a).key("c"), self.keys(b).key("c"));
        let mut ca = redis::cmd("SCARD");
        ca.arg(&ka);
        let mut cb = redis::cmd("SCARD");
        cb.arg(&kb);
        let (na, nb): (Result<u64, _>, Result<u64, _>) = tokio::join!(self.cmd(ca), self.cmd(cb));
        let (small, large) = if na? <= nb? { (ka, kb) } else { (kb, ka) };
        let items = self.members(small).await?;
        self.any_member(large, &items).await
    }

    /// Whether one of the sender's registered emails is in the owner's contacts.
    async fn in_contacts(&self, sender: u64, owner: u64) -> Result<bool, Failure> {
        let emails = self.members(self.keys(sender).key("em")).await?;
        self.any_member(self.keys(owner).key("e"), &emails).await
    }

    /// The request's email: whether it counts as given (valid, and not another
    /// member's), and whether it is registered to the recipient.
    async fn email_match(&self, req: &InviteRequest) -> Result<(bool, bool), Failure> {
        let Some(Ok(email)) = req.email().map(normalize) else {
            return Ok((false, false));
        };
        let mut cmd = redis::cmd("GET");
        cmd.arg(email_owner(&self.inner.prefix, &email));
        let owner: Option<String> = self.cmd(cmd).await?;
        let theirs = owner.as_deref() == Some(req.recipient().0.to_string().as_str());
        Ok((owner.is_none() || theirs, theirs))
    }

    /// No shared connection, neither in the other's contacts, no email given.
    async fn is_stranger(&self, s: u64, r: u64, email_given: bool) -> Result<bool, Failure> {
        if email_given {
            return Ok(false);
        }
        let (a, b, c) = tokio::join!(
            self.in_contacts(s, r),
            self.in_contacts(r, s),
            self.share_connection(s, r)
        );
        Ok(!(a? || b? || c?))
    }

    /// The rules about the recipient (banned, and whether their setting admits), and
    /// whether the sender is a stranger to them (read only when that signal is on).
    async fn recipient_rules(
        &self,
        req: &InviteRequest,
        strangers_on: bool,
    ) -> Result<(Vec<Rule>, bool), Failure> {
        let (s, r) = (req.sender().0, req.recipient().0);
        let facts = self.facts(r).await?;
        let (email_given, email_theirs) = if req.email().is_some() {
            self.email_match(req).await?
        } else {
            (false, false)
        };
        let mut rules = Vec::new();
        if facts.banned {
            rules.push(Rule::new(DenyReason::RecipientUnavailable, None));
        }
        let admits = match facts.setting {
            InviteSetting::Everyone => true,
            InviteSetting::Nobody => false,
            InviteSetting::FollowingOnly => {
                self.is_member(self.keys(r).key("f"), s.to_string()).await?
            }
            InviteSetting::NetworkOnly => self.share_connection(s, r).await?,
            InviteSetting::ContactsOnly => self.in_contacts(s, r).await?,
            InviteSetting::EmailOrContacts => email_theirs || self.in_contacts(s, r).await?,
        };
        if !admits {
            let setting = facts.setting;
            rules.push(Rule::new(
                DenyReason::RecipientNotAccepting { setting },
                None,
            ));
        }
        let stranger = strangers_on && self.is_stranger(s, r, email_given).await?;
        Ok((rules, stranger))
    }

    /// Judges `req` with every rule; `commit` records it when nothing denies.
    async fn judge(
        &self,
        req: &InviteRequest,
        commit: bool,
    ) -> Result<(ScriptReply, Arc<Live>), Failure> {
        let mut live = self.fresh_live().await?;
        // On a standalone server the script refuses to decide under a policy other
        // than the stored one; read it and decide again (a few times at most, should
        // changes follow each other that fast).
        for _ in 0..3 {
            match self.judge_under(req, commit, &live).await? {
                ScriptReply::Stale => live = self.reload().await?,
                reply => return Ok((reply, live)),
            }
        }
        Err(Failure {
            cause: Outage::Refused,
            wait: Duration::from_millis(10),
        })
    }

    /// [`RedisEngine::judge`] under the rules `live`.
    async fn judge_under(
        &self,
        req: &InviteRequest,
        commit: bool,
        live: &Live,
    ) -> Result<ScriptReply, Failure> {
        let (s, r) = (req.sender().0, req.recipient().0);
        // A standalone server lets the script read the recipient's keys as well: one
        // round trip and exact facts. A cluster keeps them on another slot.
        let inline = self.inner.standalone;
        let (mut outside, stranger) = if inline {
            (Vec::new(), false)
        } else {
            self.recipient_rules(req, live.policy.spam.strangers.is_some())
                .await?
        };
        if s == r {
            outside.push(Rule::new(DenyReason::SelfInvite, None));
        }
        let note = req.judged_note(&live.policy);
        let chars = note.map_or(0, |n| n.chars().count());
        let flag = |on: bool| if on { "1" } else { "0" }.to_string();
        let email = req.email().and_then(|e| normalize(e).ok());
        let spam = &live.policy.spam;
        let fingerprint = match (note, spam.template) {
            (Some(n), Some(_)) => format!("{:x}", note_fingerprint(n)),
            _ => String::new(),
        };
        let args = [
            r.to_string(),
            req.key().map_or(String::new(), |k| k.to_string()),
            flag(note.is_some()),
            chars.to_string(),
            flag(!outside.is_empty()),
            flag(stranger),
            flag(note.is_some_and(|n| live.keywords.matches(n))),
            fingerprint,
            flag(inline),
            s.to_string(),
            email.clone().unwrap_or_default(),
            live.version.to_string(),
        ];
        let more_keys = if inline {
            let (rk, sk) = (self.keys(r), self.keys(s));
            let owner = match &email {
                Some(e) => email_owner(&self.inner.prefix, e),
                None => rk.key("h"),
            };
            vec![
                rk.key("h"),
                rk.key("f"),
                rk.key("e"),
                rk.key("c"),
                rk.key("em"),
                sk.key("em"),
                sk.key("e"),
                owner,
                live::policy_key(&self.inner.prefix),
            ]
        } else {
            Vec::new()
        };
        let mode = if commit { "send" } else { "diag" };
        let mut reply = self.script_with(live, s, &more_keys, mode, &args).await?;
        if let ScriptReply::Rules { rules, .. } = &mut reply {
            for rule in rules.iter_mut() {
                rule.complete(req);
            }
            rules.extend(outside);
            rules.sort_by_key(|r| r.reason.rank());
        }
        Ok(reply)
    }

    /// The `Sent` for invitation `seq`, sent at `at` under `live`, with the rules in
    /// shadow mode that would have denied it.
    fn sent(&self, live: &Live, sender: u64, seq: u64, at: u64, shadowed: &[Rule]) -> Sent {
        let mut tally = crate::shadow::ShadowTally::default();
        for r in shadowed {
            if let Some(rule) = crate::ShadowRule::of(&r.reason) {
                tally.add(rule, r.at);
            }
        }
        Sent {
            shadow_retry: tally.retry(),
            shadowed: tally.rules,
            id: InviteId::new(MemberId(sender), seq),
            expires_at: Timestamp::from_millis(at) + live.policy.pending_ttl,
        }
    }

    /// Decides a send and, when allowed, commits it: one round trip to the sender's
    /// slot (plus a read of the recipient's facts when they are not cached).
    ///
    /// # Errors
    /// [`Denied`] with the first rule that denies and the instant all of them clear;
    /// [`DenyReason::Unavailable`] when Redis cannot answer (see [`FailureMode`]).
    pub async fn send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        #[cfg(feature = "metrics")]
        let started = self.inner.metrics.start();
        #[cfg(feature = "tracing")]
        let span = crate::observe::decision_span(&req);
        #[cfg(feature = "tracing")]
        let result = tracing::Instrument::instrument(self.decide_send(req), span.clone()).await;
        #[cfg(not(feature = "tracing"))]
        let result = self.decide_send(req).await;
        #[cfg(feature = "metrics")]
        self.inner.metrics.decided(started, &result, false);
        #[cfg(feature = "tracing")]
        crate::observe::record_decision(&span, &result);
        result
    }

    async fn decide_send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        let s = req.sender().0;
        // A burst signal counts every attempt, so with it on every attempt must reach
        // Redis; a keyed request must get its first decision back.
        let burst_on = self.live().policy.spam.burst.is_some();
        let cacheable = req.key().is_none() && s != req.recipient().0 && !burst_on;
        if let (true, Some(near)) = (cacheable, &self.inner.near) {
            if let Some(d) = near.get(s, self.local_now()) {
                self.inner.stats.bump(Count::NearCacheHit);
                #[cfg(feature = "metrics")]
                self.inner.redis_metrics.near_cache_hit();
                return Err(d);
            }
        }
        match self.judge(&req, true).await {
            Ok((ScriptReply::Sent { seq, at, shadowed }, live)) => {
                Ok(self.sent(&live, s, seq, at, &shadowed))
            }
            Ok((ScriptReply::Rules { rules, now }, _)) => {
                if let (true, Some(near)) = (cacheable, &self.inner.near) {
                    let wide: Vec<Rule> = rules
                        .iter()
                        .filter(|r| r.reason.holds_for_every_recipient())
                        .copied()
                        .collect();
                    if let Some(d) = fold(&wide) {
                        near.put(s, d, now);
                    }
                }
                // An empty list here means the script saw a rule outside it deny.
                Err(fold(&rules).unwrap_or_else(|| {
                    self.unavailable(Failure {
                        cause: Outage::BadData,
                        wait: Duration::ZERO,
                    })
                }))
            }
            Ok(_) => Err(self.unavailable(Failure {
                cause: Outage::BadData,
                wait: Duration::ZERO,
            })),
            Err(f) if self.inner.failure == FailureMode::Open && f.cause != Outage::BadData => {
                let n = self.inner.unrecorded.fetch_add(1, Ordering::Relaxed);
                Ok(self.sent(&self.live(), s, UNRECORDED | n, self.local_now(), &[]))
            }
            Err(f) => Err(self.unavailable(f)),
        }
    }

    /// Every rule that would deny `req` now, in precedence order; changes nothing
    /// and is not an attempt. When Redis cannot answer, the one blocker says so.
    pub async fn diagnose_request(&self, req: &InviteRequest) -> Diagnosis {
        let blockers = match self.judge(req, false).await {
            Ok((ScriptReply::Rules { rules, .. }, _)) => rules
                .into_iter()
                .map(|r| Blocker {
                    reason: r.reason,
                    retry_at: r.at.map(Timestamp::from_millis),
                })
                .collect(),
            Ok(_) => vec![self.outage_blocker(Failure {
                cause: Outage::BadData,
                wait: Duration::ZERO,
            })],
            Err(f) => vec![self.outage_blocker(f)],
        };
        Diagnosis { blockers }
    }

    fn outage_blocker(&self, f: Failure) -> Blocker {
        let d = self.unavailable(f);
        Blocker {
            reason: d.reason,
            retry_at: d.retry_at,
        }
    }

    /// [`RedisEngine::diagnose_request`] for a bare request.
    pub async fn diagnose(&self, sender: MemberId, recipient: MemberId) -> Diagnosis {
        self.diagnose_request(&InviteRequest::new(sender, recipient))
            .await
    }

    /// What the member may still send, and why.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn capacity(&self, m: MemberId) -> Result<Capacity, Outage> {
        match self.script(m.0, "capacity", &[]).await {
            Ok(ScriptReply::Capacity(raw)) => raw.into_capacity(),
            Ok(_) => Err(Outage::BadData),
            Err(f) => Err(f.cause),
        }
    }

    /// Invitations pending from `sender` to `recipient` now.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn pending_between(
        &self,
        sender: MemberId,
        recipient: MemberId,
    ) -> Result<u32, Outage> {
        match self
            .script(sender.0, "pair", &[recipient.0.to_string()])
            .await
        {
            Ok(ScriptReply::Pair(n)) => Ok(n),
            Ok(_) => Err(Outage::BadData),
            Err(f) => Err(f.cause),
        }
    }

    async fn end(&self, id: InviteId, op: &str) -> Result<u64, InviteError> {
        if id.seq() & UNRECORDED != 0 {
            return Err(InviteError::Unknown(id));
        }
        let s = id.sender().0;
        let args = [op.to_string(), id.seq().to_string()];
        match self.script(s, "end", &args).await {
            Ok(ScriptReply::Ended { recipient }) => Ok(recipient),
            Ok(ScriptReply::Unknown) => Err(InviteError::Unknown(id)),
            Ok(ScriptReply::AlreadyEnded { accepted_by }) => {
                // An acceptance whose recipient side may not have been recorded (a
                // failure between the two calls): finish it now; it is idempotent.
                if let (Some(r), "a") = (accepted_by, op) {
                    let sender = [id.sender().0.to_string()];
                    if let Err(f) = self.script(r, "mirror", &sender).await {
                        return Err(InviteError::Unavailable(f.cause));
                    }
                }
                Err(InviteError::AlreadyEnded(id))
            }
            Ok(ScriptReply::Expired(at)) => Err(InviteError::Expired {
                id,
                at: Timestamp::from_millis(at),
            }),
            Ok(_) => Err(InviteError::Unavailable(Outage::BadData)),
            Err(f) => Err(InviteError::Unavailable(f.cause)),
        }
    }

    /// The recipient accepts: the members connect and every invitation pending
    /// between them, in both directions, ends.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is not pending; `Unavailable` when Redis
    /// cannot answer. If the sender's side was recorded but the recipient's side
    /// could not be, the error is `Unavailable`; calling `accept` again finishes the
    /// recipient's side and answers `AlreadyEnded`.
    pub async fn accept(&self, id: InviteId) -> Result<(), InviteError> {
        let recipient = self.end(id, "a").await?;
        let sender = id.sender().0.to_string();
        let mut last = Outage::Timeout;
        for _ in 0..3 {
            match self
                .script(recipient, "mirror", std::slice::from_ref(&sender))
                .await
            {
                Ok(_) => return Ok(()),
                Err(f) => last = f.cause,
            }
        }
        Err(InviteError::Unavailable(last))
    }

    /// The recipient declines.
    ///
    /// # Errors
    /// As [`RedisEngine::accept`].
    pub async fn decline(&self, id: InviteId) -> Result<(), InviteError> {
        self.end(id, "d").await.map(|_| ())
    }

    /// The sender withdraws; the re-invite cooldown starts.
    ///
    /// # Errors
    /// As [`RedisEngine::accept`].
    pub async fn withdraw(&self, id: InviteId) -> Result<(), InviteError> {
        self.end(id, "w").await.map(|_| ())
    }

    /// The recipient says "I don't know this person": the invitation ends as declined.
    ///
    /// # Errors
    /// As [`RedisEngine::accept`].
    pub async fn report_unknown(&self, id: InviteId) -> Result<(), InviteError> {
        self.end(id, "r").await.map(|_| ())
    }

    async fn set_fields(&self, m: u64, fields: &[(&str, String)]) -> Result<(), Outage> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.keys(m).key("h"));
        for (k, v) in fields {
            cmd.arg(*k).arg(v);
        }
        self.change_hash(m, cmd).await
    }

    /// Runs `cmd`, a change of the member's hash, then drops what this engine's
    /// caches hold about the member and tells every gateway to do the same (best
    /// effort: their time to live bounds it otherwise).
    async fn change_hash(&self, m: u64, cmd: redis::Cmd) -> Result<(), Outage> {
        let r = self
            .write_cmd::<i64>(cmd)
            .await
            .map(|_| ())
            .map_err(|f| f.cause);
        self.inner.forget(m);
        if r.is_ok() {
            let mut notice = redis::cmd("PUBLISH");
            notice
                .arg(watch::channel(&self.inner.prefix))
                .arg(m.to_string());
            let _ = self.cmd::<i64>(notice).await;
        }
        r
    }

    /// Removes one field of the member's hash and tells every gateway.
    async fn clear_field(&self, m: u64, field: &str) -> Result<(), Outage> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.keys(m).key("h")).arg(field);
        self.change_hash(m, cmd).await
    }

    /// Sets the member's tier; limits change at once, counts are kept.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_tier(&self, m: MemberId, tier: Tier) -> Result<(), Outage> {
        let code = match tier {
            Tier::Free => "0",
            Tier::Premium => "1",
        };
        self.set_fields(m.0, &[("tier", code.into())]).await
    }

    /// Sets the member's account status. A restriction's `until` is kept exactly up
    /// to `i64::MAX` milliseconds; a later one is stored (and reported) as that.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_status(&self, m: MemberId, status: AccountStatus) -> Result<(), Outage> {
        let (st, until) = match status {
            AccountStatus::Active => ("0", -1),
            AccountStatus::Restricted { until } => (
                "1",
                until.map_or(-1, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
            ),
            AccountStatus::Banned => ("2", -1),
        };
        self.set_fields(m.0, &[("st", st.into()), ("until", until.to_string())])
            .await
    }

    /// Sets whom the member accepts invitations from.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_invite_setting(
        &self,
        m: MemberId,
        setting: InviteSetting,
    ) -> Result<(), Outage> {
        self.set_fields(m.0, &[("set", setting_code(setting).into())])
            .await
    }

    /// Whether two members are connected.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn are_connected(&self, a: MemberId, b: MemberId) -> Result<bool, Outage> {
        self.is_member(self.keys(a.0).key("c"), b.0.to_string())
            .await
            .map_err(|f| f.cause)
    }
}

impl crate::limiter::Limiter for RedisEngine {
    fn send(&self, req: InviteRequest) -> impl Future<Output = Result<Sent, Denied>> + Send {
        RedisEngine::send(self, req)
    }

    fn accept(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::accept(self, id)
    }

    fn decline(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::decline(self, id)
    }

    fn withdraw(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::withdraw(self, id)
    }

    fn report_unknown(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::report_unknown(self, id)
    }

    fn pending_between(
        &self,
        sender: MemberId,
        recipient: MemberId,
    ) -> impl Future<Output = Result<u32, Outage>> + Send {
        RedisEngine::pending_between(self, sender, recipient)
    }

    fn capacity(&self, m: MemberId) -> impl Future<Output = Result<Capacity, Outage>> + Send {
        RedisEngine::capacity(self, m)
    }

    fn diagnose_request<'a>(
        &'a self,
        req: &'a InviteRequest,
    ) -> impl Future<Output = Diagnosis> + Send + 'a {
        RedisEngine::diagnose_request(self, req)
    }

    fn set_tier(&self, m: MemberId, tier: Tier) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::set_tier(self, m, tier)
    }

    fn set_status(
        &self,
        m: MemberId,
        status: AccountStatus,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::set_status(self, m, status)
    }

    fn set_invite_setting(
        &self,
        m: MemberId,
        setting: InviteSetting,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::set_invite_setting(self, m, setting)
    }

    fn connect(&self, a: MemberId, b: MemberId) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::connect(self, a, b)
    }

    fn disconnect(
        &self,
        a: MemberId,
        b: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::disconnect(self, a, b)
    }

    fn follow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::follow(self, follower, followee)
    }

    fn unfollow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::unfollow(self, follower, followee)
    }

    fn are_connected(
        &self,
        a: MemberId,
        b: MemberId,
    ) -> impl Future<Output = Result<bool, Outage>> + Send {
        RedisEngine::are_connected(self, a, b)
    }

    fn register_email(
        &self,
        m: MemberId,
        email: &str,
    ) -> impl Future<Output = Result<(), EmailError>> + Send {
        RedisEngine::register_email(self, m, email)
    }

    fn unregister_email(
        &self,
        m: MemberId,
        email: &str,
    ) -> impl Future<Output = Result<(), EmailError>> + Send {
        RedisEngine::unregister_email(self, m, email)
    }

    fn import_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> impl Future<Output = Result<(), EmailError>> + Send {
        RedisEngine::import_contacts(self, owner, emails)
    }
}
