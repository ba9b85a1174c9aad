//! Rolling out limits on the in-memory engine: shadow mode, live policy changes and
//! per-member limits, through the journal and checkpoints.

#[path = "journal/common.rs"]
mod common;

use common::*;
use invite_limiter::*;
use std::time::Duration;

const FAST: Durability = Durability::FlushEvery(Duration::from_millis(2));
const DAY: u64 = 86_400_000;

fn quiet(daily: u32) -> Policy {
    Policy {
        free: TierLimits {
            daily,
            ..TierLimits::free()
        },
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(m(s), m(r))
}

fn engine(policy: Policy, clock: &ManualClock) -> Engine {
    Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .build()
        .expect("valid policy")
}

#[test]
fn a_shadowed_limit_admits_reports_and_counts() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(quiet(2), &clock);
    e.set_shadow(Shadow::none().with(ShadowRule::DailyLimit));
    for r in 10..12 {
        let sent = e.send(req(1, r)).expect("within the limit");
        assert!(sent.shadowed().is_empty());
        assert_eq!(sent.shadowed_retry_at(), None);
    }
    // Over the limit: admitted, and the Sent says what enforcing would have said.
    let sent = e.send(req(1, 12)).expect("shadowed");
    assert_eq!(sent.shadowed(), Shadow::none().with(ShadowRule::DailyLimit));
    assert_eq!(
        sent.shadowed_retry_at(),
        Some(Timestamp::from_millis(T0 + DAY))
    );
    // The shadowed send counts in the windows like any other.
    assert_eq!(e.capacity(m(1)).daily.used, 3);
    assert!(
        e.diagnose(m(1), m(13)).is_clear(),
        "a shadowed rule blocks nothing"
    );
    // Enforced again: the count includes the shadowed send.
    e.set_shadow(Shadow::none());
    let d = e.send(req(1, 13)).unwrap_err();
    assert_eq!(*d.reason(), DenyReason::DailyLimit { used: 3, limit: 2 });
}

#[test]
fn enforced_rules_still_deny_in_global_shadow_mode() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = Engine::builder()
        .policy(quiet(1))
        .clock(clock.clone())
        .shadow(Shadow::all())
        .build()
        .expect("valid");
    assert_eq!(e.shadow(), Shadow::all());
    e.send(req(1, 2)).expect("first");
    // Daily limit and pair cap shadowed; a self-invite or a ban never is.
    let d = e.send(req(1, 1)).unwrap_err();
    assert_eq!(*d.reason(), DenyReason::SelfInvite);
    e.set_status(m(3), AccountStatus::Banned);
    assert_eq!(
        *e.send(req(3, 4)).unwrap_err().reason(),
        DenyReason::SenderBanned
    );
    // Several shadowed rules: all named, and the retry is when all of them clear
    // (the pair frees a slot when its first invitation expires, after 180 days).
    e.send(req(1, 2)).expect("shadowed daily");
    e.send(req(1, 2)).expect("shadowed daily");
    let sent = e.send(req(1, 2)).expect("shadowed daily and pair cap");
    assert!(sent.shadowed().contains(ShadowRule::DailyLimit));
    assert!(sent.shadowed().contains(ShadowRule::PairPendingLimit));
    assert_eq!(
        sent.shadowed_retry_at(),
        Some(Timestamp::from_millis(T0 + 180 * DAY))
    );
    // A rule that only an action clears leaves no instant to report.
    let long = "x".repeat(201);
    let sent = e.send(req(1, 5).note(long)).expect("shadowed note length");
    assert!(sent.shadowed().contains(ShadowRule::NoteTooLong));
    assert_eq!(sent.shadowed_retry_at(), None);
    assert_eq!(
        e.pending_between(m(1), m(2)),
        4,
        "admitted sends are pending"
    );
}

#[test]
fn a_shadowed_spam_signal_never_restricts() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let mut policy = quiet(30);
    policy.spam.burst = Some(RateRule {
        max: 2,
        per: Duration::from_secs(60),
    });
    let e = engine(policy, &clock);
    e.set_shadow(Shadow::none().with(ShadowRule::SpamSuspected));
    for round in 0..4 {
        for r in 0..3 {
            let sent = e
                .send(req(1, 100 * round + r + 10))
                .expect("shadowed signal");
            if r == 2 {
                assert!(sent.shadowed().contains(ShadowRule::SpamSuspected));
                assert!(sent.shadowed_retry_at().is_some(), "the cooldown's end");
            }
        }
        clock.advance(Duration::from_secs(2 * 3600));
    }
    assert_eq!(e.capacity(m(1)).status, AccountStatus::Active);
}

#[test]
fn set_policy_swaps_the_limits_and_keeps_the_counts() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(quiet(3), &clock);
    for r in 10..13 {
        e.send(req(1, r)).expect("within 3");
    }
    assert!(e.send(req(1, 13)).is_err());
    e.set_policy(quiet(5)).expect("valid");
    assert_eq!(e.policy().free.daily, 5);
    e.send(req(1, 13)).expect("the higher limit admits at once");
    e.set_policy(quiet(2)).expect("valid");
    let d = e.send(req(1, 14)).unwrap_err();
    assert_eq!(*d.reason(), DenyReason::DailyLimit { used: 4, limit: 2 });
    // The window still frees slots by the instants of the sends it holds.
    assert_eq!(d.retry_at(), Some(Timestamp::from_millis(T0 + DAY)));
}

#[test]
fn an_invalid_live_policy_leaves_the_old_one_in_force() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(quiet(1), &clock);
    let mut bad = quiet(1);
    bad.free.weekly = 0;
    let err = e.set_policy(bad).unwrap_err();
    assert_eq!(err.field(), "free.weekly");
    assert_eq!(*e.policy(), quiet(1));
    e.send(req(1, 2)).expect("first");
    assert!(e.send(req(1, 3)).is_err(), "the old daily limit of 1 holds");
}

#[test]
fn a_member_override_replaces_the_tier_limits() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(quiet(2), &clock);
    let seat = TierLimits {
        daily: 4,
        weekly: 10,
        notes_per_30d: None,
        max_note_chars: 400,
    };
    e.set_limits_override(m(1), Some(seat.clone()))
        .expect("valid");
    assert_eq!(e.limits_override(m(1)), Some(seat));
    assert_eq!(e.capacity(m(1)).daily.limit, 4);
    assert_eq!(e.capacity(m(1)).notes.limit, None);
    for r in 10..14 {
        e.send(req(1, r)).expect("the seat's limit");
    }
    assert!(e.send(req(1, 14)).is_err());
    // Idle reclamation keeps a member with an override.
    clock.advance(Duration::from_secs(400 * 86_400));
    e.sweep();
    assert_eq!(e.capacity(m(1)).daily.limit, 4);
    let bad = TierLimits {
        daily: 0,
        ..TierLimits::free()
    };
    assert_eq!(
        e.set_limits_override(m(1), Some(bad)).unwrap_err().field(),
        "limits.daily"
    );
    assert_eq!(
        e.capacity(m(1)).daily.limit,
        4,
        "unchanged by a refused one"
    );
    e.set_limits_override(m(1), None).expect("clearing");
    assert_eq!(e.capacity(m(1)).daily.limit, 2);
    assert_eq!(e.limits_override(m(1)), None);
}

/// Runs the same changes on a persistent engine and an in-memory twin.
fn changes(e: &Engine, clock: &ManualClock) {
    let seat = TierLimits {
        daily: 6,
        weekly: 20,
        notes_per_30d: Some(1),
        max_note_chars: 50,
    };
    e.set_limits_override(m(2), Some(seat)).expect("valid");
    for r in 10..14 {
        clock.advance(Duration::from_secs(60));
        let _ = e.send(req(1, r));
        let _ = e.send(req(2, r));
    }
    e.set_policy(quiet(5)).expect("valid");
    e.set_shadow(Shadow::none().with(ShadowRule::WeeklyLimit));
    for r in 20..26 {
        clock.advance(Duration::from_secs(60));
        let _ = e.send(req(1, r));
        let _ = e.send(req(2, r));
    }
    e.set_limits_override(m(2), None).expect("clearing");
    let _ = e.send(req(2, 30));
}

fn answers(e: &Engine) -> String {
    let mut out = format!("{:?} {:?}\n", e.policy(), e.shadow());
    for id in 1..3 {
        out += &format!(
            "{:?} {:?} {:?}\n",
            e.capacity(m(id)),
            e.limits_override(m(id)),
            e.pending_sent(m(id), None, 100)
        );
    }
    out
}

#[test]
fn journal_replay_reproduces_policy_changes_and_overrides() {
    for checkpoint in [false, true] {
        let dir = TempDir::new("rollout");
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let twin_clock = ManualClock::new(Timestamp::from_millis(T0));
        let twin = engine(quiet(3), &twin_clock);
        let open = |c: &ManualClock| {
            Engine::builder()
                .policy(quiet(3))
                .clock(c.clone())
                .persistence(dir.path(), FAST)
                .open()
                .expect("open")
        };
        let e = open(&clock);
        changes(&e, &clock);
        changes(&twin, &twin_clock);
        if checkpoint {
            // The live policy is not in the snapshot: the new journal starts with it.
            e.checkpoint().expect("checkpoint");
        }
        drop(e);
        let back = open(&clock);
        let report = back.recovery_report().expect("persistent");
        assert_eq!(report.skipped, 0, "{report}");
        assert_eq!(answers(&back), answers(&twin), "checkpoint: {checkpoint}");
        assert_eq!(back.policy().free.daily, 5);
        // The next decisions agree too.
        for r in 40..43 {
            assert_eq!(back.send(req(1, r)), twin.send(req(1, r)));
        }
    }
}

#[test]
fn policy_changes_during_sends_never_mix_two_policies() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = std::sync::Arc::new(engine(quiet(5), &clock));
    let senders: Vec<_> = (1..=4u64)
        .map(|s| {
            let e = std::sync::Arc::clone(&e);
            std::thread::spawn(move || {
                let mut admitted = 0u32;
                for r in 0..200u64 {
                    match e.send(req(s, 1000 + r)) {
                        Ok(_) => admitted += 1,
                        Err(d) => match *d.reason() {
                            // Each decision saw one whole policy: 5 or 10.
                            DenyReason::DailyLimit { limit, .. } => {
                                assert!(limit == 5 || limit == 10, "{d:?}")
                            }
                            other => panic!("{other:?}"),
                        },
                    }
                }
                admitted
            })
        })
        .collect();
    for i in 0..200 {
        let daily = if i % 2 == 0 { 10 } else { 5 };
        e.set_policy(quiet(daily)).expect("valid");
    }
    for (s, t) in (1..=4u64).zip(senders) {
        let admitted = t.join().expect("no panic");
        assert!(admitted <= 10, "sender {s}: {admitted}");
        assert_eq!(e.capacity(m(s)).daily.used, admitted);
    }
}
