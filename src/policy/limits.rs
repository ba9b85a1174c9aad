//! Caps on what one member may accumulate: connections, follows, emails, contacts.
//!
//! Without them one member's sets grow without bound, and every decision that reads
//! them (a shared connection, "is the sender in the recipient's contacts") and every
//! snapshot grows with them.

use std::fmt;

use crate::ids::MemberId;
use crate::outage::Outage;
use crate::policy::ConfigError;

/// Caps on one member's relations and addresses (set with
/// [`crate::EngineBuilder::limits`]). Each must be at least 1.
///
/// Defaults, and where they come from:
/// - `max_connections`: 30,000 — a well-known professional network stops
///   connections there;
/// - `max_follows`: 30,000 — a member who follows every connection still fits;
/// - `max_emails`: 10 addresses registered to one member — people have a few
///   (personal, work, old ones), not dozens;
/// - `max_contacts`: 5,000 entries in one contact import (after removing
///   duplicates) — address books that sync to a network rarely hold more, and the
///   whole list is replaced in one step.
///
/// Past a cap, [`crate::Engine::register_email`] and
/// [`crate::Engine::import_contacts`] return an [`crate::EmailError`] and change
/// nothing. `connect` and `follow` cannot fail by contract, so they change nothing
/// past a cap and count the refusal ([`crate::Engine::refused_relations`]);
/// [`crate::Engine::try_connect`] and [`crate::Engine::try_follow`] say why instead.
/// Accepting an invitation connects the two members whatever their counts: the
/// invitation was admitted under the send limits, which bound that growth.
/// Lowering a cap keeps what members already have; it only refuses more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct MemberLimits {
    /// Connections one member may have.
    pub max_connections: u32,
    /// Members one member may follow.
    pub max_follows: u32,
    /// Email addresses registered to one member.
    pub max_emails: u32,
    /// Distinct entries in one contact import.
    pub max_contacts: u32,
}

impl Default for MemberLimits {
    fn default() -> Self {
        MemberLimits {
            max_connections: 30_000,
            max_follows: 30_000,
            max_emails: 10,
            max_contacts: 5_000,
        }
    }
}

impl MemberLimits {
    /// Checks that every cap is at least 1; the builders call this.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first cap that is zero, e.g. `limits.max_emails`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let caps = [
            ("max_connections", self.max_connections),
            ("max_follows", self.max_follows),
            ("max_emails", self.max_emails),
            ("max_contacts", self.max_contacts),
        ];
        for (field, cap) in caps {
            if cap == 0 {
                return Err(ConfigError::new("limits", field, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Why a connection or a follow was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelationError {
    /// `member` already has the most connections allowed.
    ConnectionLimit {
        /// The member at the cap.
        member: MemberId,
        /// The cap, [`MemberLimits::max_connections`].
        max: u32,
    },
    /// `member` already follows the most members allowed.
    FollowLimit {
        /// The member at the cap.
        member: MemberId,
        /// The cap, [`MemberLimits::max_follows`].
        max: u32,
    },
    /// The shared backend could not answer; nothing was changed.
    Unavailable(Outage),
}

impl fmt::Display for RelationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelationError::ConnectionLimit { member, max } => write!(
                f,
                "{member} already has {max} connections, the most allowed; remove one before adding another"
            ),
            RelationError::FollowLimit { member, max } => write!(
                f,
                "{member} already follows {max} members, the most allowed; unfollow one before following another"
            ),
            RelationError::Unavailable(cause) => {
                write!(f, "the relation was not stored: {cause}; {}", cause.remedy())
            }
        }
    }
}

impl std::error::Error for RelationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_caps_name_their_field() {
        assert_eq!(MemberLimits::default().validate(), Ok(()));
        type Breaker = fn(&mut MemberLimits);
        let cases: [(Breaker, &str); 4] = [
            (|l| l.max_connections = 0, "limits.max_connections"),
            (|l| l.max_follows = 0, "limits.max_follows"),
            (|l| l.max_emails = 0, "limits.max_emails"),
            (|l| l.max_contacts = 0, "limits.max_contacts"),
        ];
        for (break_it, field) in cases {
            let mut limits = MemberLimits::default();
            break_it(&mut limits);
            let err = limits.validate().unwrap_err();
            assert_eq!(err.field(), field);
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn refusals_name_the_member_and_the_cap() {
        let e = RelationError::ConnectionLimit {
            member: MemberId(7),
            max: 3,
        };
        assert!(
            e.to_string().contains('7') && e.to_string().contains('3'),
            "{e}"
        );
    }
}
