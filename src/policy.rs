//! The rules the engine enforces, with their defaults, and their validation.

use std::fmt;
use std::time::Duration;

use crate::account::Tier;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The rolling window of a tier's daily limit.
pub const DAILY_WINDOW: Duration = DAY;
/// The rolling window of a tier's weekly limit.
pub const WEEKLY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// The rolling window of the personalised-note quota.
pub const NOTE_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long an accepted send made with an idempotency key is remembered.
pub const IDEMPOTENCY_WINDOW: Duration = DAY;

/// Limits that depend on the sender's account tier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TierLimits {
    /// Accepted sends allowed in any rolling 24 hours.
    pub daily: u32,
    /// Accepted sends allowed in any rolling 7 days.
    pub weekly: u32,
    /// Invitations with a personalised note allowed in any rolling 30 days; `None` is unlimited.
    pub notes_per_30d: Option<u32>,
    /// Longest note, in characters (`chars()` of the trimmed note).
    pub max_note_chars: u32,
}

impl TierLimits {
    /// Checks the limits the way [`Policy::validate`] checks a tier's, naming fields
    /// under `section`.
    pub(crate) fn validate_as(&self, section: &str) -> Result<(), ConfigError> {
        if self.daily == 0 {
            return Err(ConfigError::new(section, "daily", "must be at least 1"));
        }
        if self.weekly == 0 {
            return Err(ConfigError::new(section, "weekly", "must be at least 1"));
        }
        if self.daily > self.weekly {
            return Err(ConfigError::new(
                section,
                "daily",
                "must not exceed the weekly limit",
            ));
        }
        if self.max_note_chars == 0 {
            return Err(ConfigError::new(
                section,
                "max_note_chars",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The Free tier's defaults: 30 a day, 300 a week, 5 notes a month of at most 200 characters.
    pub fn free() -> Self {
        TierLimits {
            daily: 30,
            weekly: 300,
            notes_per_30d: Some(5),
            max_note_chars: 200,
        }
    }

    /// The Premium tier's defaults: 100 a day, 500 a week, unlimited notes of at most 300 characters.
    pub fn premium() -> Self {
        TierLimits {
            daily: 100,
            weekly: 500,
            notes_per_30d: None,
            max_note_chars: 300,
        }
    }
}

/// A count of events allowed in a rolling window: more than `max` within `per` trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RateRule {
    /// Events allowed within `per`; one more trips the signal.
    pub max: u32,
    /// The rolling window.
    pub per: Duration,
}

/// The "ignored by recipients" signal: the share of a sender's resolved invitations that
/// were declined or expired unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IgnoredRule {
    /// Trips when declined plus expired reach this percentage of resolved invitations.
    pub max_percent: u32,
    /// Fewer resolved invitations than this within `per` never trip the signal.
    pub min_resolved: u32,
    /// The rolling window.
    pub per: Duration,
}

/// Thresholds of the spam signals; `None` (or an empty keyword list) turns a signal off.
///
/// Defaults and where they come from:
/// - `burst`: more than 10 attempts (denied ones included) in 1 minute. Automation
///   tools pace about 2 minutes apart; a person clicking through suggestions does not
///   reach 10 a minute, a script does.
/// - `strangers`: more than 50 invitations to strangers in 1 hour (one platform treats
///   the same message to 50 non-friends in an hour as spam; here without requiring the
///   same message, which `template` judges). A member pacing sends minutes apart stays
///   under it.
/// - `template`: one note text (trimmed, case and whitespace folded) sent to more than
///   10 recipients in 24 hours.
/// - `keywords`: a short list of phrases no personal note needs ("buy now", "click
///   here", "free money", "guaranteed income", "limited time offer", "make money
///   fast"), matched case-insensitively in notes.
/// - `reports`: more than 4 "I don't know this person" reports in 30 days (a well-known
///   network required the recipient's email after about 5).
/// - `ignored`: 75% or more of at least 20 resolved invitations in 30 days declined or
///   expired unanswered (75% ignored is published as a strong signal).
/// - a first trip starts a 1 hour `cooldown`; further trips within `strike_memory`
///   (30 days) restrict the account along `restriction_ladder` (1 day, 7 days, 30 days).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct SpamPolicy {
    /// Attempts, denied ones included, allowed in a rolling window.
    pub burst: Option<RateRule>,
    /// Accepted invitations to strangers allowed in a rolling window.
    pub strangers: Option<RateRule>,
    /// Recipients of one normalised note text allowed in a rolling window.
    pub template: Option<RateRule>,
    /// Phrases that mark a note as spam (case-insensitive); empty turns the signal off.
    pub keywords: Vec<String>,
    /// "I don't know this person" reports against the sender allowed in a rolling window.
    pub reports: Option<RateRule>,
    /// Share of invitations declined or ignored that trips the feedback signal.
    pub ignored: Option<IgnoredRule>,
    /// How long a first trip denies sends.
    pub cooldown: Duration,
    /// Restrictions for the second, third, … trip within `strike_memory`; the last repeats.
    pub restriction_ladder: Vec<Duration>,
    /// How long a trip counts towards escalation.
    pub strike_memory: Duration,
}

impl SpamPolicy {
    /// Every spam signal off.
    pub fn disabled() -> Self {
        SpamPolicy {
            burst: None,
            strangers: None,
            template: None,
            keywords: Vec::new(),
            reports: None,
            ignored: None,
            cooldown: HOUR,
            restriction_ladder: vec![DAY, 7 * DAY, 30 * DAY],
            strike_memory: 30 * DAY,
        }
    }

    /// Whether any signal is on.
    pub fn is_enabled(&self) -> bool {
        self.burst.is_some()
            || self.strangers.is_some()
            || self.template.is_some()
            || !self.keywords.is_empty()
            || self.reports.is_some()
            || self.ignored.is_some()
    }
}

impl Default for SpamPolicy {
    fn default() -> Self {
        SpamPolicy {
            burst: Some(RateRule {
                max: 10,
                per: Duration::from_secs(60),
            }),
            strangers: Some(RateRule { max: 50, per: HOUR }),
            template: Some(RateRule { max: 10, per: DAY }),
            keywords: [
                "buy now",
                "click here",
                "free money",
                "guaranteed income",
                "limited time offer",
                "make money fast",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            reports: Some(RateRule {
                max: 4,
                per: 30 * DAY,
            }),
            ignored: Some(IgnoredRule {
                max_percent: 75,
                min_resolved: 20,
                per: 30 * DAY,
            }),
            ..SpamPolicy::disabled()
        }
    }
}

/// Reminders on pending invitations (set with [`crate::EngineBuilder::reminders`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReminderPolicy {
    /// Reminders allowed on one pending invitation (default 2: a well-known network
    /// sends at most two reminder emails).
    pub max: u32,
    /// Least time between the sending or the previous reminder and the next (default 7 days).
    pub spacing: Duration,
}

impl Default for ReminderPolicy {
    fn default() -> Self {
        ReminderPolicy {
            max: 2,
            spacing: 7 * DAY,
        }
    }
}

/// Every rule the engine enforces. A plain struct: build it in code or load it from a
/// configuration file (with the `serde` feature).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Policy {
    /// Limits of Free members.
    pub free: TierLimits,
    /// Limits of Premium members.
    pub premium: TierLimits,
    /// Invitations from one sender to one recipient that may be pending at once.
    pub max_pending_per_pair: u32,
    /// How long an invitation stays pending unless it is ended earlier.
    pub pending_ttl: Duration,
    /// After a withdrawal, how long the sender may not invite the same recipient; zero is none.
    pub reinvite_cooldown: Duration,
    /// Spam signals.
    pub spam: SpamPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            free: TierLimits::free(),
            premium: TierLimits::premium(),
            max_pending_per_pair: 3,
            pending_ttl: 180 * DAY,
            reinvite_cooldown: 21 * DAY,
            spam: SpamPolicy::default(),
        }
    }
}

impl Policy {
    /// The limits of `tier`.
    pub fn limits(&self, tier: Tier) -> &TierLimits {
        match tier {
            Tier::Free => &self.free,
            Tier::Premium => &self.premium,
        }
    }

    /// Checks that the policy can work; the builder calls this.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first field that cannot work, including any
    /// duration longer than [`Policy::LONGEST_SPAN`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, limits) in [("free", &self.free), ("premium", &self.premium)] {
            limits.validate_as(name)?;
        }
        if self.max_pending_per_pair == 0 {
            return Err(ConfigError::new(
                "",
                "max_pending_per_pair",
                "must be at least 1",
            ));
        }
        if self.pending_ttl.is_zero() {
            return Err(ConfigError::new(
                "",
                "pending_ttl",
                "must be longer than zero",
            ));
        }
        self.validate_spam()?;
        self.validate_spans()
    }

    fn validate_spam(&self) -> Result<(), ConfigError> {
        let spam = &self.spam;
        let rules = [
            ("burst", spam.burst),
            ("strangers", spam.strangers),
            ("template", spam.template),
            ("reports", spam.reports),
        ];
        for (field, rule) in rules {
            if let Some(rule) = rule {
                if rule.per.is_zero() {
                    return Err(ConfigError::new(
                        "spam",
                        field,
                        "needs a window longer than zero",
                    ));
                }
            }
        }
        if let Some(rule) = spam.ignored {
            if rule.max_percent == 0 || rule.max_percent > 100 {
                return Err(ConfigError::new(
                    "spam",
                    "ignored",
                    "needs max_percent from 1 to 100",
                ));
            }
            if rule.per.is_zero() {
                return Err(ConfigError::new(
                    "spam",
                    "ignored",
                    "needs a window longer than zero",
                ));
            }
        }
        if spam.keywords.iter().any(|k| k.trim().is_empty()) {
            return Err(ConfigError::new(
                "spam",
                "keywords",
                "must not contain an empty phrase",
            ));
        }
        if spam.is_enabled() && spam.cooldown.is_zero() {
            return Err(ConfigError::new(
                "spam",
                "cooldown",
                "must be longer than zero",
            ));
        }
        if spam.restriction_ladder.iter().any(|d| d.is_zero()) {
            return Err(ConfigError::new(
                "spam",
                "restriction_ladder",
                "must hold only durations longer than zero",
            ));
        }
        Ok(())
    }
}

/// A policy that cannot work, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: String,
    problem: &'static str,
}

impl ConfigError {
    pub(crate) fn new(section: &str, field: &str, problem: &'static str) -> Self {
        let field = if section.is_empty() {
            field.to_owned()
        } else {
            format!("{section}.{field}")
        };
        ConfigError { field, problem }
    }

    /// The configuration field at fault, e.g. `free.daily` or `limits.max_emails`.
    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configuration field `{}` {}; fix it and build the engine again.",
            self.field, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests;

pub(crate) mod codec;
pub(crate) mod horizon;
pub(crate) mod limits;
