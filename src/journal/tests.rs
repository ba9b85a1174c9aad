//! Unit tests: every record round-trips, and no bytes make the scan or the decoder
//! panic.

use proptest::prelude::*;

use super::file::{frame, scan, HEADER_LEN};
use super::record::{decode, encode_send, Op};
use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::decide::{Subject, View};
use crate::ids::{InviteId, MemberId};
use crate::ledger::Ending;
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

fn journal(gen: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    // The header as `create_journal` writes it, without touching the disk.
    bytes.extend_from_slice(b"\x89INVJNL\n");
    bytes.extend_from_slice(&super::file::JOURNAL_VERSION.to_le_bytes());
    bytes.extend_from_slice(&gen.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(bytes.len(), HEADER_LEN);
    for op in ops() {
        frame(&mut bytes, &op.encode(1));
    }
    bytes
}

#[test]
fn a_whole_journal_scans_and_decodes() {
    let bytes = journal(3);
    let path = std::path::Path::new("j");
    let s = scan(path, &bytes, 3, true).expect("valid");
    assert_eq!(s.records.len(), ops().len());
    assert_eq!(s.valid_len, bytes.len());
    assert!(s.torn_at.is_none());
    assert!(
        scan(path, &bytes, 4, true).is_err(),
        "generation must match"
    );
}

proptest! {
    #[test]
    fn no_bytes_make_decode_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes, 0);
    }

    #[test]
    fn damage_anywhere_is_an_error_or_a_torn_tail(at in 0usize..2000, xor in 1u8..=255, cut in 0usize..2000) {
        let mut bytes = journal(0);
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
