//! The in-memory engine with a persistence directory: opening one (restore the
//! latest snapshot, replay the journal after it through `Engine::apply`), the
//! journaling every change goes through, and checkpoints. The journal's format,
//! files and writer live in `persist::journal`.

use std::path::{Path, PathBuf};

use crate::memory::builder::EngineBuilder;
use crate::memory::engine::Engine;
use crate::memory::shard::Shard;
use crate::outage::Outage;
use crate::outcome::{Denied, Sent};
use crate::persist::journal::record::{self, Op};
use crate::persist::journal::{Durability, Journal, JournalError, RecoveryReport};
use crate::persist::PersistError;
use crate::rules::precedence::{Subject, View};

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
        super::open::open(self.builder, self.dir, self.durability)
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
        super::open::checkpoint(self, j)
    }
}

fn not_persistent() -> PersistError {
    PersistError::Journaling(JournalError::NotPersistent)
}
