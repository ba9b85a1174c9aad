//! Unit tests of the writer against sinks that fail or stall: a durable mode never
//! acknowledges what it did not write, and a stalled disk makes callers wait instead
//! of growing the queue.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::writer::{Sink, BATCH_BYTES, QUEUE_RECORDS};
use super::Durability;
use crate::{
    DenyReason, EmailError, Engine, InviteError, InviteRequest, ManualClock, MemberId, Outage,
    Timestamp,
};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "invite-writer-{name}-{}-{nanos}",
            std::process::id()
        ));
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Dir, durability: Durability) -> Engine {
    Engine::builder()
        .clock(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)))
        .persistence(&dir.0, durability)
        .open()
        .expect("open")
}

/// Sends the journal's next batches to `sink`.
fn redirect(e: &Engine, sink: Box<dyn Sink>) {
    let j = e.journal.as_ref().expect("persistent");
    j.rotate_to(sink)
        .recv()
        .expect("writer")
        .expect("the batch before is written");
}

/// A disk that fails every write.
struct Failing;

impl Sink for Failing {
    fn append(&mut self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("no space left on device"))
    }

    fn size(&self) -> io::Result<u64> {
        Ok(0)
    }
}

/// A disk that does not answer until the gate's sender is dropped.
struct Stalled(Receiver<()>);

impl Sink for Stalled {
    fn append(&mut self, _: &[u8]) -> io::Result<()> {
        let _ = self.0.recv();
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        Ok(0)
    }
}

fn m(id: u64) -> MemberId {
    MemberId(id)
}

#[test]
fn durable_calls_after_a_failed_write_are_not_acknowledged() {
    let dir = Dir::new("failing");
    let e = open(&dir, Durability::SyncEachDecision);
    let kept = e.send(InviteRequest::new(m(1), m(2))).expect("written");
    redirect(&e, Box::new(Failing));
    let unavailable = |d: crate::Denied| {
        assert_eq!(
            d.reason(),
            &DenyReason::Unavailable {
                cause: Outage::Journal
            }
        );
    };
    // The write of this send fails: it is denied, though it was decided in memory.
    unavailable(
        e.send(InviteRequest::new(m(1), m(3)))
            .expect_err("not durable"),
    );
    assert!(e.journal_error().is_some());
    // Later calls are refused before anything changes.
    unavailable(e.send(InviteRequest::new(m(1), m(4))).expect_err("refused"));
    assert_eq!(e.pending_between(m(1), m(4)), 0);
    assert_eq!(
        e.accept(kept.id()),
        Err(InviteError::Unavailable(Outage::Journal))
    );
    assert_eq!(e.pending_between(m(1), m(2)), 1);
    assert!(matches!(
        e.register_email(m(5), "five@example.com"),
        Err(EmailError::Unavailable(Outage::Journal))
    ));
    assert_eq!(e.resolve_email("five@example.com"), Ok(None));
    assert!(matches!(
        e.import_contacts(m(5), ["six@example.com"]),
        Err(EmailError::Unavailable(Outage::Journal))
    ));
    assert!(e.contacts(m(5)).is_empty());
    assert!(e.sync_journal().is_err());
}

#[test]
fn flush_every_goes_on_in_memory_after_a_failed_write() {
    let dir = Dir::new("failing-flush");
    let e = open(&dir, Durability::FlushEvery(Duration::from_millis(1)));
    redirect(&e, Box::new(Failing));
    e.send(InviteRequest::new(m(1), m(2)))
        .expect("not durable mode");
    assert!(e.sync_journal().is_err());
    assert!(e.journal_error().is_some());
    e.send(InviteRequest::new(m(1), m(3))).expect("in memory");
}

#[test]
fn a_stalled_disk_makes_callers_wait_at_the_bound() {
    let dir = Dir::new("stalled");
    let e = open(&dir, Durability::FlushEvery(Duration::from_millis(1)));
    let (gate, stalled) = crossbeam_channel::bounded(0);
    redirect(&e, Box::new(Stalled(stalled)));
    let total = QUEUE_RECORDS * 3;
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..total as u64 {
                let _ = e.send(InviteRequest::new(m(i), m(i + 1)));
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Wait until the queue is full, then until the callers stop making progress.
        let start = Instant::now();
        while done.load(Ordering::Relaxed) < QUEUE_RECORDS {
            assert!(start.elapsed() < Duration::from_secs(60), "too slow");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut seen = usize::MAX;
        while done.load(Ordering::Relaxed) != seen {
            seen = done.load(Ordering::Relaxed);
            assert!(start.elapsed() < Duration::from_secs(60), "never stalled");
            std::thread::sleep(Duration::from_millis(300));
        }
        // The queue plus one batch (records are at least 21 bytes framed) plus the
        // record a caller is queuing.
        let bound = QUEUE_RECORDS + BATCH_BYTES / 21 + 1;
        assert!(seen < total, "callers never waited");
        assert!(seen <= bound, "{seen} records queued, bound {bound}");
        drop(gate);
    });
    assert_eq!(done.load(Ordering::Relaxed), total);
    assert!(e.journal_error().is_none());
}
