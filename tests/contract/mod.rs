//! The behaviour contract, written once against the `Limiter` trait and run against
//! every engine: the rules with spam signals off, then each spam signal on its own.

#![allow(dead_code)] // each test crate uses the suite through the macro

mod horizon;
mod limits;
pub(crate) use horizon::a_restriction_past_the_end_of_time_never_lifts;
pub(crate) use limits::{
    connections_and_follows_stop_at_their_caps, contact_imports_are_capped,
    emails_are_capped_and_can_be_unregistered, limits,
};
pub(crate) mod rollout;
pub(crate) use rollout::*;

use std::time::Duration;

use invite_limiter::{
    AccountStatus, DenyReason, InviteError, InviteRequest, InviteSetting, Limiter, ManualClock,
    MemberId, Policy, SpamPolicy, Tier, Timestamp,
};

pub(crate) const T0: u64 = 1_700_000_000_000;
pub(crate) const HOUR: u64 = 3_600_000;
pub(crate) const DAY: u64 = 24 * HOUR;

pub(crate) fn quiet() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::new(Timestamp::from_millis(T0))
}

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

/// Sends from `s` to `n` fresh recipients starting at `first`; all must pass.
pub(crate) async fn fill<L: Limiter>(l: &L, s: u64, first: u64, n: u64) {
    for r in first..first + n {
        l.send(req(s, r)).await.expect("within the limits");
    }
}

pub(crate) async fn daily_limit_is_exact<L: Limiter>(l: L, c: ManualClock) {
    fill(&l, 1, 100, 30).await;
    let d = l.send(req(1, 200)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::DailyLimit {
            used: 30,
            limit: 30
        }
    );
    assert_eq!(d.retry_at(), Some(at(T0 + DAY)));
    c.set(at(T0 + DAY - 1));
    assert!(l.send(req(1, 200)).await.is_err(), "one millisecond early");
    c.set(at(T0 + DAY));
    assert!(
        l.send(req(1, 200)).await.is_ok(),
        "free at t + 24 h exactly"
    );
}

pub(crate) async fn the_later_of_daily_and_weekly_is_reported<L: Limiter>(l: L, c: ManualClock) {
    // Policy: daily 5, weekly 6 (see `weekly_policy`).
    fill(&l, 1, 100, 1).await;
    c.set(at(T0 + DAY));
    fill(&l, 1, 200, 5).await;
    // Both full: the day frees at T0 + 2 d, the week only at T0 + 7 d.
    let d = l.send(req(1, 300)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::WeeklyLimit { used: 6, limit: 6 });
    assert_eq!(d.retry_at(), Some(at(T0 + 7 * DAY)));
    let dx = l.diagnose_request(&req(1, 300)).await;
    let firsts: Vec<Option<Timestamp>> = dx.blockers().iter().map(|b| b.retry_at()).collect();
    assert_eq!(firsts, vec![Some(at(T0 + 2 * DAY)), Some(at(T0 + 7 * DAY))]);
}

pub(crate) async fn weekly_limit_binds<L: Limiter>(l: L, c: ManualClock) {
    // Policy: daily 5, weekly 6 (see `weekly_policy`).
    fill(&l, 1, 100, 5).await;
    c.set(at(T0 + DAY));
    fill(&l, 1, 200, 1).await;
    let d = l.send(req(1, 300)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::WeeklyLimit { used: 6, limit: 6 });
    assert_eq!(d.retry_at(), Some(at(T0 + 7 * DAY)));
    c.set(at(T0 + 7 * DAY - 1));
    assert!(l.send(req(1, 300)).await.is_err());
    c.set(at(T0 + 7 * DAY));
    assert!(l.send(req(1, 300)).await.is_ok());
}

pub(crate) fn weekly_policy() -> Policy {
    Policy {
        free: invite_limiter::TierLimits {
            daily: 5,
            weekly: 6,
            ..invite_limiter::TierLimits::free()
        },
        ..quiet()
    }
}

pub(crate) async fn pair_cap_and_expiry<L: Limiter>(l: L, c: ManualClock) {
    let ttl = 180 * DAY;
    let mut ids = Vec::new();
    for i in 0..3 {
        c.set(at(T0 + i * HOUR));
        let sent = l.send(req(1, 2)).await.unwrap();
        assert_eq!(sent.expires_at(), at(T0 + i * HOUR + ttl));
        ids.push(sent.id());
    }
    assert_eq!(
        l.pending_between(MemberId(1), MemberId(2)).await.unwrap(),
        3
    );
    let d = l.send(req(1, 2)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::PairPendingLimit {
            pending: 3,
            limit: 3
        }
    );
    assert_eq!(d.retry_at(), Some(at(T0 + ttl)));
    c.set(at(T0 + ttl - 1));
    assert_eq!(
        l.pending_between(MemberId(1), MemberId(2)).await.unwrap(),
        3
    );
    c.set(at(T0 + ttl));
    assert_eq!(
        l.pending_between(MemberId(1), MemberId(2)).await.unwrap(),
        2
    );
    assert!(matches!(
        l.accept(ids[0]).await,
        Err(InviteError::Expired { .. } | InviteError::Unknown(_))
    ));
    assert!(l.send(req(1, 2)).await.is_ok(), "the pair freed a slot");
}

pub(crate) async fn lifecycle_ends_and_connects<L: Limiter>(l: L, _c: ManualClock) {
    let ab = l.send(req(1, 2)).await.unwrap().id();
    let ba = l.send(req(2, 1)).await.unwrap().id();
    let ab2 = l.send(req(1, 2)).await.unwrap().id();
    assert_eq!(ab.sender(), MemberId(1));
    assert_ne!(ab, ab2);
    l.accept(ab).await.unwrap();
    assert!(l.are_connected(MemberId(1), MemberId(2)).await.unwrap());
    assert!(l.are_connected(MemberId(2), MemberId(1)).await.unwrap());
    assert_eq!(
        l.pending_between(MemberId(1), MemberId(2)).await.unwrap(),
        0
    );
    assert_eq!(
        l.pending_between(MemberId(2), MemberId(1)).await.unwrap(),
        0
    );
    assert_eq!(l.accept(ab).await, Err(InviteError::AlreadyEnded(ab)));
    assert_eq!(l.decline(ab2).await, Err(InviteError::AlreadyEnded(ab2)));
    assert_eq!(l.withdraw(ba).await, Err(InviteError::AlreadyEnded(ba)));
    let d = l.send(req(1, 2)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::AlreadyConnected);
    assert_eq!(d.retry_at(), None);

    let x = l.send(req(3, 4)).await.unwrap().id();
    l.decline(x).await.unwrap();
    assert_eq!(l.decline(x).await, Err(InviteError::AlreadyEnded(x)));
    let y = l.send(req(3, 5)).await.unwrap().id();
    l.report_unknown(y).await.unwrap();
    assert_eq!(l.accept(y).await, Err(InviteError::AlreadyEnded(y)));
    let never: invite_limiter::InviteId = "inv-3-7777777".parse().unwrap();
    assert_eq!(l.accept(never).await, Err(InviteError::Unknown(never)));
    l.disconnect(MemberId(1), MemberId(2)).await.unwrap();
    assert!(!l.are_connected(MemberId(2), MemberId(1)).await.unwrap());
}

pub(crate) async fn withdrawal_starts_the_cooldown<L: Limiter>(l: L, c: ManualClock) {
    let id = l.send(req(1, 2)).await.unwrap().id();
    c.set(at(T0 + HOUR));
    l.withdraw(id).await.unwrap();
    let until = at(T0 + HOUR + 21 * DAY);
    let d = l.send(req(1, 2)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::ReinviteCooldown { until });
    assert_eq!(d.retry_at(), Some(until));
    c.set(until);
    assert!(l.send(req(1, 2)).await.is_ok());
}

pub(crate) async fn idempotency_keys<L: Limiter>(l: L, _c: ManualClock) {
    let first = l.send(req(1, 2).idempotency_key(77)).await.unwrap();
    let again = l.send(req(1, 2).idempotency_key(77)).await.unwrap();
    assert_eq!(first, again);
    // The repeat would be answered by the first decision, so nothing blocks it, even
    // a pair cap or a limit reached since.
    fill(&l, 1, 100, 29).await;
    assert!(l
        .diagnose_request(&req(1, 2).idempotency_key(77))
        .await
        .is_clear());
    assert!(!l.diagnose_request(&req(1, 2)).await.is_clear());
    let cap = l.capacity(MemberId(1)).await.unwrap();
    assert_eq!(cap.daily.used, 30, "a repeat consumes nothing");
    let d = l.send(req(1, 3).idempotency_key(77)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::IdempotencyConflict {
            key: 77,
            first_recipient: MemberId(2)
        }
    );
    assert_eq!(d.retry_at(), None);
}

pub(crate) async fn statuses_of_both_sides<L: Limiter>(l: L, c: ManualClock) {
    l.set_status(MemberId(1), AccountStatus::Banned)
        .await
        .unwrap();
    let d = l.send(req(1, 2)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::SenderBanned);
    assert_eq!(d.retry_at(), None);

    let until = at(T0 + HOUR);
    l.set_status(
        MemberId(3),
        AccountStatus::Restricted { until: Some(until) },
    )
    .await
    .unwrap();
    let d = l.send(req(3, 2)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::SenderRestricted { until: Some(until) }
    );
    assert_eq!(d.retry_at(), Some(until));
    c.set(until);
    assert!(l.send(req(3, 2)).await.is_ok(), "lifts at its until");

    l.set_status(MemberId(9), AccountStatus::Banned)
        .await
        .unwrap();
    let d = l.send(req(4, 9)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::RecipientUnavailable);
    l.set_status(MemberId(9), AccountStatus::Active)
        .await
        .unwrap();
    assert!(l.send(req(4, 9)).await.is_ok());

    let d = l.send(req(5, 5)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::SelfInvite);
}

pub(crate) async fn invite_settings<L: Limiter>(l: L, _c: ManualClock) {
    let not_accepting = |setting| DenyReason::RecipientNotAccepting { setting };
    l.set_invite_setting(MemberId(10), InviteSetting::Nobody)
        .await
        .unwrap();
    let d = l.send(req(1, 10)).await.unwrap_err();
    assert_eq!(*d.reason(), not_accepting(InviteSetting::Nobody));
    assert_eq!(d.retry_at(), None);

    l.set_invite_setting(MemberId(11), InviteSetting::FollowingOnly)
        .await
        .unwrap();
    assert!(l.send(req(1, 11)).await.is_err());
    l.follow(MemberId(11), MemberId(1)).await.unwrap();
    assert!(l.send(req(1, 11)).await.is_ok());
    l.unfollow(MemberId(11), MemberId(1)).await.unwrap();
    assert!(l.send(req(1, 11)).await.is_err());

    l.set_invite_setting(MemberId(12), InviteSetting::NetworkOnly)
        .await
        .unwrap();
    assert!(l.send(req(2, 12)).await.is_err());
    l.connect(MemberId(2), MemberId(50)).await.unwrap();
    l.connect(MemberId(50), MemberId(12)).await.unwrap();
    assert!(l.send(req(2, 12)).await.is_ok(), "share member 50");

    l.set_invite_setting(MemberId(13), InviteSetting::ContactsOnly)
        .await
        .unwrap();
    l.register_email(MemberId(3), "Three@Example.com")
        .await
        .unwrap();
    assert!(l.send(req(3, 13)).await.is_err());
    l.import_contacts(MemberId(13), vec![" three@example.COM ".to_string()])
        .await
        .unwrap();
    assert!(l.send(req(3, 13)).await.is_ok());

    l.set_invite_setting(MemberId(14), InviteSetting::EmailOrContacts)
        .await
        .unwrap();
    l.register_email(MemberId(14), "fourteen@example.com")
        .await
        .unwrap();
    assert!(l.send(req(4, 14)).await.is_err());
    assert!(l
        .send(req(4, 14).recipient_email("FOURTEEN@example.com"))
        .await
        .is_ok());
    assert!(l
        .send(req(4, 14).recipient_email("other@example.com"))
        .await
        .is_err());

    let taken = l.register_email(MemberId(5), "three@example.com").await;
    assert!(matches!(
        taken,
        Err(invite_limiter::EmailError::Taken { .. })
    ));
    let invalid = l
        .import_contacts(MemberId(13), vec!["not-an-email".to_string()])
        .await;
    assert!(matches!(
        invalid,
        Err(invite_limiter::EmailError::Invalid(_))
    ));
    assert!(
        l.send(req(3, 13)).await.is_ok(),
        "nothing partially applied"
    );
}

pub(crate) async fn tiers_and_notes<L: Limiter>(l: L, c: ManualClock) {
    for r in 0..5 {
        l.send(req(1, 100 + r).note(format!("hello {r}")))
            .await
            .unwrap();
    }
    let d = l.send(req(1, 200).note("one more")).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::NoteQuota { used: 5, limit: 5 });
    assert_eq!(d.retry_at(), Some(at(T0 + 30 * DAY)));
    assert!(
        l.send(req(1, 200).note("   ")).await.is_ok(),
        "blank is no note"
    );
    let long = "x".repeat(201);
    let d = l.send(req(1, 201).note(long.clone())).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::NoteQuota { used: 5, limit: 5 },
        "the quota comes first"
    );
    assert_eq!(d.retry_at(), None, "a too-long note needs an edit");

    fill(&l, 1, 300, 24).await;
    assert!(l.send(req(1, 400)).await.is_err(), "30 used");
    l.set_tier(MemberId(1), Tier::Premium).await.unwrap();
    assert!(
        l.send(req(1, 400).note(long)).await.is_ok(),
        "premium: 300 chars, no quota"
    );
    let cap = l.capacity(MemberId(1)).await.unwrap();
    assert_eq!(cap.tier, Tier::Premium);
    assert_eq!(cap.daily.used, 31);
    assert_eq!(cap.daily.limit, 100);
    assert_eq!(cap.daily.next_slot_at, Some(at(T0 + DAY)));
    assert_eq!(cap.daily.available_at, None);
    assert_eq!(cap.notes.used, 6);
    assert_eq!(cap.pending_sent, 31);
    c.advance(Duration::from_millis(DAY));
    let cap = l.capacity(MemberId(1)).await.unwrap();
    assert_eq!(cap.daily.used, 0);
    assert_eq!(cap.weekly.used, 31);
}

pub(crate) async fn diagnosis_lists_every_blocker_and_changes_nothing<L: Limiter>(
    l: L,
    _c: ManualClock,
) {
    fill(&l, 1, 100, 30).await;
    l.set_invite_setting(MemberId(7), InviteSetting::Nobody)
        .await
        .unwrap();
    let dx = l.diagnose_request(&req(1, 7)).await;
    let reasons: Vec<DenyReason> = dx.blockers().iter().map(|b| *b.reason()).collect();
    assert_eq!(
        reasons,
        vec![
            DenyReason::RecipientNotAccepting {
                setting: InviteSetting::Nobody
            },
            DenyReason::DailyLimit {
                used: 30,
                limit: 30
            },
        ]
    );
    assert_eq!(dx.blockers()[1].retry_at(), Some(at(T0 + DAY)));
    assert!(!dx.is_clear());
    let clear = l.diagnose_request(&req(2, 7 + 1)).await;
    assert!(clear.is_clear());
    let cap = l.capacity(MemberId(2)).await.unwrap();
    assert_eq!(cap.daily.used, 0, "a diagnosis is not an attempt");
    let cap = l.capacity(MemberId(1)).await.unwrap();
    assert_eq!(cap.daily.used, 30);
    assert_eq!(cap.daily.available_at, Some(at(T0 + DAY)));
}

pub(crate) async fn a_clock_stepping_back_frees_nothing<L: Limiter>(l: L, c: ManualClock) {
    fill(&l, 1, 100, 30).await;
    c.set(at(T0 + DAY));
    assert!(l.send(req(1, 200)).await.is_ok());
    c.set(at(T0 + HOUR));
    // Acting at T0 + DAY still: the 30 from T0 are out, one is in.
    let cap = l.capacity(MemberId(1)).await.unwrap();
    assert_eq!(cap.daily.used, 1);
    fill(&l, 1, 300, 29).await;
    let d = l.send(req(1, 400)).await.unwrap_err();
    assert_eq!(d.retry_at(), Some(at(T0 + 2 * DAY)));
}

/// One `#[tokio::test]` per rule, each on a fresh limiter made by `$make(policy,
/// clock)` (an async expression).
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@one $make, daily_limit_is_exact, contract::quiet());
        $crate::contract_tests!(@one $make, the_later_of_daily_and_weekly_is_reported, contract::weekly_policy());
        $crate::contract_tests!(@one $make, weekly_limit_binds, contract::weekly_policy());
        $crate::contract_tests!(@one $make, pair_cap_and_expiry, contract::quiet());
        $crate::contract_tests!(@one $make, lifecycle_ends_and_connects, contract::quiet());
        $crate::contract_tests!(@one $make, withdrawal_starts_the_cooldown, contract::quiet());
        $crate::contract_tests!(@one $make, idempotency_keys, contract::quiet());
        $crate::contract_tests!(@one $make, statuses_of_both_sides, contract::quiet());
        $crate::contract_tests!(@one $make, invite_settings, contract::quiet());
        $crate::contract_tests!(@one $make, tiers_and_notes, contract::quiet());
        $crate::contract_tests!(@one $make, diagnosis_lists_every_blocker_and_changes_nothing, contract::quiet());
        $crate::contract_tests!(@one $make, a_clock_stepping_back_frees_nothing, contract::quiet());
        $crate::contract_tests!(@one $make, a_burst_trips_then_escalates, contract::burst_policy());
        $crate::contract_tests!(@one $make, templates_and_keywords, contract::content_policy());
        $crate::contract_tests!(@one $make, recipients_feedback, contract::feedback_policy());
        $crate::contract_tests!(@one $make, strangers_are_counted, contract::strangers_policy());
        $crate::contract_tests!(@one $make, an_honest_member_is_never_flagged, invite_limiter::Policy::default());
        $crate::contract_tests!(@one $make, emails_are_capped_and_can_be_unregistered, contract::quiet());
        $crate::contract_tests!(@one $make, contact_imports_are_capped, contract::quiet());
        $crate::contract_tests!(@one $make, connections_and_follows_stop_at_their_caps, contract::quiet());
        $crate::contract_tests!(@one $make, shadow_mode_admits_reports_and_counts, contract::quiet());
        $crate::contract_tests!(@one $make, a_live_policy_applies_at_once, contract::quiet());
        $crate::contract_tests!(@one $make, a_member_override_replaces_the_tier_limits, contract::quiet());
        $crate::contract_tests!(@one $make, a_restriction_past_the_end_of_time_never_lifts, contract::quiet());
    };
    (@one $make:expr, $name:ident, $policy:expr) => {
        #[tokio::test]
        async fn $name() {
            let clock = contract::clock();
            if let Some(limiter) = ($make)($policy, clock.clone(), stringify!($name)).await {
                contract::$name(limiter, clock).await;
            }
        }
    };
}

/// Only the listed spam rules on, with the default cooldown and ladder.
pub(crate) fn spam_only(f: impl FnOnce(&mut SpamPolicy)) -> Policy {
    let mut spam = SpamPolicy::disabled();
    f(&mut spam);
    Policy {
        spam,
        ..Policy::default()
    }
}

fn signals(d: &invite_limiter::Denied) -> Vec<invite_limiter::SpamSignal> {
    match d.reason() {
        DenyReason::SpamSuspected { signals } => signals.iter().collect(),
        other => panic!("not a spam denial: {other:?}"),
    }
}

pub(crate) fn burst_policy() -> Policy {
    spam_only(|s| {
        s.burst = Some(invite_limiter::RateRule {
            max: 10,
            per: Duration::from_secs(60),
        })
    })
}

pub(crate) async fn a_burst_trips_then_escalates<L: Limiter>(l: L, c: ManualClock) {
    use invite_limiter::SpamSignal::Burst;
    // Diagnoses are not attempts.
    for _ in 0..20 {
        assert!(l.diagnose_request(&req(1, 2)).await.is_clear());
    }
    fill(&l, 1, 100, 10).await;
    let d = l.send(req(1, 200)).await.unwrap_err();
    assert_eq!(signals(&d), vec![Burst]);
    assert_eq!(
        d.retry_at(),
        Some(at(T0 + HOUR)),
        "a first trip: the cooldown"
    );
    c.set(at(T0 + 2 * 60_000));
    let d = l.send(req(1, 201)).await.unwrap_err();
    assert_eq!(d.retry_at(), Some(at(T0 + HOUR)), "still cooling down");
    c.set(at(T0 + HOUR));
    fill(&l, 1, 300, 10).await;
    // The eleventh attempt in the minute trips it again: restricted.
    let d = l.send(req(1, 400)).await.unwrap_err();
    assert_eq!(signals(&d), vec![Burst]);
    let until = at(T0 + HOUR + DAY);
    assert_eq!(d.retry_at(), Some(until), "a second trip: one day");
    c.set(at(T0 + 2 * HOUR));
    let d = l.send(req(1, 401)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::SenderRestricted { until: Some(until) }
    );
    let cap = l.capacity(MemberId(1)).await.unwrap();
    assert_eq!(cap.status, AccountStatus::Restricted { until: Some(until) });
}

pub(crate) fn content_policy() -> Policy {
    spam_only(|s| {
        s.template = Some(invite_limiter::RateRule {
            max: 3,
            per: Duration::from_millis(DAY),
        });
        s.keywords = vec!["click here".to_string()];
    })
}

pub(crate) async fn templates_and_keywords<L: Limiter>(l: L, c: ManualClock) {
    use invite_limiter::SpamSignal::{Keyword, Template};
    l.set_tier(MemberId(1), Tier::Premium).await.unwrap();
    for r in 0..3 {
        l.send(req(1, 100 + r).note("Let's  connect!"))
            .await
            .unwrap();
    }
    // Case and whitespace are folded; a different note or none is fine.
    assert!(l.send(req(1, 150).note("A different note")).await.is_ok());
    assert!(l.send(req(1, 151)).await.is_ok());
    let d = l
        .send(req(1, 200).note("let's CONNECT!"))
        .await
        .unwrap_err();
    assert_eq!(signals(&d), vec![Template]);
    c.set(at(T0 + HOUR));
    let d = l
        .send(req(2, 3).note("Please CLICK HERE for a deal"))
        .await
        .unwrap_err();
    assert_eq!(signals(&d), vec![Keyword]);
    assert_eq!(d.retry_at(), Some(at(T0 + 2 * HOUR)));
}

pub(crate) fn feedback_policy() -> Policy {
    spam_only(|s| {
        s.reports = Some(invite_limiter::RateRule {
            max: 1,
            per: Duration::from_millis(30 * DAY),
        });
        s.ignored = Some(invite_limiter::IgnoredRule {
            max_percent: 75,
            min_resolved: 4,
            per: Duration::from_millis(30 * DAY),
        });
    })
}

pub(crate) async fn recipients_feedback<L: Limiter>(l: L, c: ManualClock) {
    use invite_limiter::SpamSignal::{Ignored, Reports};
    // Two reports: more than one in 30 days.
    let a = l.send(req(1, 2)).await.unwrap().id();
    let b = l.send(req(1, 3)).await.unwrap().id();
    let ok = l.send(req(1, 4)).await.unwrap().id();
    l.accept(ok).await.unwrap();
    l.report_unknown(a).await.unwrap();
    assert!(l.send(req(1, 5)).await.is_ok(), "one report is allowed");
    l.report_unknown(b).await.unwrap();
    let d = l.send(req(1, 6)).await.unwrap_err();
    assert_eq!(signals(&d), vec![Reports]);

    // Invitations that expire unanswered count at their expiry instant, swept or not.
    for r in 0..4 {
        l.send(req(7, 100 + r)).await.unwrap();
    }
    c.set(at(T0 + 180 * DAY - 1));
    assert!(l.send(req(7, 200)).await.is_ok(), "not expired yet");
    c.set(at(T0 + 180 * DAY));
    let d = l.send(req(7, 201)).await.unwrap_err();
    assert_eq!(signals(&d), vec![Ignored]);
}

pub(crate) fn strangers_policy() -> Policy {
    spam_only(|s| {
        s.strangers = Some(invite_limiter::RateRule {
            max: 2,
            per: Duration::from_millis(HOUR),
        })
    })
}

pub(crate) async fn strangers_are_counted<L: Limiter>(l: L, _c: ManualClock) {
    use invite_limiter::SpamSignal::Strangers;
    // Sharing a connection, knowing an email, or being in contacts is no stranger.
    l.connect(MemberId(1), MemberId(50)).await.unwrap();
    l.connect(MemberId(50), MemberId(10)).await.unwrap();
    l.register_email(MemberId(11), "eleven@example.com")
        .await
        .unwrap();
    l.register_email(MemberId(1), "one@example.com")
        .await
        .unwrap();
    l.import_contacts(MemberId(12), vec!["one@example.com".to_string()])
        .await
        .unwrap();
    l.send(req(1, 10)).await.unwrap();
    l.send(req(1, 11).recipient_email("eleven@example.com"))
        .await
        .unwrap();
    l.send(req(1, 12)).await.unwrap();
    l.send(req(1, 20)).await.unwrap();
    l.send(req(1, 21)).await.unwrap();
    let d = l.send(req(1, 22)).await.unwrap_err();
    assert_eq!(signals(&d), vec![Strangers]);
}

pub(crate) async fn an_honest_member_is_never_flagged<L: Limiter>(l: L, c: ManualClock) {
    // Default spam signals; 20 a day for a week, minutes apart, personal notes,
    // recipients accepting most.
    l.set_tier(MemberId(1), Tier::Premium).await.unwrap();
    let mut r = 1_000;
    for day in 0..7 {
        for i in 0..20 {
            c.set(at(T0 + day * DAY + i * 7 * 60_000));
            let note = format!("Hi {r}, we met at the day-{day} meetup");
            let sent = l
                .send(req(1, r).note(note))
                .await
                .unwrap_or_else(|d| panic!("day {day}, send {i}: {d}"));
            if i % 3 != 0 {
                l.accept(sent.id()).await.unwrap();
            }
            r += 1;
        }
    }
}
