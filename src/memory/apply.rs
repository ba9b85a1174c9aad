//! One path for everything that changes an engine but a send: a live call builds
//! the operation and runs [`Engine::apply`] now (journaling it and enforcing the
//! member caps), and the journal's replay runs the same `apply` on the recorded
//! operation at its instant. A send is judged by `decide` instead; its journal
//! record is the outcome decided, which `apply` commits when replaying.

use std::sync::Arc;

use crate::email::EmailError;
use crate::memory::engine::Engine;
use crate::outage::Outage;
use crate::outcome::InviteError;
use crate::persist::journal::Op;
use crate::policy::limits::RelationError;
use crate::policy::ConfigError;
use crate::sender::ledger::Ending;

/// What an operation answered, by its kind.
#[derive(Debug)]
pub(crate) enum Applied {
    /// A setter: nothing to report.
    Done,
    /// An invitation's ending.
    Ended(Result<(), InviteError>),
    /// A reminder, with how many the invitation has had.
    Reminded(Result<u32, InviteError>),
    Email(Result<(), EmailError>),
    Relation(Result<(), RelationError>),
    Config(Result<(), ConfigError>),
    /// A replayed send: whether its recorded outcome could be committed.
    Replayed(bool),
}

impl Applied {
    /// Whether the operation took effect (replay counts the others as skipped).
    pub(crate) fn took_effect(&self) -> bool {
        match self {
            Applied::Done => true,
            Applied::Ended(r) => r.is_ok(),
            Applied::Email(r) => r.is_ok(),
            Applied::Reminded(r) => r.is_ok(),
            Applied::Relation(r) => r.is_ok(),
            Applied::Config(r) => r.is_ok(),
            Applied::Replayed(ok) => *ok,
        }
    }

    pub(crate) fn ended(self) -> Result<(), InviteError> {
        match self {
            Applied::Ended(r) => r,
            other => Err(InviteError::Unavailable(mismatch(&other))),
        }
    }

    pub(crate) fn reminded(self) -> Result<u32, InviteError> {
        match self {
            Applied::Reminded(r) => r,
            other => Err(InviteError::Unavailable(mismatch(&other))),
        }
    }

    pub(crate) fn email(self) -> Result<(), EmailError> {
        match self {
            Applied::Email(r) => r,
            other => Err(EmailError::Unavailable(mismatch(&other))),
        }
    }

    pub(crate) fn relation(self) -> Result<(), RelationError> {
        match self {
            Applied::Relation(r) => r,
            _ => Ok(()),
        }
    }

    pub(crate) fn config(self) -> Result<(), ConfigError> {
        match self {
            Applied::Config(r) => r,
            _ => Ok(()),
        }
    }
}

/// An answer of another kind than the operation's: cannot happen, as each kind of
/// operation answers with its own; reported as bad data rather than a panic.
fn mismatch(_: &Applied) -> Outage {
    debug_assert!(false, "an operation answered with another kind of result");
    Outage::BadData
}

impl Engine {
    /// Runs `op` now (`at` is `None`: journaled, caps enforced) or, replaying, at
    /// the recorded instant `at`.
    pub(crate) fn apply(&self, op: Op, at: Option<u64>) -> Applied {
        if let Some(now) = at {
            self.time.observe(now);
        }
        match op {
            Op::Send(r) => {
                let now = at.unwrap_or_else(|| self.time.now());
                let s = r.subject();
                Applied::Replayed(self.replay_send(now, &s, r.view, r.count_attempt, r.sent))
            }
            Op::End(Ending::Accepted, id) => Applied::Ended(self.accept_at(id, at)),
            Op::End(how, id) => Applied::Ended(self.end_one(id, how, at).map(|_| ())),
            Op::Remind(id) => Applied::Reminded(self.remind_at(id, at)),
            Op::SetTier(m, t) => {
                self.set_tier_at(m, t, at);
                Applied::Done
            }
            Op::SetStatus(m, s) => {
                self.set_status_at(m, s, at);
                Applied::Done
            }
            Op::SetInviteSetting(m, s) => {
                self.set_invite_setting_at(m, s, at);
                Applied::Done
            }
            Op::Link(a, b, on) => Applied::Relation(self.link(a, b, on, at)),
            Op::Follow(a, b, on) => Applied::Relation(self.follow_at(a, b, on, at)),
            Op::RegisterEmail(m, e) => Applied::Email(self.register_email_at(m, &e, at)),
            Op::UnregisterEmail(m, e) => Applied::Email(self.unregister_email_at(m, &e, at)),
            Op::ImportContacts(m, list) => Applied::Email(self.import_contacts_at(m, list, at)),
            // A policy the builder's validation would refuse is not installed: replay
            // goes on under the policy in force, and the record counts as skipped.
            Op::SetPolicy(policy, shadow) => Applied::Config(policy.validate().map(|()| {
                self.install_rules(Some(Arc::new(*policy)), Some(shadow), at);
            })),
            Op::SetShadow(shadow) => {
                self.install_rules(None, Some(shadow), at);
                Applied::Done
            }
            Op::SetLimits(m, limits) => Applied::Config(self.set_limits_at(m, limits, at)),
        }
    }
}
