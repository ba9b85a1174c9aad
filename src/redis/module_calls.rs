//! The module path's calls about one member or one invitation: setters,
//! relations, emails, contacts, own limits and endings (see `module`).

use redis::Value;

use super::conn::Failure;
use super::keys::email_owner;
use super::module_replies::{bad, invite_error, items, number, text};
use super::RedisEngine;
use crate::codes;
use crate::email::{normalize, EmailError};
use crate::ids::{InviteId, MemberId};
use crate::outage::Outage;
use crate::outcome::InviteError;

impl RedisEngine {
    /// A one-key command about `m` whose answer is `+OK`.
    pub(super) async fn module_set(
        &self,
        m: u64,
        name: &str,
        args: &[String],
    ) -> Result<(), Failure> {
        match self.member_cmd(true, name, m, args).await? {
            Value::Okay => Ok(()),
            _ => Err(bad()),
        }
    }

    /// [`RedisEngine::module_set`] changing the member's facts (tier, status,
    /// setting, own limits), which every gateway's caches then drop, as on the script
    /// (see [`RedisEngine::member_changed`]).
    pub(super) async fn module_set_facts(
        &self,
        m: u64,
        name: &str,
        args: &[String],
    ) -> Result<(), Failure> {
        let r = self.module_set(m, name, args).await;
        self.member_changed(m, r.is_ok()).await;
        r
    }

    /// The member's own limits, the sixth word of `IL.GET`.
    pub(super) async fn module_limits(
        &self,
        m: MemberId,
    ) -> Result<Option<crate::TierLimits>, Failure> {
        let reply = self.member_cmd(false, "IL.GET", m.0, &[]).await?;
        match items(&reply)?.get(5) {
            Some(Value::Nil) => Ok(None),
            Some(v) => text(v)
                .and_then(|t| codes::limits_from_text(&t))
                .map(Some)
                .ok_or_else(bad),
            None => Err(bad()),
        }
    }

    /// A one-key query about `m` answering a number.
    pub(super) async fn module_count(
        &self,
        m: u64,
        name: &str,
        other: u64,
    ) -> Result<u64, Failure> {
        let reply = self
            .member_cmd(false, name, m, &[other.to_string()])
            .await?;
        number(&reply).ok_or_else(bad)
    }

    /// Declines, withdraws or reports (`name`), or accepts, the invitation `id`.
    pub(super) async fn module_end(&self, id: InviteId, name: &str) -> Result<(), InviteError> {
        let s = id.sender().0;
        let key = self.value_key(s);
        let unavailable = |f: Failure| InviteError::Unavailable(f.cause);
        if name == "IL.ACCEPT" && !self.inner.standalone {
            return self.module_accept_in_two(id).await;
        }
        let mut rkey = None;
        if name == "IL.ACCEPT" {
            let seq = [id.seq().to_string()];
            let reply = self
                .member_cmd(false, "IL.RECIPIENT", s, &seq)
                .await
                .map_err(unavailable)?;
            match number(&reply) {
                Some(r) => rkey = Some(self.value_key(r)),
                None => {
                    return Err(invite_error(id, items(&reply).map_err(unavailable)?)
                        .map_err(unavailable)?)
                }
            }
        }
        let reply = self
            .module_cmd(true, &key, |_| {
                let mut cmd = redis::cmd(name);
                cmd.arg(&key);
                if let Some(rkey) = &rkey {
                    cmd.arg(rkey);
                }
                cmd.arg(s).arg(id.seq());
                cmd
            })
            .await
            .map_err(unavailable)?;
        let words = items(&reply).map_err(unavailable)?;
        match words.first().and_then(text).as_deref() {
            Some("ok") => Ok(()),
            _ => Err(invite_error(id, words).map_err(unavailable)?),
        }
    }

    /// An acceptance on a cluster, where the two keys live on different slots: the
    /// sender's side (`IL.PACCEPT`, which names the recipient), then the
    /// recipient's (`IL.MIRROR`, idempotent, tried three times; if all fail the
    /// answer is `Unavailable` and the recipient's side lags, as on the script).
    async fn module_accept_in_two(&self, id: InviteId) -> Result<(), InviteError> {
        let s = id.sender().0;
        let unavailable = |f: Failure| InviteError::Unavailable(f.cause);
        let seq = [id.seq().to_string()];
        let reply = self
            .member_cmd(true, "IL.PACCEPT", s, &seq)
            .await
            .map_err(unavailable)?;
        let words = items(&reply).map_err(unavailable)?;
        let recipient = match words.first().and_then(text).as_deref() {
            Some("ok") => words
                .get(1)
                .and_then(number)
                .ok_or_else(|| unavailable(bad()))?,
            _ => return Err(invite_error(id, words).map_err(unavailable)?),
        };
        let mut last = Outage::Timeout;
        for _ in 0..3 {
            match self
                .module_set(recipient, "IL.MIRROR", &[s.to_string()])
                .await
            {
                Ok(()) => return Ok(()),
                Err(f) => last = f.cause,
            }
        }
        Err(InviteError::Unavailable(last))
    }

    /// Connects (or disconnects, by `name`) `a` and `b` on both members' keys, or
    /// makes `a` follow (or unfollow) `b` (one key, `both` false). A connection
    /// past either member's cap changes nothing: a side already added is undone.
    pub(super) async fn module_relate(
        &self,
        name: &str,
        a: MemberId,
        b: MemberId,
        both: bool,
    ) -> Result<(), crate::RelationError> {
        let unavailable = |f: Failure| crate::RelationError::Unavailable(f.cause);
        if matches!(name, "IL.DISCONNECT" | "IL.UNFOLLOW") {
            self.module_set(a.0, name, &[b.0.to_string()])
                .await
                .map_err(unavailable)?;
            if both {
                self.module_set(b.0, name, &[a.0.to_string()])
                    .await
                    .map_err(unavailable)?;
            }
            return Ok(());
        }
        let limit = |member: MemberId, max: u32| match name {
            "IL.FOLLOW" => crate::RelationError::FollowLimit { member, max },
            _ => crate::RelationError::ConnectionLimit { member, max },
        };
        let added = match self.module_add(a.0, name, b.0).await.map_err(unavailable)? {
            Ok(added) => added,
            Err(max) => return Err(limit(a, max)),
        };
        if both {
            if let Err(max) = self.module_add(b.0, name, a.0).await.map_err(unavailable)? {
                if added {
                    let undo = [b.0.to_string()];
                    self.module_set(a.0, "IL.DISCONNECT", &undo)
                        .await
                        .map_err(unavailable)?;
                }
                return Err(limit(b, max));
            }
        }
        Ok(())
    }

    /// Adds `other` to `m`'s side of a relation: whether it was new, or the cap
    /// that refused it.
    async fn module_add(
        &self,
        m: u64,
        name: &str,
        other: u64,
    ) -> Result<Result<bool, u32>, Failure> {
        let reply = self.member_cmd(true, name, m, &[other.to_string()]).await?;
        if let Value::Int(n) = reply {
            return Ok(Ok(n == 1));
        }
        let words = items(&reply)?;
        match (
            words.first().and_then(text).as_deref(),
            words.get(1).and_then(number),
        ) {
            (Some("too_many"), Some(max)) => Ok(Err(u32::try_from(max).unwrap_or(u32::MAX))),
            _ => Err(bad()),
        }
    }

    /// Registers (`add`) or unregisters an email of `m`.
    pub(super) async fn module_email(
        &self,
        m: MemberId,
        email: &str,
        add: bool,
    ) -> Result<(), EmailError> {
        let email = normalize(email)?;
        let (key, owner_key) = (self.value_key(m.0), email_owner(&self.inner.prefix, &email));
        let unavailable = |f: Failure| EmailError::Unavailable(f.cause);
        // On a cluster the owner key lives on another slot: it is claimed (SET NX)
        // or read first, and released or cleared after.
        let mut read = None;
        if !self.inner.standalone {
            let old: Option<String> = if add {
                let mut claim = redis::cmd("SET");
                claim.arg(&owner_key).arg(m.0).arg("NX").arg("GET");
                self.write_cmd(claim).await.map_err(unavailable)?
            } else {
                let mut get = redis::cmd("GET");
                get.arg(&owner_key);
                self.cmd(get).await.map_err(unavailable)?
            };
            let old = old
                .map(|o| o.parse::<u64>())
                .transpose()
                .map_err(|_| EmailError::Unavailable(Outage::BadData))?;
            match (add, old) {
                (true, Some(o)) if o == m.0 => return Ok(()),
                (true, Some(o)) => {
                    return Err(EmailError::Taken {
                        email,
                        owner: MemberId(o),
                    })
                }
                _ => read = Some(old),
            }
        }
        let reply = self
            .module_cmd(true, &key, |_| {
                let action = if add { "ADD" } else { "DEL" };
                match read {
                    None => {
                        let mut cmd = redis::cmd("IL.EMAIL");
                        cmd.arg(&key)
                            .arg(&owner_key)
                            .arg(m.0)
                            .arg(action)
                            .arg(&email);
                        cmd
                    }
                    Some(owner) => {
                        let mut cmd = redis::cmd("IL.PEMAIL");
                        cmd.arg(&key).arg(m.0).arg(action).arg(&email);
                        if let Some(o) = owner {
                            cmd.arg("OWNER").arg(o);
                        }
                        cmd
                    }
                }
            })
            .await
            .map_err(unavailable)?;
        if read.is_some() {
            // Released after a refused claim, cleared after an unregistration.
            // Added: the claim stays; refused: released. Removed: cleared.
            if add != (reply == Value::Okay) {
                let mut del = redis::cmd("DEL");
                del.arg(&owner_key);
                self.write_cmd::<i64>(del).await.map_err(unavailable)?;
            }
        }
        let bad_data = EmailError::Unavailable(Outage::BadData);
        if reply == Value::Okay {
            return Ok(());
        }
        let words = items(&reply).map_err(|_| EmailError::Unavailable(Outage::BadData))?;
        let detail = words.get(1).and_then(number);
        Err(match (words.first().and_then(text).as_deref(), detail) {
            (Some("taken"), Some(owner)) => EmailError::Taken {
                email,
                owner: MemberId(owner),
            },
            (Some("too_many"), Some(max)) => EmailError::TooManyEmails {
                member: m,
                max: u32::try_from(max).unwrap_or(u32::MAX),
            },
            (Some("not_registered"), _) => EmailError::NotRegistered { email, member: m },
            _ => bad_data,
        })
    }

    /// Replaces the contacts `owner` imported.
    pub(super) async fn module_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> Result<(), EmailError> {
        let key = self.value_key(owner.0);
        let reply = self
            .module_cmd(true, &key, |_| {
                let mut cmd = redis::cmd("IL.CONTACTS");
                cmd.arg(&key).arg(owner.0).arg(&emails);
                cmd
            })
            .await
            .map_err(|f| EmailError::Unavailable(f.cause))?;
        if reply == Value::Okay {
            return Ok(());
        }
        let words = items(&reply).map_err(|_| EmailError::Unavailable(Outage::BadData))?;
        match (
            words.first().and_then(text).as_deref(),
            words.get(1).and_then(number),
        ) {
            (Some("too_many"), Some(max)) => Err(EmailError::TooManyContacts {
                max: u32::try_from(max).unwrap_or(u32::MAX),
            }),
            _ => Err(EmailError::Unavailable(Outage::BadData)),
        }
    }
}
