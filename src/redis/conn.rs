//! The connection to Redis (one server, a cluster or a Sentinel-managed master), with a deadline on every call
//! and a circuit breaker in front of it.

use std::future::Future;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use crate::outage::Outage;

/// A standalone server, a cluster or a Sentinel-managed master, behind one
/// connection-like handle. Each reconnects by itself; the cluster client follows MOVED
/// and ASK redirects, the Sentinel one the master the Sentinels name.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(super::sentinel::SentinelConn),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
        }
    }
}

/// What a Redis error means for the caller.
pub(crate) fn classify(e: &RedisError) -> Outage {
    let text = e.to_string();
    if text.contains("BADDATA") || text.contains("WRONGTYPE") {
        Outage::BadData
    } else if e.is_timeout() {
        Outage::Timeout
    } else if e.is_cluster_error() || text.contains("CLUSTERDOWN") || text.contains("TRYAGAIN") {
        Outage::ClusterDown
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        Outage::Connection
    } else if matches!(
        e.kind(),
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType
    ) {
        Outage::BadData
    } else {
        Outage::Refused
    }
}

/// Settings of the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failures: u32,
    /// How long the circuit stays open the first time; each failed probe doubles it.
    pub backoff: Duration,
    /// The longest the circuit stays open.
    pub max_backoff: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failures: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

#[derive(Debug)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    backoff: Duration,
    /// When the probe in flight started: a probe whose caller gave up (its future
    /// dropped) must not keep the circuit open, so another may go after `probe_wait`.
    probing: Option<Instant>,
}

/// Closed: calls go through. Open: calls fail at once until the backoff ends. Then
/// one call probes; its success closes the circuit, its failure reopens it for twice
/// as long.
#[derive(Debug)]
pub(crate) struct Breaker {
    policy: BreakerPolicy,
    probe_wait: Duration,
    state: Mutex<BreakerState>,
}

impl Breaker {
    /// `probe_wait`: how long a probe may take before another is let through (the
    /// engine's deadline).
    pub(crate) fn new(policy: BreakerPolicy, probe_wait: Duration) -> Self {
        Breaker {
            policy,
            probe_wait,
            state: Mutex::new(BreakerState {
                failures: 0,
                open_until: None,
                backoff: policy.backoff,
                probing: None,
            }),
        }
    }

    /// `Err(wait)` when the circuit is open: how long until a call may probe.
    fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut s = self.state.lock();
        match s.open_until {
            None => Ok(()),
            Some(until) if now < until => Err(until - now),
            Some(_) => match s.probing {
                Some(since) if now.saturating_duration_since(since) < self.probe_wait => {
                    Err(self.probe_wait - now.saturating_duration_since(since))
                }
                _ => {
                    s.probing = Some(now);
                    Ok(())
                }
            },
        }
    }

    fn success(&self) {
        let mut s = self.state.lock();
        s.failures = 0;
        s.open_until = None;
        s.probing = None;
        s.backoff = self.policy.backoff;
    }

    fn failure(&self, now: Instant) {
        let mut s = self.state.lock();
        s.failures = s.failures.saturating_add(1);
        if s.probing.is_some() {
            s.probing = None;
            s.backoff = (s.backoff * 2).min(self.policy.max_backoff);
            s.open_until = Some(now + s.backoff);
        } else if s.open_until.is_none() && s.failures >= self.policy.failures {
            s.open_until = Some(now + s.backoff);
        }
    }

    /// The state now, for health reports.
    pub(crate) fn state(&self) -> crate::health::BreakerState {
        use crate::health::BreakerState;
        let s = self.state.lock();
        match (s.open_until, s.probing) {
            (None, _) => BreakerState::Closed,
            (Some(_), Some(_)) => BreakerState::Probing,
            (Some(until), None) => BreakerState::Open {
                retry_in: until.saturating_duration_since(Instant::now()),
            },
        }
    }

    /// How long a caller should wait before trying again after a failure.
    pub(crate) fn retry_after(&self) -> Duration {
        let s = self.state.lock();
        match s.open_until {
            Some(until) => until
                .saturating_duration_since(Instant::now())
                .max(self.policy.backoff),
            None => self.policy.backoff,
        }
    }
}

/// A failed call: what failed and how long to wait before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) cause: Outage,
    pub(crate) wait: Duration,
}

/// Whether the Redis module refused a command for naming a policy it does not know
/// (yet: a node that has not needed it, or a restart without persistence).
fn unknown_rules(e: &RedisError) -> bool {
    e.to_string().contains("unknown rules ")
}

/// Runs one call through the breaker, within `deadline`. Bad data is the caller's
/// problem, not the server's health, so it does not count against the breaker; nor
/// does the module's refusal of a policy name it does not know, which the caller
/// answers by registering the policy (else a burst of calls on a node new to the
/// policy would open the circuit).
pub(crate) async fn guarded<T, F>(
    breaker: &Breaker,
    deadline: Duration,
    call: F,
) -> Result<T, Failure>
where
    F: Future<Output = Result<T, RedisError>>,
{
    if let Err(wait) = breaker.admit(Instant::now()) {
        return Err(Failure {
            cause: Outage::CircuitOpen,
            wait,
        });
    }
    let result = match tokio::time::timeout(deadline, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if unknown_rules(&e) => {
            breaker.success();
            return Err(Failure {
                cause: Outage::Refused,
                wait: Duration::ZERO,
            });
        }
        Ok(Err(e)) => Err(classify(&e)),
        Err(_) => Err(Outage::Timeout),
    };
    match result {
        Ok(v) => {
            breaker.success();
            Ok(v)
        }
        Err(Outage::BadData) => {
            breaker.success();
            Err(Failure {
                cause: Outage::BadData,
                wait: Duration::ZERO,
            })
        }
        Err(cause) => {
            breaker.failure(Instant::now());
            Err(Failure {
                cause,
                wait: breaker.retry_after(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_failures_and_probes_once() {
        let b = Breaker::new(
            BreakerPolicy {
                failures: 2,
                backoff: Duration::from_millis(100),
                max_backoff: Duration::from_millis(400),
            },
            Duration::from_millis(50),
        );
        let t0 = Instant::now();
        assert!(b.admit(t0).is_ok());
        b.failure(t0);
        assert!(b.admit(t0).is_ok(), "one failure keeps it closed");
        b.failure(t0);
        assert!(b.admit(t0).is_err(), "two open it");
        let later = t0 + Duration::from_millis(100);
        assert!(b.admit(later).is_ok(), "the backoff over, one probe goes");
        assert!(b.admit(later).is_err(), "only one");
        b.failure(later);
        let wait = b.admit(later).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_millis(200),
            "a failed probe doubles it"
        );
        b.success();
        assert!(b.admit(later).is_ok(), "a success closes it");
    }

    #[test]
    fn backoff_is_capped() {
        let b = Breaker::new(
            BreakerPolicy {
                failures: 1,
                backoff: Duration::from_millis(100),
                max_backoff: Duration::from_millis(150),
            },
            Duration::from_millis(50),
        );
        let mut t = Instant::now();
        b.failure(t);
        for _ in 0..5 {
            t += Duration::from_secs(1);
            assert!(b.admit(t).is_ok());
            b.failure(t);
        }
        assert_eq!(b.admit(t).unwrap_err(), Duration::from_millis(150));
    }

    #[test]
    fn an_abandoned_probe_does_not_keep_the_circuit_open() {
        let b = Breaker::new(
            BreakerPolicy {
                failures: 1,
                backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
            },
            Duration::from_millis(50),
        );
        let t0 = Instant::now();
        b.failure(t0);
        let later = t0 + Duration::from_millis(100);
        assert!(b.admit(later).is_ok(), "a probe goes");
        // Its caller dropped the call: neither success nor failure is ever reported.
        assert!(b.admit(later + Duration::from_millis(10)).is_err());
        assert!(
            b.admit(later + Duration::from_millis(50)).is_ok(),
            "after the probe's deadline another probe goes"
        );
    }
}
