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
//! that was synced.
//!
//! Not journaled: reads, `sweep` (expiry is lazy and exact, so replay needs no
//! sweeps), idempotent repeats' bookkeeping beyond the record itself, and denied sends
//! when spam signals are off (a denial then changes nothing).

mod file;
mod open;
mod record;
#[cfg(test)]
mod tests;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::builder::EngineBuilder;
use crate::decide::{Subject, View};
use crate::engine::Engine;
use crate::outcome::{Denied, Sent};
use crate::persist::PersistError;
use crate::shard::Shard;

pub(crate) use record::Op;
pub(crate) use writer::Journal;

/// When a decision's journal record reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Durability {
    /// The writer appends and syncs whatever has been queued every interval (at
    /// least 1 ms); decisions never wait on the disk. A crash loses the decisions of
    /// at most the last interval (plus what is still queued). An interval too long
    /// to add to an instant (`Duration::MAX`) never comes due: the writer then syncs
    /// when asked ([`crate::Engine::sync_journal`]), when its batch fills, or on close.
    FlushEvery(Duration),
    /// A call that changes state returns only once its record is synced; calls that
    /// arrive during a sync share the next one (group commit). A crash loses nothing
    /// that was acknowledged.
    SyncEachDecision,
}

impl Default for Durability {
    /// `FlushEvery(10 ms)`.
    fn default() -> Self {
        Durability::FlushEvery(Duration::from_millis(10))
    }
}

/// A record torn off the end of the last journal by a crash mid-append.
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
    /// The torn last record that was dropped, if any.
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
                "; dropped a torn last record ({} bytes at offset {} of {})",
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
    /// directory at a time.
    ///
    /// # Errors
    /// [`PersistError::Config`] for a policy that cannot work;
    /// [`PersistError::File`] when the directory or a file cannot be read or written;
    /// [`PersistError::SnapshotFile`] for a snapshot that does not restore;
    /// [`PersistError::Journal`] (naming the file and offset) for a damaged or
    /// truncated journal — except a torn last record, which is dropped and reported;
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
            Err(_) if self.policy.spam.is_enabled() => None,
            Err(_) => return 0,
        };
        j.append(record::encode_send(now, s, view, count_attempt, sent))
    }

    /// Waits until the record with `ticket` is synced (durable mode only).
    pub(crate) fn wait_logged(&self, ticket: u64) {
        if let Some(j) = &self.journal {
            j.wait(ticket);
        }
    }

    /// What opening the persistence directory restored; `None` without persistence.
    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.journal.as_ref().map(|j| &j.report)
    }

    /// Why the journal stopped being written, if it did (a full or failing disk).
    /// Decisions go on in memory, but are no longer durable.
    pub fn journal_error(&self) -> Option<String> {
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

fn not_persistent() -> PersistError {
    PersistError::Journaling("the engine was not opened with a persistence directory".into())
}
