//! Unit tests of the spam signals.

use super::codec::write_events;
use super::*;
use crate::codec::{Reader, Writer};
use crate::policy::IgnoredRule;
use std::time::Duration;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

fn rule(max: u32, per: u64) -> Option<RateRule> {
    Some(RateRule {
        max,
        per: Duration::from_millis(per),
    })
}

fn only(set: impl FnOnce(&mut SpamPolicy)) -> SpamPolicy {
    let mut p = SpamPolicy::disabled();
    set(&mut p);
    p
}

fn att(stranger: bool, note: Option<&str>) -> Attempt<'_> {
    Attempt { stranger, note }
}

/// The signals `check` would name at `now`.
fn fired(s: &SpamState, now: u64, a: &Attempt<'_>, p: &SpamPolicy) -> Vec<SpamSignal> {
    let kw = Keywords::new(&p.keywords);
    let v = s.check(now, a, p, &kw);
    v.map(|v| v.signals.iter().collect()).unwrap_or_default()
}

#[test]
fn each_rate_signal_trips_past_max_within_a_half_open_window() {
    let p = only(|p| {
        p.burst = rule(3, MIN);
        p.strangers = rule(2, HOUR);
        p.template = rule(2, DAY);
    });
    let (mut s, kw, plain) = (SpamState::default(), Keywords::new(&[]), att(false, None));
    for t in [0, 10, 20] {
        assert_eq!(s.attempt(t, &plain, &p, &kw), None);
    }
    assert_eq!(fired(&s, MIN - 1, &plain, &p), [SpamSignal::Burst]);
    assert!(fired(&s, MIN, &plain, &p).is_empty());
    s.record_sent(0, &att(true, Some("Hello  There")), &p);
    s.record_sent(1, &att(true, Some("hello there")), &p);
    assert_eq!(
        fired(&s, MIN, &att(true, None), &p),
        [SpamSignal::Strangers]
    );
    assert!(fired(&s, HOUR, &att(true, Some("hi")), &p).is_empty());
    let same = att(false, Some(" HELLO\t\nthere "));
    assert_eq!(fired(&s, DAY - 1, &same, &p), [SpamSignal::Template]);
    assert!(fired(&s, DAY, &same, &p).is_empty());
    assert_eq!(note_fingerprint("Ünï  Code"), note_fingerprint("ünï code"));
    assert_ne!(note_fingerprint("a b"), note_fingerprint("ab"));
}

#[test]
fn keywords_match_case_insensitively_and_blank_lists_match_nothing() {
    let p = SpamPolicy {
        burst: None,
        ..SpamPolicy::default()
    };
    let s = SpamState::default();
    let spam = att(false, Some("Earn today: CLICK Here"));
    assert_eq!(fired(&s, 0, &spam, &p), [SpamSignal::Keyword]);
    assert!(fired(&s, 0, &att(false, Some("Loved your talk")), &p).is_empty());
    assert!(!Keywords::new(&[]).matches("click here"));
    assert!(!Keywords::new(&["  ".to_owned()]).matches("anything"));
}

#[test]
fn reports_count_late_feedback_at_its_own_instant() {
    let p = only(|p| p.reports = rule(2, 30 * DAY));
    let (mut s, a) = (SpamState::default(), att(false, None));
    s.record_feedback(10 * DAY, Feedback::Reported, &p);
    s.record_feedback(12 * DAY, Feedback::Reported, &p);
    assert!(fired(&s, 20 * DAY, &a, &p).is_empty());
    s.record_feedback(DAY, Feedback::Reported, &p);
    s.record_feedback(DAY, Feedback::Declined, &p); // Not kept: no rule reads it.
    let times: Vec<u64> = s.feedback.iter().map(|e| e.0).collect();
    assert_eq!(times, [DAY, 10 * DAY, 12 * DAY]);
    assert_eq!(fired(&s, 31 * DAY - 1, &a, &p), [SpamSignal::Reports]);
    // Out of its window when it arrives: never counts, and goes at the next call.
    s.record_feedback(0, Feedback::Reported, &p);
    assert_eq!(s.attempt(31 * DAY, &a, &p, &Keywords::new(&[])), None);
    assert_eq!(s.feedback.len(), 2);
}

#[test]
fn ignored_needs_min_resolved_and_the_share() {
    let per = Duration::from_millis(DAY);
    let p = only(|p| {
        p.ignored = Some(IgnoredRule {
            max_percent: 75,
            min_resolved: 4,
            per,
        })
    });
    let (mut s, a) = (SpamState::default(), att(false, None));
    for (t, f) in [
        (3, Feedback::Reported),
        (1, Feedback::Declined),
        (2, Feedback::Expired),
    ] {
        s.record_feedback(t, f, &p);
    }
    assert!(fired(&s, 10, &a, &p).is_empty());
    s.record_feedback(4, Feedback::Accepted, &p);
    assert_eq!(fired(&s, 10, &a, &p), [SpamSignal::Ignored]);
    assert!(fired(&s, DAY + 1, &a, &p).is_empty());
    s.record_feedback(5, Feedback::Accepted, &p);
    assert!(fired(&s, 10, &a, &p).is_empty());
}

#[test]
fn cooldown_keeps_its_signals_then_trips_escalate_along_the_ladder() {
    let p = only(|p| {
        p.burst = rule(1, 1_000);
        p.cooldown = Duration::from_millis(MIN);
        p.restriction_ladder = vec![Duration::from_millis(DAY), Duration::from_millis(7 * DAY)];
    });
    let (mut s, a, kw) = (SpamState::default(), att(false, None), Keywords::new(&[]));
    let burst: SpamSignals = [SpamSignal::Burst].into_iter().collect();
    let trip = |s: &mut SpamState, t: u64| {
        assert_eq!(s.attempt(t, &a, &p, &kw), None);
        s.attempt(t, &a, &p, &kw)
    };
    let first = Verdict {
        signals: burst,
        until: MIN,
        restrict_until: None,
    };
    assert_eq!(trip(&mut s, 0), Some(first));
    assert_eq!(s.attempt(30_000, &a, &p, &kw), Some(first));
    assert_eq!(s.cooldown(MIN - 1), Some((burst, MIN)));
    assert_eq!(s.cooldown(MIN), None);
    for (t, r) in [(2 * MIN, DAY), (4 * MIN, 7 * DAY), (6 * MIN, 7 * DAY)] {
        let v = trip(&mut s, t).map(|v| (v.until, v.restrict_until));
        assert_eq!(v, Some((t + r, Some(t + r))));
        assert_eq!(s.cooldown(t), Some((burst, t + MIN)));
    }
    let forgotten = 6 * MIN + 30 * DAY;
    assert_eq!(
        trip(&mut s, forgotten).map(|v| v.restrict_until),
        Some(None)
    );
}

#[test]
fn check_predicts_attempt_and_changes_nothing() {
    let ignored = IgnoredRule {
        max_percent: 60,
        min_resolved: 5,
        per: Duration::from_secs(3600),
    };
    let p = SpamPolicy {
        burst: rule(4, 10_000),
        strangers: rule(5, MIN),
        template: rule(3, HOUR),
        reports: rule(3, HOUR),
        ignored: Some(ignored),
        cooldown: Duration::from_secs(120),
        ..SpamPolicy::default()
    };
    let (kw, notes) = (
        Keywords::new(&p.keywords),
        ["hi", "Hi ", "click here", "yo", "YO"],
    );
    let (mut s, mut x, mut now) = (SpamState::default(), 7u64, 0);
    let kinds = [
        Feedback::Accepted,
        Feedback::Declined,
        Feedback::Expired,
        Feedback::Reported,
    ];
    for _ in 0..5_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = x >> 33;
        now += r % 20_000;
        let a = att(r % 3 == 0, notes.get(r as usize % 8).copied());
        let before = s.clone();
        let predicted = s.check(now, &a, &p, &kw);
        assert_eq!(s, before);
        assert_eq!(s.attempt(now, &a, &p, &kw), predicted);
        if predicted.is_none() {
            s.record_sent(now, &a, &p);
        }
        if let Some(&f) = kinds.get(r as usize % 7) {
            s.record_feedback(now.saturating_sub(r % HOUR), f, &p);
        }
    }
}

#[test]
fn an_honest_premium_sender_is_never_flagged() {
    let p = SpamPolicy::default();
    let kw = Keywords::new(&p.keywords);
    let (mut s, mut answers) = (SpamState::default(), Vec::new());
    let kinds = [Feedback::Accepted, Feedback::Declined, Feedback::Expired];
    for day in 0..7 {
        for i in 0..100u64 {
            let now = day * DAY + 9 * HOUR + i * 3 * MIN;
            let text = format!("Hi {day}-{i}, I enjoyed your post on topic {i}.");
            let a = att(i % 2 == 0, (i % 3 != 0).then_some(text.as_str()));
            assert_eq!(s.attempt(now, &a, &p, &kw), None, "day {day} #{i}");
            s.record_sent(now, &a, &p);
            answers.push((now + DAY, kinds.get(i as usize % 5).copied()));
            // A sweep now and then notices answers late, newest first.
            if i % 10 == 9 {
                for &(at, f) in answers.iter().rev().filter(|e| e.0 <= now) {
                    s.record_feedback(at, f.unwrap_or(Feedback::Accepted), &p);
                }
                answers.retain(|e| e.0 > now);
            }
        }
    }
    assert!(s.attempts.len() <= 11 && s.strangers.len() <= 26 && s.rare().notes.len() <= 100);
}

#[test]
fn spammers_trip_the_default_signals() {
    let p = SpamPolicy::default();
    let (kw, plain) = (Keywords::new(&p.keywords), att(false, None));
    let mut s = SpamState::default();
    for i in 0..10 {
        assert_eq!(s.attempt(i * 100, &plain, &p, &kw), None);
    }
    assert_eq!(fired(&s, 1_000, &plain, &p), [SpamSignal::Burst]);

    let mut s = SpamState::default();
    for i in 0..10 {
        let text = format!("Let's{}CONNECT and grow ", " ".repeat(i % 3 + 1));
        s.record_sent(i as u64 * 5 * MIN, &att(false, Some(&text)), &p);
    }
    let same = att(false, Some("let's connect AND  grow"));
    assert_eq!(fired(&s, HOUR, &same, &p), [SpamSignal::Template]);

    let mut s = SpamState::default();
    for i in 0..5 {
        assert_eq!(s.attempt(i * HOUR, &plain, &p, &kw), None);
        s.record_feedback(i * HOUR + 1, Feedback::Reported, &p);
    }
    assert_eq!(fired(&s, 5 * HOUR, &plain, &p), [SpamSignal::Reports]);
}

#[test]
fn snapshot_round_trips_and_rejects_damage() {
    let (p, kw) = (SpamPolicy::default(), Keywords::new(&[]));
    let mut s = SpamState::default();
    s.record_sent(5, &att(true, Some("hello")), &p);
    for (t, f) in [
        (9, Feedback::Reported),
        (3, Feedback::Accepted),
        (7, Feedback::Expired),
    ] {
        s.record_feedback(t, f, &p);
    }
    for t in 10..22 {
        s.attempt(t, &att(false, None), &p, &kw);
    }
    assert!(s.rare().cooldown.is_some() && !s.rare().strikes.is_empty());
    for state in [SpamState::default(), s] {
        let mut w = Writer::default();
        state.write(&mut w, crate::codes::feedback_code);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes, 0);
        assert_eq!(
            SpamState::read(&mut r, crate::codes::feedback_from),
            Ok(state)
        );
        assert!(r.is_done());
        for cut in 0..bytes.len() {
            assert!(SpamState::read(
                &mut Reader::new(&bytes[..cut], 0),
                crate::codes::feedback_from
            )
            .is_err());
        }
    }
    let mut w = Writer::default();
    let out_of_order: Events<()> = [(5, ()), (4, ())].into_iter().collect();
    write_events(&mut w, &out_of_order, |_, ()| ());
    assert!(SpamState::read(&mut Reader::new(w.bytes(), 0), crate::codes::feedback_from).is_err());
}

#[test]
fn idle_at_is_when_the_last_record_stops_mattering() {
    let p = SpamPolicy::default();
    let mut s = SpamState::default();
    assert_eq!(s.idle_at(&p), 0);
    s.attempt(100, &att(false, None), &p, &Keywords::new(&[]));
    assert_eq!(s.idle_at(&p), 100 + MIN);
    s.record_sent(100, &att(true, None), &p);
    assert_eq!(s.idle_at(&p), 100 + HOUR);
    s.record_feedback(50, Feedback::Declined, &p);
    assert_eq!(s.idle_at(&p), 50 + 30 * DAY);
    s.attempt(
        200,
        &att(false, Some("click here")),
        &p,
        &Keywords::new(&p.keywords),
    );
    assert_eq!(s.idle_at(&p), 200 + 30 * DAY);
    assert_eq!(s.idle_at(&SpamPolicy::disabled()), 200 + 30 * DAY); // the strike
}

#[test]
fn rare_parts_are_allocated_only_while_they_hold_something() {
    assert!(std::mem::size_of::<SpamState>() <= 104);
    let p = SpamPolicy::default();
    let kw = Keywords::new(&[]);
    let mut s = SpamState::default();
    s.record_sent(0, &att(false, Some("hello there")), &p);
    assert!(s.rare.is_some());
    assert!(s.rare().notes.len() == 1);
    s.attempt(
        millis(p.template.unwrap().per) + 1,
        &att(false, None),
        &p,
        &kw,
    );
    assert!(s.rare.is_none(), "an expired note frees the rare part");
    assert_eq!(
        s.clone(),
        SpamState {
            rare: Some(Box::default()),
            ..s
        },
        "an empty rare part equals none"
    );
}

/// A client hammering through a denial records an attempt each time, but the burst
/// rule only asks whether `max` of them lie in its window, and those are the
/// latest: the sender keeps at most `max`, so the hammering costs neither memory
/// nor time under the sender's lock, and the rule answers as before.
#[test]
fn hammering_keeps_only_the_attempts_the_burst_rule_reads() {
    let p = only(|p| p.burst = rule(10, MIN));
    let (mut s, kw, plain) = (SpamState::default(), Keywords::new(&[]), att(false, None));
    for i in 0..100_000u64 {
        let _ = s.attempt(i / 100, &plain, &p, &kw);
    }
    assert_eq!(s.attempts.len(), 10);
    // The latest ten, at 999: they count until they leave the window.
    assert_eq!(in_window(&s.attempts, 999 + MIN - 1, MIN).count(), 10);
    assert_eq!(in_window(&s.attempts, 999 + MIN, MIN).count(), 0);
    assert_eq!(fired(&s, 999 + MIN - 1, &plain, &p), [SpamSignal::Burst]);
    // A zero max trips on every attempt; the latest is kept for the idle instant.
    let p = only(|p| p.burst = rule(0, MIN));
    let mut s = SpamState::default();
    for t in 0..100 {
        let _ = s.attempt(t, &plain, &p, &kw);
    }
    assert_eq!(s.attempts.len(), 1);
    assert_eq!(last(&s.attempts), Some(99));
}
