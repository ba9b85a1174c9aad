//! A snapshot written by the previous format (version 2, when invitation sequence
//! numbers were counted per shard) restores: every invitation keeps its id, and the
//! ids issued after it, now numbered per sender, never repeat one of them.
//!
//! `tests/fixtures/snapshot-v2.bin` was written by that format's engine, with four
//! shards and a manual clock at T0: members 1, 2 (Premium) and 3 each sent to
//! recipients 10..=13, one minute apart, the send to 10 with idempotency key
//! `100 × sender`; then `inv-1-1` was accepted and `inv-1-2` withdrawn.

use std::collections::HashSet;
use std::time::Duration;

use invite_limiter::*;

const T0: u64 = 1_700_000_000_000;
const FIXTURE: &[u8] = include_bytes!("fixtures/snapshot-v2.bin");

fn id(text: &str) -> InviteId {
    text.parse().expect("an id as Display writes it")
}

fn old_ids() -> Vec<InviteId> {
    (1..=3u64)
        .flat_map(|s| (0..4u64).map(move |k| id(&format!("inv-{s:x}-{k:x}"))))
        .collect()
}

fn restore(bytes: &[u8], clock: &ManualClock, shards: usize) -> Engine {
    Engine::builder()
        .clock(clock.clone())
        .shards(shards)
        .restore(&mut &bytes[..])
        .expect("a snapshot of a supported version")
}

#[test]
fn the_stored_snapshot_is_of_the_previous_format() {
    assert_eq!(&FIXTURE[..8], b"\x89INVLIM\n");
    assert_eq!(u32::from_le_bytes(FIXTURE[8..12].try_into().unwrap()), 2);
}

#[test]
fn every_invitation_keeps_its_id_and_state() {
    for shards in [1, 4, 16] {
        let clock = ManualClock::new(Timestamp::from_millis(T0 + 12 * 60_000));
        let e = restore(FIXTURE, &clock, shards);
        let m = MemberId;
        assert_eq!(e.pending_between(m(1), m(10)), 1);
        assert_eq!(e.pending_between(m(1), m(11)), 0, "accepted");
        assert_eq!(e.pending_between(m(1), m(12)), 0, "withdrawn");
        assert_eq!(e.pending_between(m(3), m(13)), 1);
        assert_eq!(
            e.accept(id("inv-1-1")),
            Err(InviteError::AlreadyEnded(id("inv-1-1")))
        );
        assert_eq!(e.capacity(m(2)).tier, Tier::Premium);
        assert_eq!(e.capacity(m(1)).daily.used, 4);
        // The idempotency key still names the invitation it made.
        let again = e
            .send(InviteRequest::new(m(2), m(10)).idempotency_key(200))
            .expect("a replay of the keyed send");
        assert_eq!(again.id(), id("inv-2-0"));
        e.decline(id("inv-3-3"))
            .expect("pending before the snapshot");
        assert_eq!(e.pending_between(m(3), m(13)), 0);
    }
}

#[test]
fn ids_issued_after_the_restore_never_repeat_an_old_one() {
    let clock = ManualClock::new(Timestamp::from_millis(T0 + 12 * 60_000));
    let e = restore(FIXTURE, &clock, 2);
    let mut seen: HashSet<InviteId> = old_ids().into_iter().collect();
    for round in 0..3 {
        for sender in 1..=4u64 {
            let req = InviteRequest::new(MemberId(sender), MemberId(100 + round));
            let sent = e.send(req).expect("within every limit");
            assert_eq!(sent.id().sender(), MemberId(sender));
            assert!(seen.insert(sent.id()), "{} issued twice", sent.id());
        }
    }
    // Written again in the current format and restored: still none repeats.
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).expect("in memory");
    clock.advance(Duration::from_secs(8 * 86_400));
    let back = restore(&bytes, &clock, 3);
    for sender in 1..=4u64 {
        let sent = back
            .send(InviteRequest::new(MemberId(sender), MemberId(200)))
            .expect("a week later");
        assert!(seen.insert(sent.id()), "{} issued twice", sent.id());
    }
    // The oldest invitation of the old format is still pending, by its old id.
    back.accept(id("inv-1-0")).expect("pending for 180 days");
    assert!(back.are_connected(MemberId(1), MemberId(10)));
}
