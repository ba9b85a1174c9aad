//! The engine on the Redis module (`module/`): each call is one `IL.*` command,
//! decided inside Redis by the crate's own rules (an acceptance reads the
//! invitation's recipient first; a send naming an email reads the email's owner
//! first). The gateway's policy is registered, with its member caps and shadow set,
//! under a name made from all three, so gateways with different policies or caps
//! share one server, and a rollout is a new name.

use redis::Value;

use super::conn::Failure;
use super::live::Live;
use super::module_replies::{bad, instant, items, number, text};
use super::RedisEngine;
use crate::codes;
use crate::ids::MemberId;
use crate::outage::Outage;
use crate::report::{Capacity, NoteCapacity, WindowCapacity};

/// Which code decides on the server ([`super::RedisBuilder::server_side`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ServerSide {
    /// The module when the server has it (`COMMAND INFO IL.SEND` at connect), else
    /// the script. The default, so an engine uses the module wherever it is loaded
    /// (see `docs/redis-module.md`).
    #[default]
    Auto,
    /// The module: connecting fails when the server lacks it.
    Module,
    /// The engine script, which needs nothing but Redis (managed services that
    /// cannot load modules), even where the server has the module.
    Script,
}

/// Whether the engine decides with the module: `side` asked, and what the server
/// (behind `conn`) and the builder's settings allow.
pub(super) async fn choose(
    side: ServerSide,
    conn: &mut super::conn::Conn,
) -> Result<bool, super::RedisSetupError> {
    if side == ServerSide::Script {
        return Ok(false);
    }
    let mut info = redis::cmd("COMMAND");
    info.arg("INFO").arg("IL.SEND");
    let present = matches!(
        info.query_async::<Value>(conn).await,
        Ok(Value::Array(ref found)) if found.iter().any(|c| *c != Value::Nil)
    );
    let refuse = |problem| {
        Err(super::RedisSetupError::Setting {
            field: "server_side",
            problem,
        })
    };
    match (side, present) {
        (_, true) => Ok(true),
        (ServerSide::Module, false) => refuse("the server has no invite-limiter module"),
        _ => Ok(false),
    }
}

impl RedisEngine {
    /// Whether this engine decides with the Redis module (see [`ServerSide`]).
    pub fn uses_module(&self) -> bool {
        self.inner.module
    }

    /// The member's key for the module's value.
    pub(super) fn value_key(&self, m: u64) -> String {
        self.keys(m).key("v")
    }

    /// `RULES <name> [AT <ms>]`, appended to every member command.
    fn tail(&self, cmd: &mut redis::Cmd, live: &Live) {
        cmd.arg("RULES").arg(&live.module_name);
        let now = self.now_arg();
        if !now.is_empty() {
            cmd.arg("AT").arg(now);
        }
    }

    /// Registers the policy in force (with the member caps) under its name.
    pub(super) async fn register_rules(&self, live: &Live) -> Result<(), Failure> {
        self.register_rules_at(live, None).await
    }

    /// [`RedisEngine::register_rules`] on the node that serves `key`: on a cluster,
    /// each master learns the policy when a command on it first needs it.
    async fn register_rules_at(&self, live: &Live, key: Option<&str>) -> Result<(), Failure> {
        let l = self.inner.limits;
        let mut cmd = match key.filter(|_| !self.inner.standalone) {
            Some(key) => {
                let mut cmd = redis::cmd("IL.POLICYAT");
                cmd.arg(key);
                cmd
            }
            None => {
                let mut cmd = redis::cmd("IL.POLICY");
                cmd.arg("SET");
                cmd
            }
        };
        cmd.arg(&live.module_name)
            .arg(crate::policy::codec::encode(&live.policy))
            .arg("CAPS")
            .arg(l.max_connections)
            .arg(l.max_follows)
            .arg(l.max_emails)
            .arg(l.max_contacts)
            .arg("SHADOW")
            .arg(live.shadow.bits());
        // Not waited for by replicas, even in strict mode: a registration changes no
        // member, and a node that lost it (a promoted replica that never had it)
        // refuses the next command naming it, which registers it again. Waiting would
        // tie a send to the health of the recipient's shard, whose node a facts read
        // may have to teach the policy.
        self.cmd::<Value>(cmd).await.map(|_| ())
    }

    /// Runs a member command built by `build` under the policy in force; when the
    /// server refuses it (it does not know the policy's name, e.g. after a restart
    /// without persistence), registers the policy and runs it once more.
    pub(super) async fn module_cmd(
        &self,
        writes: bool,
        key: &str,
        build: impl Fn(&Live) -> redis::Cmd,
    ) -> Result<Value, Failure> {
        let live = self.fresh_live().await?;
        let run = |cmd: redis::Cmd| async move {
            if writes {
                self.write_cmd::<Value>(cmd).await
            } else {
                self.cmd::<Value>(cmd).await
            }
        };
        let mut cmd = build(&live);
        self.tail(&mut cmd, &live);
        match run(cmd).await {
            Err(f) if f.cause == Outage::Refused => {
                self.register_rules_at(&live, Some(key)).await?;
                let mut cmd = build(&live);
                self.tail(&mut cmd, &live);
                run(cmd).await
            }
            other => other,
        }
    }

    /// `name <m's key> m args…` under the policy in force (see `module_cmd`).
    pub(super) async fn member_cmd(
        &self,
        writes: bool,
        name: &str,
        m: u64,
        args: &[String],
    ) -> Result<Value, Failure> {
        let key = self.value_key(m);
        self.module_cmd(writes, &key, |_| {
            let mut cmd = redis::cmd(name);
            cmd.arg(&key).arg(m).arg(args);
            cmd
        })
        .await
    }

    /// The member's capacity, from `IL.CAPACITY`.
    pub(super) async fn module_capacity(&self, m: MemberId) -> Result<Capacity, Failure> {
        let reply = self.member_cmd(false, "IL.CAPACITY", m.0, &[]).await?;
        let w = items(&reply)?;
        if w.len() < 21 {
            return Err(bad());
        }
        let n = |i: usize| {
            number(&w[i])
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(bad)
        };
        let window = |i: usize| -> Result<WindowCapacity, Failure> {
            Ok(WindowCapacity {
                used: n(i)?,
                limit: n(i + 1)?,
                next_slot_at: instant(&w[i + 2])?,
                available_at: instant(&w[i + 3])?,
            })
        };
        let tier = text(&w[17])
            .and_then(|t| codes::names::tier_named(&t))
            .ok_or_else(bad)?;
        let until = instant(&w[20])?;
        let status = match text(&w[19]).as_deref() {
            Some("active") => crate::AccountStatus::Active,
            Some("banned") => crate::AccountStatus::Banned,
            Some("restricted") => crate::AccountStatus::Restricted { until },
            _ => return Err(bad()),
        };
        Ok(Capacity {
            daily: window(1)?,
            weekly: window(6)?,
            notes: NoteCapacity {
                used: n(11)?,
                limit: match &w[12] {
                    Value::Nil => None,
                    _ => Some(n(12)?),
                },
                next_slot_at: instant(&w[13])?,
            },
            pending_sent: n(15)?,
            tier,
            status,
        })
    }
}
