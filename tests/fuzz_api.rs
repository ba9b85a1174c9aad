//! Property tests that drive the public API with arbitrary input: any instant from 0
//! to `u64::MAX` (the clock set forwards and backwards), any durations in a policy,
//! any strings for notes, emails and contacts. Every call returns without a panic, no
//! send is admitted over a window's limit, and what is rejected changes nothing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use invite_limiter::{
    ContactOutcome, Engine, InviteId, InviteRequest, ManualClock, MemberId, Policy, RateRule,
    ReminderPolicy, Sent, SpamPolicy, Tier, TierLimits, Timestamp,
};
use proptest::prelude::*;

const DAY: u64 = 86_400_000;
const WEEK: u64 = 7 * DAY;
const END: u64 = Timestamp::MAX.as_millis();
const MEMBERS: u64 = 4;

/// Instants across the whole range, with the edges and the end of time well covered.
fn instant() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(u64::MAX),
        Just(0u64),
        (END - 2 * WEEK)..=(END + WEEK),
        1_700_000_000_000u64..1_700_000_000_000 + 4 * WEEK,
    ]
}

/// Durations from none to `Duration::MAX`, mostly ones a policy could use.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (0u64..3 * WEEK).prop_map(Duration::from_millis),
        1 => (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        1 => Just(Duration::MAX),
        1 => Just(Policy::LONGEST_SPAN),
        1 => Just(Duration::from_micros(1)),
    ]
}

/// Text of every kind: free Unicode, valid and nearly valid emails, long runs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,16}",
        "[ \\t]{0,2}[a-cA-C]{1,2}@[a-c]{1,2}\\.(com|IO)[ \\n]{0,2}",
        "[a-c@.{} ]{0,12}",
        (0usize..1_500, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
    ]
}

/// Spans a policy could use: a millisecond to three weeks.
fn span() -> impl Strategy<Value = Duration> {
    (1u64..3 * WEEK).prop_map(Duration::from_millis)
}

fn tier_limits() -> impl Strategy<Value = TierLimits> {
    let valid = (1u32..4, 0u32..5, proptest::option::of(0u32..3), 1u32..40).prop_map(
        |(daily, more, notes, chars)| TierLimits {
            daily,
            weekly: daily + more,
            notes_per_30d: notes,
            max_note_chars: chars,
        },
    );
    let raw = (0u32..3, 0u32..3, 0u32..3).prop_map(|(daily, weekly, chars)| TierLimits {
        daily,
        weekly,
        notes_per_30d: None,
        max_note_chars: chars,
    });
    prop_oneof![9 => valid, 1 => raw]
}

fn rule() -> impl Strategy<Value = Option<RateRule>> {
    proptest::option::of((0u32..4, span()).prop_map(|(max, per)| RateRule { max, per }))
}

/// A policy that mostly works, spam signals on or off; one in four has one
/// duration replaced by an arbitrary one (often too long or too short to work).
fn policy() -> impl Strategy<Value = Policy> {
    let spam = (
        any::<bool>(),
        (rule(), rule(), rule()),
        (span(), span(), proptest::collection::vec(span(), 0..3)),
    )
        .prop_map(
            |(on, (burst, template, reports), (cooldown, memory, ladder))| {
                let base = if on {
                    SpamPolicy::default()
                } else {
                    SpamPolicy::disabled()
                };
                SpamPolicy {
                    burst: burst.filter(|_| on),
                    template: template.filter(|_| on),
                    reports: reports.filter(|_| on),
                    cooldown,
                    strike_memory: memory,
                    restriction_ladder: ladder,
                    ..base
                }
            },
        );
    let wild = proptest::option::weighted(0.25, (0usize..6, duration()));
    (
        tier_limits(),
        tier_limits(),
        1u32..3,
        span(),
        span(),
        spam,
        wild,
    )
        .prop_map(|(free, premium, pair, ttl, cooldown, spam, wild)| {
            let mut p = Policy {
                free,
                premium,
                max_pending_per_pair: pair,
                pending_ttl: ttl,
                reinvite_cooldown: cooldown,
                spam,
            };
            if let Some((field, d)) = wild {
                match field {
                    0 => p.pending_ttl = d,
                    1 => p.reinvite_cooldown = d,
                    2 => p.spam.cooldown = d,
                    3 => p.spam.strike_memory = d,
                    4 => p.spam.restriction_ladder.push(d),
                    _ => p.spam.burst = Some(RateRule { max: 2, per: d }),
                }
            }
            p
        })
}

#[derive(Debug, Clone)]
enum Call {
    Set(u64),
    Advance(Duration),
    Send {
        s: u64,
        r: u64,
        note: Option<String>,
        email: Option<String>,
        key: Option<u64>,
    },
    ByEmail(u64, String),
    Register(u64, String),
    Import(u64, Vec<String>),
    InviteContacts(u64),
    Tier(u64, bool),
    Withdraw(usize),
    Sweep,
}

fn call() -> impl Strategy<Value = Call> {
    let m = || 0..MEMBERS;
    prop_oneof![
        2 => instant().prop_map(Call::Set),
        1 => duration().prop_map(Call::Advance),
        6 => (m(), m(), proptest::option::of(text()), proptest::option::of(text()),
              proptest::option::of(0u64..3))
            .prop_map(|(s, r, note, email, key)| Call::Send { s, r, note, email, key }),
        1 => (m(), text()).prop_map(|(s, e)| Call::ByEmail(s, e)),
        2 => (m(), text()).prop_map(|(s, e)| Call::Register(s, e)),
        2 => (m(), proptest::collection::vec(text(), 0..4)).prop_map(|(o, l)| Call::Import(o, l)),
        1 => m().prop_map(Call::InviteContacts),
        1 => (m(), any::<bool>()).prop_map(|(m, p)| Call::Tier(m, p)),
        1 => any::<usize>().prop_map(Call::Withdraw),
        1 => Just(Call::Sweep),
    ]
}

/// What the engine must agree with: its instant, the tiers, and every admitted send.
struct Model {
    policy: Policy,
    clock: u64,
    latest: u64,
    premium: HashSet<u64>,
    sends: HashMap<u64, Vec<u64>>,
    ids: HashSet<InviteId>,
}

impl Model {
    fn move_clock(&mut self, to: u64) {
        self.clock = to.min(END);
    }

    /// The engine reads its clock: it acts at the latest reading so far.
    fn read(&mut self) {
        self.latest = self.latest.max(self.clock);
    }

    /// Checks a send admitted now against the windows, then counts it. A repeat of
    /// an idempotent send returns the first `Sent` and counts nothing.
    fn admit(&mut self, sender: u64, sent: &Sent) -> Result<(), TestCaseError> {
        if !self.ids.insert(sent.id()) {
            return Ok(());
        }
        let now = self.latest;
        let expected = Timestamp::from_millis(now) + self.policy.pending_ttl;
        prop_assert_eq!(sent.expires_at(), expected);
        let limits = match self.premium.contains(&sender) {
            true => &self.policy.premium,
            false => &self.policy.free,
        };
        let log = self.sends.entry(sender).or_default();
        let within = |len: u64| log.iter().filter(|&&t| t + len > now).count() as u32;
        prop_assert!(
            within(DAY) < limits.daily,
            "{} over the daily limit at {}",
            sender,
            now
        );
        prop_assert!(
            within(WEEK) < limits.weekly,
            "{} over the weekly limit at {}",
            sender,
            now
        );
        log.push(now);
        Ok(())
    }
}

/// What a rejected call must leave as it was.
fn footprint(e: &Engine, m: u64) -> (u32, u32, u32, Vec<String>) {
    let cap = e.capacity(MemberId(m));
    let contacts = e.contacts(MemberId(m));
    (cap.daily.used, cap.weekly.used, cap.pending_sent, contacts)
}

fn run(
    e: &Engine,
    clock: &ManualClock,
    model: &mut Model,
    calls: Vec<Call>,
) -> Result<(), TestCaseError> {
    let mut sent: Vec<InviteId> = Vec::new();
    for c in calls {
        if !matches!(c, Call::Set(_) | Call::Advance(_)) {
            model.read();
        }
        match c {
            Call::Set(t) => {
                clock.set(Timestamp::from_millis(t));
                model.move_clock(t);
            }
            Call::Advance(d) => {
                clock.advance(d);
                let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                model.move_clock(model.clock.saturating_add(ms));
            }
            Call::Send {
                s,
                r,
                note,
                email,
                key,
            } => {
                let mut req = InviteRequest::new(MemberId(s), MemberId(r));
                if let Some(n) = note {
                    req = req.note(n);
                }
                if let Some(em) = email {
                    req = req.recipient_email(em);
                }
                if let Some(k) = key {
                    req = req.idempotency_key(k);
                }
                let before = footprint(e, s);
                match e.send(req) {
                    Ok(ok) => {
                        model.admit(s, &ok)?;
                        sent.push(ok.id());
                    }
                    Err(_) => prop_assert_eq!(footprint(e, s), before, "a denial changed state"),
                }
            }
            Call::ByEmail(s, email) => {
                let before = footprint(e, s);
                match e.send_by_email(MemberId(s), &email) {
                    Ok(ok) => model.admit(s, &ok)?,
                    Err(_) => prop_assert_eq!(footprint(e, s), before),
                }
            }
            Call::Register(m, email) => {
                let owner = e.resolve_email(&email);
                if e.register_email(MemberId(m), &email).is_err() {
                    prop_assert_eq!(e.resolve_email(&email), owner);
                } else {
                    prop_assert_eq!(e.resolve_email(&email), Ok(Some(MemberId(m))));
                }
            }
            Call::Import(owner, list) => {
                let before = e.contacts(MemberId(owner));
                if e.import_contacts(MemberId(owner), &list).is_err() {
                    prop_assert_eq!(e.contacts(MemberId(owner)), before);
                }
            }
            Call::InviteContacts(owner) => {
                for c in e.invite_contacts(MemberId(owner)).contacts {
                    if let ContactOutcome::Sent(ok) = c.outcome {
                        model.admit(owner, &ok)?;
                    }
                }
            }
            Call::Tier(m, premium) => {
                e.set_tier(
                    MemberId(m),
                    if premium { Tier::Premium } else { Tier::Free },
                );
                if premium {
                    model.premium.insert(m);
                } else {
                    model.premium.remove(&m);
                }
            }
            Call::Withdraw(i) => {
                if let Some(&id) = sent.get(i % sent.len().max(1)) {
                    let _ = e.withdraw(id);
                }
            }
            Call::Sweep => {
                e.sweep();
            }
        }
        model.read();
        prop_assert_eq!(e.now(), Timestamp::from_millis(model.latest));
    }
    Ok(())
}

/// Cases per property: `PROPTEST_CASES` when set (for a longer run), else 64.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any policy builds or is a `ConfigError` naming a field; a built engine takes
    /// any sequence of calls at any instants and keeps every limit.
    #[test]
    fn any_policy_and_any_calls_keep_every_limit(
        p in policy(),
        start in instant(),
        reminders in (prop_oneof![0u32..4, any::<u32>()], span()),
        calls in proptest::collection::vec(call(), 1..40),
    ) {
        let clock = ManualClock::new(Timestamp::from_millis(start));
        let reminders = ReminderPolicy { max: reminders.0, spacing: reminders.1 };
        let built = Engine::builder()
            .policy(p.clone())
            .clock(clock.clone())
            .shards(4)
            .reminders(reminders)
            .build();
        let e = match built {
            Ok(e) => e,
            Err(err) => {
                prop_assert!(!err.field().is_empty());
                prop_assert!(err.to_string().contains(err.field()), "{}", err);
                return Ok(());
            }
        };
        let mut model = Model {
            policy: p,
            clock: 0,
            latest: 0,
            premium: HashSet::new(),
            sends: HashMap::new(),
            ids: HashSet::new(),
        };
        model.move_clock(start);
        run(&e, &clock, &mut model, calls)?;
        // However the calls left it, a sweep at the end of time returns.
        clock.set(Timestamp::from_millis(u64::MAX));
        e.sweep();
        prop_assert_eq!(e.now(), Timestamp::MAX);
    }

    /// Arbitrary numbers and durations anywhere in a policy: `Ok` or `ConfigError`.
    #[test]
    fn any_policy_builds_or_is_a_config_error(
        daily in any::<u32>(), weekly in any::<u32>(), chars in any::<u32>(),
        ttl in duration(), cooldown in duration(), per in duration(),
    ) {
        let mut p = Policy {
            pending_ttl: ttl,
            reinvite_cooldown: cooldown,
            ..Policy::default()
        };
        p.free = TierLimits { daily, weekly, notes_per_30d: Some(daily), max_note_chars: chars };
        p.spam.ignored = p.spam.ignored.map(|r| invite_limiter::IgnoredRule { per, ..r });
        match Engine::builder().policy(p).clock(ManualClock::default()).shards(1).build() {
            Ok(e) => {
                let note = "y".repeat(usize::try_from(chars).unwrap_or(usize::MAX).min(5_000));
                let _ = e.send(InviteRequest::new(MemberId(1), MemberId(2)).note(note));
            }
            Err(err) => prop_assert!(!err.field().is_empty()),
        }
    }
}
