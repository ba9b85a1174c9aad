//! Failures of a shared backend, as the decisions report them.

use std::fmt;

/// Why a shared backend could not answer. Engines on shared state (the Redis engine)
/// report these; the in-memory [`Engine`](crate::Engine) reports only
/// [`Outage::Journal`], when it was opened with a persistence directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Outage {
    /// No answer came within the configured deadline.
    Timeout,
    /// The connection was refused, reset or lost.
    Connection,
    /// Recent calls failed, so the circuit breaker answers at once without trying.
    CircuitOpen,
    /// The cluster is reconfiguring (failover, slot migration) or has lost slots.
    ClusterDown,
    /// The server refused the command (out of memory, read-only replica, script error).
    Refused,
    /// The server holds data under the engine's keys that the engine did not write
    /// (a key of the wrong type, a value that does not parse).
    BadData,
    /// A blocking call was made from inside an async runtime, where it would stall
    /// the executor; use the async method instead.
    BlockingInAsync,
    /// The persistence journal could not be written (a full or failing disk), so a
    /// change made in [`Durability::SyncEachDecision`](crate::Durability) mode is not
    /// durable and was not acknowledged.
    Journal,
    /// Fewer replicas than the engine waits for confirmed the change in time, so it
    /// is not acknowledged (a send is not admitted): a failover could lose it.
    ReplicasUnconfirmed {
        /// The replicas the engine waits for.
        wanted: u32,
        /// The replicas that confirmed in time.
        confirmed: u32,
    },
}

impl Outage {
    /// Plain words on what to do.
    pub fn remedy(self) -> &'static str {
        match self {
            Outage::BadData => "check what else writes under the engine's key prefix",
            Outage::BlockingInAsync => "call the async method from async code",
            Outage::Journal => {
                "free or repair the disk of the persistence directory, then open the engine again"
            }
            Outage::ReplicasUnconfirmed { .. } => {
                "retry after the given instant; if a replica is down or missing, restart or attach one"
            }
            _ => "retry after the given instant; the engine reconnects by itself",
        }
    }
}

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outage::Timeout => "the backend did not answer in time",
            Outage::Connection => "the connection to the backend failed",
            Outage::CircuitOpen => "the backend failed repeatedly and is given time to recover",
            Outage::ClusterDown => "the backend cluster is reconfiguring",
            Outage::Refused => "the backend refused the command",
            Outage::BadData => "the backend holds data the engine cannot read",
            Outage::BlockingInAsync => "a blocking call was made inside an async runtime",
            Outage::Journal => "the persistence journal could not be written",
            Outage::ReplicasUnconfirmed { wanted, confirmed } => {
                return write!(
                    f,
                    "only {confirmed} of the {wanted} replicas confirmed the change in time, \
                     so it was not acknowledged; {}",
                    self.remedy()
                );
            }
        })
    }
}

impl std::error::Error for Outage {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconfirmed_replicas_say_what_happened_and_what_to_do() {
        let o = Outage::ReplicasUnconfirmed {
            wanted: 2,
            confirmed: 1,
        };
        assert_eq!(
            o.to_string(),
            "only 1 of the 2 replicas confirmed the change in time, so it was not \
             acknowledged; retry after the given instant; if a replica is down or missing, \
             restart or attach one"
        );
    }
}
