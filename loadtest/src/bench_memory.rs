//! `redis-bench`'s memory step: Redis memory per pending invitation and per in-window
//! send, the engine's scripts (`RedisEngine`) against the Redis module (`IL.SEND`).
//!
//! On a standalone server, with fresh keys: `--memory-senders` S members each send
//! `PER_SENDER` invitations to as many distinct members (the next ones around a ring
//! of the S, so every member sends and receives that many). `used_memory` before and
//! after the sends gives the bytes per pending invitation; then every invitation is
//! declined, and `used_memory` against the reading before the sends gives the bytes
//! per in-window send (each send still counts in its sender's daily and weekly
//! windows, none is pending). Both paths decide by the same policy (default limits,
//! spam signals off); each path's keys are deleted after it.

use std::error::Error;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use invite_limiter::{InviteId, InviteRequest, MemberId};
use redis::Value;
use serde::Serialize;

use crate::bench::{on_script, policy, Ctx, Plain};
use crate::bench_module::{is_ok, member_key, plain_connections, send_cmd, sent_seq};
use crate::bench_module::{restore_policy, set_policy};
use crate::redis_run::{batch, connect, fresh_prefix};
use crate::redis_util::{count_keys, used_memory};
use crate::text::count;

/// Invitations each sender sends.
pub const PER_SENDER: u64 = 5;
/// Connections per path, and calls in flight at a time.
const CONNECTIONS: u64 = 4;
const IN_FLIGHT: u64 = 512;

/// One path's readings.
#[derive(Debug, Clone, Serialize)]
pub struct PathMemory {
    pub path: &'static str,
    /// Invitations sent (allowed) and then declined.
    pub sent: u64,
    pub declined: u64,
    /// Keys under the path's prefix with every invitation pending, and after the declines.
    pub keys_pending: u64,
    pub keys_declined: u64,
    /// `used_memory` before the sends, after them, and after the declines.
    pub used_before: u64,
    pub used_pending: u64,
    pub used_declined: u64,
    pub bytes_per_pending_invitation: f64,
    pub bytes_per_window_send: f64,
}

impl PathMemory {
    fn new(path: &'static str, sent: u64, declined: u64, keys: [u64; 2], used: [u64; 3]) -> Self {
        let per = |after: u64| (after as f64 - used[0] as f64) / sent.max(1) as f64;
        PathMemory {
            path,
            sent,
            declined,
            keys_pending: keys[0],
            keys_declined: keys[1],
            used_before: used[0],
            used_pending: used[1],
            used_declined: used[2],
            bytes_per_pending_invitation: per(used[1]),
            bytes_per_window_send: per(used[2]),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub senders: u64,
    pub invitations_per_sender: u64,
    pub script: PathMemory,
    /// `None` when the server has no module.
    pub module: Option<PathMemory>,
}

/// `used_memory` once the server has settled: the lower of two readings after a pause
/// (a reading also counts transient buffers, e.g. of the connections just used).
fn settled(servers: &[String]) -> Result<u64, Box<dyn Error>> {
    std::thread::sleep(Duration::from_millis(300));
    let first = used_memory(servers)?;
    std::thread::sleep(Duration::from_millis(200));
    Ok(first.min(used_memory(servers)?))
}

/// The `j`-th send of the step: sender `j / PER_SENDER + 1`, to the next members.
fn pair(j: u64, senders: u64) -> (u64, u64) {
    let s = j / PER_SENDER + 1;
    let r = (s - 1 + j % PER_SENDER + 1) % senders + 1;
    (s, r)
}

/// Runs `f(j, conn)` for `j` in `0..total`, `IN_FLIGHT` at a time.
async fn chunked<E, T, F, Fut>(conns: &[E], total: u64, f: F) -> Result<Vec<T>, String>
where
    E: Clone,
    T: Send + 'static,
    F: Fn(u64, E) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let mut out = Vec::new();
    let mut from = 0;
    while from < total {
        let to = (from + IN_FLIGHT).min(total);
        out.extend(batch(conns, from, to, &f).await?);
        from = to;
    }
    Ok(out)
}

impl Ctx<'_> {
    /// The memory step, or `None` when it is skipped (`--memory-senders 0`, a cluster).
    pub(crate) fn memory(&self) -> Result<Option<MemoryReport>, Box<dyn Error>> {
        let senders = self.args.memory_senders;
        if senders == 0 {
            return Ok(None);
        }
        if senders <= PER_SENDER {
            return Err(format!("--memory-senders needs more than {PER_SENDER} senders").into());
        }
        if self.servers.len() != 1 || self.args.backend.contains(',') {
            eprintln!(
                "redis-bench: the memory comparison is skipped: it runs on a standalone \
                 server only ({})",
                crate::bench_module::CLUSTER_SKIP
            );
            return Ok(None);
        }
        eprintln!(
            "redis-bench: memory: {senders} senders x {PER_SENDER} invitations, \
             engine scripts{}",
            if self.module { " and module" } else { "" }
        );
        let script = self.script_memory(senders)?;
        let module = if self.module {
            Some(self.module_memory(senders)?)
        } else {
            None
        };
        Ok(Some(MemoryReport {
            senders,
            invitations_per_sender: PER_SENDER,
            script,
            module,
        }))
    }

    fn script_memory(&self, senders: u64) -> Result<PathMemory, Box<dyn Error>> {
        let prefix = fresh_prefix("ilb-mem-script");
        let engines = self
            .rt
            .block_on(connect(&self.args.backend, CONNECTIONS, |b| {
                on_script(b).prefix(prefix.clone()).policy(policy())
            }))?;
        let before = settled(self.servers)?;
        let ids: Vec<InviteId> = self
            .rt
            .block_on(chunked(&engines, senders * PER_SENDER, |j, e| async move {
                let (s, r) = pair(j, senders);
                let req = InviteRequest::new(MemberId(s), MemberId(r));
                Ok(e.send(req).await.ok().map(|sent| sent.id()))
            }))?
            .into_iter()
            .flatten()
            .collect();
        let pending = settled(self.servers)?;
        let keys_pending = count_keys(self.servers, &prefix)?;
        let ids = Arc::new(ids);
        let declined = self
            .rt
            .block_on(chunked(&engines, ids.len() as u64, |j, e| {
                let ids = Arc::clone(&ids);
                async move { Ok(e.decline(ids[j as usize]).await.is_ok()) }
            }))?;
        let after = settled(self.servers)?;
        let keys_declined = count_keys(self.servers, &prefix)?;
        drop(engines);
        self.cleanup(&prefix);
        Ok(PathMemory::new(
            "engine scripts (RedisEngine)",
            ids.len() as u64,
            declined.into_iter().filter(|d| *d).count() as u64,
            [keys_pending, keys_declined],
            [before, pending, after],
        ))
    }

    fn module_memory(&self, senders: u64) -> Result<PathMemory, Box<dyn Error>> {
        let prefix: Arc<str> = fresh_prefix("ilb-mem-module").into();
        let conns: Vec<Plain> = self
            .rt
            .block_on(plain_connections(&self.args.backend, CONNECTIONS))?;
        let policy_before = set_policy(self.servers)?;
        let run = || -> Result<PathMemory, Box<dyn Error>> {
            let before = settled(self.servers)?;
            let sent: Vec<(u64, u64)> = self
                .rt
                .block_on(chunked(&conns, senders * PER_SENDER, |j, c| {
                    let prefix = Arc::clone(&prefix);
                    async move {
                        let (s, r) = pair(j, senders);
                        let reply = c.query::<Value>(&send_cmd(&prefix, s, r)).await;
                        Ok(reply.ok().as_ref().and_then(sent_seq).map(|seq| (s, seq)))
                    }
                }))?
                .into_iter()
                .flatten()
                .collect();
            let pending = settled(self.servers)?;
            let keys_pending = count_keys(self.servers, &prefix)?;
            let sent = Arc::new(sent);
            let declined = self
                .rt
                .block_on(chunked(&conns, sent.len() as u64, |j, c| {
                    let (sent, prefix) = (Arc::clone(&sent), Arc::clone(&prefix));
                    async move {
                        let (s, seq) = sent[j as usize];
                        let mut cmd = redis::cmd("IL.DECLINE");
                        cmd.arg(member_key(&prefix, s)).arg(s).arg(seq);
                        Ok(c.query::<Value>(&cmd).await.is_ok_and(|v| is_ok(&v)))
                    }
                }))?;
            let after = settled(self.servers)?;
            let keys_declined = count_keys(self.servers, &prefix)?;
            Ok(PathMemory::new(
                "Redis module (IL.SEND)",
                sent.len() as u64,
                declined.into_iter().filter(|d| *d).count() as u64,
                [keys_pending, keys_declined],
                [before, pending, after],
            ))
        };
        let out = run();
        restore_policy(self.servers, &policy_before);
        drop(conns);
        self.cleanup(&prefix);
        out
    }
}

pub fn render(m: &MemoryReport, out: &mut String) {
    let _ = writeln!(
        out,
        "\nRedis memory, {} senders x {} invitations to distinct members (INFO memory \
         used_memory, the lower of two readings after each step, against the reading \
         before the sends):\n\n  {:<30} {:>7} {:>9} {:>7} {:>7} {:>13} {:>15}",
        count(m.senders),
        m.invitations_per_sender,
        "path",
        "sent",
        "declined",
        "keys",
        "keys'",
        "B/pending inv",
        "B/in-window send",
    );
    for p in std::iter::once(&m.script).chain(m.module.as_ref()) {
        let _ = writeln!(
            out,
            "  {:<30} {:>7} {:>9} {:>7} {:>7} {:>13.1} {:>15.1}",
            p.path,
            count(p.sent),
            count(p.declined),
            count(p.keys_pending),
            count(p.keys_declined),
            p.bytes_per_pending_invitation,
            p.bytes_per_window_send,
        );
    }
    if let Some(module) = &m.module {
        let ratio = |a: f64, b: f64| a / b.max(1e-9);
        let _ = writeln!(
            out,
            "  module / scripts: {:.2} per pending invitation, {:.2} per in-window send \
             (keys: with every invitation pending; keys': after the declines)",
            ratio(
                module.bytes_per_pending_invitation,
                m.script.bytes_per_pending_invitation
            ),
            ratio(module.bytes_per_window_send, m.script.bytes_per_window_send),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sender_invites_distinct_members() {
        let senders = 7;
        for s in 1..=senders {
            let mut to: Vec<u64> = (0..PER_SENDER)
                .map(|k| pair((s - 1) * PER_SENDER + k, senders))
                .inspect(|&(from, _)| assert_eq!(from, s))
                .map(|(_, r)| r)
                .collect();
            to.sort_unstable();
            to.dedup();
            assert_eq!(to.len() as u64, PER_SENDER);
            assert!(to.iter().all(|&r| r != s && (1..=senders).contains(&r)));
        }
    }
}
