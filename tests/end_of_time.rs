//! The last instant the engine accepts: clocks stop at `Timestamp::MAX`, every rule
//! stays exact there, the sweep returns, and policies whose durations could not be
//! added to it are refused.

use std::sync::mpsc;
use std::time::Duration;

use invite_limiter::{
    AccountStatus, DenyReason, Engine, InviteRequest, ManualClock, MemberId, Policy,
    ReminderPolicy, SpamPolicy, Tier, Timestamp,
};

const DAY: u64 = 86_400_000;
const END: u64 = Timestamp::MAX.as_millis();

fn engine(policy: Policy, at: u64) -> (ManualClock, Engine) {
    let clock = ManualClock::new(Timestamp::from_millis(at));
    let engine = Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .build()
        .expect("valid policy");
    (clock, engine)
}

fn quiet() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn send(e: &Engine, s: u64, r: u64) -> Result<invite_limiter::Sent, invite_limiter::Denied> {
    e.send(InviteRequest::new(MemberId(s), MemberId(r)))
}

/// Runs `f` on another thread and fails (rather than hanging) if it never returns.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the call returned")
}

#[test]
fn a_premium_member_at_the_end_of_time_gets_exactly_its_daily_limit() {
    for at in [END, u64::MAX] {
        let (_clock, e) = engine(quiet(), at);
        e.set_tier(MemberId(1), Tier::Premium);
        let sent = (2..200).filter(|&r| send(&e, 1, r).is_ok()).count();
        assert_eq!(sent, 100, "at {at}");
        let denied = send(&e, 1, 500).unwrap_err();
        assert!(matches!(
            denied.reason(),
            DenyReason::DailyLimit {
                used: 100,
                limit: 100
            }
        ));
        // The window frees exactly a day after the first send, past the last instant.
        assert_eq!(denied.retry_at(), Some(Timestamp::from_millis(END + DAY)));
        let cap = e.capacity(MemberId(1));
        assert_eq!(cap.daily.used, 100);
        assert_eq!(cap.weekly.used, 100);
        assert_eq!(e.now(), Timestamp::MAX);
    }
}

#[test]
fn a_manual_clock_set_to_u64_max_behaves_as_max() {
    let (clock, e) = engine(quiet(), END - 10);
    let first = send(&e, 1, 2).unwrap();
    assert_eq!(first.expires_at().as_millis(), END - 10 + 180 * DAY);
    clock.set(Timestamp::from_millis(u64::MAX));
    assert_eq!(e.now(), Timestamp::MAX);
    let second = send(&e, 1, 3).unwrap();
    assert_eq!(second.expires_at().as_millis(), END + 180 * DAY);
    // Stepping back is not an error: the engine stays at the latest instant.
    clock.set(Timestamp::from_millis(0));
    assert_eq!(e.now(), Timestamp::MAX);
    // Both sends still count: none of them has left any window.
    assert_eq!(e.capacity(MemberId(1)).daily.used, 2);
    assert_eq!(e.pending_between(MemberId(1), MemberId(2)), 1);
    clock.advance(Duration::MAX);
    assert_eq!(e.now(), Timestamp::MAX);
}

#[test]
fn cooldowns_restrictions_and_idempotency_stay_exact_at_the_end() {
    let (clock, e) = engine(quiet(), END - DAY);
    let key = InviteRequest::new(MemberId(1), MemberId(2)).idempotency_key(7);
    let sent = e.send(key.clone()).unwrap();
    e.withdraw(sent.id()).unwrap();
    e.set_status(
        MemberId(3),
        AccountStatus::Restricted {
            until: Some(Timestamp::from_millis(END)),
        },
    );
    clock.set(Timestamp::from_millis(u64::MAX));
    // The idempotency record lasts 24 h: it ended exactly at the last instant.
    let again = e.send(key).unwrap_err();
    assert!(matches!(
        again.reason(),
        DenyReason::ReinviteCooldown { .. }
    ));
    assert_eq!(
        again.retry_at(),
        Some(Timestamp::from_millis(END - DAY + 21 * DAY))
    );
    // The restriction lifted at its instant.
    assert!(send(&e, 3, 4).is_ok());
}

#[test]
fn sweep_returns_at_the_end_of_time() {
    let (clock, e) = engine(quiet(), END - 200 * DAY);
    for s in 0..600u64 {
        send(&e, s, s + 1_000).unwrap();
    }
    e.follow(MemberId(1), MemberId(2));
    clock.set(Timestamp::from_millis(u64::MAX));
    let e = std::sync::Arc::new(e);
    let engine = std::sync::Arc::clone(&e);
    let expired = bounded(move || engine.sweep());
    assert_eq!(expired, 600, "every invitation expired unanswered");
    let engine = std::sync::Arc::clone(&e);
    assert_eq!(bounded(move || engine.sweep()), 0);
    // Idle records were reclaimed; the follower keeps its record.
    assert!(e.member_records() < 600, "{}", e.member_records());
}

#[test]
fn huge_durations_are_config_errors_naming_the_field() {
    let build = |policy: Policy| {
        Engine::builder()
            .policy(policy)
            .clock(ManualClock::default())
            .build()
            .map(|_| ())
            .unwrap_err()
    };
    let ttl = Policy {
        pending_ttl: Duration::MAX,
        ..Policy::default()
    };
    assert_eq!(build(ttl).field(), "pending_ttl");
    let mut strikes = Policy::default();
    strikes.spam.strike_memory = Duration::MAX;
    assert_eq!(build(strikes).field(), "spam.strike_memory");
    let longest = Policy {
        reinvite_cooldown: Policy::LONGEST_SPAN,
        ..Policy::default()
    };
    assert!(Engine::builder().policy(longest).build().is_ok());

    let reminders = |r: ReminderPolicy| {
        Engine::builder()
            .clock(ManualClock::default())
            .reminders(r)
            .build()
            .map(|_| ())
    };
    let over = ReminderPolicy {
        max: 256,
        ..ReminderPolicy::default()
    };
    assert_eq!(reminders(over).unwrap_err().field(), "reminders.max");
    let far = ReminderPolicy {
        spacing: Duration::MAX,
        ..ReminderPolicy::default()
    };
    assert_eq!(reminders(far).unwrap_err().field(), "reminders.spacing");
    assert!(reminders(ReminderPolicy {
        max: 255,
        ..ReminderPolicy::default()
    })
    .is_ok());
}

/// `FlushEvery` with a period no clock can add (`Duration::MAX`) flushes only when
/// asked or full: its writer must not die at start while `open()` says `Ok`.
#[test]
fn a_journal_flushed_every_duration_max_still_writes() {
    let dir = std::env::temp_dir().join(format!("invite-eot-flush-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let open = || {
        Engine::builder()
            .policy(quiet())
            .clock(ManualClock::new(Timestamp::from_millis(END - DAY)))
            .persistence(&dir, invite_limiter::Durability::FlushEvery(Duration::MAX))
            .open()
            .expect("opens")
    };
    let e = open();
    send(&e, 1, 2).unwrap();
    let synced = bounded(move || e.sync_journal());
    assert!(synced.is_ok(), "{synced:?}");
    let e = open();
    assert_eq!(e.capacity(MemberId(1)).daily.used, 1, "replayed");
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
