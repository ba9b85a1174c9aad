//! What the engines tell a member: capacity, diagnosis and pending invitations.

use std::fmt;

use crate::account::{AccountStatus, Tier};
use crate::ids::{InviteId, MemberId};
use crate::outcome::DenyReason;
use crate::rules::window::Usage;
use crate::time::Timestamp;

/// Use of one rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowCapacity {
    /// Sends counted in the window now.
    pub used: u32,
    /// The tier's limit.
    pub limit: u32,
    /// When the oldest counted send leaves the window (`None` when none counts).
    pub next_slot_at: Option<Timestamp>,
    /// When a send fits again, if the window is full now (`None`: a send fits now).
    pub available_at: Option<Timestamp>,
}

/// Use of the personalised-note quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NoteCapacity {
    /// Notes counted in the last 30 days.
    pub used: u32,
    /// The tier's quota; `None` is unlimited.
    pub limit: Option<u32>,
    /// When the oldest counted note leaves the window (`None` when none counts).
    pub next_slot_at: Option<Timestamp>,
}

/// What a member may still send, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Capacity {
    /// The rolling 24-hour window.
    pub daily: WindowCapacity,
    /// The rolling 7-day window.
    pub weekly: WindowCapacity,
    /// The rolling 30-day note quota.
    pub notes: NoteCapacity,
    /// Invitations sent and still pending.
    pub pending_sent: u32,
    /// The member's tier.
    pub tier: Tier,
    /// The member's status now.
    pub status: AccountStatus,
}

/// One rule that would deny a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Blocker {
    pub(crate) reason: DenyReason,
    pub(crate) retry_at: Option<Timestamp>,
}

impl Blocker {
    /// The rule.
    pub fn reason(&self) -> &DenyReason {
        &self.reason
    }

    /// When this rule alone clears; `None` when only an action clears it.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// What the member can do, in plain words.
    pub fn remedy(&self) -> &'static str {
        self.reason.remedy()
    }
}

/// Every rule that would deny a request right now, in precedence order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Diagnosis {
    pub(crate) blockers: Vec<Blocker>,
}

impl Diagnosis {
    /// The rules that would deny, in precedence order.
    pub fn blockers(&self) -> &[Blocker] {
        &self.blockers
    }

    /// Whether a send would succeed now.
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.blockers.is_empty() {
            return f.write_str("Nothing blocks this invitation: it can be sent now.");
        }
        write!(f, "{} rule(s) block this invitation:", self.blockers.len())?;
        for b in &self.blockers {
            write!(f, "\n- {}", b.reason)?;
            if let Some(t) = b.retry_at {
                write!(f, " (clears at {t})")?;
            }
            write!(f, "; {}.", b.remedy())?;
        }
        Ok(())
    }
}

pub(crate) fn window(u: Usage, limit: u32) -> WindowCapacity {
    WindowCapacity {
        used: u.used,
        limit,
        next_slot_at: u.next_slot.map(Timestamp::from_millis),
        available_at: u.frees_at.map(Timestamp::from_millis),
    }
}

/// A pending invitation, as listed for its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingInvite {
    /// The invitation.
    pub id: InviteId,
    /// Who it was sent to.
    pub recipient: MemberId,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// When it expires unless ended earlier.
    pub expires_at: Timestamp,
    /// Reminders sent so far.
    pub reminders: u32,
}

/// One page of a member's pending invitations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPage {
    /// The invitations on this page.
    pub items: Vec<PendingInvite>,
    /// Pass this as `after` to get the next page; `None` on the last page.
    pub next: Option<InviteId>,
}
