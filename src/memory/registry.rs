//! Registered emails and imported contacts: the setters, their caps and queries.

use crate::email::{normalize, EmailError};
use crate::ids::MemberId;
use crate::memory::email_index::Claim;
use crate::memory::engine::{Engine, SPECIAL};
use crate::persist::journal::Op;
use crate::sender::record::FastSet;

impl Engine {
    /// Registers `email` as the member's. An address belongs to at most one member;
    /// registering it again for its owner is fine and changes nothing.
    ///
    /// # Errors
    /// [`EmailError::Invalid`] when it is not `local@domain.tld`,
    /// [`EmailError::Taken`] when another member owns it, or
    /// [`EmailError::TooManyEmails`] when the member already has
    /// [`crate::MemberLimits::max_emails`] addresses.
    pub fn register_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        self.apply(Op::RegisterEmail(m, email.to_owned()), None)
            .email()
    }

    /// Registers at `at` when replaying (no cap then: the change was accepted when
    /// it was made), else now.
    pub(super) fn register_email_at(
        &self,
        m: MemberId,
        email: &str,
        at: Option<u64>,
    ) -> Result<(), EmailError> {
        let email = normalize(email)?;
        self.journal_refuses().map_err(EmailError::Unavailable)?;
        // The email index is locked first, then the member's shard (the engine's lock
        // order), so the cap and the index change together.
        let slot = match self.emails.claim(email.clone(), m) {
            Claim::Already => return Ok(()),
            Claim::TakenBy(owner) => return Err(EmailError::Taken { email, owner }),
            Claim::Free(slot) => slot,
        };
        let mut shard = self.lock(m.0);
        let now = self.act_at(&mut shard, at);
        let held = shard
            .members
            .get(&m.0)
            .and_then(|r| r.extra.as_ref())
            .map_or(0, |x| x.emails.len());
        let max = self.limits.max_emails;
        if at.is_none() && held >= max as usize {
            return Err(EmailError::TooManyEmails { member: m, max });
        }
        let ticket = self.log_op(now, || Op::RegisterEmail(m, email.clone()));
        shard
            .member_mut(m.0)
            .extra_mut()
            .emails
            .insert(email.clone());
        slot.take(m);
        drop(shard);
        let logged = self.wait_logged(ticket);
        self.mark(m.0, SPECIAL);
        logged.map_err(EmailError::Unavailable)
    }

    /// Removes `email` from the member's addresses; another member may then
    /// register it.
    ///
    /// # Errors
    /// [`EmailError::Invalid`] when it is not `local@domain.tld`, or
    /// [`EmailError::NotRegistered`] when it is not registered to `m`.
    pub fn unregister_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        self.apply(Op::UnregisterEmail(m, email.to_owned()), None)
            .email()
    }

    pub(super) fn unregister_email_at(
        &self,
        m: MemberId,
        email: &str,
        at: Option<u64>,
    ) -> Result<(), EmailError> {
        let email = normalize(email)?;
        self.journal_refuses().map_err(EmailError::Unavailable)?;
        let Some(entry) = self.emails.held_by(email.clone(), m) else {
            return Err(EmailError::NotRegistered { email, member: m });
        };
        let mut shard = self.lock(m.0);
        let now = self.act_at(&mut shard, at);
        let ticket = self.log_op(now, || Op::UnregisterEmail(m, email.clone()));
        if let Some(x) = shard
            .members
            .get_mut(&m.0)
            .and_then(|r| r.extra.as_deref_mut())
        {
            x.emails.remove(&email);
        }
        entry.release();
        drop(shard);
        self.wait_logged(ticket).map_err(EmailError::Unavailable)
    }

    /// Number of emails registered to the member.
    pub fn email_count(&self, m: MemberId) -> usize {
        self.read(m, |r| r.extra.as_ref().map_or(0, |x| x.emails.len()))
    }

    /// The member an email is registered to.
    ///
    /// # Errors
    /// [`EmailError::Invalid`] when it is not `local@domain.tld`.
    pub fn resolve_email(&self, email: &str) -> Result<Option<MemberId>, EmailError> {
        let email = normalize(email)?;
        Ok(self.emails.owner(&email))
    }

    /// Replaces the owner's imported contacts with `emails` (a re-sync).
    ///
    /// # Errors
    /// [`EmailError::Invalid`] naming the first invalid entry, or
    /// [`EmailError::TooManyContacts`] past [`crate::MemberLimits::max_contacts`]
    /// distinct entries (found without reading further); the previous list is kept.
    pub fn import_contacts(
        &self,
        owner: MemberId,
        emails: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(), EmailError> {
        let list = emails.into_iter().map(|e| e.as_ref().to_owned()).collect();
        self.apply(Op::ImportContacts(owner, list), None).email()
    }

    pub(super) fn import_contacts_at(
        &self,
        owner: MemberId,
        emails: impl IntoIterator<Item = impl AsRef<str>>,
        at: Option<u64>,
    ) -> Result<(), EmailError> {
        let max = self.limits.max_contacts;
        let mut list = Vec::new();
        let mut set = FastSet::default();
        for raw in emails {
            let email = normalize(raw.as_ref())?;
            if set.insert(email.clone()) {
                if at.is_none() && list.len() >= max as usize {
                    return Err(EmailError::TooManyContacts { max });
                }
                list.push(email);
            }
        }
        let any = !list.is_empty();
        self.journal_refuses().map_err(EmailError::Unavailable)?;
        let mut shard = self.lock(owner.0);
        let now = self.act_at(&mut shard, at);
        let ticket = self.log_op(now, || Op::ImportContacts(owner, list.clone()));
        let extra = shard.member_mut(owner.0).extra_mut();
        extra.contacts = list;
        extra.contact_set = set;
        drop(shard);
        let logged = self.wait_logged(ticket);
        if any {
            self.mark(owner.0, SPECIAL);
        }
        logged.map_err(EmailError::Unavailable)
    }

    /// The owner's imported contacts, normalised, in import order.
    pub fn contacts(&self, owner: MemberId) -> Vec<String> {
        self.read(owner, |r| {
            r.extra
                .as_ref()
                .map(|e| e.contacts.clone())
                .unwrap_or_default()
        })
    }
}
