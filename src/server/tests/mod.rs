//! The module's core against the in-memory engine: the same operations, in the
//! same order, at the same instants, give the same answers (`fuzz`: the command
//! parser and the value codec refuse malformed input without panicking).

mod fuzz;
mod store;
mod stored;

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::{Command, Reply, Server};
use crate::server::query::capacity_reply;
use crate::{
    AccountStatus, Engine, InviteId, InviteRequest, InviteSetting, ManualClock, MemberId, Policy,
    Tier, Timestamp,
};
use store::{args, key, num, Store};

/// A small policy, so limits, quotas and spam signals are reached in a few steps.
fn policy() -> Policy {
    let mut p = Policy::default();
    p.free.daily = 4;
    p.free.weekly = 9;
    p.free.notes_per_30d = Some(2);
    p.free.max_note_chars = 20;
    p.spam.burst = Some(crate::RateRule {
        max: 6,
        per: Duration::from_secs(60),
    });
    p.spam.strangers = Some(crate::RateRule {
        max: 5,
        per: Duration::from_secs(3_600),
    });
    p
}

#[derive(Debug, Clone)]
enum Step {
    Send(u64, u64, Option<&'static str>, Option<u64>),
    Accept(usize),
    Decline(usize),
    Withdraw(usize),
    Report(usize),
    Remind(usize),
    Tier(u64, bool),
    Status(u64, u8),
    Setting(u64, u8),
    Connect(u64, u64),
    Follow(u64, u64),
    Capacity(u64),
    Diagnose(u64, u64),
    Advance(u64),
    Register(u64, usize),
    Unregister(u64, usize),
    Contacts(u64, Vec<usize>),
    SendEmail(u64, u64, usize),
    Limits(u64, Option<u32>),
}

/// Emails the steps use; the last is not a valid address.
const EMAILS: [&str; 4] = ["a@x.io", "b@x.io", "C@X.io", "not-an-email"];

fn step() -> impl Strategy<Value = Step> {
    let m = 1u64..=4;
    let note = prop::option::of(prop::sample::select(vec![
        "hi",
        "  ",
        "click here now",
        "a note far longer than twenty",
    ]));
    prop_oneof![
        6 => (m.clone(), m.clone(), note, prop::option::of(1u64..4)).prop_map(|(s, r, n, k)| Step::Send(s, r, n, k)),
        1 => (0usize..16).prop_map(Step::Accept),
        1 => (0usize..16).prop_map(Step::Decline),
        1 => (0usize..16).prop_map(Step::Withdraw),
        1 => (0usize..16).prop_map(Step::Report),
        1 => (0usize..16).prop_map(Step::Remind),
        1 => (m.clone(), any::<bool>()).prop_map(|(a, b)| Step::Tier(a, b)),
        1 => (m.clone(), 0u8..4).prop_map(|(a, b)| Step::Status(a, b)),
        1 => (m.clone(), 0u8..6).prop_map(|(a, b)| Step::Setting(a, b)),
        1 => (m.clone(), m.clone()).prop_map(|(a, b)| Step::Connect(a, b)),
        1 => (m.clone(), m.clone()).prop_map(|(a, b)| Step::Follow(a, b)),
        1 => m.clone().prop_map(Step::Capacity),
        1 => (m.clone(), m.clone()).prop_map(|(a, b)| Step::Diagnose(a, b)),
        2 => prop_oneof![1u64..2_000, 60_000u64..3_600_000, 3_600_000u64..700_000_000].prop_map(Step::Advance),
        1 => (m.clone(), 0usize..3).prop_map(|(a, e)| Step::Register(a, e)),
        1 => (m.clone(), 0usize..3).prop_map(|(a, e)| Step::Unregister(a, e)),
        1 => (m.clone(), prop::collection::vec(0usize..3, 0..4)).prop_map(|(a, e)| Step::Contacts(a, e)),
        2 => (m.clone(), m.clone(), 0usize..4).prop_map(|(a, b, e)| Step::SendEmail(a, b, e)),
        1 => (m.clone(), prop::option::of(1u32..6)).prop_map(|(a, d)| Step::Limits(a, d)),
    ]
}

fn ended(r: Result<(), crate::InviteError>) -> Reply {
    match r {
        Ok(()) => Reply::Array(vec![Reply::text("ok")]),
        Err(e) => Reply::invite_error(&e),
    }
}

/// The reply the module gives for the engine's answer; a sent invitation is kept
/// for the steps that end it.
fn sent_reply(
    answer: Result<crate::Sent, crate::Denied>,
    sent: &mut Vec<(u64, u64, u64)>,
    recipient: u64,
) -> Reply {
    match answer {
        Ok(ok) => {
            sent.push((ok.id().sender().0, ok.id().seq(), recipient));
            Reply::sent(&ok)
        }
        Err(d) => Reply::denied(&d),
    }
}

/// How the module's side runs the two-key commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    TwoKeys,
    /// The one-key forms, the recipient's value given.
    OneKey,
    /// The one-key forms, the recipient's facts given where they decide; the
    /// strangers signal is off (with it on, the facts never decide).
    OneKeyFacts,
}

fn run_both(steps: Vec<Step>, form: Form, shadow: crate::Shadow) {
    let start = 1_700_000_000_000;
    let clock = ManualClock::new(Timestamp::from_millis(start));
    let mut policy = policy();
    if form == Form::OneKeyFacts {
        policy.spam.strangers = None;
    }
    let engine = Engine::builder()
        .policy(policy.clone())
        .shadow(shadow)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut server = Server::new(policy).unwrap();
    let bits = shadow.bits().to_string();
    let bytes = server.encoded_policy();
    let set = Command::parse(&[b"IL.POLICY", b"SET", &bytes, b"SHADOW", bits.as_bytes()]).unwrap();
    server.write(&set, &mut None, None, 0).unwrap();
    let mut store = Store {
        server,
        values: HashMap::new(),
        owners: HashMap::new(),
        peer: form != Form::TwoKeys,
        facts: form == Form::OneKeyFacts,
    };
    let mut now = start;
    let mut sent: Vec<(u64, u64, u64)> = Vec::new();
    for (i, st) in steps.into_iter().enumerate() {
        let pick = |k: usize| sent.get(k % sent.len().max(1)).copied();
        let (want, got) = match st.clone() {
            Step::Send(s, r, note, k) => {
                let mut req = InviteRequest::new(MemberId(s), MemberId(r));
                let mut a = args(&[b"IL.SEND", &key(s), &key(r), &num(s), &num(r)]);
                if let Some(n) = note {
                    req = req.note(n);
                    a.extend(args(&[b"NOTE", n.as_bytes()]));
                }
                if let Some(k) = k {
                    req = req.idempotency_key(k);
                    a.extend(args(&[b"KEY", &num(k)]));
                }
                let want = sent_reply(engine.send(req), &mut sent, r);
                (want, store.run(a, now))
            }
            Step::Accept(k)
            | Step::Decline(k)
            | Step::Withdraw(k)
            | Step::Report(k)
            | Step::Remind(k) => {
                let Some((s, seq, r)) = pick(k) else { continue };
                let id = InviteId::new(MemberId(s), seq);
                let (want, name): (Reply, &[u8]) = match st {
                    Step::Accept(_) => (ended(engine.accept(id)), b"IL.ACCEPT"),
                    Step::Decline(_) => (ended(engine.decline(id)), b"IL.DECLINE"),
                    Step::Withdraw(_) => (ended(engine.withdraw(id)), b"IL.WITHDRAW"),
                    Step::Report(_) => (ended(engine.report_unknown(id)), b"IL.REPORT"),
                    _ => match engine.remind(id) {
                        Ok(n) => (
                            Reply::Array(vec![Reply::text("ok"), Reply::Int(i64::from(n))]),
                            b"IL.REMIND",
                        ),
                        Err(e) => (Reply::invite_error(&e), b"IL.REMIND"),
                    },
                };
                let a = if name == b"IL.ACCEPT" {
                    args(&[name, &key(s), &key(r), &num(s), &num(seq)])
                } else {
                    args(&[name, &key(s), &num(s), &num(seq)])
                };
                (want, store.run(a, now))
            }
            Step::Tier(m, premium) => {
                let (t, name): (Tier, &[u8]) = if premium {
                    (Tier::Premium, b"premium")
                } else {
                    (Tier::Free, b"free")
                };
                engine.set_tier(MemberId(m), t);
                (
                    Reply::Ok,
                    store.run(args(&[b"IL.SET", &key(m), &num(m), b"TIER", name]), now),
                )
            }
            Step::Status(m, code) => {
                let until = now + 3_600_000;
                let (status, extra): (AccountStatus, Vec<Vec<u8>>) = match code {
                    0 => (AccountStatus::Active, args(&[b"active"])),
                    1 => (AccountStatus::Banned, args(&[b"banned"])),
                    2 => (
                        AccountStatus::Restricted { until: None },
                        args(&[b"restricted"]),
                    ),
                    _ => (
                        AccountStatus::Restricted {
                            until: Some(Timestamp::from_millis(until)),
                        },
                        args(&[b"restricted", b"UNTIL", &num(until)]),
                    ),
                };
                engine.set_status(MemberId(m), status);
                let mut a = args(&[b"IL.SET", &key(m), &num(m), b"STATUS"]);
                a.extend(extra);
                (Reply::Ok, store.run(a, now))
            }
            Step::Setting(m, code) => {
                let setting = crate::codes::setting_from(code).unwrap();
                engine.set_invite_setting(MemberId(m), setting);
                let name = crate::codes::names::setting_name(setting);
                let _: InviteSetting = setting;
                (
                    Reply::Ok,
                    store.run(
                        args(&[b"IL.SET", &key(m), &num(m), b"SETTING", name.as_bytes()]),
                        now,
                    ),
                )
            }
            Step::Connect(a, b) => {
                // 1 when the connection is new, 0 when it was there (or a == b).
                let added = a != b && !engine.are_connected(MemberId(a), MemberId(b));
                engine.connect(MemberId(a), MemberId(b));
                let one = store.run(args(&[b"IL.CONNECT", &key(a), &num(a), &num(b)]), now);
                assert_eq!(one, Reply::Int(i64::from(added)));
                (
                    Reply::Int(i64::from(added)),
                    store.run(args(&[b"IL.CONNECT", &key(b), &num(b), &num(a)]), now),
                )
            }
            Step::Follow(a, b) => {
                let added = !engine.follows(MemberId(a), MemberId(b));
                engine.follow(MemberId(a), MemberId(b));
                (
                    Reply::Int(i64::from(added)),
                    store.run(args(&[b"IL.FOLLOW", &key(a), &num(a), &num(b)]), now),
                )
            }
            Step::Capacity(m) => (
                capacity_reply(&engine.capacity(MemberId(m))),
                store.run(args(&[b"IL.CAPACITY", &key(m), &num(m)]), now),
            ),
            Step::Diagnose(s, r) => {
                let d = engine.diagnose(MemberId(s), MemberId(r));
                let want = Reply::blockers(d.blockers());
                (
                    want,
                    store.run(
                        args(&[b"IL.DIAGNOSE", &key(s), &key(r), &num(s), &num(r)]),
                        now,
                    ),
                )
            }
            Step::Register(m, e) => {
                let want = match engine.register_email(MemberId(m), EMAILS[e]) {
                    Ok(()) => Reply::Ok,
                    Err(crate::EmailError::Taken { owner, .. }) => {
                        Reply::Array(vec![Reply::text("taken"), Reply::id(owner.0)])
                    }
                    Err(crate::EmailError::TooManyEmails { max, .. }) => {
                        Reply::Array(vec![Reply::text("too_many"), Reply::Int(max.into())])
                    }
                    Err(other) => panic!("{other}"),
                };
                (want, store.email(m, true, EMAILS[e], now))
            }
            Step::Unregister(m, e) => {
                let want = match engine.unregister_email(MemberId(m), EMAILS[e]) {
                    Ok(()) => Reply::Ok,
                    Err(crate::EmailError::NotRegistered { .. }) => {
                        Reply::Array(vec![Reply::text("not_registered")])
                    }
                    Err(other) => panic!("{other}"),
                };
                (want, store.email(m, false, EMAILS[e], now))
            }
            Step::Contacts(m, list) => {
                let emails: Vec<&str> = list.iter().map(|&i| EMAILS[i]).collect();
                engine.import_contacts(MemberId(m), &emails).unwrap();
                let mut a = args(&[b"IL.CONTACTS", &key(m), &num(m)]);
                a.extend(emails.iter().map(|e| e.as_bytes().to_vec()));
                (Reply::Ok, store.run(a, now))
            }
            Step::SendEmail(s, r, e) => {
                let req = InviteRequest::new(MemberId(s), MemberId(r)).recipient_email(EMAILS[e]);
                let mut a = args(&[
                    b"IL.SEND",
                    &key(s),
                    &key(r),
                    &num(s),
                    &num(r),
                    b"EMAIL",
                    EMAILS[e].as_bytes(),
                ]);
                let owner = crate::email::normalize(EMAILS[e])
                    .ok()
                    .and_then(|n| store.owners.get(&n).copied());
                if let Some(o) = owner {
                    a.extend(args(&[b"OWNER", &num(o)]));
                }
                let want = sent_reply(engine.send(req), &mut sent, r);
                (want, store.run(a, now))
            }
            Step::Limits(m, daily) => {
                let limits = daily.map(|d| crate::TierLimits {
                    daily: d,
                    weekly: d * 2,
                    notes_per_30d: None,
                    max_note_chars: 30,
                });
                engine
                    .set_limits_override(MemberId(m), limits.clone())
                    .unwrap();
                let a = match daily {
                    Some(d) => args(&[
                        b"IL.LIMITS",
                        &key(m),
                        &num(m),
                        b"SET",
                        &num(u64::from(d)),
                        &num(u64::from(d) * 2),
                        b"-",
                        b"30",
                    ]),
                    None => args(&[b"IL.LIMITS", &key(m), &num(m), b"CLEAR"]),
                };
                (Reply::Ok, store.run(a, now))
            }
            Step::Advance(ms) => {
                now += ms;
                clock.set(Timestamp::from_millis(now));
                continue;
            }
        };
        assert_eq!(got, want, "step {i}: {st:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Every operation answers as the in-memory engine answers, step by step, with
    /// every stored value passing through its bytes between steps.
    #[test]
    fn the_module_core_answers_as_the_in_memory_engine(steps in prop::collection::vec(step(), 1..80)) {
        run_both(steps, Form::TwoKeys, crate::Shadow::none());
    }

    /// With rules in shadow mode, sends they would have denied go through and say
    /// which rules and until when, as on the in-memory engine.
    #[test]
    fn shadow_mode_answers_as_the_in_memory_engine(steps in prop::collection::vec(step(), 1..80)) {
        use crate::ShadowRule;
        let shadow = crate::Shadow::none().with(ShadowRule::DailyLimit).with(ShadowRule::SpamSuspected);
        run_both(steps, Form::TwoKeys, shadow);
    }

    /// The one-key forms a cluster needs answer as the two-key ones: a send or a
    /// diagnosis carrying the recipient's value, an acceptance in two steps.
    #[test]
    fn the_one_key_forms_answer_as_the_in_memory_engine(steps in prop::collection::vec(step(), 1..80)) {
        run_both(steps, Form::OneKey, crate::Shadow::none());
    }

    /// A send or a diagnosis on a cluster given the recipient's facts (a gateway's
    /// cache) answers as with their value wherever the facts decide.
    #[test]
    fn the_one_key_forms_given_facts_answer_as_the_in_memory_engine(steps in prop::collection::vec(step(), 1..80)) {
        run_both(steps, Form::OneKeyFacts, crate::Shadow::none());
    }
}
