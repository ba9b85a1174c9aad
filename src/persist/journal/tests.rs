//! Unit tests: every record round-trips, and no bytes make the scan or the decoder
//! panic.

use proptest::prelude::*;

use super::file::{batch_of, frame, header_of, scan, BATCH_FRAME_LEN, FRAME_LEN, HEADER_LEN};
use super::file::{JOURNAL_V1, JOURNAL_VERSION};
use super::record::{decode, encode_send, Op};
use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::ids::{InviteId, MemberId};
use crate::rules::precedence::{Subject, View};
use crate::sender::ledger::Ending;
use crate::time::Timestamp;

fn ops() -> Vec<Op> {
    let id = InviteId::new(MemberId(7), 42);
    vec![
        Op::End(Ending::Accepted, id),
        Op::End(Ending::Reported, id),
        Op::Remind(id),
        Op::SetTier(MemberId(1), Tier::Premium),
        Op::SetStatus(MemberId(1), AccountStatus::Banned),
        Op::SetStatus(
            MemberId(1),
            AccountStatus::Restricted {
                until: Some(Timestamp::from_millis(5)),
            },
        ),
        Op::SetStatus(MemberId(1), AccountStatus::Restricted { until: None }),
        Op::SetInviteSetting(MemberId(2), InviteSetting::FollowingOnly),
        Op::Link(MemberId(1), MemberId(2), false),
        Op::Follow(MemberId(3), MemberId(4), true),
        Op::RegisterEmail(MemberId(5), "a@b.io".into()),
        Op::ImportContacts(MemberId(6), vec!["x@y.org".into(), "é@z.fr".into()]),
        Op::UnregisterEmail(MemberId(5), "a@b.io".into()),
        // Two more, so that `journal` writes whole batches of three.
        Op::Link(MemberId(1), MemberId(2), true),
        Op::Follow(MemberId(3), MemberId(4), false),
    ]
}

#[test]
fn every_record_round_trips() {
    for op in ops() {
        let bytes = op.encode(99);
        let (now, back) = decode(&bytes, 0).expect("decodes");
        assert_eq!(now, 99);
        assert_eq!(format!("{back:?}"), format!("{op:?}"));
    }
    let s = Subject {
        sender: 1,
        recipient: 2,
        note: Some("hi there"),
        key: Some(3),
    };
    let view = View {
        banned: false,
        setting: InviteSetting::NetworkOnly,
        admits: true,
        stranger: false,
    };
    let bytes = encode_send(10, &s, view, true, Some(4));
    let (now, back) = decode(&bytes, 0).expect("decodes");
    let Op::Send(r) = back else {
        panic!("a send");
    };
    assert_eq!(
        (now, r.sender, r.recipient, r.key, r.sent),
        (10, 1, 2, Some(3), Some(4))
    );
    assert_eq!(r.note.as_deref(), Some("hi there"));
    assert!(r.count_attempt && r.view.admits && !r.view.stranger);
    // Re-encoding the decoded send gives the same bytes.
    assert_eq!(Op::Send(r).encode(10), bytes);
}

/// A record dated past `Timestamp::MAX` is damage: replayed, it would move its
/// shard's clock to where the rules are no longer exact.
#[test]
fn a_record_past_the_end_of_time_is_refused() {
    let end = Timestamp::MAX.as_millis();
    for op in ops() {
        assert!(decode(&op.encode(end), 0).is_ok());
        for beyond in [end + 1, u64::MAX] {
            let err = decode(&op.encode(beyond), 0).expect_err("refused");
            assert_eq!(err.what, "instant after Timestamp::MAX");
        }
    }
}

/// Journal `gen` as the writer leaves it, without touching the disk: the header,
/// then the records in batches of three.
fn journal(gen: u64) -> Vec<u8> {
    let mut bytes = header_of(JOURNAL_VERSION, gen).to_vec();
    assert_eq!(bytes.len(), HEADER_LEN);
    for chunk in ops().chunks(3) {
        let mut records = Vec::new();
        for op in chunk {
            frame(&mut records, &op.encode(1));
        }
        let at = bytes.len() as u64;
        bytes.extend_from_slice(&batch_of(&records, at).expect("small"));
    }
    bytes
}

/// The same records in a version 1 journal, without batches.
fn journal_v1(gen: u64) -> Vec<u8> {
    let mut bytes = header_of(JOURNAL_V1, gen).to_vec();
    for op in ops() {
        frame(&mut bytes, &op.encode(1));
    }
    bytes
}

/// Where each batch of `journal` begins.
fn batch_starts(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        out.push(pos);
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes"));
        pos += BATCH_FRAME_LEN + len as usize;
    }
    out
}

#[test]
fn a_whole_journal_scans_and_decodes() {
    let path = std::path::Path::new("j");
    for bytes in [journal(3), journal_v1(3)] {
        let s = scan(path, &bytes, 3, true).expect("valid");
        assert_eq!(s.records.len(), ops().len());
        assert_eq!(s.valid_len, bytes.len());
        assert!(s.torn_at.is_none());
        assert!(
            scan(path, &bytes, 4, true).is_err(),
            "generation must match"
        );
    }
}

#[test]
fn damage_in_the_last_batch_keeps_the_records_before_it() {
    let path = std::path::Path::new("j");
    let bytes = journal(0);
    let starts = batch_starts(&bytes);
    let last = *starts.last().expect("batches");
    let whole_before = 3 * (starts.len() - 1);
    // The second record of the last batch is damaged, as when an earlier page of an
    // unsynced batch did not reach the disk but a later one did.
    let first_len = u32::from_le_bytes(bytes[last + 12..last + 16].try_into().expect("4"));
    let second = last + BATCH_FRAME_LEN + FRAME_LEN + first_len as usize;
    let mut torn = bytes.clone();
    torn[second + FRAME_LEN] ^= 0x10;
    let s = scan(path, &torn, 0, true).expect("an unsynced tail is not an error");
    assert_eq!(s.records.len(), whole_before + 1);
    assert_eq!(s.torn_at, Some(second));
    assert_eq!(s.reseal, Some(last));
    // Not in a journal that a newer one continues.
    assert!(scan(path, &torn, 0, false).is_err());
    // Its first record lost instead: nothing of the batch is kept.
    let mut torn = bytes.clone();
    torn[last + BATCH_FRAME_LEN + 2] ^= 0x10;
    let s = scan(path, &torn, 0, true).expect("an unsynced tail is not an error");
    assert_eq!(s.records.len(), whole_before);
    assert_eq!((s.torn_at, s.reseal), (Some(last), None));
    // Zeros where the batch frame should be, the rest arrived.
    let mut torn = bytes.clone();
    torn[last..last + BATCH_FRAME_LEN].fill(0);
    let s = scan(path, &torn, 0, true).expect("an unsynced tail is not an error");
    assert_eq!(s.records.len(), ops().len());
    assert_eq!(s.reseal, Some(last));
}

#[test]
fn damage_followed_by_a_whole_batch_is_an_error() {
    let path = std::path::Path::new("j");
    let bytes = journal(0);
    let starts = batch_starts(&bytes);
    for at in [
        starts[0] + 1,
        starts[0] + BATCH_FRAME_LEN + 5,
        starts[1] - 1,
    ] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        match scan(path, &damaged, 0, true) {
            Err(crate::persist::PersistError::Journal { offset, .. }) => {
                assert_eq!(offset, starts[0] as u64);
            }
            other => panic!("damage at {at}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn replayed_fields_are_checked() {
    let s = Subject {
        sender: 1,
        recipient: 2,
        note: None,
        key: None,
    };
    let view = View::plain(false);
    // A sequence number that leaves no room for the next invitation.
    let top = crate::ids::MAX_SEQ;
    assert!(decode(&encode_send(10, &s, view, true, Some(u64::MAX)), 0).is_err());
    assert!(decode(&encode_send(10, &s, view, true, Some(top)), 0).is_err());
    assert!(decode(&encode_send(10, &s, view, true, Some(top - 1)), 0).is_ok());
    // Instants after the latest the engine accepts.
    let max = Timestamp::MAX.as_millis();
    assert!(decode(&encode_send(max + 1, &s, view, true, None), 0).is_err());
    assert!(decode(&encode_send(max, &s, view, true, None), 0).is_ok());
    for op in ops() {
        assert!(decode(&op.encode(u64::MAX), 0).is_err(), "{op:?}");
    }
    // Unknown codes.
    let mut tier = Op::SetTier(MemberId(1), Tier::Free).encode(1).to_vec();
    *tier.last_mut().expect("code") = 9;
    assert!(decode(&tier, 0).is_err());
    assert!(decode(&[42, 0, 0, 0, 0, 0, 0, 0, 0], 0).is_err());
}

proptest! {
    #[test]
    fn no_bytes_make_decode_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes, 0);
    }

    #[test]
    fn damage_anywhere_is_an_error_or_a_torn_tail(at in 0usize..2000, xor in 1u8..=255, cut in 0usize..2000, v1: bool) {
        let mut bytes = if v1 { journal_v1(0) } else { journal(0) };
        let at = at % bytes.len();
        bytes[at] ^= xor;
        bytes.truncate(bytes.len() - cut % bytes.len());
        let path = std::path::Path::new("j");
        for last in [true, false] {
            if let Ok(s) = scan(path, &bytes, 0, last) {
                for (offset, range) in s.records {
                    let _ = decode(&bytes[range], offset);
                }
            }
        }
    }
}

#[test]
fn a_version_1_journal_is_replayed_and_continued_in_a_new_file() {
    let dir = std::env::temp_dir().join(format!(
        "invite-journal-v1-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut bytes = header_of(JOURNAL_V1, 0).to_vec();
    let t0 = 1_700_000_000_000;
    frame(
        &mut bytes,
        &Op::SetTier(MemberId(1), Tier::Premium).encode(t0),
    );
    frame(
        &mut bytes,
        &Op::Link(MemberId(1), MemberId(2), true).encode(t0),
    );
    std::fs::write(super::file::journal_path(&dir, 0), &bytes).expect("write");
    let open = || {
        crate::Engine::builder()
            .clock(crate::ManualClock::new(Timestamp::from_millis(t0)))
            .persistence(&dir, super::Durability::SyncEachDecision)
            .open()
    };
    let e = open().expect("a version 1 journal opens");
    assert_eq!(e.recovery_report().expect("persistent").replayed, 2);
    assert_eq!(e.tier(MemberId(1)), Tier::Premium);
    assert!(e.are_connected(MemberId(1), MemberId(2)));
    e.follow(MemberId(3), MemberId(1));
    drop(e);
    // The old file is left as it was; the new records went to journal 1.
    let old = std::fs::read(super::file::journal_path(&dir, 0)).expect("journal 0");
    assert_eq!(old, bytes);
    let e = open().expect("reopen");
    assert_eq!(e.recovery_report().expect("persistent").journals.len(), 2);
    assert!(e.follows(MemberId(3), MemberId(1)));
    assert!(e.are_connected(MemberId(1), MemberId(2)));
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_mimicking_a_batch_does_not_turn_a_torn_tail_into_an_error() {
    let path = std::path::Path::new("j");
    let bytes = journal(0);
    let start = bytes.len();
    // The payload of the last batch's record is a whole batch frame, as a note could
    // carry: its check binds it to one offset in the file.
    let mut inner = Vec::new();
    frame(
        &mut inner,
        &Op::Remind(InviteId::new(MemberId(1), 1)).encode(1),
    );
    let lands = start + BATCH_FRAME_LEN + FRAME_LEN;
    let tail = |mimic: Vec<u8>| {
        let mut records = Vec::new();
        frame(&mut records, &mimic);
        let mut torn = bytes.clone();
        torn.extend_from_slice(&batch_of(&records, start as u64).expect("small"));
        torn[start] ^= 0x01; // the batch frame never reached the disk
        torn
    };
    let guessed_wrong = tail(batch_of(&inner, lands as u64 + 1).expect("small"));
    let s = scan(path, &guessed_wrong, 0, true).expect("a torn tail");
    assert_eq!(
        s.torn_at,
        Some(start + BATCH_FRAME_LEN + FRAME_LEN + inner.len() + 12)
    );
    // Only a frame sealed for exactly where it lands reads as a batch.
    let guessed_right = tail(batch_of(&inner, lands as u64).expect("small"));
    assert!(scan(path, &guessed_right, 0, true).is_err());
}
