//! Inviting from an address book: by email, and every imported contact at once.

use crate::ids::MemberId;
use crate::memory::engine::Engine;
use crate::outcome::{Denied, Sent};
use crate::request::InviteRequest;
use crate::time::Timestamp;

/// What happened to one imported contact in [`Engine::invite_contacts`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactOutcome {
    /// Invited.
    Sent(Sent),
    /// Not invited; the denial says why and until when.
    Denied(Denied),
    /// No member has registered this email.
    NotAMember,
    /// Already connected: nothing to do.
    AlreadyConnected,
    /// The owner's own address.
    Own,
}

/// One imported contact and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactInvite {
    /// The contact's email, normalised.
    pub email: String,
    /// The member it belongs to, if any.
    pub member: Option<MemberId>,
    /// The outcome.
    pub outcome: ContactOutcome,
}

/// Where a bulk invitation stopped, and when to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Imported contacts after the one whose denial stopped the run, not looked at.
    pub remaining: usize,
    /// When to continue, if time alone allows it.
    pub retry_at: Option<Timestamp>,
}

/// The outcome of [`Engine::invite_contacts`], contact by contact, in import order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactReport {
    /// Every contact attempted or skipped, in import order.
    pub contacts: Vec<ContactInvite>,
    /// Set when a limit on the sender stopped the run.
    pub stopped: Option<Stopped>,
}

impl ContactReport {
    /// Invitations sent.
    pub fn sent(&self) -> usize {
        self.contacts
            .iter()
            .filter(|c| matches!(c.outcome, ContactOutcome::Sent(_)))
            .count()
    }
}

/// An email that could not be resolved, or that no member owns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailInviteError {
    /// The text is not a valid email address.
    Invalid(crate::EmailError),
    /// No member has registered this email.
    NotAMember(String),
    /// The send was denied.
    Denied(Denied),
}

impl std::fmt::Display for EmailInviteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmailInviteError::Invalid(e) => e.fmt(f),
            EmailInviteError::NotAMember(email) => write!(
                f,
                "no member has registered {email}; invite them to join the network instead"
            ),
            EmailInviteError::Denied(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for EmailInviteError {}

impl Engine {
    /// Invites the member who registered `email`, showing the sender knows them.
    ///
    /// # Errors
    /// [`EmailInviteError`] when the email is invalid, belongs to no member, or the
    /// send is denied.
    #[must_use = "a denied invitation must not be delivered; act on the outcome"]
    pub fn send_by_email(&self, sender: MemberId, email: &str) -> Result<Sent, EmailInviteError> {
        let recipient = self
            .resolve_email(email)
            .map_err(EmailInviteError::Invalid)?
            .ok_or_else(|| EmailInviteError::NotAMember(email.trim().to_lowercase()))?;
        let req = InviteRequest::new(sender, recipient).recipient_email(email);
        self.send(req).map_err(EmailInviteError::Denied)
    }

    /// Invites every imported contact of `owner` who is a member and not yet
    /// connected, in import order, as one attempt. Stops spending quota at the first
    /// denial that holds for every recipient (a limit, a restriction, spam) and says
    /// how many contacts were left and when to continue.
    #[must_use = "the report says which contacts were invited and which were not"]
    pub fn invite_contacts(&self, owner: MemberId) -> ContactReport {
        let emails = self.contacts(owner);
        let mut contacts = Vec::with_capacity(emails.len());
        let mut stopped = None;
        let mut attempted = false;
        let mut left = emails.len();
        for email in emails {
            left -= 1;
            let member = self.emails.owner(&email);
            let outcome = match member {
                None => ContactOutcome::NotAMember,
                Some(m) if m == owner => ContactOutcome::Own,
                Some(m) if self.are_connected(owner, m) => ContactOutcome::AlreadyConnected,
                Some(m) => {
                    let req = InviteRequest::new(owner, m).recipient_email(email.as_str());
                    let result = self.send_counted(&req, !attempted);
                    attempted = true;
                    match result {
                        Ok(sent) => ContactOutcome::Sent(sent),
                        Err(denied) => {
                            if denied.reason().holds_for_every_recipient() {
                                stopped = Some(denied);
                            }
                            ContactOutcome::Denied(denied)
                        }
                    }
                }
            };
            contacts.push(ContactInvite {
                email,
                member,
                outcome,
            });
            if let Some(denied) = stopped {
                let remaining = left;
                return ContactReport {
                    contacts,
                    stopped: Some(Stopped {
                        remaining,
                        retry_at: denied.retry_at(),
                    }),
                };
            }
        }
        ContactReport {
            contacts,
            stopped: None,
        }
    }
}
