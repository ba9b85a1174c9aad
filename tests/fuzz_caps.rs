//! Property tests for the member caps and far instants: any sequence of statuses
//! (with any `until`), connections, follows, email registrations and contact
//! imports, at any instant, keeps every member under every cap, keeps an email's
//! owner what the calls said, and survives a snapshot and restore unchanged.

use invite_limiter::{
    AccountStatus, EmailError, Engine, InviteRequest, ManualClock, MemberId, MemberLimits,
    Timestamp,
};
use proptest::prelude::*;

const MEMBERS: u64 = 5;
const LIMITS: MemberLimits = MemberLimits {
    max_connections: 2,
    max_follows: 2,
    max_emails: 2,
    max_contacts: 3,
};

/// Cases per property: `PROPTEST_CASES` when set (for a longer run), else 64.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn instant() -> impl Strategy<Value = u64> {
    let end = Timestamp::MAX.as_millis();
    prop_oneof![
        any::<u64>(),
        Just(u64::MAX),
        (end - 1_000)..=(end + 1_000),
        (1u64 << 53) - 2..(1u64 << 53) + 2,
        1_700_000_000_000u64..1_700_000_100_000,
    ]
}

/// A few addresses, in several spellings, and text that is no address at all.
fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u8..4, any::<bool>()).prop_map(|(i, loud)| {
            let e = format!(" a{i}}}x@b.co");
            if loud { e.to_uppercase() } else { e }
        }),
        1 => "[a-c@.{} ]{0,8}",
    ]
}

#[derive(Debug, Clone)]
enum Call {
    Clock(u64),
    Status(u64, u8, u64),
    Link(u64, u64, bool),
    Follow(u64, u64, bool),
    Register(u64, String),
    Unregister(u64, String),
    Import(u64, Vec<String>),
    Send(u64, u64),
    Read(u64, u64),
    Sweep,
}

fn call() -> impl Strategy<Value = Call> {
    let m = || 0..MEMBERS;
    prop_oneof![
        1 => instant().prop_map(Call::Clock),
        2 => (m(), 0u8..4, instant()).prop_map(|(m, k, t)| Call::Status(m, k, t)),
        3 => (m(), m(), any::<bool>()).prop_map(|(a, b, on)| Call::Link(a, b, on)),
        2 => (m(), m(), any::<bool>()).prop_map(|(a, b, on)| Call::Follow(a, b, on)),
        3 => (m(), email()).prop_map(|(m, e)| Call::Register(m, e)),
        2 => (m(), email()).prop_map(|(m, e)| Call::Unregister(m, e)),
        2 => (m(), proptest::collection::vec(email(), 0..7)).prop_map(|(m, l)| Call::Import(m, l)),
        2 => (m(), m()).prop_map(|(s, r)| Call::Send(s, r)),
        1 => (m(), m()).prop_map(|(s, r)| Call::Read(s, r)),
        1 => Just(Call::Sweep),
    ]
}

fn status(kind: u8, until: u64) -> AccountStatus {
    match kind {
        0 => AccountStatus::Active,
        1 => AccountStatus::Banned,
        2 => AccountStatus::Restricted { until: None },
        _ => AccountStatus::Restricted {
            until: Some(Timestamp::from_millis(until)),
        },
    }
}

/// Every member's relations and addresses, as the public API reports them.
fn state(e: &Engine) -> Vec<(usize, usize, Vec<String>, Vec<bool>)> {
    (0..MEMBERS)
        .map(|m| {
            let m = MemberId(m);
            let follows = (0..MEMBERS).map(|o| e.follows(m, MemberId(o))).collect();
            (
                e.connection_count(m),
                e.email_count(m),
                e.contacts(m),
                follows,
            )
        })
        .collect()
}

fn check_caps(e: &Engine) -> Result<(), TestCaseError> {
    for (m, (connections, emails, contacts, follows)) in state(e).into_iter().enumerate() {
        prop_assert!(
            connections <= LIMITS.max_connections as usize,
            "{} connections",
            m
        );
        prop_assert!(emails <= LIMITS.max_emails as usize, "{} emails", m);
        prop_assert!(
            contacts.len() <= LIMITS.max_contacts as usize,
            "{} contacts",
            m
        );
        let follows = follows.iter().filter(|&&f| f).count();
        prop_assert!(follows <= LIMITS.max_follows as usize, "{} follows", m);
    }
    Ok(())
}

fn apply(e: &Engine, clock: &ManualClock, c: Call) -> Result<(), TestCaseError> {
    match c {
        Call::Clock(t) => clock.set(Timestamp::from_millis(t)),
        Call::Status(m, kind, until) => e.set_status(MemberId(m), status(kind, until)),
        Call::Link(a, b, on) => match (on, e.try_connect(MemberId(a), MemberId(b))) {
            (true, r) => prop_assert_eq!(
                r.is_ok(),
                e.are_connected(MemberId(a), MemberId(b)) || a == b
            ),
            (false, _) => e.disconnect(MemberId(a), MemberId(b)),
        },
        Call::Follow(a, b, true) => {
            let ok = e.try_follow(MemberId(a), MemberId(b)).is_ok();
            prop_assert_eq!(ok, e.follows(MemberId(a), MemberId(b)));
        }
        Call::Follow(a, b, false) => e.unfollow(MemberId(a), MemberId(b)),
        Call::Register(m, email) => {
            let before = e.resolve_email(&email);
            match e.register_email(MemberId(m), &email) {
                Ok(()) => prop_assert_eq!(e.resolve_email(&email), Ok(Some(MemberId(m)))),
                Err(EmailError::Taken { owner, .. }) => {
                    prop_assert_eq!(e.resolve_email(&email), Ok(Some(owner)));
                }
                Err(_) => prop_assert_eq!(e.resolve_email(&email), before),
            }
        }
        Call::Unregister(m, email) => {
            let before = e.resolve_email(&email);
            match e.unregister_email(MemberId(m), &email) {
                Ok(()) => {
                    prop_assert_eq!(before, Ok(Some(MemberId(m))));
                    prop_assert_eq!(e.resolve_email(&email), Ok(None));
                }
                Err(_) => prop_assert_eq!(e.resolve_email(&email), before),
            }
        }
        Call::Import(m, list) => {
            let before = e.contacts(MemberId(m));
            if e.import_contacts(MemberId(m), &list).is_err() {
                prop_assert_eq!(e.contacts(MemberId(m)), before);
            }
        }
        Call::Send(s, r) => {
            let _ = e.send(InviteRequest::new(MemberId(s), MemberId(r)));
        }
        Call::Read(s, r) => {
            let _ = e.diagnose(MemberId(s), MemberId(r));
            let cap = e.capacity(MemberId(s));
            // A timed restriction reads back exactly as it was set, until it lifts.
            if let AccountStatus::Restricted { until: Some(t) } = cap.status {
                prop_assert!(t > e.now());
            }
        }
        Call::Sweep => {
            e.sweep();
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn no_calls_take_a_member_past_a_cap(
        start in instant(),
        calls in proptest::collection::vec(call(), 1..60),
    ) {
        let clock = ManualClock::new(Timestamp::from_millis(start));
        let e = Engine::builder().clock(clock.clone()).shards(2).limits(LIMITS).build().unwrap();
        for c in calls {
            apply(&e, &clock, c)?;
            check_caps(&e)?;
        }
        let mut bytes = Vec::new();
        e.snapshot(&mut bytes).unwrap();
        let back = Engine::builder()
            .clock(clock)
            .limits(LIMITS)
            .restore(&mut &bytes[..])
            .unwrap();
        prop_assert_eq!(state(&back), state(&e));
        for m in 0..MEMBERS {
            prop_assert_eq!(back.capacity(MemberId(m)), e.capacity(MemberId(m)));
        }
    }
}
