//! The names the Redis module's commands read and answer with: tiers, invite
//! settings and account statuses, lower case.

use crate::account::{AccountStatus, InviteSetting, Tier};

/// Tier names, by tier code.
pub(crate) const TIER_NAMES: [&str; 2] = ["free", "premium"];

/// Invite setting names, by setting code.
pub(crate) const SETTING_NAMES: [&str; 6] = [
    "everyone",
    "email_or_contacts",
    "contacts_only",
    "network_only",
    "following_only",
    "nobody",
];

pub(crate) fn tier_name(t: Tier) -> &'static str {
    TIER_NAMES[usize::from(super::tier_code(t))]
}

pub(crate) fn tier_named(name: &str) -> Option<Tier> {
    let code = TIER_NAMES.iter().position(|n| *n == name)?;
    super::tier_from(code as u8)
}

pub(crate) fn setting_name(s: InviteSetting) -> &'static str {
    SETTING_NAMES[usize::from(super::setting_code(s))]
}

#[cfg(any(test, feature = "server", feature = "redis"))]
pub(crate) fn setting_named(name: &str) -> Option<InviteSetting> {
    let code = SETTING_NAMES.iter().position(|n| *n == name)?;
    super::setting_from(code as u8)
}

pub(crate) fn status_name(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Restricted { .. } => "restricted",
        AccountStatus::Banned => "banned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back() {
        for t in [Tier::Free, Tier::Premium] {
            assert_eq!(tier_named(tier_name(t)), Some(t));
        }
        for name in SETTING_NAMES {
            assert_eq!(setting_named(name).map(setting_name), Some(name));
        }
        assert_eq!(tier_named("gold"), None);
        assert_eq!(setting_named("all"), None);
    }
}
