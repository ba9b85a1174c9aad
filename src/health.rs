//! How an engine is doing: what a health endpoint reports.

use std::fmt::Write;
use std::time::Duration;

use crate::json;
use crate::outage::Outage;
use crate::time::Timestamp;

/// An engine's health: [`Engine::health`](crate::Engine::health) and, with the `redis`
/// feature, `RedisEngine::health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The background sweeper (the in-memory engine only; Redis expires keys itself).
    pub sweeper: Option<SweeperHealth>,
    /// The journal, when the engine was opened with persistence.
    pub journal: Option<JournalHealth>,
    /// The shared Redis state (the Redis engine only).
    pub redis: Option<RedisHealth>,
}

/// The background sweeper's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweeperHealth {
    /// Whether a sweeper thread is running.
    pub running: bool,
    /// Its period, when running.
    pub every: Option<Duration>,
    /// The engine's instant at the end of the latest sweep (by the thread or a direct
    /// call), if any ran.
    pub last_sweep_at: Option<Timestamp>,
    /// How late the sweeper's next pass is, in real time: zero while it keeps to its
    /// period; growing while a pass is stuck or the thread starves.
    pub lag: Duration,
}

/// The journal's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalHealth {
    /// Why the journal stopped being written (a full or failing disk); `None` while
    /// it writes.
    pub failure: Option<String>,
    /// Records queued for the writer and not yet written.
    pub queue_depth: usize,
    /// Real time since the writer last synced the file successfully.
    pub since_last_sync: Option<Duration>,
}

/// The circuit breaker in front of a shared backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail at once for `retry_in` more.
    Open {
        /// Until a call may probe the backend.
        retry_in: Duration,
    },
    /// One call is probing whether the backend is back.
    Probing,
}

impl BreakerState {
    /// A stable `snake_case` name: `closed`, `open`, `probing`.
    pub fn code(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::Probing => "probing",
        }
    }
}

/// The Redis engine's connection to its shared state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisHealth {
    /// Whether a `PING` just now was answered (through the breaker: an open circuit
    /// is not tried and counts as unreachable).
    pub reachable: bool,
    /// How long that `PING` took, when answered.
    pub round_trip: Option<Duration>,
    /// The circuit breaker's state after the `PING`.
    pub breaker: BreakerState,
    /// The latest failed call: what failed, and when (the engine's clock).
    pub last_error: Option<(Outage, Timestamp)>,
}

impl Health {
    /// Whether nothing is wrong: the journal writes, Redis answers with its circuit
    /// closed, and a running sweeper is at most one period late.
    pub fn is_ok(&self) -> bool {
        let sweeper = self
            .sweeper
            .as_ref()
            .is_none_or(|s| !s.running || s.every.is_none_or(|every| s.lag <= every));
        let journal = self.journal.as_ref().is_none_or(|j| j.failure.is_none());
        let redis = self
            .redis
            .as_ref()
            .is_none_or(|r| r.reachable && r.breaker == BreakerState::Closed);
        sweeper && journal && redis
    }

    /// The report as a JSON object, durations in milliseconds:
    ///
    /// ```text
    /// {"ok":true,"sweeper":{"running":true,"every_ms":1000,"last_sweep_at":"…","lag_ms":0},
    ///  "journal":null,"redis":null}
    /// ```
    pub fn to_json(&self) -> String {
        let ms = |d: Duration| d.as_millis();
        let mut out = String::from("{");
        json::key(&mut out, "ok");
        let _ = write!(out, "{}", self.is_ok());
        json::key(&mut out, "sweeper");
        match &self.sweeper {
            None => out.push_str("null"),
            Some(s) => {
                out.push('{');
                json::key(&mut out, "running");
                let _ = write!(out, "{}", s.running);
                json::key(&mut out, "every_ms");
                json::opt_num(&mut out, s.every.map(ms));
                json::key(&mut out, "last_sweep_at");
                json::opt_str(&mut out, s.last_sweep_at.map(|t| t.to_string()).as_deref());
                json::key(&mut out, "lag_ms");
                let _ = write!(out, "{}", ms(s.lag));
                out.push('}');
            }
        }
        json::key(&mut out, "journal");
        match &self.journal {
            None => out.push_str("null"),
            Some(j) => {
                out.push('{');
                json::key(&mut out, "writing");
                let _ = write!(out, "{}", j.failure.is_none());
                json::key(&mut out, "failure");
                json::opt_str(&mut out, j.failure.as_deref());
                json::key(&mut out, "queue_depth");
                let _ = write!(out, "{}", j.queue_depth);
                json::key(&mut out, "since_last_sync_ms");
                json::opt_num(&mut out, j.since_last_sync.map(ms));
                out.push('}');
            }
        }
        json::key(&mut out, "redis");
        match &self.redis {
            None => out.push_str("null"),
            Some(r) => {
                out.push('{');
                json::key(&mut out, "reachable");
                let _ = write!(out, "{}", r.reachable);
                json::key(&mut out, "round_trip_ms");
                json::opt_num(&mut out, r.round_trip.map(ms));
                json::key(&mut out, "breaker");
                json::push_str(&mut out, r.breaker.code());
                if let BreakerState::Open { retry_in } = r.breaker {
                    json::key(&mut out, "breaker_retry_in_ms");
                    let _ = write!(out, "{}", ms(retry_in));
                }
                json::key(&mut out, "last_error");
                match &r.last_error {
                    None => out.push_str("null"),
                    Some((cause, at)) => {
                        out.push('{');
                        json::key(&mut out, "cause");
                        json::push_str(&mut out, &cause.to_string());
                        json::key(&mut out, "at");
                        json::push_str(&mut out, &at.to_string());
                        out.push('}');
                    }
                }
                out.push('}');
            }
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Health {
        Health {
            sweeper: Some(SweeperHealth {
                running: true,
                every: Some(Duration::from_secs(1)),
                last_sweep_at: Some(Timestamp::from_millis(0)),
                lag: Duration::ZERO,
            }),
            journal: Some(JournalHealth {
                failure: None,
                queue_depth: 3,
                since_last_sync: Some(Duration::from_millis(12)),
            }),
            redis: Some(RedisHealth {
                reachable: true,
                round_trip: Some(Duration::from_millis(1)),
                breaker: BreakerState::Closed,
                last_error: None,
            }),
        }
    }

    #[test]
    fn each_part_can_make_it_unhealthy() {
        assert!(base().is_ok());
        let mut h = base();
        h.sweeper.as_mut().unwrap().lag = Duration::from_millis(1_001);
        assert!(!h.is_ok());
        let mut h = base();
        h.journal.as_mut().unwrap().failure = Some("disk \"full\"".into());
        assert!(!h.is_ok());
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["journal"]["writing"], false);
        assert_eq!(json["journal"]["failure"], "disk \"full\"");
        let mut h = base();
        h.redis.as_mut().unwrap().breaker = BreakerState::Open {
            retry_in: Duration::from_millis(500),
        };
        h.redis.as_mut().unwrap().last_error =
            Some((Outage::Connection, Timestamp::from_millis(1_000)));
        assert!(!h.is_ok());
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(json["redis"]["breaker"], "open");
        assert_eq!(json["redis"]["breaker_retry_in_ms"], 500);
        assert_eq!(
            json["redis"]["last_error"]["at"],
            "1970-01-01T00:00:01.000Z"
        );
    }

    #[test]
    fn the_json_is_valid_and_complete() {
        let json: serde_json::Value = serde_json::from_str(&base().to_json()).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["sweeper"]["every_ms"], 1000);
        assert_eq!(json["sweeper"]["lag_ms"], 0);
        assert_eq!(json["journal"]["queue_depth"], 3);
        assert_eq!(json["redis"]["reachable"], true);
        let empty = Health {
            sweeper: None,
            journal: None,
            redis: None,
        };
        let json: serde_json::Value = serde_json::from_str(&empty.to_json()).unwrap();
        assert_eq!(json["ok"], true);
        assert!(json["redis"].is_null());
    }
}
