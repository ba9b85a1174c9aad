//! Setting the engine up: the builder, its checks and the connections it opens.

use super::conn::{Breaker, Conn};
use super::engine::Inner;
use super::live::Live;
use super::near::{DeniedSenders, FactsCache};
use super::stats::Counters;
use super::{members, sentinel, setup, wait, watch};
use super::{
    BlockingRedisEngine, BreakerPolicy, FailureMode, RedisEngine, RedisTarget, ENGINE_SCRIPT,
};
use super::{ConnectError, RedisSetupError};
use crate::policy::limits::MemberLimits;
use crate::policy::Policy;
use crate::rules::shadow::Shadow;
use crate::time::Clock;
use redis::aio::ConnectionManagerConfig;
use redis::Script;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`RedisEngine`].
#[must_use = "a builder does nothing until it builds"]
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
    pub(super) shadow: Shadow,
    pub(super) policy_refresh: Duration,
    wait: Option<wait::Wait>,
    server_side: super::ServerSide,
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

    /// Which code decides on the server: the Redis module when the server has it,
    /// else the engine script ([`super::ServerSide::Auto`], the default); the module
    /// always ([`super::ServerSide::Module`]); or the script always
    /// ([`super::ServerSide::Script`]).
    pub fn server_side(mut self, side: super::ServerSide) -> Self {
        self.server_side = side;
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
    /// When they do not, a send is denied with [`DenyReason::Unavailable`](crate::outcome::DenyReason::Unavailable) and
    /// [`Outage::ReplicasUnconfirmed`](crate::outage::Outage::ReplicasUnconfirmed), and the other calls fail with that outage;
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
            .map_err(|_| {
                RedisSetupError::Connect(ConnectError::TimedOut("the replicas count"))
            })??;
        }
        let single_master = matches!(conns.first(), Some(Conn::Single(_) | Conn::Sentinel(_)));
        let module = match conns.first_mut() {
            Some(conn) => super::module::choose(self.server_side, conn).await?,
            None => false,
        };
        let nodes = match (&self.target, conns.first()) {
            (_, Some(Conn::Sentinel(c))) => watch::Nodes::Sentinel(c.clone()),
            (RedisTarget::Cluster(nodes), _) => watch::Nodes::Fixed(nodes.clone()),
            (RedisTarget::Standalone(url), _) => watch::Nodes::Fixed(vec![url.clone()]),
            _ => watch::Nodes::Fixed(Vec::new()),
        };
        let engine = RedisEngine {
            inner: Arc::new(Inner {
                standalone: single_master,
                module,
                conns,
                next: AtomicUsize::new(0),
                stats: Counters::default(),
                prefix: self.prefix,
                live: parking_lot::RwLock::new(Live::new(self.policy, self.shadow, self.limits, 0)),
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
        let live = engine
            .reload()
            .await
            .map_err(|f| RedisSetupError::Connect(ConnectError::Outage(f.cause)))?;
        if engine.inner.module {
            engine
                .register_rules(&live)
                .await
                .map_err(|f| RedisSetupError::Connect(ConnectError::Outage(f.cause)))?;
        }
        Ok(engine)
    }

    /// One connection, of the target's kind.
    async fn open(&self) -> Result<Conn, RedisSetupError> {
        let connect_err = |e: redis::RedisError| RedisSetupError::Connect(ConnectError::Redis(e));
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
                .map_err(|_| RedisSetupError::Connect(ConnectError::TimedOut("the connection")))?
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
                .map_err(|_| RedisSetupError::Connect(ConnectError::TimedOut("the connection")))?
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
            server_side: super::ServerSide::Auto,
        }
    }
}
