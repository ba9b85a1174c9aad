//! The engine's shared state and the plumbing every call goes through: connection
//! choice, deadlines, the circuit breaker and script calls.

use super::conn::{guarded, Breaker, Conn, Failure};
use super::keys::MemberKeys;
use super::live::Live;
use super::near::{DeniedSenders, FactsCache};
use super::replies::ScriptReply;
use super::stats::{Count, Counters};
use super::{members, wait};
use super::{FailureMode, RedisStats, ENGINE_SCRIPT};
use crate::outage::Outage;
use crate::outcome::{Denied, DenyReason};
use crate::policy::limits::MemberLimits;
use crate::time::{millis, Clock, SystemClock, Timestamp};
use redis::Script;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Inner {
    pub(super) conns: Vec<Conn>,
    pub(super) next: AtomicUsize,
    pub(super) standalone: bool,
    /// The server runs the module and this engine decides with it.
    pub(super) module: bool,
    pub(super) stats: Counters,
    pub(super) prefix: String,
    /// The rules in force, as last read from the fleet's stored policy.
    pub(super) live: parking_lot::RwLock<Arc<Live>>,
    /// When `live` was last checked against the stored version (see `live.rs`);
    /// zero when a change notice says it is stale.
    pub(super) policy_checked: AtomicU64,
    pub(super) policy_refresh: Duration,
    pub(super) born: std::time::Instant,
    pub(super) clock: Option<Arc<dyn Clock>>,
    pub(super) latest: AtomicU64,
    pub(super) deadline: Duration,
    pub(super) wait: Option<wait::Wait>,
    pub(super) breaker: Breaker,
    pub(super) failure: FailureMode,
    pub(super) near: Option<DeniedSenders>,
    pub(super) facts: FactsCache,
    pub(super) script: Script,
    pub(super) members: members::Scripts,
    pub(super) unrecorded: AtomicU64,
    pub(super) limits: MemberLimits,
    /// The latest failed call's cause and instant (the engine's clock).
    pub(super) last_error: parking_lot::Mutex<Option<(Outage, u64)>>,
    #[cfg(feature = "metrics")]
    pub(super) metrics: crate::metrics::EngineMetrics,
    #[cfg(feature = "metrics")]
    pub(super) redis_metrics: crate::metrics::RedisMetrics,
}

impl Inner {
    /// Drops what the caches hold about `m`.
    pub(super) fn forget(&self, m: u64) {
        self.facts.forget(m);
        if let Some(near) = &self.near {
            near.forget(m);
        }
    }

    /// Marks the rules as needing a read of the stored policy before the next decision.
    pub(super) fn policy_stale(&self) {
        self.policy_checked.store(0, Ordering::Release);
    }

    /// Drops everything the caches hold (notices may have been missed).
    pub(super) fn forget_all(&self) {
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
    pub(super) inner: Arc<Inner>,
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

impl RedisEngine {
    /// The next connection, round robin.
    pub(super) fn conn(&self) -> Conn {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.conns.len();
        self.inner.conns[i].clone()
    }

    /// What this engine has done so far: round trips, cache hits, outages.
    pub fn stats(&self) -> RedisStats {
        self.inner.stats.read()
    }

    pub(super) fn keys(&self, m: u64) -> MemberKeys {
        MemberKeys::new(&self.inner.prefix, m)
    }

    /// The instant argument of a script: the engine's clock, or empty for the server's.
    pub(super) fn now_arg(&self) -> String {
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
    pub(super) fn local_now(&self) -> u64 {
        let t = match &self.inner.clock {
            Some(c) => c.now().clamped(),
            None => SystemClock.now(),
        };
        t.as_millis().max(self.inner.latest.load(Ordering::Acquire))
    }

    pub(super) async fn call<T>(
        &self,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Failure> {
        self.call_within(self.inner.deadline, f).await
    }

    pub(super) async fn call_within<T>(
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

    pub(super) async fn cmd<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, Failure> {
        let mut conn = self.conn();
        self.call(async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// A command that changes state: with [`RedisBuilder::wait_for_replicas`], it is
    /// acknowledged only once the replicas confirm it.
    pub(super) async fn write_cmd<T: redis::FromRedisValue + Send + 'static>(
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
    pub(super) async fn write_script<
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

    pub(super) fn unconfirmed(&self, cause: Outage) -> Failure {
        self.inner.stats.bump(Count::Outage);
        Failure {
            cause,
            wait: self.inner.breaker.retry_after(),
        }
    }

    pub(super) async fn script(
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
    pub(super) async fn script_with(
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

    pub(super) fn retry_after(&self, f: Failure) -> Option<Timestamp> {
        match f.cause {
            Outage::BadData | Outage::BlockingInAsync => None,
            _ => Some(Timestamp::from_millis(
                self.local_now().saturating_add(millis(f.wait).max(1)),
            )),
        }
    }

    pub(super) fn unavailable(&self, f: Failure) -> Denied {
        Denied {
            reason: DenyReason::Unavailable { cause: f.cause },
            retry_at: self.retry_after(f),
        }
    }
}
