//! `redis-bench` case (f): the Redis module's `IL.SEND` (`module/`), the crate's rules
//! run inside Redis as one command, on the same sender stream as the other cases.
//!
//! Each task sends raw `IL.SEND {prefix:sender} {prefix:recipient} sender recipient`
//! on a plain connection. The module decides by the policy `IL.POLICY SET` put in
//! force: the bench's own (spam signals off), set before the case and the one in force
//! before put back after it. A send names two keys, the sender's and the recipient's,
//! which a cluster keeps on different slots: the case runs on a standalone server only.

use std::error::Error;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use invite_limiter::redis::ServerSide;
use invite_limiter::server::Server;
use redis::Value;

use crate::bench::{finish_case, policy, timed, Answer, CaseResult, Ctx, Plain, Stream, TaskStats};

/// Why the raw module case (f) cannot run on a cluster (case (g) does).
pub const CLUSTER_SKIP: &str = "a send names the sender's and the recipient's keys, which a \
                                cluster keeps on different slots";

fn connection(url: &str) -> Result<redis::Connection, String> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}

/// `Ok` when every master has the module loaded (`COMMAND INFO IL.SEND` answers an
/// entry), so that case (g) can run, and case (f) on a standalone server; otherwise
/// why not.
pub fn status(servers: &[String]) -> Result<(), String> {
    for url in servers {
        let mut con = connection(url)?;
        let info: Vec<Value> = redis::cmd("COMMAND")
            .arg("INFO")
            .arg("IL.SEND")
            .query(&mut con)
            .map_err(|e| format!("COMMAND INFO IL.SEND failed: {e}"))?;
        if matches!(info.first(), Some(Value::Nil) | None) {
            return Err(format!(
                "{url} has no IL.SEND command (start it with --loadmodule \
                 module/target/release/libinvite_limiter_module.so)"
            ));
        }
    }
    Ok(())
}

/// The key of `member` under `prefix`: `{prefix:member}`.
pub fn member_key(prefix: &str, member: u64) -> String {
    format!("{{{prefix}:{member}}}")
}

/// `IL.SEND` from `sender` to `recipient`, keys under `prefix`.
pub fn send_cmd(prefix: &str, sender: u64, recipient: u64) -> redis::Cmd {
    let mut cmd = redis::cmd("IL.SEND");
    cmd.arg(member_key(prefix, sender))
        .arg(member_key(prefix, recipient))
        .arg(sender)
        .arg(recipient);
    cmd
}

/// The first word of an `IL.*` reply (`sent`, `denied`, `ok`, …).
fn word(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Array(items) => match items.first()? {
            Value::BulkString(b) => Some(b),
            Value::SimpleString(s) => Some(s.as_bytes()),
            _ => None,
        },
        _ => None,
    }
}

/// `["sent", seq, expires_at]` is allowed, `["denied", …]` denied; anything else
/// (an error, a timeout) unavailable.
pub fn answer(reply: &redis::RedisResult<Value>) -> Answer {
    match reply.as_ref().ok().and_then(word) {
        Some(b"sent") => Answer::Allowed,
        Some(b"denied") => Answer::Denied,
        _ => Answer::Unavailable,
    }
}

/// The sequence number of the invitation a `sent` reply names.
pub fn sent_seq(reply: &Value) -> Option<u64> {
    match reply {
        Value::Array(items) if word(reply) == Some(b"sent") => match items.get(1)? {
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Whether an `IL.DECLINE` reply is `["ok"]`.
pub fn is_ok(reply: &Value) -> bool {
    word(reply) == Some(b"ok")
}

/// Puts the bench's policy in force on every server; returns the policies in force
/// before, to put back with [`restore_policy`].
pub fn set_policy(servers: &[String]) -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
    let bytes = Server::new(policy())?.encoded_policy();
    let mut before = Vec::new();
    for url in servers {
        let mut con = connection(url)?;
        let old: Vec<u8> = redis::cmd("IL.POLICY").arg("GET").query(&mut con)?;
        redis::cmd("IL.POLICY")
            .arg("SET")
            .arg(&bytes)
            .query::<()>(&mut con)?;
        before.push(old);
    }
    Ok(before)
}

pub fn restore_policy(servers: &[String], before: &[Vec<u8>]) {
    for (url, bytes) in servers.iter().zip(before) {
        let put = connection(url).and_then(|mut con| {
            redis::cmd("IL.POLICY")
                .arg("SET")
                .arg(bytes)
                .query::<()>(&mut con)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = put {
            eprintln!("redis-bench: could not put the module's policy back on {url}: {e}");
        }
    }
}

/// `n` plain connections to `backend`.
pub async fn plain_connections(backend: &str, n: u64) -> Result<Vec<Plain>, Box<dyn Error>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(Plain::open(backend).await?);
    }
    Ok(v)
}

/// `IL.SEND` on every task's stream.
async fn module_sends(
    conns: &[Plain],
    prefix: &str,
    callers: u64,
    duration: Duration,
    seed: u64,
    senders: u64,
) -> (Vec<TaskStats>, f64) {
    let prefix: Arc<str> = prefix.into();
    timed(callers, duration, |t, stop| {
        let conn = conns[(t as usize) % conns.len()].clone();
        let prefix = Arc::clone(&prefix);
        async move {
            let mut st = TaskStats::new();
            let mut stream = Stream::new(seed, t, senders);
            while !stop.load(Ordering::Relaxed) {
                let (s, r) = stream.next_pair();
                let cmd = send_cmd(&prefix, s.0, r.0);
                let began = Instant::now();
                let res = conn.query::<Value>(&cmd).await;
                st.record(began.elapsed(), answer(&res));
            }
            st
        }
    })
    .await
}

impl Ctx<'_> {
    /// (g) at `n` connections: `RedisEngine::send` deciding with the module, one
    /// engine per connection, the same policy as (a). On a cluster a send is one
    /// `IL.PSEND` on the sender's slot carrying the recipient's cached facts (an
    /// `IL.GET` on their slot when the facts cache misses).
    pub(crate) fn engine_module_case(&self, n: u64) -> Result<CaseResult, Box<dyn Error>> {
        let (row, _) = self.engine_case(
            n,
            ("ilb-engmod", "engine_module_send"),
            "(g) RedisEngine::send (module)".into(),
            |b| b.server_side(ServerSide::Module),
        )?;
        Ok(row)
    }

    /// (f) at `n` connections: one task per plain connection.
    pub(crate) fn module_case(&self, n: u64) -> Result<CaseResult, Box<dyn Error>> {
        let a = self.args;
        let prefix = crate::redis_run::fresh_prefix("ilb-module");
        let conns = self.rt.block_on(plain_connections(&a.backend, n))?;
        let before = set_policy(self.servers)?;
        let ((stats, secs), server) = self.counted(|| {
            self.rt.block_on(module_sends(
                &conns,
                &prefix,
                n,
                self.duration,
                a.seed,
                a.senders,
            ))
        });
        restore_policy(self.servers, &before);
        drop(conns);
        self.cleanup(&prefix);
        Ok(finish_case(
            "module_send",
            "(f) Redis module IL.SEND".into(),
            n,
            stats,
            secs,
            server,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn replies_read() {
        let sent = Value::Array(vec![
            bulk("sent"),
            Value::Int(1_796_298_771_739_000),
            Value::Int(7),
        ]);
        let denied = Value::Array(vec![
            bulk("denied"),
            bulk("daily_limit"),
            Value::Nil,
            bulk("x"),
        ]);
        assert!(matches!(answer(&Ok(sent.clone())), Answer::Allowed));
        assert!(matches!(answer(&Ok(denied.clone())), Answer::Denied));
        assert!(matches!(answer(&Ok(Value::Nil)), Answer::Unavailable));
        assert_eq!(sent_seq(&sent), Some(1_796_298_771_739_000));
        assert_eq!(sent_seq(&denied), None);
        assert!(is_ok(&Value::Array(vec![bulk("ok")])));
        assert!(!is_ok(&denied));
        assert_eq!(member_key("p", 12), "{p:12}");
        let cmd = send_cmd("p", 1, 2);
        let args: Vec<Vec<u8>> = cmd
            .args_iter()
            .filter_map(|a| match a {
                redis::Arg::Simple(b) => Some(b.to_vec()),
                _ => None,
            })
            .collect();
        assert_eq!(args, [&b"IL.SEND"[..], b"{p:1}", b"{p:2}", b"1", b"2"]);
    }
}
