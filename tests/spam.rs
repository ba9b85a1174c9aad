//! Spam signals end to end: honest members pass, spammers are stopped.

use invite_limiter::*;
use std::time::Duration;

mod common;
use common::T0;

const MIN: Duration = Duration::from_secs(60);

fn engine() -> (Engine, ManualClock) {
    // Premium limits for everyone, so the spam signals, not the quotas, are on trial.
    common::engine_with(Policy {
        free: TierLimits::premium(),
        ..Policy::default()
    })
}

fn spam_signals(d: &Denied) -> Option<SpamSignals> {
    match d.reason() {
        DenyReason::SpamSuspected { signals } => Some(*signals),
        _ => None,
    }
}

/// A tiny deterministic generator, so the simulation is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn an_honest_member_is_never_flagged_over_a_week() {
    let (e, clock) = engine();
    let me = MemberId(1);
    let mut rng = Lcg(7);
    let mut friends = 0u64;
    let mut next_recipient = 1_000u64;
    for day in 0..7u64 {
        // About 20 invitations a day, a few minutes apart, in working hours.
        clock.set(Timestamp::from_millis(T0 + day * 86_400_000));
        for i in 0..20u64 {
            clock.advance(MIN * (2 + rng.next(6) as u32));
            next_recipient += 1;
            let recipient = MemberId(next_recipient);
            // Half of them share a connection with the sender; half are strangers.
            if i % 2 == 0 {
                friends += 1;
                let mutual = MemberId(500_000 + friends);
                e.connect(me, mutual);
                e.connect(mutual, recipient);
            }
            let note = format!(
                "Hi {}, enjoyed your talk on topic {} — {}",
                recipient.0,
                rng.next(1000),
                i
            );
            let req = InviteRequest::new(me, recipient).note(note);
            let sent = e
                .send(req)
                .unwrap_or_else(|d| panic!("day {day} #{i}: {d}"));
            // Recipients answer: most accept, some decline, nobody reports.
            match rng.next(10) {
                0..=5 => e.accept(sent.id()).unwrap(),
                6 => e.decline(sent.id()).unwrap(),
                _ => {}
            }
        }
    }
    assert_eq!(e.capacity(me).weekly.used, 140);
    assert_eq!(e.status(me), AccountStatus::Active);
}

#[test]
fn a_ten_per_second_burst_is_stopped() {
    let (e, clock) = engine();
    let bot = MemberId(2);
    let mut denied = None;
    for i in 0..20u64 {
        match e.send(
            InviteRequest::new(bot, MemberId(10_000 + i)).recipient_email(format!("r{i}@x.org")),
        ) {
            Ok(_) => {}
            Err(d) => {
                denied = Some((i, d));
                break;
            }
        }
        clock.advance(Duration::from_millis(100));
    }
    let (at, d) = denied.expect("a burst must be stopped");
    assert_eq!(at, 10, "the eleventh attempt in a minute trips the signal");
    let signals = spam_signals(&d).expect("spam");
    assert!(signals.contains(SpamSignal::Burst));
    let cooldown_end = e.now() + Duration::from_secs(3600);
    assert_eq!(d.retry_at(), Some(cooldown_end));
    // Hammering after the denial keeps being denied.
    let again = e.send(InviteRequest::new(bot, MemberId(99))).unwrap_err();
    assert!(spam_signals(&again).is_some());
    clock.set(cooldown_end);
    assert!(e.send(InviteRequest::new(bot, MemberId(99))).is_ok());
}

#[test]
fn a_template_spammer_is_stopped() {
    let (e, clock) = engine();
    let spammer = MemberId(3);
    let mut stopped = None;
    for i in 0..30u64 {
        clock.advance(MIN * 3);
        let note = if i % 2 == 0 {
            "Let's CONNECT  and grow together!"
        } else {
            " let's connect and grow\ttogether! "
        };
        let req = InviteRequest::new(spammer, MemberId(20_000 + i))
            .note(note)
            .recipient_email(format!("t{i}@x.org"));
        if let Err(d) = e.send(req) {
            stopped = Some((i, d));
            break;
        }
    }
    let (i, d) = stopped.expect("template spam must be stopped");
    assert_eq!(i, 10);
    assert!(spam_signals(&d).unwrap().contains(SpamSignal::Template));
}

#[test]
fn keywords_and_strangers_trip_alone() {
    let (e, clock) = engine();
    let d = e
        .send(InviteRequest::new(MemberId(4), MemberId(5)).note("Guaranteed INCOME from home"))
        .unwrap_err();
    assert!(spam_signals(&d).unwrap().contains(SpamSignal::Keyword));

    let fan = MemberId(6);
    let mut tripped = None;
    for i in 0..80u64 {
        clock.advance(Duration::from_secs(60));
        if let Err(d) = e.send(InviteRequest::new(fan, MemberId(30_000 + i))) {
            tripped = Some((i, d));
            break;
        }
    }
    let (i, d) = tripped.expect("fan-out to strangers must be stopped");
    assert_eq!(i, 50, "more than 50 strangers in an hour");
    assert!(spam_signals(&d).unwrap().contains(SpamSignal::Strangers));
}

#[test]
fn reports_stop_a_sender_and_repeated_trips_escalate_to_restriction() {
    let (e, clock) = engine();
    let s = MemberId(7);
    for i in 0..5u64 {
        clock.advance(MIN * 5);
        let sent = e
            .send(
                InviteRequest::new(s, MemberId(40_000 + i)).recipient_email(format!("k{i}@x.org")),
            )
            .unwrap();
        e.report_unknown(sent.id()).unwrap();
        assert!(
            e.report_unknown(sent.id()).is_err(),
            "a reported invitation has ended"
        );
    }
    clock.advance(MIN * 5);
    let d = e.send(InviteRequest::new(s, MemberId(41_000))).unwrap_err();
    assert!(spam_signals(&d).unwrap().contains(SpamSignal::Reports));
    assert_eq!(
        e.status(s),
        AccountStatus::Active,
        "a first trip is a cooldown"
    );
    // After the cooldown the reports still count: the second trip restricts for a day.
    clock.advance(Duration::from_secs(3600));
    let d = e.send(InviteRequest::new(s, MemberId(41_001))).unwrap_err();
    let until = e.now() + Duration::from_secs(86_400);
    assert_eq!(d.retry_at(), Some(until));
    assert_eq!(
        e.status(s),
        AccountStatus::Restricted { until: Some(until) }
    );
    assert!(e
        .restriction_reason(s)
        .unwrap()
        .contains(SpamSignal::Reports));
    let d = e.send(InviteRequest::new(s, MemberId(41_002))).unwrap_err();
    assert_eq!(
        d.reason(),
        &DenyReason::SenderRestricted { until: Some(until) }
    );
    // The third trip escalates to a week.
    clock.set(until);
    let d = e.send(InviteRequest::new(s, MemberId(41_003))).unwrap_err();
    assert_eq!(d.retry_at(), Some(until + Duration::from_secs(7 * 86_400)));
}

#[test]
fn diagnose_changes_nothing_and_is_not_an_attempt() {
    let (e, clock) = engine();
    let s = MemberId(8);
    for i in 0..10u64 {
        e.send(InviteRequest::new(s, MemberId(50_000 + i)).recipient_email(format!("d{i}@x.org")))
            .unwrap();
        clock.advance(Duration::from_millis(10));
    }
    let before = (e.capacity(s), e.diagnose(s, MemberId(1)));
    // The next attempt would be the eleventh in a minute: diagnose says so...
    assert!(before
        .1
        .blockers()
        .iter()
        .any(|b| matches!(b.reason(), DenyReason::SpamSuspected { .. })));
    // ...but a hundred diagnoses are not a hundred attempts.
    for _ in 0..100 {
        let _ = e.diagnose_request(&InviteRequest::new(s, MemberId(2)).note("hello"));
    }
    assert_eq!((e.capacity(s), e.diagnose(s, MemberId(1))), before);
    clock.advance(MIN);
    assert!(e.diagnose(s, MemberId(1)).is_clear());
    assert!(e.send(InviteRequest::new(s, MemberId(1))).is_ok());
}
