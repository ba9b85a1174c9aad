#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
mod builder;
mod codec;
mod commit;
mod contacts;
mod decide;
mod dyn_limiter;
mod email;
mod engine;
mod health;
mod horizon;
#[cfg(feature = "http")]
pub mod http;
mod ids;
mod journal;
mod json;
mod ledger;
mod lifecycle;
mod limiter;
mod limits;
mod member;
#[cfg(feature = "metrics")]
pub mod metrics;
mod observe;
mod outage;
mod outcome;
mod overrides;
mod persist;
mod policy;
mod policy_codec;
mod queue;
mod reason_code;
mod records;
#[cfg(feature = "redis")]
pub mod redis;
mod registry;
mod relations;
mod report;
mod request;
mod rules;
mod sender;
mod shadow;
mod shard;
mod spam;
mod spam_signals;
mod sweeper;
mod time;
mod window;

pub use account::{AccountStatus, InviteSetting, Tier};
pub use builder::EngineBuilder;
pub use contacts::{ContactInvite, ContactOutcome, ContactReport, EmailInviteError, Stopped};
pub use dyn_limiter::{DynLimiter, LimiterFuture};
pub use email::EmailError;
pub use engine::Engine;
pub use health::{BreakerState, Health, JournalHealth, RedisHealth, SweeperHealth};
pub use ids::{InviteId, MemberId, ParseInviteIdError};
pub use journal::{Durability, JournalError, PersistentBuilder, RecoveryReport, TornRecord};
pub use lifecycle::{PendingInvite, PendingPage};
pub use limiter::Limiter;
pub use limits::{MemberLimits, RelationError};
pub use outage::Outage;
pub use outcome::{Denied, DenyReason, InviteError, Sent};
pub use persist::{PersistError, MAX_SNAPSHOT_BYTES};
pub use policy::{
    ConfigError, IgnoredRule, Policy, RateRule, ReminderPolicy, SpamPolicy, TierLimits,
    DAILY_WINDOW, IDEMPOTENCY_WINDOW, NOTE_WINDOW, WEEKLY_WINDOW,
};
pub use report::{Blocker, Capacity, Diagnosis, NoteCapacity, WindowCapacity};
pub use request::InviteRequest;
pub use shadow::{Shadow, ShadowRule};
pub use spam_signals::{SpamSignal, SpamSignals};
pub use sweeper::{SweepStats, Sweeper};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
