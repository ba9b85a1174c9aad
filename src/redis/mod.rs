//! The engine on shared state: a Redis server, cluster or Sentinel-managed master
//! that a fleet of gateways shares, with the same contract as the in-memory
//! [`Engine`](crate::Engine).
//!
//! # Layout and atomicity
//! Everything a sender's decision reads or writes — sends, notes, pending invitations,
//! pair state, cooldowns, idempotency records, tier, status, connections — lives under
//! keys tagged with the sender (`{prefix:id}:…`), so a cluster keeps them on one slot.
//! One Lua script settles what time has ended, judges the request and commits it, in
//! one atomic step and one round trip. An [`InviteId`](crate::ids::InviteId) names its sender, so
//! `accept(id)` goes straight to the sender's slot.
//!
//! That is the script's way. Where the server has the invite-limiter Redis module
//! loaded, the engine detects it at connect and decides with its `IL.*` commands
//! instead, each member's state one value under its key (`docs/redis-module.md`):
//! [`ServerSide::Auto`], the default; [`RedisBuilder::server_side`] chooses.
//!
//! # Consistency model
//! The sender's rules (windows, note quota, pair cap, cooldown, idempotency, the
//! sender's status) are exact and linearizable per sender across every gateway: they
//! are judged and committed by one script on the master that owns the sender's slot.
//! Redis replicates asynchronously, so a failover can lose the writes a dead master
//! acknowledged but had not yet passed to its replica (typically well under a second
//! of traffic); the sends among them can then be admitted again, unless
//! [`RedisBuilder::wait_for_replicas`] makes every acknowledged change wait for the
//! replicas. A [`RedisTarget::Sentinel`] target follows the master the Sentinels name.
//! The recipient's facts (banned or not, invite setting, contacts, follows, shared
//! connections) live on the recipient's slot and are read before the script runs, so
//! they may be stale by one round trip, or, when the facts cache answers, until a
//! change notice arrives (pub/sub, normally within a millisecond) and at most by its
//! time to live (default 1 s, [`RedisBuilder::facts_ttl`]). That is the race the contract
//! allows: a recipient who bans invitations a moment before a send may still receive
//! it, as with the in-memory engine when the two calls race; no quota is ever
//! exceeded by it. Accepting connects the sender's side in the same script, then the
//! recipient's side in a second call; between the two, only the recipient's view of
//! the new connection lags.
//!
//! # Time
//! By default the Redis server's clock decides (the script reads `TIME`): gateways'
//! clocks skew, while one sender's slot lives on one master. With
//! [`RedisBuilder::clock`] the engine's clock decides instead (tests drive a
//! [`ManualClock`](crate::ManualClock) this way). Either way each sender's state
//! keeps the latest instant it has seen and never acts earlier, so a clock that steps
//! backwards (a failover to a replica whose clock lags) frees nothing early.
//!
//! # Failures
//! Every call has a deadline. A timeout, refused connection, failover or redirect
//! storm yields [`DenyReason::Unavailable`](crate::outcome::DenyReason::Unavailable) (ahead of
//! every other reason) with a `retry_at` after a backoff, or with
//! [`FailureMode::Open`] an unrecorded [`Sent`](crate::outcome::Sent). After repeated failures a circuit
//! breaker answers at once until a probe succeeds. The engine never repeats a send by
//! itself; a caller that repeats one with its idempotency key gets the first
//! decision's `Sent` back, so nothing is spent twice.
//!
//! # Expiry
//! Pending invitations expire exactly at their instant: every script first releases
//! what the sender has due. A sender's activity keys carry a Redis TTL as long as the
//! longest window, so idle state disappears without any scan.

mod blocking;
mod builder;
mod conn;
mod engine;
mod errors;
mod health;
mod keys;
mod lifecycle;
mod limiter;
mod live;
mod members;
mod module;
mod module_calls;
mod module_replies;
mod module_send;
mod near;
mod recipient;
mod replies;
mod send;
mod sentinel;
mod setters;
mod setup;
mod stats;
mod target;
mod wait;
mod watch;

pub use blocking::BlockingRedisEngine;
pub use builder::RedisBuilder;
pub use conn::BreakerPolicy;
pub use engine::RedisEngine;
pub use errors::{ConnectError, RedisSetupError};
pub use live::RolloutError;
pub use module::ServerSide;
pub use stats::RedisStats;
pub use target::RedisTarget;

const ENGINE_SCRIPT: &str = include_str!("engine.lua");
/// Marks the ids of sends admitted without Redis under [`FailureMode::Open`].
const UNRECORDED: u64 = 1 << 63;

/// What a decision does when Redis cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailureMode {
    /// Deny with [`DenyReason::Unavailable`](crate::outcome::DenyReason::Unavailable) and a
    /// `retry_at` after the backoff (the default: no quota is ever exceeded).
    #[default]
    Closed,
    /// Allow the send without recording it: its id is unknown to `accept` and its
    /// send counts against no window. For deployments where an invitation lost is
    /// worse than one over the limit.
    Open,
}
