//! Shadow mode: rules judged and counted as if enforced, whose denials only report.

use std::fmt;

use crate::outcome::DenyReason;

/// A rule that can run in shadow mode.
///
/// Only the limits a rollout tunes can be shadowed: the windows, the note rules, the
/// pair cap, the re-invite cooldown and the spam signals. Rules that protect a person
/// or keep the data consistent — an idempotency conflict, a self-invite, a banned or
/// restricted sender, an unavailable recipient, an existing connection, and the
/// recipient's invitation setting — are always enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ShadowRule {
    /// [`DenyReason::PairPendingLimit`].
    PairPendingLimit,
    /// [`DenyReason::ReinviteCooldown`].
    ReinviteCooldown,
    /// [`DenyReason::DailyLimit`].
    DailyLimit,
    /// [`DenyReason::WeeklyLimit`].
    WeeklyLimit,
    /// [`DenyReason::NoteQuota`].
    NoteQuota,
    /// [`DenyReason::NoteTooLong`].
    NoteTooLong,
    /// [`DenyReason::SpamSuspected`]. A shadowed spam signal still starts its
    /// cooldown in the sender's spam state, but never escalates to a restriction
    /// (a restriction is always enforced, so it would deny for real).
    SpamSuspected,
}

impl ShadowRule {
    /// Every rule that can be shadowed.
    pub const ALL: [ShadowRule; 7] = [
        ShadowRule::PairPendingLimit,
        ShadowRule::ReinviteCooldown,
        ShadowRule::DailyLimit,
        ShadowRule::WeeklyLimit,
        ShadowRule::NoteQuota,
        ShadowRule::NoteTooLong,
        ShadowRule::SpamSuspected,
    ];

    /// The shadowable rule a denial comes from; `None` for a rule always enforced.
    pub fn of(reason: &DenyReason) -> Option<ShadowRule> {
        Some(match reason {
            DenyReason::PairPendingLimit { .. } => ShadowRule::PairPendingLimit,
            DenyReason::ReinviteCooldown { .. } => ShadowRule::ReinviteCooldown,
            DenyReason::DailyLimit { .. } => ShadowRule::DailyLimit,
            DenyReason::WeeklyLimit { .. } => ShadowRule::WeeklyLimit,
            DenyReason::NoteQuota { .. } => ShadowRule::NoteQuota,
            DenyReason::NoteTooLong { .. } => ShadowRule::NoteTooLong,
            DenyReason::SpamSuspected { .. } => ShadowRule::SpamSuspected,
            _ => return None,
        })
    }

    /// The rule's name, as in configuration files (`daily_limit`, …).
    pub fn name(self) -> &'static str {
        match self {
            ShadowRule::PairPendingLimit => "pair_pending_limit",
            ShadowRule::ReinviteCooldown => "reinvite_cooldown",
            ShadowRule::DailyLimit => "daily_limit",
            ShadowRule::WeeklyLimit => "weekly_limit",
            ShadowRule::NoteQuota => "note_quota",
            ShadowRule::NoteTooLong => "note_too_long",
            ShadowRule::SpamSuspected => "spam_suspected",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for ShadowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of rules in shadow mode (default: none).
///
/// A shadowed rule is judged exactly as if enforced, but a send it alone would deny is
/// admitted, and [`crate::Sent::shadowed`] names the shadowed rules that would have
/// denied it ([`crate::Sent::shadowed_retry_at`]: when they all clear). A send
/// admitted that way counts in the
/// sender's windows, note quota and pair cap like any other accepted send — shadow
/// mode shows what enforcing a rule would do to real traffic, not to a quieter one.
///
/// ```
/// use invite_limiter::{Shadow, ShadowRule};
///
/// let rollout = Shadow::none().with(ShadowRule::DailyLimit);
/// assert!(rollout.contains(ShadowRule::DailyLimit));
/// assert!(!rollout.contains(ShadowRule::WeeklyLimit));
/// assert!(Shadow::all().contains(ShadowRule::SpamSuspected));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "Vec<ShadowRule>", from = "Vec<ShadowRule>")
)]
pub struct Shadow(u8);

impl Shadow {
    /// Every rule enforced.
    pub const fn none() -> Self {
        Shadow(0)
    }

    /// Every shadowable rule in shadow mode (global shadow mode).
    pub fn all() -> Self {
        ShadowRule::ALL.into_iter().collect()
    }

    /// This set with `rule` shadowed too.
    #[must_use]
    pub fn with(self, rule: ShadowRule) -> Self {
        Shadow(self.0 | rule.bit())
    }

    /// This set with `rule` enforced.
    #[must_use]
    pub fn without(self, rule: ShadowRule) -> Self {
        Shadow(self.0 & !rule.bit())
    }

    /// Whether `rule` is shadowed.
    pub fn contains(self, rule: ShadowRule) -> bool {
        self.0 & rule.bit() != 0
    }

    /// Whether no rule is shadowed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The shadowed rules, in precedence order.
    pub fn iter(self) -> impl Iterator<Item = ShadowRule> {
        ShadowRule::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }

    /// Whether the denial `reason` is shadowed.
    pub(crate) fn covers(self, reason: &DenyReason) -> bool {
        self.0 != 0 && ShadowRule::of(reason).is_some_and(|r| self.contains(r))
    }

    /// The set as a bit mask (bit `i` is `ShadowRule::ALL[i]`), for journals and scripts.
    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    /// The set from [`Shadow::bits`]; `None` for bits naming no rule.
    pub(crate) fn from_bits(bits: u8) -> Option<Self> {
        let known = Shadow::all().0;
        (bits & !known == 0).then_some(Shadow(bits))
    }
}

/// Folds the shadowed rules that deny a send into what its `Sent` reports.
#[derive(Debug, Default)]
pub(crate) struct ShadowTally {
    pub(crate) rules: Shadow,
    latest: u64,
    needs_action: bool,
}

impl ShadowTally {
    /// Records that `rule` would deny until `at` (`None`: until an action).
    pub(crate) fn add(&mut self, rule: ShadowRule, at: Option<u64>) {
        self.rules = self.rules.with(rule);
        match at {
            Some(t) => self.latest = self.latest.max(t),
            None => self.needs_action = true,
        }
    }

    /// The instant for `Sent::shadow_retry`.
    pub(crate) fn retry(&self) -> u64 {
        if self.rules.is_empty() || self.needs_action {
            crate::outcome::NO_RETRY
        } else {
            self.latest
        }
    }
}

impl fmt::Debug for Shadow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<ShadowRule> for Shadow {
    fn from_iter<I: IntoIterator<Item = ShadowRule>>(iter: I) -> Self {
        iter.into_iter().fold(Shadow::none(), Shadow::with)
    }
}

impl From<Vec<ShadowRule>> for Shadow {
    fn from(rules: Vec<ShadowRule>) -> Self {
        rules.into_iter().collect()
    }
}

impl From<Shadow> for Vec<ShadowRule> {
    fn from(set: Shadow) -> Self {
        set.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tunable_rules_can_be_shadowed() {
        assert!(ShadowRule::of(&DenyReason::SelfInvite).is_none());
        assert!(ShadowRule::of(&DenyReason::SenderBanned).is_none());
        assert!(ShadowRule::of(&DenyReason::AlreadyConnected).is_none());
        let daily = DenyReason::DailyLimit { used: 1, limit: 1 };
        assert_eq!(ShadowRule::of(&daily), Some(ShadowRule::DailyLimit));
        assert!(Shadow::all().covers(&daily));
        assert!(!Shadow::all().covers(&DenyReason::SenderRestricted { until: None }));
        assert!(!Shadow::none().with(ShadowRule::WeeklyLimit).covers(&daily));
    }

    #[test]
    fn bits_round_trip_and_reject_unknown_rules() {
        let set = Shadow::none()
            .with(ShadowRule::NoteQuota)
            .with(ShadowRule::SpamSuspected);
        assert_eq!(Shadow::from_bits(set.bits()), Some(set));
        assert_eq!(Shadow::from_bits(0x80), None);
        assert_eq!(set.without(ShadowRule::NoteQuota).iter().count(), 1);
        assert_eq!(Shadow::all().iter().count(), ShadowRule::ALL.len());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_configuration_file_names_the_rules() {
        let set = Shadow::none()
            .with(ShadowRule::DailyLimit)
            .with(ShadowRule::SpamSuspected);
        let text = serde_json::to_string(&set).unwrap();
        assert_eq!(text, r#"["daily_limit","spam_suspected"]"#);
        assert_eq!(serde_json::from_str::<Shadow>(&text).unwrap(), set);
        assert!(serde_json::from_str::<Shadow>(r#"["self_invite"]"#).is_err());
    }
}
