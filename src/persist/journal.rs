//! Crash durability: an append-only journal of state changes next to a snapshot.
//!
//! Every state-changing call appends one record — the instant the engine acted at and
//! the operation — to a channel, while it still holds the shard lock, so the records
//! of one shard reach the file in the order they were applied. A background thread
//! writes them in batches and syncs by the [`Durability`] mode. Opening the directory
//! restores the latest snapshot and re-executes the journal's records at their
//! recorded instants; decisions are deterministic given the state and the instant,
//! and a send's record carries the recipient's facts as read and its outcome, so the
//! replay reproduces the state, invitation ids included.
//!
//! # Directory
//! `snapshot-<gen>.bin` (the [`Engine::snapshot`] format) holds the state when
//! `journal-<gen>.log` began. [`Engine::checkpoint`] starts journal `gen + 1` at a cut
//! taken under every shard lock, writes snapshot `gen + 1` (temporary file, synced,
//! renamed), then removes generation `gen`. Opening restores the highest snapshot and
//! replays every journal from its generation on, so a crash at any step loses nothing
//! that was synced. `lock` is locked by the engine that has the directory open.
//! `docs/durability.md` says what a crash can lose and how the journal is read back.
//!
//! Not journaled: reads, `sweep` (expiry is lazy and exact, so replay needs no
//! sweeps), idempotent repeats' bookkeeping beyond the record itself, and denied sends
//! when spam signals are off (a denial then changes nothing).

mod error;
pub(crate) mod file;
pub(crate) mod record;
mod scan;
#[cfg(test)]
mod tests;
mod writer;
#[cfg(test)]
mod writer_tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::outage::Outage;
use crate::outcome::Denied;

pub use error::JournalError;
pub(crate) use record::Op;
pub(crate) use writer::Journal;

/// When a decision's journal record reaches the disk.
///
/// Records wait for the writer in a queue of at most 16,384 records; the writer
/// appends them in batches of about 1 MiB. When the disk falls behind, calls that
/// change state wait for room in the queue instead of growing memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Durability {
    /// The writer appends and syncs whatever has been queued every interval
    /// (clamped to between 1 ms and 24 hours); decisions wait on the disk only when
    /// the queue is full. A crash loses the decisions of at most the last interval,
    /// and never more than the queue and one batch: 16,384 records plus about 1 MiB of
    /// records, however long the disk stalls. After a failed write decisions go on
    /// in memory, no longer durable; [`Engine::journal_error`] says why.
    FlushEvery(Duration),
    /// A call that changes state returns only once its record is synced; calls that
    /// arrive during a sync share the next one (group commit). A crash loses nothing
    /// that was acknowledged.
    ///
    /// A change whose record could not be written is not acknowledged: a send is
    /// denied with [`DenyReason::Unavailable`](crate::DenyReason::Unavailable)
    /// `{ cause: Outage::Journal }`, and accepts, declines, withdrawals, reports,
    /// reminders, email registrations and contact imports return their error type's
    /// `Unavailable(Outage::Journal)`. The change may have been made in memory (it is
    /// lost on restart); after the failure, these calls are refused before they
    /// change anything. Setters that return nothing (tiers, statuses, settings,
    /// connections, follows) cannot report it: check [`Engine::journal_error`].
    SyncEachDecision,
}

impl Default for Durability {
    /// `FlushEvery(10 ms)`.
    fn default() -> Self {
        Durability::FlushEvery(Duration::from_millis(10))
    }
}

/// The tail torn off the end of the last journal by a crash mid-append: the part of
/// the last, unsynced batch from its first damaged record on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornRecord {
    /// The journal file.
    pub file: PathBuf,
    /// Where the torn record began; the file was truncated to this length.
    pub offset: u64,
    /// Bytes dropped.
    pub dropped_bytes: u64,
}

/// What opening a persistence directory restored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// The snapshot restored, if there was one.
    pub snapshot: Option<PathBuf>,
    /// The journals replayed, oldest first.
    pub journals: Vec<PathBuf>,
    /// Records replayed.
    pub replayed: u64,
    /// Replayed records that no longer applied: an accept, decline, withdraw, report
    /// or reminder that failed on replay (e.g. because the builder's policy differs),
    /// or a send whose invitation could not be placed after the sender's newest.
    pub skipped: u64,
    /// The torn tail that was dropped, if any.
    pub torn: Option<TornRecord>,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.snapshot {
            Some(s) => write!(f, "restored {}", s.display())?,
            None => write!(f, "no snapshot")?,
        }
        write!(
            f,
            ", replayed {} records from {} journal(s)",
            self.replayed,
            self.journals.len()
        )?;
        if self.skipped > 0 {
            write!(f, " ({} no longer applied)", self.skipped)?;
        }
        if let Some(t) = &self.torn {
            write!(
                f,
                "; dropped a torn tail ({} bytes at offset {} of {})",
                t.dropped_bytes,
                t.offset,
                t.file.display()
            )?;
        }
        Ok(())
    }
}

/// The denial of a send the journal could not make durable.
pub(crate) fn not_durable(cause: Outage) -> Denied {
    Denied {
        reason: crate::outcome::DenyReason::Unavailable { cause },
        retry_at: None,
    }
}
