//! The module's core against the in-memory engine: the same operations, in the
//! same order, at the same instants, give the same answers; the command parser and
//! the value codec refuse malformed input without panicking.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::{Command, MemberValue, Reply, Server};
use crate::server::exec::capacity_reply;
use crate::{
    AccountStatus, Engine, InviteId, InviteRequest, InviteSetting, ManualClock, MemberId, Policy,
    Tier, Timestamp,
};

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
}

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
    ]
}

/// The module's side: values by member, kept as a Redis server keeps them.
struct Store {
    server: Server,
    values: HashMap<u64, MemberValue>,
}

fn key(m: u64) -> Vec<u8> {
    format!("{{il:{m}}}").into_bytes()
}

impl Store {
    fn run(&mut self, args: Vec<Vec<u8>>, now: u64) -> Reply {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let cmd = Command::parse(&refs).expect("well-formed");
        let id = |i: usize| -> u64 {
            std::str::from_utf8(&args[i])
                .unwrap()
                .trim_matches(|c| c == '{' || c == '}')
                .trim_start_matches("il:")
                .parse()
                .unwrap()
        };
        let (a, b) = (
            id(1),
            if cmd.key_count() == 2 {
                Some(id(2))
            } else {
                None
            },
        );
        if !cmd.writes() {
            let first = self.values.get(&a);
            let second = b.filter(|b| *b != a).map(|b| self.values.get(&b));
            return self.server.read(&cmd, first, second, now).expect("read");
        }
        let mut first = self.values.remove(&a);
        let mut second = b.filter(|b| *b != a).map(|b| self.values.remove(&b));
        let done = self
            .server
            .write(&cmd, &mut first, second.as_mut(), now)
            .expect("write");
        // Every value goes through its stored bytes, as RDB and AOF rewrite take it.
        let mut put = |m: u64, v: Option<MemberValue>| {
            if let Some(v) = v {
                let back = MemberValue::decode(&v.encode()).expect("decodes");
                assert_eq!(back.encode(), v.encode(), "stored bytes change the value");
                self.values.insert(m, back);
            }
        };
        put(a, first);
        if let (Some(b), Some(v)) = (b.filter(|b| *b != a), second) {
            put(b, v);
        }
        done.reply
    }
}

fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn num(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}

fn ended(r: Result<(), crate::InviteError>) -> Reply {
    match r {
        Ok(()) => Reply::Array(vec![Reply::text("ok")]),
        Err(e) => Reply::invite_error(&e),
    }
}

fn run_both(steps: Vec<Step>) {
    let start = 1_700_000_000_000;
    let clock = ManualClock::new(Timestamp::from_millis(start));
    let engine = Engine::builder()
        .policy(policy())
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut store = Store {
        server: Server::new(policy()).unwrap(),
        values: HashMap::new(),
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
                let want = match engine.send(req) {
                    Ok(ok) => {
                        sent.push((s, ok.id().seq(), r));
                        Reply::Array(vec![
                            Reply::text("sent"),
                            Reply::Int(ok.id().seq() as i64),
                            Reply::instant(Some(ok.expires_at())),
                        ])
                    }
                    Err(d) => Reply::denied(&d),
                };
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
                engine.connect(MemberId(a), MemberId(b));
                store.run(args(&[b"IL.CONNECT", &key(a), &num(a), &num(b)]), now);
                (
                    Reply::Ok,
                    store.run(args(&[b"IL.CONNECT", &key(b), &num(b), &num(a)]), now),
                )
            }
            Step::Follow(a, b) => {
                engine.follow(MemberId(a), MemberId(b));
                (
                    Reply::Ok,
                    store.run(args(&[b"IL.FOLLOW", &key(a), &num(a), &num(b)]), now),
                )
            }
            Step::Capacity(m) => (
                capacity_reply(&engine.capacity(MemberId(m))),
                store.run(args(&[b"IL.CAPACITY", &key(m), &num(m)]), now),
            ),
            Step::Diagnose(s, r) => {
                let d = engine.diagnose(MemberId(s), MemberId(r));
                let want = Reply::Array(
                    d.blockers()
                        .iter()
                        .map(|b| {
                            Reply::Array(vec![
                                Reply::text(b.reason().code()),
                                Reply::instant(b.retry_at()),
                            ])
                        })
                        .collect(),
                );
                (
                    want,
                    store.run(
                        args(&[b"IL.DIAGNOSE", &key(s), &key(r), &num(s), &num(r)]),
                        now,
                    ),
                )
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
        run_both(steps);
    }

    /// Any bytes, any command name: an error or a command, never a panic.
    #[test]
    fn parsing_arbitrary_arguments_never_panics(parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..12)) {
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let _ = Command::parse(&refs);
    }

    /// Real command names with arguments drawn from numbers, words and junk: the
    /// parser and the server answer or refuse, and a parsed command runs without a
    /// panic on members holding state.
    #[test]
    fn well_named_commands_with_junk_never_panic(
        name in prop::sample::select(super::COMMANDS.iter().map(|c| c.0).chain(["IL.POLICY"]).collect::<Vec<_>>()),
        rest in prop::collection::vec(prop_oneof![
            Just(b"{il:1}".to_vec()), Just(b"1".to_vec()), Just(b"2".to_vec()),
            Just(b"18446744073709551615".to_vec()), Just(b"18446744073709551616".to_vec()),
            Just(b"-1".to_vec()), Just(b"NOTE".to_vec()), Just(b"KEY".to_vec()), Just(b"AT".to_vec()),
            Just(b"TIER".to_vec()), Just(b"STATUS".to_vec()), Just(b"restricted".to_vec()), Just(b"UNTIL".to_vec()),
            Just(b"premium".to_vec()), Just(b"COUNT".to_vec()), Just(b"set".to_vec()), Just(b"get".to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
        ], 0..10),
    ) {
        let mut parts = vec![name.as_bytes().to_vec()];
        parts.extend(rest);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        if let Ok(cmd) = Command::parse(&refs) {
            let mut server = Server::new(Policy::default()).unwrap();
            let held = {
                let mut v = Some(MemberValue::new(1));
                let c = Command::parse(&[b"IL.SEND", b"k", b"k2", b"1", b"2"]).unwrap();
                server.write(&c, &mut v, Some(&mut None), 5_000).unwrap();
                v
            };
            let (mut first, mut second) = (held.clone(), Some(MemberValue::new(2)));
            if cmd.writes() {
                let _ = server.write(&cmd, &mut first, Some(&mut second), 9_000);
            } else {
                let _ = server.read(&cmd, first.as_ref(), Some(second.as_ref()), 9_000);
            }
            // A replica's form of the command parses to the same command at its instant.
            let replica = cmd.replicated(&refs, 7_000);
            let mut full = vec![cmd.name().as_bytes().to_vec()];
            full.extend(replica);
            let back: Vec<&[u8]> = full.iter().map(Vec::as_slice).collect();
            let again = Command::parse(&back).expect("a replicated command parses");
            prop_assert_eq!(&again.op, &cmd.op);
        }
    }

    /// Any bytes as a stored value: refused or read, never a panic; what is read
    /// writes back to the same bytes.
    #[test]
    fn decoding_arbitrary_values_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = MemberValue::decode(&bytes) {
            prop_assert_eq!(MemberValue::decode(&v.encode()).unwrap().encode(), v.encode());
        }
    }
}

#[test]
fn a_value_flipped_anywhere_is_refused_or_read_without_panicking() {
    let mut server = Server::new(policy()).unwrap();
    let mut v = None;
    for (i, note) in ["hi", "yo", "x"].iter().enumerate() {
        let r = (i + 2).to_string();
        let c = Command::parse(&[
            b"IL.SEND",
            b"a",
            b"b",
            b"1",
            r.as_bytes(),
            b"NOTE",
            note.as_bytes(),
            b"KEY",
            b"7",
        ])
        .unwrap();
        server
            .write(&c, &mut v, Some(&mut None), 10_000 + i as u64)
            .unwrap();
    }
    let bytes = v.unwrap().encode();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let _ = MemberValue::decode(&b);
        }
        let _ = MemberValue::decode(&bytes[..i]);
    }
}

#[test]
fn malformed_commands_name_what_is_wrong() {
    let err = |parts: &[&[u8]]| Command::parse(parts).unwrap_err().to_string();
    assert!(err(&[]).contains("empty"));
    assert!(err(&[b"IL.NOPE"]).contains("unknown command"));
    assert!(err(&[b"IL.SEND", b"a", b"b", b"1"]).contains("recipient missing"));
    assert!(err(&[b"IL.SEND", b"a", b"b", b"x", b"2"]).contains("sender is not"));
    assert!(
        err(&[b"IL.SEND", b"a", b"b", b"1", b"18446744073709551616"]).contains("recipient is not")
    );
    assert!(err(&[b"IL.CAPACITY", b"a", b"1", b"AT", b"-5"]).contains("AT is not"));
    assert!(
        err(&[b"IL.CAPACITY", b"a", b"1", b"AT", b"253402300800000"])
            .contains("after Timestamp::MAX")
    );
    assert!(err(&[b"IL.CAPACITY", b"a", b"1", b"extra"]).contains("unknown option"));
    assert!(err(&[b"IL.SET", b"a", b"1", b"TIER", b"gold"]).contains("free or premium"));
    let huge = vec![b'x'; super::MAX_ARG_BYTES + 1];
    assert!(err(&[b"IL.SEND", b"a", b"b", b"1", b"2", b"NOTE", &huge]).contains("limit"));
    // A key holding another member than the command names.
    let mut server = Server::new(Policy::default()).unwrap();
    let c = Command::parse(&[b"IL.SET", b"a", b"5", b"TIER", b"premium"]).unwrap();
    let mut v = None;
    server.write(&c, &mut v, None, 1).unwrap();
    let c = Command::parse(&[b"IL.SET", b"a", b"6", b"TIER", b"free"]).unwrap();
    let e = server.write(&c, &mut v, None, 2).unwrap_err();
    assert!(e.to_string().contains("holds member 5"), "{e}");
    assert_eq!(
        v.unwrap().member.tier,
        Tier::Premium,
        "an error changes nothing"
    );
}

#[test]
fn time_never_steps_back_for_a_member() {
    let mut server = Server::new(policy()).unwrap();
    let mut v = None;
    let send = |at: u64, r: &str| {
        Command::parse(&[
            b"IL.SEND",
            b"a",
            b"b",
            b"1",
            r.as_bytes(),
            b"AT",
            at.to_string().as_bytes(),
        ])
        .unwrap()
    };
    let done = server
        .write(&send(1_000_000, "2"), &mut v, Some(&mut None), 0)
        .unwrap();
    assert_eq!(done.at, 1_000_000);
    // A later command asked at an earlier instant runs at the member's latest.
    let done = server
        .write(&send(5, "3"), &mut v, Some(&mut None), 0)
        .unwrap();
    assert_eq!(done.at, 1_000_000);
    let Reply::Array(items) = done.reply else {
        panic!()
    };
    let ttl = policy().pending_ttl.as_millis() as i64;
    assert_eq!(
        items[2],
        Reply::Int(1_000_000 + ttl),
        "expiry from the member's clock"
    );
}

#[test]
fn a_value_with_nothing_left_is_dropped_and_one_with_facts_kept() {
    let mut server = Server::new(Policy::default()).unwrap();
    let mut v = None;
    let c = Command::parse(&[b"IL.SET", b"a", b"1", b"TIER", b"free"]).unwrap();
    server.write(&c, &mut v, None, 1_000).unwrap();
    assert!(v.is_none(), "a default fact creates no value");
    let c = Command::parse(&[b"IL.SET", b"a", b"1", b"TIER", b"premium"]).unwrap();
    server.write(&c, &mut v, None, 1_000).unwrap();
    assert_eq!(
        server.expires_at(v.as_ref().unwrap()),
        None,
        "a premium member never expires"
    );
    let c = Command::parse(&[b"IL.SEND", b"a", b"b", b"3", b"4"]).unwrap();
    let mut w = None;
    server.write(&c, &mut w, Some(&mut None), 1_000).unwrap();
    let week = 7 * 24 * 3_600_000;
    assert!(server.expires_at(w.as_ref().unwrap()).unwrap() >= 1_000 + week);
}
