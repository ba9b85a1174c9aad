//! The persistence directory under misuse and bad bytes: one engine per directory,
//! any flush interval, journal values checked like a snapshot's, and a crash's
//! unsynced tail recovered up to its first damaged record.

#[path = "journal/common.rs"]
mod common;

use common::*;
use invite_limiter::*;
use std::fs;
use std::time::Duration;

const FAST: Durability = Durability::FlushEvery(Duration::from_millis(2));

#[test]
fn a_second_engine_on_one_directory_is_refused_until_the_first_is_dropped() {
    let dir = TempDir::new("locked");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let first = open(dir.path(), &clock, FAST).expect("open");
    let sent = first.send(InviteRequest::new(m(1), m(2))).expect("sent");
    for durability in [FAST, Durability::SyncEachDecision] {
        match open(dir.path(), &clock, durability) {
            Err(err @ PersistError::Locked { .. }) => {
                let PersistError::Locked { dir: held } = &err else {
                    unreachable!()
                };
                assert_eq!(held, dir.path());
                assert!(err.to_string().contains("another open engine"), "{err}");
            }
            other => panic!("expected the directory to be locked, got {other:?}"),
        }
    }
    // The refused open touched nothing: the first engine goes on and loses nothing.
    first.checkpoint().expect("checkpoint");
    let second = first.send(InviteRequest::new(m(1), m(3))).expect("sent");
    drop(first);
    let e = open(dir.path(), &clock, FAST).expect("open after drop");
    e.accept(sent.id()).expect("restored");
    e.accept(second.id()).expect("restored");
}

#[test]
fn any_flush_interval_opens_and_writes() {
    for every in [Duration::ZERO, Duration::MAX, Duration::from_secs(u64::MAX)] {
        let dir = TempDir::new("interval");
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = open(dir.path(), &clock, Durability::FlushEvery(every)).expect("open");
        let sent = e.send(InviteRequest::new(m(1), m(2))).expect("sent");
        std::thread::sleep(Duration::from_millis(20));
        assert!(e.journal_error().is_none(), "{every:?}");
        e.sync_journal().expect("the writer is alive");
        drop(e);
        let e = open(dir.path(), &clock, FAST).expect("reopen");
        e.accept(sent.id()).expect("restored");
    }
}

/// Appends one batch holding `payloads` to the journal (the writer's layout).
fn append_batch(journal: &std::path::Path, payloads: &[Vec<u8>]) {
    let mut records = Vec::new();
    for p in payloads {
        let len = (p.len() as u32).to_le_bytes();
        records.extend_from_slice(&len);
        records.extend_from_slice(&crc32fast::hash(&len).to_le_bytes());
        records.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
        records.extend_from_slice(p);
    }
    let mut bytes = fs::read(journal).expect("read");
    let len = (records.len() as u32).to_le_bytes();
    let mut h = crc32fast::Hasher::new();
    h.update(b"batch");
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(&len);
    bytes.extend_from_slice(&len);
    bytes.extend_from_slice(&h.finalize().to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&records).to_le_bytes());
    bytes.extend_from_slice(&records);
    fs::write(journal, bytes).expect("write");
}

/// A send record from 1 to `to` at `now` that committed invitation `seq`.
fn send_record(now: u64, to: u64, seq: u64) -> Vec<u8> {
    let mut p = vec![1];
    p.extend_from_slice(&now.to_le_bytes());
    p.extend_from_slice(&1u64.to_le_bytes());
    p.extend_from_slice(&to.to_le_bytes());
    p.extend_from_slice(&[0, 0, 1, 0, 0, 1, 0, 1]);
    p.extend_from_slice(&seq.to_le_bytes());
    p
}

#[test]
fn journal_values_are_checked_like_a_snapshots() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    // A well-formed record opens, so the refusals below are for the values alone.
    let dir = TempDir::new("values");
    drop(open(dir.path(), &clock, FAST).expect("open"));
    append_batch(&dir.journal(), &[send_record(T0, 2, 7)]);
    let e = open(dir.path(), &clock, FAST).expect("a valid record");
    assert_eq!(e.pending_between(m(1), m(2)), 1);
    drop(e);
    let max = Timestamp::MAX.as_millis();
    for (what, record) in [
        ("sequence numbers exhausted", send_record(T0, 2, u64::MAX)),
        ("instant after Timestamp::MAX", send_record(max + 1, 2, 1)),
        ("instant after Timestamp::MAX", send_record(u64::MAX, 2, 1)),
    ] {
        let dir = TempDir::new("values");
        drop(open(dir.path(), &clock, FAST).expect("open"));
        append_batch(&dir.journal(), &[record]);
        match open(dir.path(), &clock, FAST) {
            Err(err @ PersistError::Journal { .. }) => {
                assert!(err.to_string().contains(what), "{err}");
            }
            other => panic!("{what}: expected a journal error, got {other:?}"),
        }
    }
}

#[test]
fn a_crash_mid_batch_keeps_the_records_before_the_damage() {
    let dir = TempDir::new("midbatch");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    let synced = e.send(InviteRequest::new(m(1), m(2))).expect("sent");
    e.sync_journal().expect("sync");
    drop(e);
    let journal = dir.journal();
    let synced_len = fs::metadata(&journal).expect("journal").len() as usize;
    // One unsynced batch of three sends: the page of its second record never reached
    // the disk, the page of its third did.
    // Sequences as the sender would issue them after the synced send (its own
    // numbering starts from the sending instant times 1,000).
    let records = [
        send_record(T0, 5, T0 * 1_000 + 10),
        send_record(T0, 6, T0 * 1_000 + 11),
        send_record(T0, 7, T0 * 1_000 + 12),
    ];
    append_batch(&journal, &records);
    let mut bytes = fs::read(&journal).expect("read");
    let second = synced_len + 12 + (12 + records[0].len());
    bytes[second + 12..second + 20].fill(0);
    fs::write(&journal, &bytes).expect("write");

    let e = open(dir.path(), &clock, FAST).expect("an unsynced tail is not an error");
    let report = e.recovery_report().expect("persistent").clone();
    let torn = report.torn.clone().expect("reported");
    assert_eq!(torn.offset as usize, second);
    assert_eq!(torn.dropped_bytes as usize, bytes.len() - second);
    assert_eq!((report.replayed, report.skipped), (2, 0), "{report}");
    assert_eq!(e.pending_between(m(1), m(5)), 1);
    assert_eq!(
        e.pending_between(m(1), m(6)) + e.pending_between(m(1), m(7)),
        0
    );
    e.accept(synced.id()).expect("the synced send");
    // The kept record was written again whole, so appending goes on cleanly.
    let later = e.send(InviteRequest::new(m(3), m(4))).expect("sent");
    drop(e);
    let e = open(dir.path(), &clock, FAST).expect("reopen");
    let report = e.recovery_report().expect("persistent");
    assert!(report.torn.is_none(), "{report}");
    assert_eq!(e.pending_between(m(1), m(5)), 1);
    assert_eq!(e.pending_between(m(1), m(2)), 0);
    e.accept(later.id()).expect("restored");
}
