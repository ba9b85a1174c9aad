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
mod file;
mod open;
mod record;
mod scan;
#[cfg(test)]
mod tests;
mod writer;
#[cfg(test)]
mod writer_tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::memory::builder::EngineBuilder;
use crate::memory::engine::Engine;
use crate::memory::shard::Shard;
use crate::outage::Outage;
use crate::outcome::{Denied, Sent};
use crate::persist::PersistError;
use crate::rules::precedence::{Subject, View};

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

/// An [`EngineBuilder`] with a persistence directory; see [`EngineBuilder::persistence`].
#[derive(Debug)]
#[must_use = "a builder does nothing until it builds"]
pub struct PersistentBuilder {
    builder: EngineBuilder,
    dir: PathBuf,
    durability: Durability,
}

impl EngineBuilder {
    /// Keeps the engine's state in `dir` (created if missing): a snapshot plus a
    /// journal of every change since, written by `durability`. Set the policy, clock
    /// and shards first; then call [`PersistentBuilder::open`].
    pub fn persistence(self, dir: impl AsRef<Path>, durability: Durability) -> PersistentBuilder {
        PersistentBuilder {
            builder: self,
            dir: dir.as_ref().to_path_buf(),
            durability,
        }
    }
}

impl PersistentBuilder {
    /// Opens the directory: restores its latest snapshot under the builder's policy,
    /// clock and shard count, replays the journal after it, and journals from then
    /// on. [`Engine::recovery_report`] says what was restored. One engine per
    /// directory at a time: the engine holds a lock on it until it is dropped.
    ///
    /// # Errors
    /// [`PersistError::Locked`] while another engine has the directory open;
    /// [`PersistError::Config`] for a policy that cannot work;
    /// [`PersistError::File`] when the directory or a file cannot be read or written;
    /// [`PersistError::SnapshotFile`] for a snapshot that does not restore;
    /// [`PersistError::Journal`] (naming the file and offset) for a damaged or
    /// truncated journal, or a record with a value no engine writes — except the
    /// unsynced tail a crash tore, whose records before the damage are kept and whose
    /// rest is dropped and reported;
    /// [`PersistError::JournalVersion`] for a journal of another format.
    pub fn open(self) -> Result<Engine, PersistError> {
        open::open(self.builder, self.dir, self.durability)
    }
}

impl Engine {
    /// The instant to act at: `at` when replaying, else now (never earlier than
    /// before on this shard).
    pub(crate) fn act_at(&self, shard: &mut Shard, at: Option<u64>) -> u64 {
        match at {
            None => shard.observe(self.time.now()),
            Some(t) => {
                shard.observe(t);
                t
            }
        }
    }

    /// Journals the operation done at `now`; returns the ticket to wait for.
    pub(crate) fn log_op(&self, now: u64, op: impl FnOnce() -> Op) -> u64 {
        match &self.journal {
            None => 0,
            Some(j) => j.append(op().encode(now)),
        }
    }

    /// Journals a send decided at `now`, unless it changed nothing.
    pub(crate) fn log_send(
        &self,
        now: u64,
        s: &Subject<'_>,
        view: View,
        count_attempt: bool,
        result: &Result<Sent, Denied>,
    ) -> u64 {
        let Some(j) = &self.journal else { return 0 };
        let sent = match result {
            Ok(sent) => Some(sent.id().seq()),
            Err(_) if self.rules().policy.spam.is_enabled() => None,
            Err(_) => return 0,
        };
        j.append(record::encode_send(now, s, view, count_attempt, sent))
    }

    /// Waits until the record with `ticket` is synced (durable mode only);
    /// `Err(Outage::Journal)` when the journal failed before it was.
    pub(crate) fn wait_logged(&self, ticket: u64) -> Result<(), Outage> {
        match &self.journal {
            Some(j) => j.wait(ticket).map_err(|_| Outage::Journal),
            None => Ok(()),
        }
    }

    /// `Err(Outage::Journal)` when the engine acknowledges only synced changes and
    /// its journal has failed: nothing more can be made durable.
    pub(crate) fn journal_refuses(&self) -> Result<(), Outage> {
        match &self.journal {
            Some(j) if j.durable() && j.failure().is_some() => Err(Outage::Journal),
            _ => Ok(()),
        }
    }

    /// What opening the persistence directory restored; `None` without persistence.
    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.journal.as_ref().map(|j| &j.report)
    }

    /// Why the journal stopped being written, if it did (a full or failing disk).
    /// Decisions go on in memory, but are no longer durable.
    pub fn journal_error(&self) -> Option<JournalError> {
        self.journal.as_ref().and_then(Journal::failure)
    }

    /// Writes and syncs every journal record queued so far.
    ///
    /// # Errors
    /// [`PersistError::Journaling`] without persistence or when the journal writer
    /// has failed.
    pub fn sync_journal(&self) -> Result<(), PersistError> {
        let j = self.journal.as_ref().ok_or_else(not_persistent)?;
        j.sync().map_err(PersistError::Journaling)
    }

    /// Writes a new snapshot and starts a new journal, so that opening replays only
    /// what comes after. Decisions pause only while the state is encoded in memory;
    /// the file is written (temporary file, synced, renamed) with no lock held.
    ///
    /// # Errors
    /// [`PersistError::Journaling`] without persistence or when the journal writer
    /// has failed; [`PersistError::File`] when writing a file fails (the previous
    /// snapshot and journals are then still there and still restore).
    pub fn checkpoint(&self) -> Result<(), PersistError> {
        let j = self.journal.as_ref().ok_or_else(not_persistent)?;
        open::checkpoint(self, j)
    }
}

/// The denial of a send the journal could not make durable.
pub(crate) fn not_durable(cause: Outage) -> Denied {
    Denied {
        reason: crate::outcome::DenyReason::Unavailable { cause },
        retry_at: None,
    }
}

fn not_persistent() -> PersistError {
    PersistError::Journaling(JournalError::NotPersistent)
}
