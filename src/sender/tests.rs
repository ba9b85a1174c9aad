//! The state machine alone, driven without any engine: every rule, settling, and
//! each step of an invitation's life, on one record and plain instants.

use std::sync::Arc;

use crate::outcome::{DenyReason, InviteError, Sent};
use crate::policy::{Policy, ReminderPolicy, SpamPolicy};
use crate::rules::precedence::{Subject, View};
use crate::rules::Rules;
use crate::sender::ledger::Ending;
use crate::sender::record::Member;
use crate::{AccountStatus, InviteSetting, MemberId, Shadow, ShadowRule, Timestamp};

const T0: u64 = 1_700_000_000_000;
const MIN: u64 = 60_000;
const DAY: u64 = 86_400_000;

fn rules_of(policy: Policy) -> Arc<Rules> {
    Rules::new(Arc::new(policy), Shadow::none(), false)
}

fn quiet() -> Arc<Rules> {
    rules_of(Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    })
}

fn to(recipient: u64) -> Subject<'static> {
    Subject {
        sender: 1,
        recipient,
        note: None,
        key: None,
    }
}

/// Settles, judges and commits as storage does; the denial otherwise.
fn send(
    m: &mut Member,
    now: u64,
    s: &Subject<'_>,
    view: View,
    rules: &Rules,
) -> Result<Sent, DenyReason> {
    m.settle(now, rules);
    if let Some(sent) = m.keyed_send(s, rules) {
        return Ok(sent);
    }
    let judged = m.judge(now, s, view, rules, true);
    if let Some(denied) = judged.denied {
        return Err(denied.reason);
    }
    let seq = m.next_seq(now, 0);
    Ok(m.commit(now, s, view, seq, judged.shadowed, rules))
}

fn plain() -> View {
    View::plain(false)
}

#[test]
fn an_allowed_send_commits_everything_at_once() {
    let rules = quiet();
    let mut m = Member::new(1);
    let sent = send(&mut m, T0, &to(2), plain(), &rules).expect("allowed");
    assert_eq!(sent.id().sender(), MemberId(1));
    assert_eq!(sent.expires_at(), Timestamp::from_millis(T0 + 180 * DAY));
    assert_eq!(m.sends.counts(), (1, 1));
    assert_eq!(m.ledger.live(), 1);
    let cap = m.capacity(T0, &rules);
    assert_eq!(
        (cap.daily.used, cap.weekly.used, cap.pending_sent),
        (1, 1, 1)
    );
    let again = send(&mut m, T0, &to(3), plain(), &rules).expect("allowed");
    assert_ne!(again.id(), sent.id(), "two sends in one millisecond");
}

#[test]
fn the_daily_limit_clears_when_the_oldest_send_leaves_the_window() {
    let rules = quiet();
    let mut m = Member::new(1);
    for r in 0..30 {
        send(&mut m, T0 + r * MIN, &to(100 + r), plain(), &rules).expect("under the limit");
    }
    let now = T0 + 30 * MIN;
    m.settle(now, &rules);
    let judged = m.judge(now, &to(999), plain(), &rules, true);
    let denied = judged.denied.expect("at the limit");
    assert_eq!(
        denied.reason,
        DenyReason::DailyLimit {
            used: 30,
            limit: 30
        }
    );
    assert_eq!(denied.retry_at, Some(Timestamp::from_millis(T0 + DAY)));
    // A day after the first send, one slot is free again.
    assert!(send(&mut m, T0 + DAY, &to(999), plain(), &rules).is_ok());
}

#[test]
fn the_pair_cap_clears_when_the_oldest_pending_expires() {
    let rules = quiet();
    let mut m = Member::new(1);
    for k in 0..3 {
        send(&mut m, T0 + k, &to(2), plain(), &rules).expect("under the cap");
    }
    let judged = m.judge(T0 + 3, &to(2), plain(), &rules, true);
    let denied = judged.denied.expect("at the cap");
    assert_eq!(
        denied.reason,
        DenyReason::PairPendingLimit {
            pending: 3,
            limit: 3
        }
    );
    assert_eq!(
        denied.retry_at,
        Some(Timestamp::from_millis(T0 + 180 * DAY))
    );
}

#[test]
fn account_and_recipient_rules_deny_in_precedence_order() {
    let rules = quiet();
    let mut m = Member::new(1);
    let mut s = to(1);
    assert_eq!(
        send(&mut m, T0, &s, plain(), &rules),
        Err(DenyReason::SelfInvite)
    );
    s.recipient = 2;
    let closed = View {
        admits: false,
        setting: InviteSetting::Nobody,
        ..plain()
    };
    let banned = View {
        banned: true,
        ..closed
    };
    assert_eq!(
        send(&mut m, T0, &s, banned, &rules),
        Err(DenyReason::RecipientUnavailable)
    );
    let want = DenyReason::RecipientNotAccepting {
        setting: InviteSetting::Nobody,
    };
    assert_eq!(send(&mut m, T0, &s, closed, &rules), Err(want));
    m.extra_mut().connections.insert(2);
    assert_eq!(
        send(&mut m, T0, &s, closed, &rules),
        Err(DenyReason::AlreadyConnected)
    );
    let until = Timestamp::from_millis(T0 + DAY);
    m.set_status(AccountStatus::Restricted { until: Some(until) });
    let restricted = DenyReason::SenderRestricted { until: Some(until) };
    assert_eq!(send(&mut m, T0, &s, closed, &rules), Err(restricted));
    // Diagnosis lists every rule that denies, in the same order.
    let codes: Vec<&str> = m
        .diagnose(T0, &s, closed, &rules)
        .iter()
        .map(|b| b.reason().code())
        .collect();
    assert_eq!(
        codes,
        [
            "sender_restricted",
            "already_connected",
            "recipient_not_accepting"
        ]
    );
    m.set_status(AccountStatus::Banned);
    assert_eq!(
        send(&mut m, T0, &s, closed, &rules),
        Err(DenyReason::SenderBanned)
    );
    // The restriction lifts by itself.
    m.set_status(AccountStatus::Restricted { until: Some(until) });
    m.extra_mut().connections.clear();
    assert!(send(&mut m, T0 + DAY, &s, plain(), &rules).is_ok());
}

fn noted(recipient: u64, note: &str) -> Subject<'_> {
    Subject {
        note: Some(note),
        ..to(recipient)
    }
}

#[test]
fn notes_count_against_their_quota_and_length() {
    let rules = quiet();
    let mut m = Member::new(1);
    for r in 0..5 {
        send(&mut m, T0 + r, &noted(10 + r, "hello"), plain(), &rules).expect("under quota");
    }
    let quota = DenyReason::NoteQuota { used: 5, limit: 5 };
    assert_eq!(
        send(&mut m, T0 + 9, &noted(20, "hi"), plain(), &rules),
        Err(quota)
    );
    let long = "x".repeat(201);
    let codes: Vec<&str> = m
        .diagnose(T0 + 9, &noted(21, &long), plain(), &rules)
        .iter()
        .map(|b| b.reason().code())
        .collect();
    assert_eq!(codes, ["note_quota", "note_too_long"]);
    assert!(
        send(&mut m, T0 + 9, &to(22), plain(), &rules).is_ok(),
        "no note, no quota"
    );
}

#[test]
fn an_idempotency_key_returns_the_first_send_or_conflicts() {
    let rules = quiet();
    let mut m = Member::new(1);
    let keyed = |r: u64| Subject {
        key: Some(7),
        ..to(r)
    };
    let first = send(&mut m, T0, &keyed(2), plain(), &rules).expect("allowed");
    let again = send(&mut m, T0 + MIN, &keyed(2), plain(), &rules).expect("replayed");
    assert_eq!(again, first);
    assert_eq!(m.sends.counts(), (1, 1), "a replay consumes nothing");
    let conflict = DenyReason::IdempotencyConflict {
        key: 7,
        first_recipient: MemberId(2),
    };
    assert_eq!(
        send(&mut m, T0 + MIN, &keyed(3), plain(), &rules),
        Err(conflict)
    );
    // After 24 hours the key is forgotten.
    assert!(send(&mut m, T0 + DAY, &keyed(3), plain(), &rules).is_ok());
}

#[test]
fn settling_expires_invitations_and_empties_windows() {
    let rules = quiet();
    let mut m = Member::new(1);
    send(&mut m, T0, &to(2), plain(), &rules).expect("allowed");
    send(&mut m, T0 + 1, &to(3), plain(), &rules).expect("allowed");
    assert_eq!(m.settle(T0 + DAY, &rules), 0);
    assert_eq!(m.sends.counts(), (1, 2), "the first send left the day");
    m.settle(T0 + DAY + 1, &rules);
    assert_eq!(m.sends.counts(), (0, 2), "both out of the day, in the week");
    assert_eq!(
        m.settle(T0 + 180 * DAY, &rules),
        1,
        "the first expired unanswered"
    );
    assert_eq!(m.settle(T0 + 180 * DAY + 1, &rules), 1);
    assert_eq!((m.ledger.live(), m.sends.counts()), (0, (0, 0)));
    assert!(m.is_idle(T0 + 180 * DAY + 1, |_| 0));
}

#[test]
fn each_ending_is_final_and_a_withdrawal_starts_the_cooldown() {
    let rules = quiet();
    let mut m = Member::new(1);
    let mut expired = 0;
    let a = send(&mut m, T0, &to(2), plain(), &rules).expect("allowed");
    let ended = m.end(a.id().seq(), Ending::Declined, T0 + 1, &rules, &mut expired);
    assert_eq!(ended.map(|e| e.cooldown_until), Ok(None));
    let again = m.end(a.id().seq(), Ending::Accepted, T0 + 2, &rules, &mut expired);
    assert_eq!(again, Err(InviteError::AlreadyEnded(a.id())));
    let b = send(&mut m, T0 + 3, &to(4), plain(), &rules).expect("allowed");
    let ended = m
        .end(
            b.id().seq(),
            Ending::Withdrawn,
            T0 + 4,
            &rules,
            &mut expired,
        )
        .expect("pending");
    let until = T0 + 4 + 21 * DAY;
    assert_eq!(ended.cooldown_until, Some(until));
    let cooldown = DenyReason::ReinviteCooldown {
        until: Timestamp::from_millis(until),
    };
    assert_eq!(send(&mut m, T0 + 5, &to(4), plain(), &rules), Err(cooldown));
    m.end_cooldown(4, until);
    assert!(send(&mut m, until, &to(4), plain(), &rules).is_ok());
    let unknown = m.end(12_345, Ending::Accepted, until, &rules, &mut expired);
    assert!(matches!(unknown, Err(InviteError::Unknown(_))));
    let c = send(&mut m, until, &to(5), plain(), &rules).expect("allowed");
    let late_at = until + 180 * DAY;
    let late = m.end(
        c.id().seq(),
        Ending::Accepted,
        late_at,
        &rules,
        &mut expired,
    );
    assert!(matches!(late, Err(InviteError::Expired { .. })));
    assert_eq!(
        expired, 0,
        "an answer to an expired invitation settles nothing"
    );
    assert_eq!(
        m.settle(late_at, &rules),
        2,
        "the second invitation to 4, and to 5"
    );
}

#[test]
fn reminders_keep_their_spacing_and_their_count() {
    let rules = quiet();
    let policy = ReminderPolicy::default();
    let spacing = crate::time::millis(policy.spacing);
    let mut m = Member::new(1);
    let seq = send(&mut m, T0, &to(2), plain(), &rules)
        .expect("allowed")
        .id()
        .seq();
    let early = m.remind(seq, T0 + 1, &rules, &policy);
    assert!(matches!(
        early,
        Err(InviteError::ReminderNotAllowed {
            next_at: Some(_),
            ..
        })
    ));
    let mut now = T0;
    for n in 1..=policy.max {
        now += spacing;
        assert_eq!(m.remind(seq, now, &rules, &policy), Ok(n));
    }
    let done = m.remind(seq, now + spacing, &rules, &policy);
    assert!(matches!(
        done,
        Err(InviteError::ReminderNotAllowed { next_at: None, .. })
    ));
    assert_eq!(m.pending_page(0, 10, &rules).items[0].reminders, policy.max);
}

#[test]
fn spam_signals_restrict_and_shadow_mode_only_reports() {
    let rules = rules_of(Policy::default());
    let mut m = Member::new(1);
    let spammy = Subject {
        note: Some("Free money, click here"),
        ..to(2)
    };
    let judged = m.judge(T0, &spammy, plain(), &rules, true);
    let reason = judged.denied.map(|d| d.reason.code());
    assert_eq!(reason, Some("spam_suspected"));
    let shadowed = Rules::new(
        Arc::clone(&rules.policy),
        Shadow::none().with(ShadowRule::SpamSuspected),
        false,
    );
    let mut n = Member::new(1);
    let judged = n.judge(T0, &spammy, plain(), &shadowed, true);
    assert!(judged.denied.is_none() && !judged.restricted);
    assert!(judged.shadowed.rules.contains(ShadowRule::SpamSuspected));
}

#[test]
fn expiries_count_as_ignored_after_an_empty_spam_state_was_dropped() {
    use crate::policy::IgnoredRule;
    use crate::SpamSignal;
    let mut spam = SpamPolicy::disabled();
    spam.ignored = Some(IgnoredRule {
        max_percent: 75,
        min_resolved: 4,
        per: std::time::Duration::from_millis(30 * DAY),
    });
    let rules = rules_of(Policy {
        spam,
        ..Policy::default()
    });
    let mut m = Member::new(1);
    for r in 0..4 {
        send(&mut m, T0, &to(100 + r), plain(), &rules).expect("allowed");
    }
    // Sending records nothing the ignored rule reads: the state is empty, and a
    // snapshot or a packed value keeps it as none.
    assert_eq!(
        m.spam.as_deref(),
        Some(&crate::rules::spam::SpamState::default())
    );
    m.spam = None;
    let expiry = T0 + 180 * DAY;
    let err = send(&mut m, expiry, &to(200), plain(), &rules).expect_err("ignored");
    let DenyReason::SpamSuspected { signals } = err else {
        panic!("not a spam denial: {err:?}");
    };
    assert!(signals.contains(SpamSignal::Ignored));
}
