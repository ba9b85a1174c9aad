//! Snapshots from hostile sources: instants after `Timestamp::MAX` are refused even
//! under valid checksums, and input that is not a snapshot is refused before it is
//! read whole.

use invite_limiter::*;
use std::io::Read;

const T0: u64 = 1_700_000_000_000;

fn snapshot() -> Vec<u8> {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = Engine::builder()
        .clock(clock)
        .shards(1)
        .build()
        .expect("valid");
    e.send(InviteRequest::new(MemberId(1), MemberId(2)))
        .expect("sent");
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).expect("written");
    bytes
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Sets the `u64` at `at` and makes every checksum over it valid again (the header's,
/// the one-shard section's, the trailer's).
fn patched(bytes: &[u8], at: usize, value: u64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + 8].copy_from_slice(&value.to_le_bytes());
    let header = crc32fast::hash(&b[..24]);
    b[24..28].copy_from_slice(&header.to_le_bytes());
    let len = le64(&b, 28) as usize;
    let section = crc32fast::hash(&b[36..36 + len]);
    b[36 + len..40 + len].copy_from_slice(&section.to_le_bytes());
    let end = b.len() - 4;
    let all = crc32fast::hash(&b[..end]);
    b[end..].copy_from_slice(&all.to_le_bytes());
    b
}

fn restore(bytes: &[u8]) -> Result<Engine, PersistError> {
    Engine::builder().restore(&mut &bytes[..])
}

#[test]
fn instants_after_the_latest_accepted_are_refused() {
    let bytes = snapshot();
    let max = Timestamp::MAX.as_millis();
    // The header's latest instant (byte 16) and the section's (byte 36).
    for at in [16, 36] {
        assert_eq!(le64(&bytes, at), T0);
        assert!(restore(&patched(&bytes, at, max)).is_ok(), "at {at}");
        for bad in [max + 1, u64::MAX] {
            match restore(&patched(&bytes, at, bad)) {
                Err(PersistError::Corrupt { offset, what }) => {
                    // At the field, or just after it.
                    assert!((at as u64..=at as u64 + 8).contains(&offset), "{offset}");
                    assert!(what.contains("Timestamp::MAX"), "{what}");
                }
                other => panic!("{bad} at {at}: expected Corrupt, got {other:?}"),
            }
        }
    }
}

#[test]
fn endless_input_is_refused_after_its_header() {
    let err = Engine::builder()
        .restore(&mut std::io::repeat(0))
        .expect_err("zeros are not a snapshot");
    assert!(
        matches!(err, PersistError::Corrupt { offset: 0, .. }),
        "{err}"
    );
    let bytes = snapshot();
    let mut endless = (&bytes[..20]).chain(std::io::repeat(0xff));
    let err = Engine::builder()
        .restore(&mut endless)
        .expect_err("a damaged header");
    assert!(matches!(err, PersistError::Corrupt { .. }), "{err}");
    let err = PersistError::TooLarge {
        limit: MAX_SNAPSHOT_BYTES,
    };
    assert!(err.to_string().contains("17179869184 bytes"), "{err}");
}
