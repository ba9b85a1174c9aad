//! Instants past the last one the engine acts at, on every engine.

use invite_limiter::{
    AccountStatus, DenyReason, InviteRequest, Limiter, ManualClock, MemberId, Timestamp,
};

/// A restriction whose `until` lies past `Timestamp::MAX` (up to `u64::MAX`, which
/// a gateway may use for "until further notice") never lifts, and every engine
/// reports it as a restriction with an instant past the end of time, never as bad
/// data.
pub(crate) async fn a_restriction_past_the_end_of_time_never_lifts<L: Limiter>(
    l: L,
    c: ManualClock,
) {
    let fars = [
        Timestamp::MAX.as_millis() + 1,
        (1 << 53) - 1,
        (1 << 53) + 1,
        1 << 60,
        u64::MAX,
    ];
    let check = |m: u64| {
        let l = &l;
        async move {
            let d = l
                .send(InviteRequest::new(MemberId(m), MemberId(100)))
                .await
                .unwrap_err();
            let DenyReason::SenderRestricted { until: Some(until) } = *d.reason() else {
                panic!("member {m}: {d}");
            };
            assert!(until > Timestamp::MAX, "member {m}: {until:?}");
            assert_eq!(d.retry_at(), Some(until));
            let cap = l.capacity(MemberId(m)).await.expect("readable");
            assert_eq!(cap.status, AccountStatus::Restricted { until: Some(until) });
            until
        }
    };
    for (m, far) in (1..).zip(fars) {
        let status = AccountStatus::Restricted {
            until: Some(Timestamp::from_millis(far)),
        };
        l.set_status(MemberId(m), status).await.unwrap();
        let until = check(m).await;
        // Exact as far as a backend can store it (a signed 64-bit count at least).
        let stored = until.as_millis();
        assert!(
            stored == far || (far > i64::MAX as u64 && stored == i64::MAX as u64),
            "member {m}: {far} read back as {stored}"
        );
    }
    c.set(Timestamp::from_millis(u64::MAX));
    for m in 1..=fars.len() as u64 {
        check(m).await;
    }
}
