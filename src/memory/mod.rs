//! The in-memory engine: storage around the sender state machine.
//!
//! Members are hashed onto lock-sharded [`shard::Shard`]s that keep their records and
//! the queues `sweep()` drains (expiries, cooldowns, idle checks); beside them the
//! engine keeps the recipient flag table, the email index and the journal. Every
//! decision about a member is made by its record's state machine (`crate::sender`)
//! under its shard's lock.

pub(crate) mod apply;
pub(crate) mod builder;
pub(crate) mod commit;
pub(crate) mod contacts;
pub(crate) mod email_index;
pub(crate) mod engine;
pub(crate) mod install;
pub(crate) mod journaled;
pub(crate) mod lifecycle;
pub(crate) mod live;
pub(crate) mod observe;
pub(crate) mod open;
pub(crate) mod overrides;
pub(crate) mod queries;
pub(crate) mod queue;
pub(crate) mod records;
pub(crate) mod registry;
pub(crate) mod relations;
pub(crate) mod shard;
pub(crate) mod snapshot;
#[cfg(test)]
mod snapshot_tests;
pub(crate) mod sweeper;
