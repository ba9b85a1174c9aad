//! The background writer: drains the channel, appends records in batches, and
//! flushes and syncs by the durability mode. In [`Durability::SyncEachDecision`]
//! every record has a ticket, and a caller waits until the writer has synced every
//! ticket up to its own: records that arrive while a sync runs share the next one
//! (group commit).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};

use super::{file, Durability, RecoveryReport};

/// A batch is written early once it holds this many bytes.
const BATCH_BYTES: usize = 1 << 20;

type Ack = Sender<Result<(), String>>;

enum Msg {
    /// A payload and its ticket (0 when nobody waits for it).
    Record(u64, super::record::Payload),
    /// Write and sync everything before this message, then answer.
    Sync(Ack),
    /// Sync, then append to this file from now on.
    Rotate(File, Ack),
    /// Sync and stop.
    Stop,
}

#[derive(Debug, Default)]
struct Progress {
    /// Every ticket up to this one is synced.
    synced: u64,
    /// Why the writer stopped writing, if it did.
    failed: Option<String>,
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
    ) -> std::io::Result<Journal> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::default());
        let every = match durability {
            Durability::FlushEvery(d) => Some(d.max(Duration::from_millis(1))),
            Durability::SyncEachDecision => None,
        };
        let worker = Worker {
            file,
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
        })
    }

    /// Queues a record; returns the ticket to wait for (0: nothing to wait for).
    /// Called under the shard lock, so one shard's records stay in order.
    pub(crate) fn append(&self, payload: super::record::Payload) -> u64 {
        let ticket = if self.durable {
            self.tickets.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            0
        };
        if self.tx.send(Msg::Record(ticket, payload)).is_err() {
            self.fail("the journal writer has stopped".into());
        }
        ticket
    }

    /// Returns once the writer has synced `ticket` (or has failed).
    pub(crate) fn wait(&self, ticket: u64) {
        if ticket == 0 {
            return;
        }
        let mut p = self.shared.progress.lock();
        while p.synced < ticket && p.failed.is_none() {
            self.shared.changed.wait(&mut p);
        }
    }

    fn fail(&self, why: String) {
        self.shared.progress.lock().failed.get_or_insert(why);
        self.shared.changed.notify_all();
    }

    /// Why the writer stopped writing, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.shared.progress.lock().failed.clone()
    }

    /// Writes and syncs everything queued so far.
    pub(crate) fn sync(&self) -> Result<(), String> {
        self.call(Msg::Sync)
    }

    /// Starts a rotation: records queued after this call go to `file`. Call it
    /// while holding every shard lock; wait on the receiver after releasing them.
    pub(crate) fn rotate(&self, file: File) -> crossbeam_channel::Receiver<Result<(), String>> {
        let (ack, rx) = crossbeam_channel::bounded(1);
        if self.tx.send(Msg::Rotate(file, ack)).is_err() {
            self.fail("the journal writer has stopped".into());
        }
        rx
    }

    fn call(&self, msg: impl FnOnce(Ack) -> Msg) -> Result<(), String> {
        let (ack, rx) = crossbeam_channel::bounded(1);
        self.tx
            .send(msg(ack))
            .map_err(|_| "the journal writer has stopped".to_string())?;
        rx.recv()
            .map_err(|_| "the journal writer has stopped".to_string())?
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
    file: File,
    buf: Vec<u8>,
    batch: Vec<u64>,
    ahead: BTreeSet<u64>,
    synced: u64,
    shared: Arc<Shared>,
}

impl Worker {
    fn run(mut self, rx: &Receiver<Msg>, every: Option<Duration>) {
        // A period too long to add to an instant (`Duration::MAX`) never comes due:
        // such a journal is flushed when asked, when full, or on close.
        let next = |d: Duration| Instant::now().checked_add(d);
        let mut deadline = every.and_then(next);
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
                    deadline = next(d);
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
                let _ = ack.send(r);
            }
            Msg::Stop => {
                let _ = self.commit();
                return false;
            }
        }
        true
    }

    /// Writes and syncs the batch, then releases its waiters.
    fn commit(&mut self) -> Result<(), String> {
        if let Some(why) = self.shared.progress.lock().failed.clone() {
            self.buf.clear();
            self.batch.clear();
            return Err(why);
        }
        if !self.buf.is_empty() {
            let written = self
                .file
                .write_all(&self.buf)
                .and_then(|()| self.file.sync_data());
            self.buf.clear();
            if let Err(e) = written {
                let why = format!("appending to the journal failed: {e}");
                self.shared.progress.lock().failed = Some(why.clone());
                self.shared.changed.notify_all();
                self.batch.clear();
                return Err(why);
            }
        }
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

/// An acknowledgement nobody listens to (for the periodic flush).
fn dead_ack() -> Ack {
    crossbeam_channel::bounded(1).0
}
