//! Sends and diagnoses on the module: one `IL.SEND` or `IL.DIAGNOSE` on a
//! standalone server; on a cluster, the one-key form with what it needs of the
//! recipient (their cached facts, or their value read from their slot).

use redis::Value;

use super::conn::Failure;
use super::keys::email_owner;
use super::module_replies::{bad, instant, items, number, reason, text};
use super::near::Facts;
use super::stats::Count;
use super::RedisEngine;
use crate::account::InviteSetting;
use crate::codes;
use crate::email::normalize;
use crate::ids::InviteId;
use crate::outage::Outage;
use crate::outcome::{Denied, Sent};
use crate::report::Blocker;
use crate::request::InviteRequest;
use crate::time::Timestamp;

/// The recipient as a one-key send on a cluster carries it.
enum Peer {
    /// Their facts, when those decide the admission.
    Facts(Facts),
    /// Their stored value (`None`: their key holds nothing).
    Value(Option<Vec<u8>>),
}

impl RedisEngine {
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
}
