//! A crash during a checkpoint can leave an older journal with a torn tail next to
//! a newer, still empty one: that is recovered. A torn tail that a newer journal
//! continues cannot come from a crash: that is an error.

#[path = "journal/common.rs"]
mod common;

use common::*;
use invite_limiter::*;
use std::fs;
use std::time::Duration;

const FAST: Durability = Durability::FlushEvery(Duration::from_millis(2));

/// Journal 0 cut by 3 bytes, snapshot 1 hidden (as before its rename), journal 1
/// holding `records_after` more sends.
fn crashed_mid_checkpoint(dir: &TempDir, records_after: u64) -> ManualClock {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = open(dir.path(), &clock, FAST).expect("open");
    workload(&e, &clock, 0);
    e.sync_journal().expect("sync");
    let old = dir.journal();
    let old_bytes = fs::read(&old).expect("journal 0");
    e.checkpoint().expect("checkpoint");
    for i in 0..records_after {
        e.send(InviteRequest::new(m(60), m(61 + i))).expect("sent");
    }
    drop(e);
    fs::write(&old, &old_bytes[..old_bytes.len() - 3]).expect("torn journal 0");
    let snapshot = dir.path().join("snapshot-0000000000000001.bin");
    fs::remove_file(snapshot).expect("hide the snapshot");
    clock
}

#[test]
fn a_torn_journal_followed_by_an_empty_one_is_recovered() {
    let dir = TempDir::new("torn-rotation");
    let clock = crashed_mid_checkpoint(&dir, 0);
    let e = open(dir.path(), &clock, FAST).expect("recovered");
    let report = e.recovery_report().expect("persistent");
    let torn = report.torn.as_ref().expect("reported");
    assert!(
        torn.file.ends_with("journal-0000000000000000.log"),
        "{report}"
    );
    assert_eq!(report.journals.len(), 2);
    // Everything before the torn record is there.
    assert_eq!(e.tier(m(1)), Tier::Premium);
    assert!(!e.pending_sent(m(1), None, 100).items.is_empty());
}

#[test]
fn a_torn_journal_that_a_newer_one_continues_is_an_error() {
    let dir = TempDir::new("torn-continued");
    let clock = crashed_mid_checkpoint(&dir, 2);
    match open(dir.path(), &clock, FAST) {
        Err(PersistError::Journal { file, .. }) => {
            assert!(file.ends_with("journal-0000000000000000.log"));
        }
        other => panic!("expected a journal error, got {other:?}"),
    }
}
