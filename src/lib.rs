#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Public value types, shared by every engine.
mod account;
mod email;
mod health;
mod ids;
mod json;
mod outage;
mod outcome;
mod report;
mod request;
mod time;
#[cfg(feature = "tracing")]
mod trace;

// The wire codes every storage uses, defined once, and the byte codec.
mod codec;
mod codes;
// The policy, its limits and their checks.
mod policy;
// The rules over one member's state, apart from any state.
mod rules;
// One member's state and the rules applied to it: the state machine.
mod sender;
// The in-memory engine: storage, locking and queues around the state machine.
mod memory;
// Snapshots and the journal.
mod persist;

mod dyn_limiter;
mod limiter;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "server")]
pub mod server;

pub use account::{AccountStatus, InviteSetting, Tier};
pub use dyn_limiter::{DynLimiter, LimiterFuture};
pub use email::EmailError;
pub use health::{BreakerState, Health, JournalHealth, RedisHealth, SweeperHealth};
pub use ids::{InviteId, MemberId, ParseInviteIdError};
pub use limiter::Limiter;
pub use memory::builder::EngineBuilder;
pub use memory::contacts::{
    ContactInvite, ContactOutcome, ContactReport, EmailInviteError, Stopped,
};
pub use memory::engine::Engine;
pub use memory::journaled::PersistentBuilder;
pub use memory::sweeper::{SweepStats, Sweeper};
pub use outage::Outage;
pub use outcome::{Denied, DenyReason, InviteError, Sent};
pub use persist::journal::{Durability, JournalError, RecoveryReport, TornRecord};
pub use persist::{PersistError, MAX_SNAPSHOT_BYTES};
pub use policy::limits::{MemberLimits, RelationError};
pub use policy::{
    ConfigError, IgnoredRule, Policy, RateRule, ReminderPolicy, SpamPolicy, TierLimits,
    DAILY_WINDOW, IDEMPOTENCY_WINDOW, NOTE_WINDOW, WEEKLY_WINDOW,
};
pub use report::{
    Blocker, Capacity, Diagnosis, NoteCapacity, PendingInvite, PendingPage, WindowCapacity,
};
pub use request::InviteRequest;
pub use rules::shadow::{Shadow, ShadowRule};
pub use rules::spam::signals::{SpamSignal, SpamSignals};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
