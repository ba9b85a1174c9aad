use invite_limiter::*;
use std::time::Duration;

fn engine(clock: &ManualClock) -> Engine {
    Engine::builder()
        .policy(Policy {
            spam: SpamPolicy::disabled(),
            ..Policy::default()
        })
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn daily_limit_and_retry() {
    let clock = ManualClock::new(Timestamp::from_millis(1_000_000));
    let e = engine(&clock);
    for r in 0..30 {
        e.send(InviteRequest::new(MemberId(1), MemberId(100 + r)))
            .unwrap();
        clock.advance(Duration::from_millis(1));
    }
    let d = e
        .send(InviteRequest::new(MemberId(1), MemberId(999)))
        .unwrap_err();
    assert!(
        matches!(
            d.reason(),
            DenyReason::DailyLimit {
                used: 30,
                limit: 30
            }
        ),
        "{d}"
    );
    assert_eq!(
        d.retry_at(),
        Some(Timestamp::from_millis(1_000_000 + 86_400_000))
    );
    clock.set(Timestamp::from_millis(1_000_000 + 86_400_000 - 1));
    assert!(e
        .send(InviteRequest::new(MemberId(1), MemberId(999)))
        .is_err());
    clock.set(Timestamp::from_millis(1_000_000 + 86_400_000));
    assert!(e
        .send(InviteRequest::new(MemberId(1), MemberId(999)))
        .is_ok());
    let cap = e.capacity(MemberId(1));
    assert_eq!(cap.daily.used, 30);
    assert_eq!(cap.weekly.used, 31);
}

#[test]
fn pair_cap_accept_and_sweep() {
    let clock = ManualClock::new(Timestamp::from_millis(0));
    let e = engine(&clock);
    let a = MemberId(1);
    let b = MemberId(2);
    let first = e.send(InviteRequest::new(a, b)).unwrap();
    e.send(InviteRequest::new(a, b)).unwrap();
    e.send(InviteRequest::new(a, b)).unwrap();
    let d = e.send(InviteRequest::new(a, b)).unwrap_err();
    assert!(matches!(d.reason(), DenyReason::PairPendingLimit { .. }));
    assert_eq!(d.retry_at(), Some(first.expires_at()));
    e.send(InviteRequest::new(b, a)).unwrap();
    e.accept(first.id()).unwrap();
    assert!(e.are_connected(a, b));
    assert_eq!(e.pending_between(a, b), 0);
    assert_eq!(e.pending_between(b, a), 0);
    let d = e.send(InviteRequest::new(a, b)).unwrap_err();
    assert_eq!(d.reason(), &DenyReason::AlreadyConnected);
    let x = e.send(InviteRequest::new(a, MemberId(3))).unwrap();
    clock.set(x.expires_at());
    assert_eq!(e.pending_between(a, MemberId(3)), 0);
    assert_eq!(e.sweep(), 1);
    assert_eq!(e.sweep(), 0);
    assert!(e.accept(x.id()).is_err());
}
