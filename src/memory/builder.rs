//! Configuring and building an [`Engine`].

use std::sync::atomic::{AtomicBool, AtomicU8};
use std::sync::Arc;

use crate::memory::engine::{Engine, Padded, FLAG_BITS};
use crate::memory::shard::Shard;
use crate::policy::limits::MemberLimits;
use crate::policy::{ConfigError, Policy, ReminderPolicy};
use crate::rules::shadow::Shadow;
use crate::rules::Rules;
use crate::time::{Clock, MonotonicTime, SystemClock};

/// Configures and builds an [`Engine`].
#[must_use = "a builder does nothing until it builds"]
pub struct EngineBuilder {
    pub(crate) policy: Policy,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) shards: usize,
    pub(crate) reminders: ReminderPolicy,
    pub(crate) limits: MemberLimits,
    pub(crate) shadow: Shadow,
    /// Whether the engine reports metrics (with the `metrics` feature).
    pub(crate) metrics: bool,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("policy", &self.policy)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            policy: Policy::default(),
            clock: Box::new(SystemClock),
            shards: 256,
            reminders: ReminderPolicy::default(),
            limits: MemberLimits::default(),
            shadow: Shadow::none(),
            metrics: true,
        }
    }
}

impl EngineBuilder {
    /// The rules to enforce (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock to read (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Number of lock shards, rounded up to a power of two (default 256).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// How many reminders a pending invitation may get, and how far apart (default:
    /// [`ReminderPolicy::default`], two, a week apart).
    pub fn reminders(mut self, reminders: ReminderPolicy) -> Self {
        self.reminders = reminders;
        self
    }

    /// Caps on one member's connections, follows, emails and contact imports
    /// (default: [`MemberLimits::default`]).
    pub fn limits(mut self, limits: MemberLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The rules to run in shadow mode (default: none; see [`Shadow`]).
    pub fn shadow(mut self, shadow: Shadow) -> Self {
        self.shadow = shadow;
        self
    }

    /// Whether the engine reports to the installed `metrics` recorder (default: it
    /// does). An engine for dry runs or tests can stay out of the figures.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Builds the engine.
    ///
    /// # Errors
    /// [`ConfigError`] when the policy cannot work (a zero limit, a daily limit above
    /// the weekly one, a zero pair cap, TTL or note length, a duration longer than
    /// [`Policy::LONGEST_SPAN`], a zero member limit, …) or the reminder policy cannot
    /// (see [`ReminderPolicy::validate`]), naming the field.
    pub fn build(self) -> Result<Engine, ConfigError> {
        self.policy.validate()?;
        self.reminders.validate()?;
        self.limits.validate()?;
        let shards = self.shards.clamp(1, 1 << 16).next_power_of_two();
        let shard_bits = shards.trailing_zeros();
        let strangers = AtomicBool::new(self.policy.spam.strangers.is_some());
        let rules = Rules::new(Arc::new(self.policy), self.shadow, false);
        Ok(Engine {
            shards: (0..shards)
                .map(|_| Padded(parking_lot::RwLock::new(Shard::new(Arc::clone(&rules)))))
                .collect(),
            shard_bits,
            rules: parking_lot::Mutex::new(rules),
            strangers,
            time: MonotonicTime::new(self.clock),
            flags: (0..1usize << FLAG_BITS).map(|_| AtomicU8::new(0)).collect(),
            emails: Default::default(),
            reminders: self.reminders,
            limits: self.limits,
            refused_relations: std::sync::atomic::AtomicU64::new(0),
            journal: None,
            obs: crate::memory::observe::Observer::new(self.metrics),
        })
    }
}
