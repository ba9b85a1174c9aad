//! Strict durability: every change is followed, on the same connection and in the
//! same pipeline, by `WAIT replicas timeout` (and `WAITAOF` when asked), and its
//! outcome counts only when that many replicas confirmed it. The pipeline's first
//! command carries the key, so a cluster sends the whole pipeline, `WAIT` included,
//! to the master that owns the key.

use std::time::Duration;

use redis::{Cmd, FromRedisValue, Pipeline, RedisError, RedisResult, Value};

use super::conn::Conn;
use super::RedisSetupError;
use crate::outage::Outage;
use crate::time::millis;

/// How many replicas must confirm each change, and for how long to wait for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wait {
    pub(crate) replicas: usize,
    pub(crate) timeout: Duration,
    /// Also wait for the master's and the replicas' append-only file fsync.
    pub(crate) fsync: bool,
}

/// Whether a script mode changes state (the read-only ones need no confirmation).
pub(crate) fn changes_state(mode: &str) -> bool {
    !matches!(mode, "diag" | "pair" | "capacity")
}

impl Wait {
    /// Refuses settings that cannot work, before anything connects.
    pub(crate) fn check(&self, open: bool) -> Result<(), RedisSetupError> {
        let refuse = |why: &str| Err(RedisSetupError::Durability(why.to_owned()));
        if open {
            return refuse(
                "wait_for_replicas cannot be combined with FailureMode::Open, which admits \
                 sends Redis never recorded; use FailureMode::Closed",
            );
        }
        if self.replicas == 0 {
            return refuse("wait_for_replicas needs at least one replica to wait for");
        }
        if self.timeout < Duration::from_millis(1) {
            return refuse("wait_for_replicas needs a timeout of at least 1 ms");
        }
        if self.timeout > Duration::from_secs(24 * 3600) {
            return refuse("wait_for_replicas needs a timeout of at most a day");
        }
        Ok(())
    }

    fn timeout_ms(&self) -> u64 {
        millis(self.timeout).max(1)
    }

    fn append(&self, pipe: &mut Pipeline) {
        pipe.cmd("WAIT").arg(self.replicas).arg(self.timeout_ms());
        if self.fsync {
            pipe.cmd("WAITAOF")
                .arg(1)
                .arg(self.replicas)
                .arg(self.timeout_ms());
        }
    }

    /// The confirmations that follow a change's reply: `Err` with the cause when
    /// fewer replicas than asked confirmed it.
    fn confirmed(&self, replies: &[Value]) -> RedisResult<Result<(), Outage>> {
        let short = |confirmed: i64| {
            Err(Outage::ReplicasUnconfirmed {
                wanted: u32::try_from(self.replicas).unwrap_or(u32::MAX),
                confirmed: u32::try_from(confirmed.max(0)).unwrap_or(0),
            })
        };
        let count = |v: &Value| -> RedisResult<i64> { value(v.clone()) };
        let Some(first) = replies.first() else {
            return Err(bad_reply());
        };
        let n = count(first)?;
        if n < self.replicas as i64 {
            return Ok(short(n));
        }
        if self.fsync {
            let pair: Vec<i64> = value(replies.get(1).cloned().ok_or_else(bad_reply)?)?;
            match pair.as_slice() {
                [local, replicas] if *local >= 1 && *replicas >= self.replicas as i64 => {}
                [_, replicas] => return Ok(short(*replicas)),
                _ => return Err(bad_reply()),
            }
        }
        Ok(Ok(()))
    }
}

fn bad_reply() -> RedisError {
    RedisError::from((redis::ErrorKind::UnexpectedReturnType, "WAIT reply"))
}

/// A reply as `T`; an error reply as the error it is.
fn value<T: FromRedisValue>(v: Value) -> RedisResult<T> {
    match v {
        Value::ServerError(e) => Err(e.into()),
        v => Ok(redis::from_redis_value(v)?),
    }
}

/// Runs `cmd` (whose first key decides where it goes) and waits for its replicas.
pub(crate) async fn command<T: FromRedisValue>(
    conn: &mut Conn,
    cmd: &Cmd,
    wait: Wait,
) -> RedisResult<Result<T, Outage>> {
    let mut pipe = redis::pipe();
    pipe.add_command(cmd.clone());
    wait.append(&mut pipe);
    let mut replies: Vec<Value> = pipe.ignore_errors().query_async(conn).await?;
    if replies.is_empty() {
        return Err(bad_reply());
    }
    let reply = replies.remove(0);
    // The change's own error first: nothing was changed, so nothing to confirm.
    let reply = value::<T>(reply)?;
    Ok(wait.confirmed(&replies)?.map(|()| reply))
}

/// Runs a script by its hash (by its source when the server does not know it yet)
/// and waits for its replicas.
pub(crate) async fn script<T: FromRedisValue, A: redis::ToRedisArgs>(
    conn: &mut Conn,
    source: &str,
    hash: &str,
    keys: &[String],
    args: &[A],
    wait: Wait,
) -> RedisResult<Result<T, Outage>> {
    let call = |verb: &str, body: &str| {
        let mut cmd = redis::cmd(verb);
        cmd.arg(body).arg(keys.len()).arg(keys).arg(args);
        cmd
    };
    match command(conn, &call("EVALSHA", hash), wait).await {
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            command(conn, &call("EVAL", source), wait).await
        }
        other => other,
    }
}

/// The fewest replicas any master of the target has connected, read from
/// `INFO replication` (on a cluster, every master answers).
pub(crate) async fn check_replicas(conn: &mut Conn, wait: Wait) -> Result<(), RedisSetupError> {
    let fail = |e: RedisError| RedisSetupError::Connect(super::ConnectError::Redis(e));
    let mut info = redis::cmd("INFO");
    info.arg("replication");
    let reply: Value = info.query_async(conn).await.map_err(fail)?;
    let mut fewest: Option<usize> = None;
    for text in texts(reply) {
        if text.lines().any(|l| l.trim() == "role:master") {
            let n = field(&text, "connected_slaves").unwrap_or(0);
            fewest = Some(fewest.map_or(n, |f| f.min(n)));
        }
    }
    let connected = fewest.unwrap_or(0);
    if connected < wait.replicas {
        return Err(RedisSetupError::Replicas {
            wanted: wait.replicas,
            connected,
        });
    }
    if wait.fsync {
        let mut server = redis::cmd("INFO");
        server.arg("server");
        let reply: Value = server.query_async(conn).await.map_err(fail)?;
        for text in texts(reply) {
            let version = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("redis_version:"))
                .unwrap_or("unknown")
                .to_owned();
            if !at_least_7_2(&version) {
                return Err(RedisSetupError::Durability(format!(
                    "waiting for fsync needs WAITAOF, which Redis 7.2 added; this server is {version}"
                )));
            }
        }
        let mut persistence = redis::cmd("INFO");
        persistence.arg("persistence");
        let reply: Value = persistence.query_async(conn).await.map_err(fail)?;
        for text in texts(reply) {
            if field(&text, "aof_enabled") != Some(1) {
                return Err(RedisSetupError::Durability(
                    "waiting for fsync needs appendonly yes on the masters".into(),
                ));
            }
        }
    }
    Ok(())
}

fn at_least_7_2(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (7, 2)
}

/// Every text inside a reply (one server's, or a map of every node's).
fn texts(v: Value) -> Vec<String> {
    match v {
        Value::BulkString(b) => vec![String::from_utf8_lossy(&b).into_owned()],
        Value::VerbatimString { text, .. } => vec![text],
        Value::SimpleString(s) => vec![s],
        Value::Array(items) | Value::Set(items) => items.into_iter().flat_map(texts).collect(),
        Value::Map(pairs) => pairs.into_iter().flat_map(|(_, v)| texts(v)).collect(),
        _ => Vec::new(),
    }
}

fn field(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(replicas: usize, fsync: bool) -> Wait {
        Wait {
            replicas,
            timeout: Duration::from_millis(50),
            fsync,
        }
    }

    #[test]
    fn refuses_open_failure_mode_and_empty_settings() {
        let err = wait(1, false).check(true).unwrap_err().to_string();
        assert!(err.contains("FailureMode::Open"), "{err}");
        assert!(wait(0, false).check(false).is_err());
        let mut w = wait(1, false);
        w.timeout = Duration::ZERO;
        assert!(w.check(false).is_err());
        w.timeout = Duration::MAX;
        let err = w.check(false).unwrap_err().to_string();
        assert!(err.contains("at most a day"), "{err}");
        assert!(wait(2, false).check(false).is_ok());
    }

    #[test]
    fn counts_confirmations() {
        let w = wait(2, false);
        assert_eq!(w.confirmed(&[Value::Int(2)]).unwrap(), Ok(()));
        assert_eq!(w.confirmed(&[Value::Int(3)]).unwrap(), Ok(()));
        assert_eq!(
            w.confirmed(&[Value::Int(1)]).unwrap(),
            Err(Outage::ReplicasUnconfirmed {
                wanted: 2,
                confirmed: 1
            })
        );
        assert!(w.confirmed(&[]).is_err());
        let f = wait(1, true);
        let aof = |l, r| Value::Array(vec![Value::Int(l), Value::Int(r)]);
        assert_eq!(f.confirmed(&[Value::Int(1), aof(1, 1)]).unwrap(), Ok(()));
        assert_eq!(
            f.confirmed(&[Value::Int(1), aof(0, 1)]).unwrap(),
            Err(Outage::ReplicasUnconfirmed {
                wanted: 1,
                confirmed: 1
            }),
            "the master's own fsync is missing"
        );
        assert!(f.confirmed(&[Value::Int(1)]).is_err());
    }

    #[test]
    fn reads_the_replica_count_and_version() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=x\r\n";
        assert_eq!(field(info, "connected_slaves"), Some(2));
        let map = Value::Map(vec![(
            Value::SimpleString("a".into()),
            Value::BulkString(info.as_bytes().to_vec()),
        )]);
        assert_eq!(texts(map), vec![info.to_string()]);
        assert!(at_least_7_2("7.2.4") && at_least_7_2("8.0.0"));
        assert!(!at_least_7_2("7.0.15") && !at_least_7_2("6.2.1"));
        assert!(changes_state("send") && changes_state("end") && changes_state("mirror"));
        assert!(!changes_state("diag") && !changes_state("capacity"));
    }
}
