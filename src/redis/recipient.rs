//! What a decision reads on the recipient's side: status, setting, contacts and
//! shared connections.

use super::conn::Failure;
use super::keys::email_owner;
use super::near::Facts;
use super::replies::{setting_from, Rule};
use super::stats::Count;
use super::RedisEngine;
use crate::account::InviteSetting;
use crate::email::normalize;
use crate::outage::Outage;
use crate::outcome::DenyReason;
use crate::request::InviteRequest;
use std::time::Duration;

impl RedisEngine {
    /// The recipient's status and setting, from the facts cache or Redis.
    pub(super) async fn facts(&self, r: u64) -> Result<Facts, Failure> {
        if let Some(f) = self.inner.facts.get(r) {
            self.inner.stats.bump(Count::FactsCacheHit);
            return Ok(f);
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys(r).key("h")).arg("st").arg("set");
        let got: Vec<Option<String>> = self.cmd(cmd).await?;
        let bad = |cause| Failure {
            cause,
            wait: Duration::ZERO,
        };
        let banned = match got.first().cloned().flatten().as_deref() {
            None | Some("0" | "1") => false,
            Some("2") => true,
            Some(_) => return Err(bad(Outage::BadData)),
        };
        let setting =
            setting_from(got.get(1).cloned().flatten().as_deref().unwrap_or("0")).map_err(bad)?;
        let facts = Facts { banned, setting };
        self.inner.facts.put(r, facts);
        Ok(facts)
    }

    pub(super) async fn is_member(&self, key: String, item: String) -> Result<bool, Failure> {
        let mut cmd = redis::cmd("SISMEMBER");
        cmd.arg(key).arg(item);
        self.cmd(cmd).await
    }

    pub(super) async fn members(&self, key: String) -> Result<Vec<String>, Failure> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(key);
        self.cmd(cmd).await
    }

    /// Whether any of `items` is in the set `key`.
    pub(super) async fn any_member(&self, key: String, items: &[String]) -> Result<bool, Failure> {
        if items.is_empty() {
            return Ok(false);
        }
        let mut cmd = redis::cmd("SMISMEMBER");
        cmd.arg(key).arg(items);
        let hits: Vec<u8> = self.cmd(cmd).await?;
        Ok(hits.contains(&1))
    }

    /// Whether the two members share a connection: the smaller set is read and
    /// probed against the larger, so the cost is the smaller member's connections.
    pub(super) async fn share_connection(&self, a: u64, b: u64) -> Result<bool, Failure> {
        let (ka, kb) = (self.keys(a).key("c"), self.keys(b).key("c"));
        let mut ca = redis::cmd("SCARD");
        ca.arg(&ka);
        let mut cb = redis::cmd("SCARD");
        cb.arg(&kb);
        let (na, nb): (Result<u64, _>, Result<u64, _>) = tokio::join!(self.cmd(ca), self.cmd(cb));
        let (small, large) = if na? <= nb? { (ka, kb) } else { (kb, ka) };
        let items = self.members(small).await?;
        self.any_member(large, &items).await
    }

    /// Whether one of the sender's registered emails is in the owner's contacts.
    pub(super) async fn in_contacts(&self, sender: u64, owner: u64) -> Result<bool, Failure> {
        let emails = self.members(self.keys(sender).key("em")).await?;
        self.any_member(self.keys(owner).key("e"), &emails).await
    }

    /// The request's email: whether it counts as given (valid, and not another
    /// member's), and whether it is registered to the recipient.
    pub(super) async fn email_match(&self, req: &InviteRequest) -> Result<(bool, bool), Failure> {
        let Some(Ok(email)) = req.email().map(normalize) else {
            return Ok((false, false));
        };
        let mut cmd = redis::cmd("GET");
        cmd.arg(email_owner(&self.inner.prefix, &email));
        let owner: Option<String> = self.cmd(cmd).await?;
        let theirs = owner.as_deref() == Some(req.recipient().0.to_string().as_str());
        Ok((owner.is_none() || theirs, theirs))
    }

    /// No shared connection, neither in the other's contacts, no email given.
    pub(super) async fn is_stranger(
        &self,
        s: u64,
        r: u64,
        email_given: bool,
    ) -> Result<bool, Failure> {
        if email_given {
            return Ok(false);
        }
        let (a, b, c) = tokio::join!(
            self.in_contacts(s, r),
            self.in_contacts(r, s),
            self.share_connection(s, r)
        );
        Ok(!(a? || b? || c?))
    }

    /// The rules about the recipient (banned, and whether their setting admits), and
    /// whether the sender is a stranger to them (read only when that signal is on).
    pub(super) async fn recipient_rules(
        &self,
        req: &InviteRequest,
        strangers_on: bool,
    ) -> Result<(Vec<Rule>, bool), Failure> {
        let (s, r) = (req.sender().0, req.recipient().0);
        let facts = self.facts(r).await?;
        let (email_given, email_theirs) = if req.email().is_some() {
            self.email_match(req).await?
        } else {
            (false, false)
        };
        let mut rules = Vec::new();
        if facts.banned {
            rules.push(Rule::new(DenyReason::RecipientUnavailable, None));
        }
        let admits = match facts.setting {
            InviteSetting::Everyone => true,
            InviteSetting::Nobody => false,
            InviteSetting::FollowingOnly => {
                self.is_member(self.keys(r).key("f"), s.to_string()).await?
            }
            InviteSetting::NetworkOnly => self.share_connection(s, r).await?,
            InviteSetting::ContactsOnly => self.in_contacts(s, r).await?,
            InviteSetting::EmailOrContacts => email_theirs || self.in_contacts(s, r).await?,
        };
        if !admits {
            let setting = facts.setting;
            rules.push(Rule::new(
                DenyReason::RecipientNotAccepting { setting },
                None,
            ));
        }
        let stranger = strangers_on && self.is_stranger(s, r, email_given).await?;
        Ok((rules, stranger))
    }
}
