//! Relations, emails and contacts on Redis, with the member caps.
//!
//! Each step is one command or one short script on one slot. Steps that span two
//! slots (both sides of a connection, an email's owner key and the member's set) are
//! ordered so that an interruption leaves nothing a retry does not complete or undo.

use redis::Script;

use super::keys::email_owner;
use super::RedisEngine;
use crate::email::{normalize, EmailError};
use crate::ids::MemberId;
use crate::outage::Outage;
use crate::policy::limits::RelationError;

/// Adds ARGV[1] to the set KEYS[1] unless it holds ARGV[2] members already:
/// 1 added, 0 already there, -1 full.
const ADD_CAPPED: &str = "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end \
    if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end \
    redis.call('SADD', KEYS[1], ARGV[1]) return 1";
/// Deletes the owner key KEYS[1] if it names ARGV[1]: 1 deleted, 0 absent, -1 another's.
const RELEASE_OWNER: &str = "local v = redis.call('GET', KEYS[1]) \
    if v == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end \
    if v then return -1 end return 0";
/// Adds ARGV to the staging set KEYS[1] and keeps it for five minutes after each
/// step: an import takes a few round trips, and one interrupted half way (a gateway
/// dropping the call of a client that went away, which a client can time) must not
/// leave its megabyte behind for long, or repeated interruptions fill the server.
const STAGE: &str = "redis.call('SADD', KEYS[1], unpack(ARGV)) \
    redis.call('PEXPIRE', KEYS[1], 300000) return 1";
/// Replaces the contacts KEYS[2] with the staged set KEYS[1] if it holds exactly
/// ARGV[1] members (else it expired or was tampered with): 1 done, -1 not.
const SWAP: &str = "if redis.call('SCARD', KEYS[1]) ~= tonumber(ARGV[1]) then \
    redis.call('DEL', KEYS[1]) return -1 end \
    redis.call('RENAME', KEYS[1], KEYS[2]) redis.call('PERSIST', KEYS[2]) return 1";

/// Contacts written per step of an import: each step is short on the server.
pub(crate) const IMPORT_CHUNK: usize = 500;

/// The scripts of this module, loaded once per engine.
pub(crate) struct Scripts {
    add_capped: Script,
    release_owner: Script,
    stage: Script,
    swap: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            add_capped: Script::new(ADD_CAPPED),
            release_owner: Script::new(RELEASE_OWNER),
            stage: Script::new(STAGE),
            swap: Script::new(SWAP),
        }
    }
}

impl RedisEngine {
    /// Runs one of this module's scripts; in strict mode
    /// ([`super::RedisBuilder::wait_for_replicas`]) acknowledged only once replicated.
    async fn run(
        &self,
        script: &Script,
        source: &'static str,
        keys: &[String],
        args: &[String],
    ) -> Result<i64, Outage> {
        if let Some(w) = self.inner.wait {
            return self
                .write_script::<i64, _>(w, source, script.get_hash(), keys, args)
                .await
                .map_err(|f| f.cause);
        }
        let mut inv = script.prepare_invoke();
        keys.iter().for_each(|k| {
            inv.key(k);
        });
        args.iter().for_each(|a| {
            inv.arg(a);
        });
        let mut conn = self.conn();
        self.call(async move { inv.invoke_async::<i64>(&mut conn).await })
            .await
            .map_err(|f| f.cause)
    }

    /// Adds `item` to the set `key` under `max`: `Some(added)`, or `None` when full.
    async fn add_capped(&self, key: String, item: u64, max: u32) -> Result<Option<bool>, Outage> {
        let scripts = &self.inner.members;
        let args = [item.to_string(), max.to_string()];
        match self
            .run(&scripts.add_capped, ADD_CAPPED, &[key], &args)
            .await?
        {
            -1 => Ok(None),
            n => Ok(Some(n == 1)),
        }
    }

    async fn set_op(&self, op: &str, key: String, item: String) -> Result<i64, Outage> {
        let mut cmd = redis::cmd(op);
        cmd.arg(key).arg(item);
        self.write_cmd::<i64>(cmd).await.map_err(|f| f.cause)
    }

    /// Connects two members, or says which of them is at the connection cap
    /// ([`crate::MemberLimits::max_connections`]).
    ///
    /// # Errors
    /// [`RelationError::ConnectionLimit`] (nothing changed), or `Unavailable` when
    /// Redis cannot answer (one side may then be recorded; repeating the call
    /// completes it).
    pub async fn try_connect(&self, a: MemberId, b: MemberId) -> Result<(), RelationError> {
        if a == b {
            return Ok(());
        }
        if self.inner.module {
            return self.module_relate("IL.CONNECT", a, b, true).await;
        }
        let max = self.inner.limits.max_connections;
        let key = |m: MemberId| self.keys(m.0).key("c");
        let unavailable = RelationError::Unavailable;
        let Some(added) = self
            .add_capped(key(a), b.0, max)
            .await
            .map_err(unavailable)?
        else {
            return Err(RelationError::ConnectionLimit { member: a, max });
        };
        if self
            .add_capped(key(b), a.0, max)
            .await
            .map_err(unavailable)?
            .is_none()
        {
            if added {
                self.set_op("SREM", key(a), b.0.to_string())
                    .await
                    .map_err(unavailable)?;
            }
            return Err(RelationError::ConnectionLimit { member: b, max });
        }
        Ok(())
    }

    /// Connects two members; past the connection cap this does nothing (see
    /// [`RedisEngine::try_connect`], which says so).
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer (one side may then be recorded; repeating
    /// the call completes it).
    pub async fn connect(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        match self.try_connect(a, b).await {
            Err(RelationError::Unavailable(cause)) => Err(cause),
            _ => Ok(()),
        }
    }

    /// Disconnects two members.
    ///
    /// # Errors
    /// As [`RedisEngine::connect`].
    pub async fn disconnect(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        if a == b {
            return Ok(());
        }
        if self.inner.module {
            return self
                .module_relate("IL.DISCONNECT", a, b, true)
                .await
                .map_err(|e| match e {
                    RelationError::Unavailable(cause) => cause,
                    _ => Outage::BadData,
                });
        }
        let (x, y) = tokio::join!(
            self.set_op("SREM", self.keys(a.0).key("c"), b.0.to_string()),
            self.set_op("SREM", self.keys(b.0).key("c"), a.0.to_string())
        );
        x.and(y).map(|_| ())
    }

    /// `follower` follows `followee`, or says that `follower` is at the follow cap
    /// ([`crate::MemberLimits::max_follows`]).
    ///
    /// # Errors
    /// [`RelationError::FollowLimit`] (nothing changed), or `Unavailable`.
    pub async fn try_follow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> Result<(), RelationError> {
        if self.inner.module {
            return self
                .module_relate("IL.FOLLOW", follower, followee, false)
                .await;
        }
        let max = self.inner.limits.max_follows;
        let key = self.keys(follower.0).key("f");
        match self.add_capped(key, followee.0, max).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(RelationError::FollowLimit {
                member: follower,
                max,
            }),
            Err(cause) => Err(RelationError::Unavailable(cause)),
        }
    }

    /// `follower` follows `followee`; past the follow cap this does nothing (see
    /// [`RedisEngine::try_follow`], which says so).
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn follow(&self, follower: MemberId, followee: MemberId) -> Result<(), Outage> {
        match self.try_follow(follower, followee).await {
            Err(RelationError::Unavailable(cause)) => Err(cause),
            _ => Ok(()),
        }
    }

    /// `follower` stops following `followee`.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn unfollow(&self, follower: MemberId, followee: MemberId) -> Result<(), Outage> {
        if self.inner.module {
            let args = [followee.0.to_string()];
            return self
                .module_set(follower.0, "IL.UNFOLLOW", &args)
                .await
                .map_err(|f| f.cause);
        }
        self.set_op(
            "SREM",
            self.keys(follower.0).key("f"),
            followee.0.to_string(),
        )
        .await
        .map(|_| ())
    }

    /// Registers `email` as the member's. An address belongs to at most one member.
    ///
    /// The owner key is claimed first, then the address joins the member's set under
    /// the cap, and the claim is read again after; every release of a claim is
    /// followed by removal from the set. So the set (which contact checks read)
    /// holds only addresses the member owns, whatever step an interrupted or dropped
    /// call stops at, and however calls for one address interleave. Repeating the
    /// call completes it.
    ///
    /// # Errors
    /// [`EmailError::Invalid`], [`EmailError::Taken`],
    /// [`EmailError::TooManyEmails`] past [`crate::MemberLimits::max_emails`], or
    /// `Unavailable`.
    pub async fn register_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        if self.inner.module {
            return self.module_email(m, email, true).await;
        }
        let email = normalize(email)?;
        let unavailable = EmailError::Unavailable;
        let owner_key = email_owner(&self.inner.prefix, &email);
        let mut set = redis::cmd("SET");
        set.arg(&owner_key)
            .arg(m.0.to_string())
            .arg("NX")
            .arg("GET");
        let prev: Option<String> = self
            .write_cmd(set)
            .await
            .map_err(|f| unavailable(f.cause))?;
        match prev.map(|o| o.parse::<u64>()) {
            None => {}
            Some(Ok(o)) if o == m.0 => {}
            Some(Ok(o)) => {
                return Err(EmailError::Taken {
                    email,
                    owner: MemberId(o),
                })
            }
            Some(Err(_)) => return Err(unavailable(Outage::BadData)),
        }
        let max = self.inner.limits.max_emails;
        let added = self
            .run(
                &self.inner.members.add_capped,
                ADD_CAPPED,
                &[self.keys(m.0).key("em")],
                &[email.clone(), max.to_string()],
            )
            .await
            .map_err(unavailable)?;
        if added == -1 {
            // Not the member's after all: the claim (new, or left by an interrupted
            // call) is released.
            self.release_email(m, owner_key, &email).await?;
            return Err(EmailError::TooManyEmails { member: m, max });
        }
        // A concurrent unregistration may have released the claim before the set
        // took the address: then it leaves the set too (unregistered after all).
        let mut get = redis::cmd("GET");
        get.arg(&owner_key);
        let now: Option<String> = self.cmd(get).await.map_err(|f| unavailable(f.cause))?;
        if now.as_deref() != Some(m.0.to_string().as_str()) {
            self.set_op("SREM", self.keys(m.0).key("em"), email)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Releases the member's claim on `email`, then removes it from the member's set
    /// (a registration racing this one may have added it after the claim was read):
    /// how far the release went (1 released, 0 no claim, -1 another's).
    async fn release_email(
        &self,
        m: MemberId,
        owner_key: String,
        email: &str,
    ) -> Result<i64, EmailError> {
        let unavailable = EmailError::Unavailable;
        let released = self
            .run(
                &self.inner.members.release_owner,
                RELEASE_OWNER,
                &[owner_key],
                &[m.0.to_string()],
            )
            .await
            .map_err(unavailable)?;
        self.set_op("SREM", self.keys(m.0).key("em"), email.to_owned())
            .await
            .map_err(unavailable)?;
        Ok(released)
    }

    /// Removes `email` from the member's addresses; another member may then
    /// register it.
    ///
    /// # Errors
    /// [`EmailError::Invalid`], [`EmailError::NotRegistered`] when it is not the
    /// member's, or `Unavailable` (repeating the call completes it).
    pub async fn unregister_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        if self.inner.module {
            return self.module_email(m, email, false).await;
        }
        let email = normalize(email)?;
        let unavailable = EmailError::Unavailable;
        let owner_key = email_owner(&self.inner.prefix, &email);
        // The member's set first (see `register_email`); this also clears an entry
        // an older version's interrupted registration left for another's address.
        let removed = self
            .set_op("SREM", self.keys(m.0).key("em"), email.clone())
            .await
            .map_err(unavailable)?;
        let released = self.release_email(m, owner_key, &email).await?;
        if released == -1 || (released == 0 && removed == 0) {
            return Err(EmailError::NotRegistered { email, member: m });
        }
        Ok(())
    }

    /// Replaces the owner's imported contacts (a re-sync). The list is written in
    /// steps of 500 to a staging key and swapped in at the end, so the server is
    /// never blocked for long and an interrupted import keeps the previous list.
    ///
    /// # Errors
    /// [`EmailError::Invalid`] naming the first invalid entry,
    /// [`EmailError::TooManyContacts`] past [`crate::MemberLimits::max_contacts`]
    /// distinct entries (nothing is applied then), or `Unavailable`.
    pub async fn import_contacts(
        &self,
        owner: MemberId,
        emails: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(), EmailError> {
        let max = self.inner.limits.max_contacts;
        let mut seen = std::collections::HashSet::new();
        let mut list = Vec::new();
        for raw in emails {
            let email = normalize(raw.as_ref())?;
            if seen.insert(email.clone()) {
                if list.len() >= max as usize {
                    return Err(EmailError::TooManyContacts { max });
                }
                list.push(email);
            }
        }
        if self.inner.module {
            return self.module_contacts(owner, list).await;
        }
        let keys = self.keys(owner.0);
        let target = keys.key("e");
        let unavailable = EmailError::Unavailable;
        if list.is_empty() {
            let mut del = redis::cmd("DEL");
            del.arg(&target);
            return self
                .write_cmd::<i64>(del)
                .await
                .map(|_| ())
                .map_err(|f| unavailable(f.cause));
        }
        let stage = keys.key(&format!("e:import:{:x}", staging_token()));
        let scripts = &self.inner.members;
        for chunk in list.chunks(IMPORT_CHUNK) {
            self.run(&scripts.stage, STAGE, std::slice::from_ref(&stage), chunk)
                .await
                .map_err(unavailable)?;
        }
        match self
            .run(
                &scripts.swap,
                SWAP,
                &[stage, target],
                &[list.len().to_string()],
            )
            .await
            .map_err(unavailable)?
        {
            1 => Ok(()),
            _ => Err(unavailable(Outage::BadData)),
        }
    }
}

/// A name no other import, in this process or another, is using.
fn staging_token() -> u64 {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(NEXT.fetch_add(1, Ordering::Relaxed))
}
