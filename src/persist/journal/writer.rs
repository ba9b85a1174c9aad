//! The background writer: drains the channel, appends records in batches, and
//! flushes and syncs by the durability mode. In [`Durability::SyncEachDecision`]
//! every record has a ticket, and a caller waits until the writer has synced every
//! ticket up to its own: records that arrive while a sync runs share the next one
//! (group commit).
//!
//! The channel is bounded: when the disk stalls, the writer stops draining it, and
//! callers wait to queue their records instead of growing memory. At most
//! [`QUEUE_RECORDS`] records wait in the channel and one batch of about
//! [`BATCH_BYTES`] is being written, so that is all a crash can lose in
//! [`Durability::FlushEvery`] mode, however long the disk stalls.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};

use super::{file, Durability, JournalError, RecoveryReport};

/// A batch is written early once it holds this many bytes.
pub(crate) const BATCH_BYTES: usize = 1 << 20;
/// Records the channel holds before callers wait for the writer.
pub(crate) const QUEUE_RECORDS: usize = 16_384;
/// The longest flush interval: longer ones are clamped to it, so no deadline the
/// writer computes can overflow an `Instant`.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Where the writer puts its batches: appended, then synced.
pub(crate) trait Sink: Send {
    /// Appends `bytes` and syncs them.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Bytes in it so far: where the next batch goes.
    fn size(&self) -> io::Result<u64>;
}

impl Sink for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.sync_data()
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

/// The flush interval the writer uses for `durability` (`None`: sync each decision).
pub(crate) fn interval(durability: Durability) -> Option<Duration> {
    match durability {
        Durability::FlushEvery(d) => Some(d.clamp(Duration::from_millis(1), MAX_INTERVAL)),
        Durability::SyncEachDecision => None,
    }
}

type Ack = Sender<Result<(), JournalError>>;

enum Msg {
    /// A payload and its ticket (0 when nobody waits for it).
    Record(u64, super::record::Payload),
    /// Write and sync everything before this message, then answer.
    Sync(Ack),
    /// Sync, then append to this sink from now on.
    Rotate(Box<dyn Sink>, Ack),
    /// Sync and stop.
    Stop,
}

#[derive(Debug, Default)]
struct Progress {
    /// Every ticket up to this one is synced.
    synced: u64,
    /// Why the writer stopped writing, if it did.
    failed: Option<JournalError>,
    /// When the writer last synced successfully.
    last_sync: Option<Instant>,
}

#[derive(Debug, Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

/// The engine's handle on its journal.
pub(crate) struct Journal {
    tx: Sender<Msg>,
    durable: bool,
    tickets: AtomicU64,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) dir: PathBuf,
    /// The generation being appended to; held while a checkpoint runs.
    pub(crate) gen: Mutex<u64>,
    pub(crate) report: RecoveryReport,
    /// The directory's lock, released once the writer has stopped (fields drop after
    /// `Drop::drop` has joined the thread).
    _lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Starts the writer appending to `file`, journal `gen` in `dir`.
    pub(crate) fn start(
        dir: PathBuf,
        gen: u64,
        file: File,
        durability: Durability,
        report: RecoveryReport,
        lock: File,
    ) -> std::io::Result<Journal> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_RECORDS);
        let shared = Arc::new(Shared::default());
        let every = interval(durability);
        let worker = Worker {
            at: Sink::size(&file)?,
            file: Box::new(file),
            buf: Vec::new(),
            batch: Vec::new(),
            ahead: BTreeSet::new(),
            synced: 0,
            shared: Arc::clone(&shared),
        };
        let thread = std::thread::Builder::new()
            .name("invite-journal".into())
            .spawn(move || worker.run(&rx, every))?;
        Ok(Journal {
            tx,
            durable: every.is_none(),
            tickets: AtomicU64::new(0),
            shared,
            thread: Mutex::new(Some(thread)),
            dir,
            gen: Mutex::new(gen),
            report,
            _lock: lock,
        })
    }

    /// Queues a record; returns the ticket to wait for (0: nothing to wait for).
    /// Called under the shard lock, so one shard's records stay in order; waits while
    /// the channel is full (the disk is behind).
    pub(crate) fn append(&self, payload: super::record::Payload) -> u64 {
        let ticket = if self.durable {
            self.tickets.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            0
        };
        if self.tx.send(Msg::Record(ticket, payload)).is_err() {
            self.fail(JournalError::Stopped);
        }
        ticket
    }

    /// Returns once the writer has synced `ticket`; `Err` when it failed first, so
    /// the record may not be on disk.
    pub(crate) fn wait(&self, ticket: u64) -> Result<(), JournalError> {
        if ticket == 0 {
            return Ok(());
        }
        let mut p = self.shared.progress.lock();
        loop {
            if p.synced >= ticket {
                return Ok(());
            }
            if let Some(why) = &p.failed {
                return Err(why.clone());
            }
            self.shared.changed.wait(&mut p);
        }
    }

    /// Whether this journal acknowledges only synced records.
    pub(crate) fn durable(&self) -> bool {
        self.durable
    }

    fn fail(&self, why: JournalError) {
        self.shared.progress.lock().failed.get_or_insert(why);
        self.shared.changed.notify_all();
    }

    /// Why the writer stopped writing, if it did.
    /// Records queued for the writer.
    pub(crate) fn queue_depth(&self) -> usize {
        self.tx.len()
    }

    /// Real time since the writer last synced successfully.
    pub(crate) fn since_last_sync(&self) -> Option<Duration> {
        self.shared.progress.lock().last_sync.map(|t| t.elapsed())
    }

    pub(crate) fn failure(&self) -> Option<JournalError> {
        self.shared.progress.lock().failed.clone()
    }

    /// Writes and syncs everything queued so far.
    pub(crate) fn sync(&self) -> Result<(), JournalError> {
        self.call(Msg::Sync)
    }

    /// Starts a rotation: records queued after this call go to `file`. Call it
    /// while holding every shard lock; wait on the receiver after releasing them.
    pub(crate) fn rotate(
        &self,
        file: File,
    ) -> crossbeam_channel::Receiver<Result<(), JournalError>> {
        self.rotate_to(Box::new(file))
    }

    /// [`Journal::rotate`] to any sink (tests use failing and stalling ones).
    pub(crate) fn rotate_to(
        &self,
        sink: Box<dyn Sink>,
    ) -> crossbeam_channel::Receiver<Result<(), JournalError>> {
        let (ack, rx) = crossbeam_channel::bounded(1);
        if self.tx.send(Msg::Rotate(sink, ack)).is_err() {
            self.fail(JournalError::Stopped);
        }
        rx
    }

    fn call(&self, msg: impl FnOnce(Ack) -> Msg) -> Result<(), JournalError> {
        let (ack, rx) = crossbeam_channel::bounded(1);
        self.tx.send(msg(ack)).map_err(|_| JournalError::Stopped)?;
        rx.recv().map_err(|_| JournalError::Stopped)?
    }
}

impl Drop for Journal {
    /// Writes and syncs what is queued, then stops the writer.
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

struct Worker {
    file: Box<dyn Sink>,
    /// Where the next batch goes in the file.
    at: u64,
    buf: Vec<u8>,
    batch: Vec<u64>,
    ahead: BTreeSet<u64>,
    synced: u64,
    shared: Arc<Shared>,
}

impl Worker {
    fn run(mut self, rx: &Receiver<Msg>, every: Option<Duration>) {
        let mut deadline = every.map(after);
        loop {
            let msg = match deadline {
                None => rx.recv().ok(),
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(msg) => Some(msg),
                    Err(RecvTimeoutError::Timeout) => Some(Msg::Sync(dead_ack())),
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            let Some(msg) = msg else {
                let _ = self.commit();
                return;
            };
            if !self.handle(msg) {
                return;
            }
            match (every, deadline) {
                (None, _) => {
                    // Group commit: everything already queued shares this sync.
                    while self.buf.len() < BATCH_BYTES {
                        match rx.try_recv() {
                            Ok(msg) => {
                                if !self.handle(msg) {
                                    return;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    let _ = self.commit();
                }
                (Some(d), Some(at)) if Instant::now() >= at => {
                    let _ = self.commit();
                    deadline = Some(after(d));
                }
                _ if self.buf.len() >= BATCH_BYTES => {
                    let _ = self.commit();
                }
                _ => {}
            }
        }
    }

    /// Handles one message; `false` to stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Record(ticket, payload) => {
                if self.buf.is_empty() {
                    file::open_batch(&mut self.buf);
                }
                file::frame(&mut self.buf, &payload);
                if ticket != 0 {
                    self.batch.push(ticket);
                }
            }
            Msg::Sync(ack) => {
                let r = self.commit();
                let _ = ack.send(r);
            }
            Msg::Rotate(next, ack) => {
                let r = self.commit();
                self.file = next;
                let r = r.and_then(|()| match self.file.size() {
                    Ok(at) => {
                        self.at = at;
                        Ok(())
                    }
                    Err(e) => Err(self.fail(JournalError::NewFile(Arc::new(e)))),
                });
                let _ = ack.send(r);
            }
            Msg::Stop => {
                let _ = self.commit();
                return false;
            }
        }
        true
    }

    /// Records why writing stopped and wakes the waiters; returns the reason.
    fn fail(&self, why: JournalError) -> JournalError {
        let first = self
            .shared
            .progress
            .lock()
            .failed
            .get_or_insert(why)
            .clone();
        self.shared.changed.notify_all();
        first
    }

    /// Writes and syncs the batch, then releases its waiters.
    fn commit(&mut self) -> Result<(), JournalError> {
        if let Some(why) = self.shared.progress.lock().failed.clone() {
            self.buf.clear();
            self.batch.clear();
            return Err(why);
        }
        if !self.buf.is_empty() {
            let written =
                file::seal_batch(&mut self.buf, self.at).and_then(|()| self.file.append(&self.buf));
            self.at = self.at.saturating_add(self.buf.len() as u64);
            self.buf.clear();
            if let Err(e) = written {
                self.batch.clear();
                return Err(self.fail(JournalError::Append(Arc::new(e))));
            }
        }
        self.shared.progress.lock().last_sync = Some(Instant::now());
        if self.batch.is_empty() {
            return Ok(());
        }
        for t in self.batch.drain(..) {
            self.ahead.insert(t);
        }
        while self.ahead.remove(&(self.synced + 1)) {
            self.synced += 1;
        }
        self.shared.progress.lock().synced = self.synced;
        self.shared.changed.notify_all();
        Ok(())
    }
}

/// `d` from now (intervals are clamped to a day, so the sum fits; were it not to,
/// the flush comes at once rather than never).
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or(now)
}

/// An acknowledgement nobody listens to (for the periodic flush).
fn dead_ack() -> Ack {
    crossbeam_channel::bounded(1).0
}
