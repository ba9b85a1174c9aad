//! Why the Redis engine could not be set up.

use crate::outage::Outage;
use crate::policy::ConfigError;

/// Why the Redis engine could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisSetupError {
    /// The policy cannot work, or asks for what this engine does not do.
    Config(ConfigError),
    /// The server or cluster could not be reached or refused the connection.
    Connect(ConnectError),
    /// A builder setting (not a policy field) is out of range, e.g. a deadline of
    /// more than a day.
    Setting {
        /// The setting, e.g. `deadline` or `breaker.max_backoff`.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// [`super::RedisBuilder::wait_for_replicas`] asks for more replicas than a
    /// master has connected.
    Replicas {
        /// The replicas asked for.
        wanted: usize,
        /// The fewest replicas connected to a master of the target.
        connected: usize,
    },
    /// The durability settings cannot work together or on this server.
    Durability(String),
}

/// Why no connection to Redis could be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The client or the server said no: a bad URL, a refused connection, or an
    /// error reply to a setup command.
    Redis(redis::RedisError),
    /// No answer within five deadlines while waiting for what is named.
    TimedOut(&'static str),
    /// The address cannot be used, for the reason given.
    Address(String),
    /// Reading what the fleet has stored (its policy) failed.
    Outage(Outage),
    /// `connect_blocking` was called inside an async runtime; use `connect().await`.
    InsideRuntime,
    /// The blocking engine's runtime could not start.
    Runtime(std::io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Redis(e) => e.fmt(f),
            ConnectError::TimedOut(what) => write!(f, "timed out waiting for {what}"),
            ConnectError::Address(why) => f.write_str(why),
            ConnectError::Outage(o) => write!(f, "reading the fleet's settings failed: {o}"),
            ConnectError::InsideRuntime => f.write_str(
                "connect_blocking was called inside an async runtime; use connect().await",
            ),
            ConnectError::Runtime(e) => write!(f, "the engine's runtime did not start: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Redis(e) => Some(e),
            ConnectError::Outage(o) => Some(o),
            ConnectError::Runtime(e) => Some(e),
            _ => None,
        }
    }
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

impl std::error::Error for RedisSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisSetupError::Config(e) => Some(e),
            RedisSetupError::Connect(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn a_connect_error_names_its_cause_and_chains_it() {
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let e = RedisSetupError::Connect(ConnectError::Redis(refused));
        let cause = e.source().expect("the connect error");
        assert!(cause.source().is_some(), "the client's error behind it");
        assert!(e.to_string().starts_with("could not connect to Redis"));
        let timed = RedisSetupError::Connect(ConnectError::TimedOut("the connection"));
        assert!(timed
            .to_string()
            .contains("timed out waiting for the connection"));
        assert!(timed.source().and_then(Error::source).is_none());
    }
}
