//! The journal: a persistence directory restores every change, through snapshots and
//! rotations, drops only a torn tail, refuses damage with the file and the
//! offset, and in durable mode acknowledges only what is on disk.

#[path = "journal/common.rs"]
mod common;

use common::*;
use invite_limiter::*;
use std::fs;
use std::time::Duration;

const FAST: Durability = Durability::FlushEvery(Duration::from_millis(2));

/// Runs `rounds` of the workload on a persistent engine and an in-memory twin.
fn twins(dir: &TempDir, rounds: u64, checkpoint_after: Option<u64>) -> (ManualClock, Engine) {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let twin_clock = ManualClock::new(Timestamp::from_millis(T0));
    let twin = memory(&twin_clock);
    let e = open(dir.path(), &clock, FAST).expect("open");
    for round in 0..rounds {
        workload(&e, &clock, round);
        workload(&twin, &twin_clock, round);
        if checkpoint_after == Some(round) {
            e.checkpoint().expect("checkpoint");
        }
    }
    drop(e);
    (clock, twin)
}

#[test]
fn journal_alone_restores_everything() {
    let dir = TempDir::new("alone");
    let (clock, twin) = twins(&dir, 3, None);
    let e = open(dir.path(), &clock, FAST).expect("reopen");
    let report = e.recovery_report().expect("persistent").clone();
    assert!(report.snapshot.is_none());
    assert!(report.replayed > 50, "{report}");
    assert_eq!(report.skipped, 0);
    assert!(report.torn.is_none());
    assert_eq!(fingerprint(&e, 3), fingerprint(&twin, 3));
    // The next invitations get the same ids as they would have without a restart.
    for s in [1, 2, 101, 250] {
        let req = InviteRequest::new(m(s), m(999));
        assert_eq!(e.send(req.clone()), twin.send(req));
    }
}

#[test]
fn snapshot_plus_journal_restores_everything() {
    let dir = TempDir::new("snap");
    let (clock, twin) = twins(&dir, 3, Some(0));
    let e = open(dir.path(), &clock, FAST).expect("reopen");
    let report = e.recovery_report().expect("persistent");
    assert!(report.snapshot.is_some(), "{report}");
    assert_eq!(report.journals.len(), 1);
    assert_eq!(fingerprint(&e, 3), fingerprint(&twin, 3));
    // Under another shard count too (ids kept, new ones unique).
    drop(e);
    let other = Engine::builder()
        .clock(clock.clone())
        .shards(2)
        .persistence(dir.path(), FAST)
        .open()
        .expect("reopen with 2 shards");
    assert_eq!(fingerprint(&other, 3), fingerprint(&twin, 3));
}

#[test]
fn checkpoints_rotate_the_journal() {
    let dir = TempDir::new("rotate");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    assert_eq!(dir.files(), ["journal-0000000000000000.log"]);
    workload(&e, &clock, 0);
    e.checkpoint().expect("checkpoint");
    assert_eq!(
        dir.files(),
        [
            "journal-0000000000000001.log",
            "snapshot-0000000000000001.bin"
        ]
    );
    // The new journal holds only its header until something changes.
    assert_eq!(fs::metadata(dir.journal()).expect("journal").len(), 24);
    workload(&e, &clock, 1);
    e.checkpoint().expect("checkpoint");
    workload(&e, &clock, 2);
    assert_eq!(
        dir.files(),
        [
            "journal-0000000000000002.log",
            "snapshot-0000000000000002.bin"
        ]
    );
    let before = fingerprint(&e, 3);
    drop(e);
    let e = open(dir.path(), &clock, FAST).expect("reopen");
    assert_eq!(fingerprint(&e, 3), before);
    assert!(open(dir.path().join("nested").as_path(), &clock, FAST).is_ok());
}

#[test]
fn a_torn_tail_is_dropped_and_reported() {
    let dir = TempDir::new("torn");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    workload(&e, &clock, 0);
    let before = fingerprint(&e, 1);
    let last = e.send(InviteRequest::new(m(50), m(51))).expect("sent");
    drop(e);
    let journal = dir.journal();
    let len = fs::metadata(&journal).expect("journal").len();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .expect("open");
    f.set_len(len - 3).expect("truncate");
    drop(f);

    let e = open(dir.path(), &clock, FAST).expect("a torn tail is not an error");
    let report = e.recovery_report().expect("persistent").clone();
    let torn = report.torn.clone().expect("the torn record is reported");
    assert_eq!(torn.file, journal);
    assert_eq!(torn.dropped_bytes, (len - 3) - torn.offset);
    assert!(report.to_string().contains("torn"), "{report}");
    assert_eq!(fingerprint(&e, 1), before);
    assert_eq!(e.pending_between(m(50), m(51)), 0);
    assert!(e.accept(last.id()).is_err());
    // The tail was cut off, so appending goes on cleanly.
    let again = e.send(InviteRequest::new(m(50), m(51))).expect("sent");
    drop(e);
    let e = open(dir.path(), &clock, FAST).expect("reopen");
    assert!(e.recovery_report().expect("persistent").torn.is_none());
    e.accept(again.id()).expect("restored");
}

#[test]
fn damage_in_synced_data_is_an_error_naming_file_and_offset() {
    let dir = TempDir::new("damaged");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    e.send(InviteRequest::new(m(1), m(2))).expect("sent");
    // Two batches: the first was synced before the second was written.
    e.sync_journal().expect("sync");
    workload(&e, &clock, 0);
    drop(e);
    let journal = dir.journal();
    let mut bytes = fs::read(&journal).expect("read");
    // Inside the first batch's only record: batch frame, record frame, 3 bytes in.
    bytes[24 + 12 + 12 + 3] ^= 0x40;
    fs::write(&journal, &bytes).expect("write");
    match open(dir.path(), &clock, FAST) {
        Err(err @ PersistError::Journal { .. }) => {
            let PersistError::Journal { file, offset, .. } = &err else {
                unreachable!()
            };
            assert_eq!(file, &journal);
            assert_eq!(*offset, 24);
            let text = err.to_string();
            assert!(
                text.contains("byte 24") && text.contains("journal-"),
                "{text}"
            );
        }
        other => panic!("expected a journal error, got {other:?}"),
    }
    // A damaged length is damage too, not a torn tail.
    bytes[24 + 12 + 12 + 3] ^= 0x40;
    bytes[24] ^= 0x01;
    fs::write(&journal, &bytes).expect("write");
    assert!(matches!(
        open(dir.path(), &clock, FAST),
        Err(PersistError::Journal { offset: 24, .. })
    ));
}

#[test]
fn a_journal_of_another_version_is_refused() {
    let dir = TempDir::new("version");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    drop(open(dir.path(), &clock, FAST).expect("open"));
    let journal = dir.journal();
    let mut bytes = fs::read(&journal).expect("read");
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..20]);
    bytes[20..24].copy_from_slice(&crc.to_le_bytes());
    fs::write(&journal, &bytes).expect("write");
    let err = open(dir.path(), &clock, FAST).expect_err("version 3");
    assert!(
        matches!(
            err,
            PersistError::JournalVersion {
                found: 3,
                expected: 2,
                ..
            }
        ),
        "{err:?}"
    );
    // Not a journal at all, and too short to be one.
    fs::write(&journal, b"hello").expect("write");
    assert!(matches!(
        open(dir.path(), &clock, FAST),
        Err(PersistError::Journal { .. })
    ));
}

#[test]
fn durable_mode_returns_only_after_the_record_is_written() {
    let dir = TempDir::new("durable");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, Durability::SyncEachDecision).expect("open");
    let journal = dir.journal();
    let mut len = fs::metadata(&journal).expect("journal").len();
    for i in 0..20 {
        e.send(InviteRequest::new(m(i), m(i + 1))).expect("sent");
        let now = fs::metadata(&journal).expect("journal").len();
        assert!(now > len, "send {i} returned before its record was written");
        len = now;
        e.set_tier(m(i), Tier::Premium);
        let now = fs::metadata(&journal).expect("journal").len();
        assert!(now > len, "set_tier returned before its record was written");
        len = now;
    }
}

#[test]
fn concurrent_durable_senders_all_restore() {
    let dir = TempDir::new("concurrent");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let quiet = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    let e = Engine::builder()
        .policy(quiet.clone())
        .clock(clock.clone())
        .persistence(dir.path(), Durability::SyncEachDecision)
        .open()
        .expect("open");
    let ids: Vec<Vec<InviteId>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u64)
            .map(|t| {
                let e = &e;
                s.spawn(move || {
                    (0..25u64)
                        .filter_map(|i| {
                            let req = InviteRequest::new(m(t), m(1000 + t * 100 + i));
                            e.send(req).ok().map(|s| s.id())
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let before = fingerprint(&e, 1);
    drop(e);
    let e = Engine::builder()
        .policy(quiet)
        .clock(clock.clone())
        .persistence(dir.path(), FAST)
        .open()
        .expect("reopen");
    assert_eq!(fingerprint(&e, 1), before);
    for id in ids.iter().flatten() {
        e.accept(*id)
            .expect("every acknowledged invitation is restored");
    }
    assert_eq!(ids.iter().flatten().count(), 8 * 25);
}

#[test]
fn no_directory_no_checkpoint() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = memory(&clock);
    assert!(e.recovery_report().is_none());
    assert!(matches!(e.checkpoint(), Err(PersistError::Journaling(_))));
    assert!(matches!(e.sync_journal(), Err(PersistError::Journaling(_))));
}

#[test]
fn a_crash_inside_a_checkpoint_loses_nothing() {
    let dir = TempDir::new("midcheckpoint");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let twin_clock = ManualClock::new(Timestamp::from_millis(T0));
    let twin = memory(&twin_clock);
    let e = open(dir.path(), &clock, FAST).expect("open");
    workload(&e, &clock, 0);
    workload(&twin, &twin_clock, 0);
    e.sync_journal().expect("sync");
    let old = dir.journal();
    let old_bytes = fs::read(&old).expect("journal 0");
    e.checkpoint().expect("checkpoint");
    workload(&e, &clock, 1);
    workload(&twin, &twin_clock, 1);
    drop(e);
    // As if the crash came after the new journal began but before the snapshot was
    // renamed into place: the old journal is still there, the new snapshot is not.
    fs::write(&old, &old_bytes).expect("restore journal 0");
    let snapshot = dir.path().join("snapshot-0000000000000001.bin");
    fs::rename(&snapshot, dir.path().join("snapshot-0000000000000001.tmp")).expect("hide");
    let e = open(dir.path(), &clock, FAST).expect("reopen");
    let report = e.recovery_report().expect("persistent");
    assert!(report.snapshot.is_none());
    assert_eq!(report.journals.len(), 2, "{report}");
    assert_eq!(fingerprint(&e, 2), fingerprint(&twin, 2));
    assert!(!dir.files().iter().any(|f| f.ends_with(".tmp")));
}

#[test]
fn flush_every_writes_without_being_asked() {
    let dir = TempDir::new("flush");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    let journal = dir.journal();
    e.send(InviteRequest::new(m(1), m(2))).expect("sent");
    let start = std::time::Instant::now();
    while fs::metadata(&journal).expect("journal").len() == 24 {
        assert!(start.elapsed() < Duration::from_secs(10), "never flushed");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(e.journal_error().is_none());
}

#[test]
fn replay_under_another_policy_keeps_sends_and_skips_what_no_longer_applies() {
    let dir = TempDir::new("policy");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    let sent = e.send(InviteRequest::new(m(1), m(2))).expect("sent");
    clock.advance(Duration::from_secs(2 * 86_400));
    e.accept(sent.id()).expect("accepted");
    drop(e);
    let short = Policy {
        pending_ttl: Duration::from_secs(86_400),
        ..Policy::default()
    };
    let e = Engine::builder()
        .policy(short)
        .clock(clock.clone())
        .persistence(dir.path(), FAST)
        .open()
        .expect("reopen");
    let report = e.recovery_report().expect("persistent");
    assert_eq!((report.replayed, report.skipped), (2, 1), "{report}");
    assert_eq!(e.capacity(m(1)).weekly.used, 1);
    assert!(!e.are_connected(m(1), m(2)));
}
