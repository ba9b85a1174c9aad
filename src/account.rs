//! Account facts: tier, status and who may send invitations.

use std::fmt;

use crate::time::Timestamp;

/// A member's account tier, which sets their limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Tier {
    /// The default tier.
    #[default]
    Free,
    /// A paid tier with higher limits.
    Premium,
}

/// Whether a member may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AccountStatus {
    /// In good standing.
    #[default]
    Active,
    /// May not send invitations until `until` (half-open: restricted before it, free at
    /// it), or until the restriction is lifted when `until` is `None`.
    Restricted {
        /// When the restriction lifts by itself, if it does.
        until: Option<Timestamp>,
    },
    /// Removed from the network: sends nothing and receives nothing.
    Banned,
}

impl AccountStatus {
    /// The status as it stands at `now`: a restriction whose `until` has come is `Active`.
    pub fn at(self, now: Timestamp) -> AccountStatus {
        match self {
            AccountStatus::Restricted { until: Some(t) } if t <= now => AccountStatus::Active,
            other => other,
        }
    }
}

/// Who may send a member invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum InviteSetting {
    /// Anyone (the default).
    #[default]
    Everyone,
    /// Senders who give an email registered to the recipient, or whose registered email
    /// is in the recipient's imported contacts.
    EmailOrContacts,
    /// Senders whose registered email is in the recipient's imported contacts.
    ContactsOnly,
    /// Senders who share a connection with the recipient.
    NetworkOnly,
    /// Senders the recipient follows.
    FollowingOnly,
    /// Nobody.
    Nobody,
}

impl fmt::Display for InviteSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InviteSetting::Everyone => "everyone",
            InviteSetting::EmailOrContacts => {
                "people who know their email or are in their contacts"
            }
            InviteSetting::ContactsOnly => "people in their imported contacts",
            InviteSetting::NetworkOnly => "people who share a connection with them",
            InviteSetting::FollowingOnly => "people they follow",
            InviteSetting::Nobody => "nobody",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restriction_lifts_at_its_until() {
        let r = AccountStatus::Restricted {
            until: Some(Timestamp::from_millis(100)),
        };
        assert_eq!(r.at(Timestamp::from_millis(99)), r);
        assert_eq!(r.at(Timestamp::from_millis(100)), AccountStatus::Active);
        let forever = AccountStatus::Restricted { until: None };
        assert_eq!(forever.at(Timestamp::from_millis(u64::MAX)), forever);
    }
}
