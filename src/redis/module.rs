//! The engine on the Redis module (`module/`): each call is one `IL.*` command,
//! decided inside Redis by the crate's own rules (an acceptance reads the
//! invitation's recipient first; a send naming an email reads the email's owner
//! first). The gateway's policy is registered, with its member caps and shadow set,
//! under a name made from all three, so gateways with different policies or caps
//! share one server, and a rollout is a new name.

use std::time::Duration;

use redis::Value;

use super::conn::Failure;
use super::keys::email_owner;
use super::live::Live;
use super::near::Facts;
use super::stats::Count;
use super::RedisEngine;
use crate::account::InviteSetting;
use crate::codes;
use crate::email::normalize;
use crate::ids::{InviteId, MemberId};
use crate::outage::Outage;
use crate::outcome::{Denied, InviteError, Sent};
use crate::report::{Blocker, Capacity, NoteCapacity, WindowCapacity};
use crate::request::InviteRequest;
use crate::time::Timestamp;

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

/// The recipient as a one-key send on a cluster carries it.
enum Peer {
    /// Their facts, when those decide the admission.
    Facts(Facts),
    /// Their stored value (`None`: their key holds nothing).
    Value(Option<Vec<u8>>),
}

pub(super) fn bad() -> Failure {
    Failure {
        cause: Outage::BadData,
        wait: Duration::ZERO,
    }
}

/// The words of an array reply.
pub(super) fn items(v: &Value) -> Result<&[Value], Failure> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(bad()),
    }
}

pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

pub(super) fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

pub(super) fn instant(v: &Value) -> Result<Option<Timestamp>, Failure> {
    match v {
        Value::Nil => Ok(None),
        other => number(other)
            .map(|t| Some(Timestamp::from_millis(t)))
            .ok_or_else(bad),
    }
}

/// A reason from its code and numbers, as `codes::words` writes them.
fn reason(code: &Value, details: &[Value]) -> Result<crate::DenyReason, Failure> {
    let code = text(code).ok_or_else(bad)?;
    let details: Vec<u64> = details
        .iter()
        .map(number)
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    codes::words::reason_from_words(&code, &details).ok_or_else(bad)
}

/// The error an ended-invitation answer (`unknown`, `ended`, `expired at`, …) says.
pub(super) fn invite_error(id: InviteId, words: &[Value]) -> Result<InviteError, Failure> {
    let kind = words.first().and_then(text).ok_or_else(bad)?;
    Ok(match kind.as_str() {
        "unknown" => InviteError::Unknown(id),
        "ended" => InviteError::AlreadyEnded(id),
        "expired" => InviteError::Expired {
            id,
            at: words
                .get(1)
                .map(instant)
                .transpose()?
                .flatten()
                .ok_or_else(bad)?,
        },
        "too_soon" => InviteError::ReminderNotAllowed {
            id,
            next_at: words.get(1).map(instant).transpose()?.flatten(),
        },
        _ => return Err(bad()),
    })
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

    /// `IL.SEND` or `IL.DIAGNOSE` for `req`.
    async fn module_request(
        &self,
        name: &str,
        req: &InviteRequest,
        counted: bool,
    ) -> Result<Value, Failure> {
        let (s, r) = (req.sender().0, req.recipient().0);
        // The email's owner, read as the in-memory engine reads its email index.
        let owner = match req.email().map(normalize) {
            Some(Ok(email)) => {
                let mut get = redis::cmd("GET");
                get.arg(email_owner(&self.inner.prefix, &email));
                let owner: Option<String> = self.cmd(get).await?;
                owner
                    .map(|o| o.parse::<u64>().map_err(|_| bad()))
                    .transpose()?
            }
            _ => None,
        };
        let (skey, rkey) = (self.value_key(s), self.value_key(r));
        // On a cluster the two keys live on different slots: what the send needs of
        // the recipient travels with the one-key form of the command.
        let peer = if self.inner.standalone || s == r {
            None
        } else {
            Some(self.module_peer(r, &rkey).await?)
        };
        let name = match (&peer, name) {
            (None, name) => name,
            (Some(_), "IL.SEND") => "IL.PSEND",
            (Some(_), _) => "IL.PDIAGNOSE",
        };
        self.module_cmd(name.ends_with("SEND"), &skey, |_| {
            let mut cmd = redis::cmd(name);
            cmd.arg(&skey);
            if peer.is_none() {
                cmd.arg(&rkey);
            }
            cmd.arg(s).arg(r);
            match &peer {
                Some(Peer::Facts(f)) => {
                    let status = if f.banned { "banned" } else { "active" };
                    let setting = codes::names::setting_name(f.setting);
                    cmd.arg("FACTS").arg(status).arg(setting);
                }
                Some(Peer::Value(Some(value))) => {
                    cmd.arg("PEER").arg(value.as_slice());
                }
                Some(Peer::Value(None)) | None => {}
            }
            if let Some(note) = req.trimmed_note() {
                cmd.arg("NOTE").arg(note);
            }
            if let Some(k) = req.key() {
                cmd.arg("KEY").arg(k);
            }
            if let Some(email) = req.email() {
                cmd.arg("EMAIL").arg(email);
                if let Some(o) = owner {
                    cmd.arg("OWNER").arg(o);
                }
            }
            if !counted {
                cmd.arg("NOCOUNT");
            }
            cmd
        })
        .await
    }

    /// What a one-key send on a cluster carries of its recipient: their banned
    /// flag and invite setting from the facts cache (held for the facts' time to
    /// live, as on the script path) when those decide the admission, that is when
    /// the setting admits everyone or nobody and the strangers signal is off;
    /// otherwise their whole value, read from their slot (`IL.DUMP`).
    async fn module_peer(&self, r: u64, rkey: &str) -> Result<Peer, Failure> {
        let live = self.fresh_live().await?;
        if live.policy.spam.strangers.is_none() {
            let facts = self.module_facts(r).await?;
            if matches!(
                facts.setting,
                InviteSetting::Everyone | InviteSetting::Nobody
            ) {
                return Ok(Peer::Facts(facts));
            }
        }
        let mut dump = redis::cmd("IL.DUMP");
        dump.arg(rkey);
        Ok(Peer::Value(self.cmd(dump).await?))
    }

    /// The recipient's banned flag and setting, from the facts cache or `IL.GET`.
    async fn module_facts(&self, r: u64) -> Result<Facts, Failure> {
        if let Some(f) = self.inner.facts.get(r) {
            self.inner.stats.bump(Count::FactsCacheHit);
            return Ok(f);
        }
        let reply = self.member_cmd(false, "IL.GET", r, &[]).await?;
        let words = items(&reply)?;
        let banned = match words.get(1).and_then(text).as_deref() {
            Some("banned") => true,
            Some("active" | "restricted") => false,
            _ => return Err(bad()),
        };
        let setting = words
            .get(3)
            .and_then(text)
            .and_then(|t| codes::names::setting_named(&t))
            .ok_or_else(bad)?;
        let facts = Facts { banned, setting };
        self.inner.facts.put(r, facts);
        Ok(facts)
    }

    /// A send decided by the module.
    pub(super) async fn module_send(
        &self,
        req: &InviteRequest,
        counted: bool,
    ) -> Result<Result<Sent, Denied>, Failure> {
        let reply = self.module_request("IL.SEND", req, counted).await?;
        let words = items(&reply)?;
        match words.first().and_then(text).as_deref() {
            Some("sent") => {
                let seq = words.get(1).and_then(number).ok_or_else(bad)?;
                let expires = words.get(2).map(instant).transpose()?.flatten();
                let bits = words
                    .get(3)
                    .and_then(number)
                    .and_then(|b| u8::try_from(b).ok());
                let shadowed = bits.and_then(crate::Shadow::from_bits).ok_or_else(bad)?;
                let retry = words.get(4).map(instant).transpose()?.flatten();
                Ok(Ok(Sent {
                    id: InviteId::new(req.sender(), seq),
                    expires_at: expires.ok_or_else(bad)?,
                    shadow_retry: retry.map_or(crate::outcome::NO_RETRY, Timestamp::as_millis),
                    shadowed,
                }))
            }
            Some("denied") if words.len() >= 4 => Ok(Err(Denied {
                reason: reason(&words[1], &words[4..])?,
                retry_at: instant(&words[2])?,
            })),
            _ => Err(bad()),
        }
    }

    /// A send decided by the module, with the near-cache and the failure mode as
    /// on the script (see `decide_send`).
    pub(super) async fn module_decision(
        &self,
        req: &InviteRequest,
        cacheable: bool,
    ) -> Result<Sent, Denied> {
        let s = req.sender().0;
        match self.module_send(req, true).await {
            Ok(Ok(sent)) => Ok(sent),
            Ok(Err(denied)) => {
                if let (true, Some(near)) = (cacheable, &self.inner.near) {
                    if denied.reason.holds_for_every_recipient() {
                        near.put(s, denied, self.local_now());
                    }
                }
                Err(denied)
            }
            Err(f)
                if self.inner.failure == super::FailureMode::Open && f.cause != Outage::BadData =>
            {
                let n = self
                    .inner
                    .unrecorded
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(self.sent(
                    &self.live(),
                    s,
                    super::UNRECORDED | n,
                    self.local_now(),
                    &[],
                ))
            }
            Err(f) => Err(self.unavailable(f)),
        }
    }

    /// Every rule that would deny `req`, decided by the module.
    pub(super) async fn module_diagnose(
        &self,
        req: &InviteRequest,
    ) -> Result<Vec<Blocker>, Failure> {
        let reply = self.module_request("IL.DIAGNOSE", req, true).await?;
        items(&reply)?
            .iter()
            .map(|b| {
                let b = items(b)?;
                if b.len() < 2 {
                    return Err(bad());
                }
                Ok(Blocker {
                    reason: reason(&b[0], &b[2..])?,
                    retry_at: instant(&b[1])?,
                })
            })
            .collect()
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
