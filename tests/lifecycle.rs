//! Invitation lifecycle: endings, reminders, listings, the sweeper, and reclaiming idle members.

use invite_limiter::*;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::T0;

const DAY: Duration = Duration::from_secs(86_400);

fn engine() -> (Engine, ManualClock) {
    common::engine_with(common::quiet_policy())
}

fn send(e: &Engine, s: u64, r: u64) -> Sent {
    e.send(InviteRequest::new(MemberId(s), MemberId(r)))
        .expect("allowed")
}

#[test]
fn each_ending_is_final_and_says_so() {
    let (e, clock) = engine();
    let a = send(&e, 1, 2);
    e.decline(a.id()).unwrap();
    assert_eq!(e.accept(a.id()), Err(InviteError::AlreadyEnded(a.id())));
    assert_eq!(e.withdraw(a.id()), Err(InviteError::AlreadyEnded(a.id())));
    let b = send(&e, 1, 3);
    clock.set(b.expires_at());
    assert_eq!(
        e.decline(b.id()),
        Err(InviteError::Expired {
            id: b.id(),
            at: b.expires_at()
        })
    );
    let unknown = send(&e, 5, 6).id();
    let (other, _) = engine();
    assert_eq!(other.accept(unknown), Err(InviteError::Unknown(unknown)));
    assert!(InviteError::Unknown(unknown)
        .to_string()
        .contains(&unknown.to_string()));
}

#[test]
fn withdrawal_starts_the_reinvite_cooldown() {
    let (e, clock) = engine();
    let a = send(&e, 1, 2);
    e.withdraw(a.id()).unwrap();
    assert_eq!(e.pending_between(MemberId(1), MemberId(2)), 0);
    let until = e.now() + 21 * DAY;
    let d = e
        .send(InviteRequest::new(MemberId(1), MemberId(2)))
        .unwrap_err();
    assert_eq!(d.reason(), &DenyReason::ReinviteCooldown { until });
    assert_eq!(d.retry_at(), Some(until));
    // Only that pair is held back.
    send(&e, 1, 3);
    send(&e, 2, 1);
    clock.set(Timestamp::from_millis(until.as_millis() - 1));
    assert!(e
        .send(InviteRequest::new(MemberId(1), MemberId(2)))
        .is_err());
    clock.set(until);
    send(&e, 1, 2);
}

#[test]
fn zero_cooldown_means_none() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let policy = Policy {
        reinvite_cooldown: Duration::ZERO,
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    let e = Engine::builder()
        .policy(policy)
        .clock(clock)
        .build()
        .unwrap();
    let a = send(&e, 1, 2);
    e.withdraw(a.id()).unwrap();
    send(&e, 1, 2);
}

#[test]
fn reminders_are_limited_and_spaced() {
    let (e, clock) = engine();
    let a = send(&e, 1, 2);
    let week = Timestamp::from_millis(T0) + 7 * DAY;
    assert_eq!(
        e.remind(a.id()),
        Err(InviteError::ReminderNotAllowed {
            id: a.id(),
            next_at: Some(week)
        })
    );
    clock.set(week);
    assert_eq!(e.remind(a.id()), Ok(1));
    assert!(e.remind(a.id()).is_err());
    clock.advance(7 * DAY);
    assert_eq!(e.remind(a.id()), Ok(2));
    clock.advance(30 * DAY);
    assert_eq!(
        e.remind(a.id()),
        Err(InviteError::ReminderNotAllowed {
            id: a.id(),
            next_at: None
        })
    );
    let page = e.pending_sent(MemberId(1), None, 10);
    assert_eq!(page.items[0].reminders, 2);
}

#[test]
fn pending_listing_is_oldest_first_and_paginated() {
    let (e, clock) = engine();
    let mut ids = Vec::new();
    for r in 0..25u64 {
        ids.push(send(&e, 1, 100 + r).id());
        clock.advance(Duration::from_secs(60));
    }
    e.accept(ids[3]).unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = e.pending_sent(MemberId(1), after, 10);
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|p| p.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = ids.iter().copied().filter(|&id| id != ids[3]).collect();
    assert_eq!(seen, expected);
    let first = e.pending_sent(MemberId(1), None, 1).items[0];
    assert_eq!(first.recipient, MemberId(100));
    assert_eq!(first.expires_at, first.sent_at + 180 * DAY);
    assert_eq!(e.capacity(MemberId(1)).pending_sent, 24);
}

#[test]
fn sweep_counts_each_unanswered_expiry_once_and_reclaims_idle_members() {
    let (e, clock) = engine();
    let answered = send(&e, 1, 2);
    for r in 3..8 {
        send(&e, 1, r);
    }
    send(&e, 9, 10);
    e.accept(answered.id()).unwrap();
    assert_eq!(e.sweep(), 0);
    clock.advance(180 * DAY);
    // Noticed by a query before any sweep: still counted once by the next sweep.
    assert_eq!(e.pending_between(MemberId(1), MemberId(3)), 0);
    assert_eq!(e.sweep(), 5 + 1);
    assert_eq!(e.sweep(), 0);
    // Member 9 has nothing left in any window: its record goes; 1 and 2 are connected.
    clock.advance(2 * DAY);
    e.sweep();
    let records = e.member_records();
    assert_eq!(records, 2, "only the connected pair keeps a record");
    assert!(e.are_connected(MemberId(1), MemberId(2)));
    assert_eq!(e.capacity(MemberId(9)).weekly.used, 0);
}

#[test]
fn setters_leaving_a_new_member_at_the_defaults_create_no_record() {
    let (e, _clock) = engine();
    e.set_tier(MemberId(1), Tier::Free);
    e.set_status(MemberId(2), AccountStatus::Active);
    e.set_invite_setting(MemberId(3), InviteSetting::Everyone);
    assert_eq!(e.member_records(), 0);
    e.set_tier(MemberId(1), Tier::Premium);
    assert_eq!(e.member_records(), 1);
    e.set_tier(MemberId(1), Tier::Free);
    assert_eq!(
        e.tier(MemberId(1)),
        Tier::Free,
        "a known member is set back"
    );
    assert_eq!(e.capacity(MemberId(1)).daily.limit, 30);
    e.set_status(MemberId(4), AccountStatus::Banned);
    e.set_invite_setting(MemberId(5), InviteSetting::Nobody);
    assert_eq!(e.member_records(), 3);
    assert_eq!(e.status(MemberId(4)), AccountStatus::Banned);
    assert_eq!(e.invite_setting(MemberId(5)), InviteSetting::Nobody);
    e.set_status(MemberId(4), AccountStatus::Active);
    assert_eq!(e.status(MemberId(4)), AccountStatus::Active);
}

#[test]
fn background_sweeper_runs_and_stops_when_dropped() {
    let (e, clock) = engine();
    let e = Arc::new(e);
    send(&e, 1, 2);
    clock.advance(181 * DAY);
    let sweeper = e.start_sweeper(Duration::from_millis(5));
    let mut waited = 0;
    while sweeper.stats().expired() == 0 && waited < 2_000 {
        std::thread::sleep(Duration::from_millis(5));
        waited += 5;
    }
    assert_eq!(sweeper.stats().expired(), 1);
    assert!(sweeper.stats().passes() >= 1);
    drop(sweeper);
    assert_eq!(
        Arc::strong_count(&e),
        1,
        "the thread holds no engine after it stops"
    );
}

#[test]
fn builder_refuses_impossible_policies() {
    let mut p = Policy::default();
    p.free.weekly = 10;
    let err = Engine::builder().policy(p).build().unwrap_err();
    assert_eq!(err.field(), "free.daily");
    assert!(err.to_string().contains("free.daily"));
}

#[test]
fn public_types_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<Engine>();
    check::<EngineBuilder>();
    check::<Sweeper>();
    check::<SweepStats>();
    check::<ManualClock>();
    check::<SystemClock>();
    check::<Timestamp>();
    check::<MemberId>();
    check::<InviteId>();
    check::<InviteRequest>();
    check::<Sent>();
    check::<Denied>();
    check::<DenyReason>();
    check::<InviteError>();
    check::<Capacity>();
    check::<Diagnosis>();
    check::<Blocker>();
    check::<Policy>();
    check::<ConfigError>();
    check::<EmailError>();
    check::<ContactReport>();
    check::<PendingPage>();
    check::<SpamSignals>();
    check::<PersistError>();
    check::<Shadow>();
    check::<ShadowRule>();
    #[cfg(feature = "redis")]
    check::<invite_limiter::redis::RolloutError>();
}

#[test]
fn ids_stay_unique_when_a_sender_is_reclaimed_and_sends_again() {
    let (e, clock) = engine();
    let mut seen = std::collections::HashSet::new();
    // Sent and answered within one millisecond, over and over.
    for r in 2..8 {
        let sent = send(&e, 1, r);
        e.decline(sent.id()).unwrap();
        assert!(seen.insert(sent.id()), "{} issued twice", sent.id());
    }
    clock.advance(181 * DAY);
    e.sweep();
    assert_eq!(
        e.member_records(),
        0,
        "the idle sender's record was dropped"
    );
    for r in 2..8 {
        let sent = send(&e, 1, r);
        assert!(seen.insert(sent.id()), "{} issued twice", sent.id());
    }
}
