//! Internal checks: a restore rebuilds every record exactly, and a decoder fed
//! content with valid checksums but nonsense inside still never panics.

use std::time::Duration;

use proptest::prelude::*;

use crate::memory::snapshot::{read_bounded, write_oldest};
use std::io::Read;

use crate::persist::{PersistError, FORMAT_VERSION, HEADER_LEN};
use crate::Engine;
use crate::{AccountStatus, InviteRequest, InviteSetting, ManualClock, MemberId, Tier, Timestamp};

const T0: u64 = 1_700_000_000_000;

fn engine(clock: &ManualClock) -> Engine {
    Engine::builder()
        .clock(clock.clone())
        .shards(8)
        .build()
        .expect("valid")
}

/// A state touching every field of a member record.
fn busy(clock: &ManualClock) -> Engine {
    let e = engine(clock);
    let (a, b, c) = (MemberId(1), MemberId(2), MemberId(3));
    let step = Duration::from_secs(200);
    e.set_tier(a, Tier::Premium);
    let mut first = None;
    for r in 10..20 {
        let req = InviteRequest::new(a, MemberId(r))
            .note(format!("note {r}"))
            .idempotency_key(r);
        let sent = e.send(req).expect("allowed");
        first.get_or_insert(sent.id());
        clock.advance(step);
    }
    let x = e.send(InviteRequest::new(b, c)).expect("allowed");
    let y = e.send(InviteRequest::new(b, a)).expect("allowed");
    e.withdraw(x.id()).expect("pending");
    e.decline(y.id()).expect("pending");
    let z = e.send(InviteRequest::new(c, a)).expect("allowed");
    e.accept(z.id()).expect("pending");
    let _ = e.send(InviteRequest::new(MemberId(4), a).note("free money"));
    e.set_status(MemberId(5), AccountStatus::Restricted { until: None });
    e.set_invite_setting(b, InviteSetting::NetworkOnly);
    e.register_email(a, "one@example.com").expect("valid");
    e.import_contacts(b, ["one@example.com"]).expect("valid");
    e.follow(c, b);
    let seat = crate::TierLimits {
        daily: 200,
        weekly: 900,
        notes_per_30d: None,
        max_note_chars: 500,
    };
    e.set_limits_override(c, Some(seat)).expect("valid limits");
    clock.advance(Duration::from_secs(8 * 86_400));
    e.remind(first.expect("sent")).expect("a week has passed");
    e
}

#[test]
fn restore_rebuilds_every_record_and_queue_exactly() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = busy(&clock);
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).expect("in memory");
    let back = Engine::builder()
        .clock(clock.clone())
        .shards(8)
        .restore(&mut &bytes[..])
        .expect("valid");
    for (old, new) in e.shards.iter().zip(back.shards.iter()) {
        let (old, new) = (old.0.read(), new.0.read());
        assert_eq!(old.members, new.members);
        assert_eq!(old.cooldowns, new.cooldowns);
        assert!(new
            .expiries
            .iter()
            .zip(new.expiries.iter().skip(1))
            .all(|(x, y)| x <= y));
        assert_eq!(new.idle.len(), new.members.len());
    }
    assert_eq!(e.emails.len(), back.emails.len());
    for (email, owner) in e.emails.entries() {
        assert_eq!(back.emails.owner(&email), Some(owner));
    }
}

/// A snapshot whose shard acted past `Timestamp::MAX` (one no engine writes, but a
/// damaged or forged file can hold) is refused: restored, that shard would act at
/// `u64::MAX`, where every send leaves its windows at once and none is ever denied.
#[test]
fn an_instant_past_the_end_of_time_is_refused() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(&clock);
    e.send(InviteRequest::new(MemberId(1), MemberId(2)))
        .expect("allowed");
    e.shards[0].0.write().now = u64::MAX;
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).expect("in memory");
    let restored = Engine::builder()
        .clock(clock.clone())
        .restore(&mut &bytes[..]);
    match restored {
        Err(PersistError::Corrupt { what, .. }) => {
            assert_eq!(what, "instant after Timestamp::MAX");
        }
        other => panic!("restored: {:?}", other.map(|_| ())),
    }
    // In the header too.
    e.shards[0].0.write().now = T0;
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).expect("in memory");
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..HEADER_LEN]);
    bytes[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&crc.to_le_bytes());
    let sections = payloads(&bytes);
    reseal(&mut bytes, &sections);
    assert!(matches!(
        Engine::builder().clock(clock).restore(&mut &bytes[..]),
        Err(PersistError::Corrupt {
            what: "instant after Timestamp::MAX",
            ..
        })
    ));
}

/// Where each section's payload lies, from a snapshot's framing.
fn payloads(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let shards = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
    let mut at = HEADER_LEN + 4;
    let mut out = Vec::new();
    for _ in 0..shards {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")) as usize;
        out.push(at + 8..at + 8 + len);
        at += 8 + len + 4;
    }
    out
}

/// Recomputes every checksum, so edits reach the decoder's inner checks.
fn reseal(bytes: &mut [u8], sections: &[std::ops::Range<usize>]) {
    for r in sections {
        let crc = crc32fast::hash(&bytes[r.clone()]);
        bytes[r.end..r.end + 4].copy_from_slice(&crc.to_le_bytes());
    }
    let end = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

fn busy_snapshot() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let mut bytes = Vec::new();
        busy(&clock).snapshot(&mut bytes).expect("in memory");
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Content edits behind valid checksums: decoding never panics, and an engine
    /// it accepts keeps working without panicking.
    #[test]
    fn resealed_edits_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let original = busy_snapshot();
        let sections = payloads(original);
        let inside: Vec<usize> = sections.iter().flat_map(|r| r.clone()).collect();
        let mut bytes = original.to_vec();
        for (at, value) in edits {
            bytes[*at.get(&inside)] = value;
        }
        reseal(&mut bytes, &sections);
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        if let Ok(e) = Engine::builder().clock(clock.clone()).restore(&mut &bytes[..]) {
            for id in [1, 2, 3, 4, 5] {
                let _ = e.send(InviteRequest::new(MemberId(id), MemberId(99)));
                let _ = e.capacity(MemberId(id));
                let _ = e.pending_sent(MemberId(id), None, 100);
            }
            clock.advance(Duration::from_secs(400 * 86_400));
            e.sweep();
        }
    }
}

#[test]
fn messages_are_one_sentence_with_the_offset() {
    let e = PersistError::Corrupt {
        offset: 42,
        what: "unexpected end of data",
    };
    let text = e.to_string();
    assert!(text.contains("byte 42") && text.contains("unexpected end of data"));
    assert_eq!(text.matches(". ").count(), 0);
    let v = PersistError::WrongVersion {
        found: 9,
        expected: FORMAT_VERSION,
    };
    assert!(v.to_string().contains("version 9"));
}

#[test]
fn restore_reads_no_more_than_its_bound() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let mut bytes = Vec::new();
    busy(&clock).snapshot(&mut bytes).expect("written");
    let len = bytes.len() as u64;
    assert!(read_bounded(&mut bytes.as_slice(), len).is_ok());
    assert!(matches!(
        read_bounded(&mut bytes.as_slice(), len - 1),
        Err(PersistError::TooLarge { limit }) if limit == len - 1
    ));
    // A valid header followed by an endless stream stops at the bound.
    let mut endless = (&bytes[..HEADER_LEN + 4]).chain(std::io::repeat(7));
    assert!(matches!(
        read_bounded(&mut endless, 1 << 16),
        Err(PersistError::TooLarge { .. })
    ));
    // Anything else endless is refused after its header.
    assert!(matches!(
        read_bounded(&mut std::io::repeat(0), u64::MAX),
        Err(PersistError::Corrupt { offset: 0, .. })
    ));
    let mut wrong = bytes[..HEADER_LEN + 4].to_vec();
    wrong[HEADER_LEN] ^= 1;
    let mut endless = wrong.as_slice().chain(std::io::repeat(7));
    assert!(matches!(
        read_bounded(&mut endless, u64::MAX),
        Err(PersistError::Corrupt { .. })
    ));
}

#[test]
fn member_limits_survive_a_snapshot() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = busy(&clock);
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).expect("in memory");
    let back = Engine::builder()
        .clock(clock)
        .restore(&mut &bytes[..])
        .expect("valid");
    let own = back.limits_override(MemberId(3)).expect("kept");
    assert_eq!(own.daily, 200);
    assert_eq!(back.capacity(MemberId(3)).daily.limit, 200);
    assert_eq!(back.limits_override(MemberId(1)), None);
}

#[test]
fn a_version_1_snapshot_still_restores() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = busy(&clock);
    let old = write_oldest(&e);
    assert_eq!(old[8..12], 1u32.to_le_bytes());
    let back = Engine::builder()
        .clock(clock.clone())
        .shards(8)
        .restore(&mut &old[..])
        .expect("version 1 restores");
    // Version 1 had no member limits; everything else is as it was.
    assert_eq!(back.limits_override(MemberId(3)), None);
    e.set_limits_override(MemberId(3), None).expect("clearing");
    for (a, b) in e.shards.iter().zip(back.shards.iter()) {
        assert_eq!(a.0.read().members, b.0.read().members);
    }
    // Damage is still refused in the old format.
    let mut cut = old.clone();
    cut.truncate(old.len() - 3);
    assert!(Engine::builder().restore(&mut &cut[..]).is_err());
}
