//! Model-based test: random operation sequences run against the engine and against
//! the brute-force reference model in `tests/reference`; every result must agree.

mod reference;

use std::time::Duration;

use invite_limiter::{
    AccountStatus, Clock, Denied, Engine, InviteId, InviteRequest, InviteSetting, ManualClock,
    MemberId, Policy, Sent, SpamPolicy, Tier, TierLimits, Timestamp,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError};
use reference::{LifecycleOp, Model, SendOutcome, DAY, IDEM_WINDOW, NOTE_WINDOW, WEEK};

const START: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;
/// Member ids: a few, so that collisions happen; one far away in the id space.
const MEMBERS: [u64; 4] = [1, 2, 3, 1 << 40];

#[derive(Debug, Clone, Copy)]
enum NoteLen {
    One,
    FreeMax,
    FreeOver,
    PremiumMax,
    PremiumOver,
}

#[derive(Debug, Clone, Copy)]
enum NoteSpec {
    None,
    Blank,
    Text(NoteLen),
}

#[derive(Debug, Clone, Copy)]
enum StatusSpec {
    Active,
    Banned,
    RestrictedForever,
    /// Restricted until now + this many ms (0: lifts at once).
    RestrictedFor(u64),
}

#[derive(Debug, Clone, Copy)]
enum Span {
    Zero,
    Day,
    Week,
    /// A week minus a day: a send there leaves the daily window exactly when the
    /// anchor's send leaves the weekly one (the daily-vs-weekly tie).
    WeekMinusDay,
    Notes,
    Ttl,
    Cooldown,
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        s: usize,
        r: usize,
        note: NoteSpec,
        key: Option<u64>,
    },
    Diagnose {
        s: usize,
        r: usize,
        note: NoteSpec,
        key: Option<u64>,
    },
    Life {
        op: LifecycleOp,
        pick: Pick,
    },
    SetTier {
        m: usize,
        premium: bool,
    },
    SetStatus {
        m: usize,
        status: StatusSpec,
    },
    SetSetting {
        m: usize,
        setting: InviteSetting,
    },
    Follow {
        a: usize,
        b: usize,
        on: bool,
    },
    Link {
        a: usize,
        b: usize,
        on: bool,
    },
    Advance(u64),
    /// Sets the clock to an interesting instant (the send or withdrawal or restriction
    /// end picked) plus a span, plus `delta` ms (-1, 0 or 1). May step backwards.
    ClockTo {
        pick: Index,
        span: Span,
        delta: i8,
    },
    ClockBack(u64),
    Sweep,
    PendingBetween {
        s: usize,
        r: usize,
    },
    Capacity {
        m: usize,
    },
    AreConnected {
        a: usize,
        b: usize,
    },
}

fn member() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..3usize, 1 => Just(3usize)]
}

/// A sender and a recipient: rarely the same member.
fn pair() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        19 => (member(), 1..MEMBERS.len()).prop_map(|(s, k)| (s, (s + k) % MEMBERS.len())),
        1 => member().prop_map(|s| (s, s)),
    ]
}

/// Which invitation a lifecycle operation picks: often one of the latest few.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Any(Index),
    Recent(u8),
}

impl Pick {
    fn index(self, len: usize) -> usize {
        match self {
            Pick::Any(i) => i.index(len),
            Pick::Recent(back) => len - 1 - (usize::from(back) % len),
        }
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        any::<Index>().prop_map(Pick::Any),
        (0u8..4).prop_map(Pick::Recent)
    ]
}

fn note_spec() -> impl Strategy<Value = NoteSpec> {
    prop_oneof![
        5 => Just(NoteSpec::None),
        1 => Just(NoteSpec::Blank),
        2 => Just(NoteSpec::Text(NoteLen::One)),
        1 => Just(NoteSpec::Text(NoteLen::FreeMax)),
        1 => Just(NoteSpec::Text(NoteLen::FreeOver)),
        1 => Just(NoteSpec::Text(NoteLen::PremiumMax)),
        1 => Just(NoteSpec::Text(NoteLen::PremiumOver)),
    ]
}

fn key() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![3 => Just(None), 1 => (0u64..3).prop_map(Some)]
}

fn lifecycle_op() -> impl Strategy<Value = LifecycleOp> {
    prop_oneof![
        Just(LifecycleOp::Accept),
        Just(LifecycleOp::Decline),
        Just(LifecycleOp::Withdraw),
        Just(LifecycleOp::ReportUnknown),
    ]
}

fn status_spec() -> impl Strategy<Value = StatusSpec> {
    prop_oneof![
        6 => Just(StatusSpec::Active),
        1 => Just(StatusSpec::Banned),
        1 => Just(StatusSpec::RestrictedForever),
        2 => prop_oneof![Just(0u64), 1u64..=2 * HOUR, Just(DAY)].prop_map(StatusSpec::RestrictedFor),
    ]
}

fn setting() -> impl Strategy<Value = InviteSetting> {
    prop_oneof![
        3 => Just(InviteSetting::Everyone),
        1 => Just(InviteSetting::Nobody),
        1 => Just(InviteSetting::NetworkOnly),
        1 => Just(InviteSetting::FollowingOnly),
    ]
}

fn span() -> impl Strategy<Value = Span> {
    prop_oneof![
        Just(Span::Zero),
        Just(Span::Day),
        Just(Span::Week),
        Just(Span::WeekMinusDay),
        Just(Span::Notes),
        Just(Span::Ttl),
        Just(Span::Cooldown),
    ]
}

fn advance() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..=1_000,
        1u64..=HOUR,
        1u64..=2 * DAY,
        1u64..=10 * DAY,
        Just(DAY),
        Just(WEEK),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (pair(), note_spec(), key())
            .prop_map(|((s, r), note, key)| Op::Send { s, r, note, key }),
        4 => (pair(), note_spec(), key())
            .prop_map(|((s, r), note, key)| Op::Diagnose { s, r, note, key }),
        12 => (lifecycle_op(), pick()).prop_map(|(op, pick)| Op::Life { op, pick }),
        3 => (member(), any::<bool>()).prop_map(|(m, premium)| Op::SetTier { m, premium }),
        3 => (member(), status_spec()).prop_map(|(m, status)| Op::SetStatus { m, status }),
        3 => (member(), setting()).prop_map(|(m, setting)| Op::SetSetting { m, setting }),
        2 => (member(), member(), any::<bool>()).prop_map(|(a, b, on)| Op::Follow { a, b, on }),
        4 => (pair(), prop::bool::weighted(0.3)).prop_map(|((a, b), on)| Op::Link { a, b, on }),
        10 => advance().prop_map(Op::Advance),
        8 => (any::<Index>(), span(), -1i8..=1)
            .prop_map(|(pick, span, delta)| Op::ClockTo { pick, span, delta }),
        2 => prop_oneof![1u64..=HOUR, 1u64..=3 * DAY].prop_map(Op::ClockBack),
        4 => Just(Op::Sweep),
        5 => pair().prop_map(|(s, r)| Op::PendingBetween { s, r }),
        5 => member().prop_map(|m| Op::Capacity { m }),
        2 => (member(), member()).prop_map(|(a, b)| Op::AreConnected { a, b }),
    ]
}

fn tier_limits() -> impl Strategy<Value = TierLimits> {
    (
        1u32..=4,
        0u32..=4,
        prop_oneof![Just(None), (1u32..=3).prop_map(Some)],
        1u32..=12,
    )
        .prop_map(|(daily, extra, notes_per_30d, max_note_chars)| TierLimits {
            daily,
            weekly: daily + extra,
            notes_per_30d,
            max_note_chars,
        })
}

fn small_policy() -> impl Strategy<Value = Policy> {
    (
        tier_limits(),
        tier_limits(),
        1u32..=3,
        prop_oneof![
            2 => Just(HOUR),
            1 => Just(26 * HOUR),
            2 => Just(3 * DAY),
            1 => Just(8 * DAY),
            1 => Just(40 * DAY)
        ],
        prop_oneof![Just(0), Just(HOUR), Just(2 * DAY), Just(21 * DAY)],
    )
        .prop_map(|(free, premium, cap, ttl, cooldown)| Policy {
            free,
            premium,
            max_pending_per_pair: cap,
            pending_ttl: Duration::from_millis(ttl),
            reinvite_cooldown: Duration::from_millis(cooldown),
            spam: SpamPolicy::disabled(),
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        6 => small_policy(),
        1 => Just(Policy {
            spam: SpamPolicy::disabled(),
            ..Policy::default()
        }),
    ]
}

fn note_text(spec: NoteSpec, p: &Policy) -> Option<String> {
    let len = match spec {
        NoteSpec::None => return None,
        NoteSpec::Blank => return Some(" \t\n ".to_owned()),
        NoteSpec::Text(NoteLen::One) => 1,
        NoteSpec::Text(NoteLen::FreeMax) => p.free.max_note_chars,
        NoteSpec::Text(NoteLen::FreeOver) => p.free.max_note_chars + 1,
        NoteSpec::Text(NoteLen::PremiumMax) => p.premium.max_note_chars,
        NoteSpec::Text(NoteLen::PremiumOver) => p.premium.max_note_chars + 1,
    };
    // Multi-byte characters and inner spaces, wrapped in whitespace that trimming drops:
    // the limit is on `chars()` of the trimmed note, not on bytes.
    let body: String = (0..len)
        .map(|i| match i % 4 {
            0 => 'ü',
            1 => 'a',
            2 => '字',
            _ => ' ',
        })
        .collect();
    let body = if body.ends_with(' ') {
        // keep the trimmed length exact: never end on a space
        format!("{}b", &body[..body.len() - 1])
    } else {
        body
    };
    Some(format!("  {body}\n "))
}

struct Harness {
    clock: ManualClock,
    engine: Engine,
    model: Model,
    /// Engine ids of the model's invitations, by send order.
    ids: Vec<InviteId>,
    /// Interesting instants to jump the clock to.
    anchors: Vec<u64>,
}

fn fail(step: usize, op: &Op, what: String) -> TestCaseError {
    TestCaseError::fail(format!("step {step} ({op:?}): {what}"))
}

impl Harness {
    fn new(policy: Policy, shards: usize) -> Self {
        let clock = ManualClock::new(Timestamp::from_millis(START));
        let engine = Engine::builder()
            .policy(policy.clone())
            .clock(clock.clone())
            .shards(shards)
            .build()
            .expect("generated policies are valid");
        Harness {
            clock,
            engine,
            // The engine has seen no instant before its first operation.
            model: Model::new(policy, 0),
            ids: Vec::new(),
            anchors: vec![START],
        }
    }

    fn clock_ms(&self) -> u64 {
        self.clock.now().as_millis()
    }

    /// For operations whose result does not depend on time: make sure engine and model
    /// have seen the same instants (and that `now()` agrees).
    fn sync_now(&mut self, step: usize, op: &Op) -> Result<(), TestCaseError> {
        let engine_now = self.engine.now().as_millis();
        let model_now = self.model.observe(self.clock_ms());
        if engine_now != model_now {
            return Err(fail(
                step,
                op,
                format!("engine.now() = {engine_now}, model acts at {model_now}"),
            ));
        }
        Ok(())
    }

    fn request(&self, s: u64, r: u64, note: &Option<String>, key: Option<u64>) -> InviteRequest {
        let mut req = InviteRequest::new(MemberId(s), MemberId(r));
        if let Some(n) = note {
            req = req.note(n.clone());
        }
        if let Some(k) = key {
            req = req.idempotency_key(k);
        }
        req
    }

    fn check_send(
        &mut self,
        step: usize,
        op: &Op,
        got: Result<Sent, Denied>,
        want: SendOutcome,
    ) -> Result<(), TestCaseError> {
        match (got, want) {
            (
                Ok(sent),
                SendOutcome::Sent {
                    invitation,
                    expires_at,
                    fresh,
                },
            ) => {
                if sent.expires_at().as_millis() != expires_at {
                    return Err(fail(
                        step,
                        op,
                        format!(
                            "expires_at {} != model {expires_at}",
                            sent.expires_at().as_millis()
                        ),
                    ));
                }
                if fresh {
                    if self.ids.contains(&sent.id()) {
                        return Err(fail(
                            step,
                            op,
                            format!("fresh send reused id {}", sent.id()),
                        ));
                    }
                    debug_assert_eq!(invitation, self.ids.len());
                    self.ids.push(sent.id());
                    self.anchors
                        .push(self.model.invitations[invitation].sent_at);
                } else if sent.id() != self.ids[invitation] {
                    return Err(fail(
                        step,
                        op,
                        format!(
                            "idempotent replay returned {} but the first send was {}",
                            sent.id(),
                            self.ids[invitation]
                        ),
                    ));
                }
                Ok(())
            }
            (Err(denied), SendOutcome::Denied { reason, retry_at }) => {
                let got = (
                    *denied.reason(),
                    denied.retry_at().map(Timestamp::as_millis),
                );
                if got != (reason, retry_at) {
                    return Err(fail(
                        step,
                        op,
                        format!(
                            "engine denied with {:?} retry {:?}; model: {reason:?} retry {retry_at:?}",
                            got.0, got.1
                        ),
                    ));
                }
                Ok(())
            }
            (got, want) => Err(fail(step, op, format!("engine {got:?}; model {want:?}"))),
        }
    }

    fn step(&mut self, step: usize, op: &Op) -> Result<(), TestCaseError> {
        let m = |i: usize| MEMBERS[i];
        match *op {
            Op::Send { s, r, note, key } => {
                let note = note_text(note, &self.model.policy);
                let req = self.request(m(s), m(r), &note, key);
                let got = self.engine.send(req);
                let now = self.clock_ms();
                let want = self.model.send(m(s), m(r), note.as_deref(), key, now);
                self.check_send(step, op, got, want)?;
            }
            Op::Diagnose { s, r, note, key } => {
                let note = note_text(note, &self.model.policy);
                let req = self.request(m(s), m(r), &note, key);
                let got: Vec<_> = self
                    .engine
                    .diagnose_request(&req)
                    .blockers()
                    .iter()
                    .map(|b| (*b.reason(), b.retry_at().map(Timestamp::as_millis)))
                    .collect();
                let now = self.clock_ms();
                let want = self.model.diagnose(m(s), m(r), note.as_deref(), key, now);
                if got != want {
                    return Err(fail(step, op, format!("blockers {got:?}; model {want:?}")));
                }
            }
            Op::Life { op: kind, pick } => {
                if self.ids.is_empty() {
                    return Ok(());
                }
                let i = pick.index(self.ids.len());
                let id = self.ids[i];
                let got = match kind {
                    LifecycleOp::Accept => self.engine.accept(id),
                    LifecycleOp::Decline => self.engine.decline(id),
                    LifecycleOp::Withdraw => self.engine.withdraw(id),
                    LifecycleOp::ReportUnknown => self.engine.report_unknown(id),
                };
                let now = self.clock_ms();
                let want = self.model.lifecycle(kind, i, now);
                if got.is_ok() != want.is_ok() {
                    return Err(fail(
                        step,
                        op,
                        format!("on invitation #{i} ({id}): engine {got:?}; model {want:?}"),
                    ));
                }
                if want.is_ok() && kind == LifecycleOp::Withdraw {
                    self.anchors.push(self.model.latest);
                }
            }
            Op::SetTier { m: who, premium } => {
                self.sync_now(step, op)?;
                let tier = if premium { Tier::Premium } else { Tier::Free };
                self.engine.set_tier(MemberId(m(who)), tier);
                self.model.set_tier(m(who), tier);
            }
            Op::SetStatus { m: who, status } => {
                self.sync_now(step, op)?;
                let now = self.model.latest;
                let status = match status {
                    StatusSpec::Active => AccountStatus::Active,
                    StatusSpec::Banned => AccountStatus::Banned,
                    StatusSpec::RestrictedForever => AccountStatus::Restricted { until: None },
                    StatusSpec::RestrictedFor(d) => {
                        self.anchors.push(now + d);
                        AccountStatus::Restricted {
                            until: Some(Timestamp::from_millis(now + d)),
                        }
                    }
                };
                self.engine.set_status(MemberId(m(who)), status);
                self.model.set_status(m(who), status);
            }
            Op::SetSetting { m: who, setting } => {
                self.sync_now(step, op)?;
                self.engine.set_invite_setting(MemberId(m(who)), setting);
                self.model.set_setting(m(who), setting);
            }
            Op::Follow { a, b, on } => {
                self.sync_now(step, op)?;
                if on {
                    self.engine.follow(MemberId(m(a)), MemberId(m(b)));
                } else {
                    self.engine.unfollow(MemberId(m(a)), MemberId(m(b)));
                }
                self.model.follow(m(a), m(b), on);
            }
            Op::Link { a, b, on } => {
                self.sync_now(step, op)?;
                if on {
                    self.engine.connect(MemberId(m(a)), MemberId(m(b)));
                    self.model.connect(m(a), m(b));
                } else {
                    self.engine.disconnect(MemberId(m(a)), MemberId(m(b)));
                    self.model.disconnect(m(a), m(b));
                }
            }
            Op::Advance(d) => self.clock.advance(Duration::from_millis(d)),
            Op::ClockTo { pick, span, delta } => {
                let base = self.anchors[pick.index(self.anchors.len())];
                let len = match span {
                    Span::Zero => 0,
                    Span::Day => DAY,
                    Span::Week => WEEK,
                    Span::WeekMinusDay => WEEK - DAY,
                    Span::Notes => NOTE_WINDOW,
                    Span::Ttl => self.model.ttl,
                    Span::Cooldown => self.model.cooldown,
                };
                let to = (base + len).saturating_add_signed(i64::from(delta));
                self.clock.set(Timestamp::from_millis(to));
            }
            Op::ClockBack(d) => {
                let to = self.clock_ms().saturating_sub(d);
                self.clock.set(Timestamp::from_millis(to));
            }
            Op::Sweep => {
                let got = self.engine.sweep();
                let now = self.clock_ms();
                let want = self.model.sweep(now);
                if got != want {
                    return Err(fail(step, op, format!("sweep() = {got}; model {want}")));
                }
            }
            Op::PendingBetween { s, r } => {
                let got = self.engine.pending_between(MemberId(m(s)), MemberId(m(r)));
                let now = self.clock_ms();
                let want = self.model.pending_between(m(s), m(r), now);
                if got != want {
                    return Err(fail(
                        step,
                        op,
                        format!("pending_between = {got}; model {want}"),
                    ));
                }
            }
            Op::Capacity { m: who } => {
                let c = self.engine.capacity(MemberId(m(who)));
                let now = self.clock_ms();
                let w = self.model.capacity(m(who), now);
                let ms = |t: Option<Timestamp>| t.map(Timestamp::as_millis);
                let got = (
                    (
                        c.daily.used,
                        c.daily.limit,
                        ms(c.daily.next_slot_at),
                        ms(c.daily.available_at),
                    ),
                    (
                        c.weekly.used,
                        c.weekly.limit,
                        ms(c.weekly.next_slot_at),
                        ms(c.weekly.available_at),
                    ),
                    (c.notes.used, c.notes.limit, ms(c.notes.next_slot_at)),
                    c.pending_sent,
                    c.tier,
                    c.status,
                );
                let want = (
                    (
                        w.daily.used,
                        w.daily.limit,
                        w.daily.next_slot_at,
                        w.daily.available_at,
                    ),
                    (
                        w.weekly.used,
                        w.weekly.limit,
                        w.weekly.next_slot_at,
                        w.weekly.available_at,
                    ),
                    (w.notes_used, w.notes_limit, w.notes_next_slot_at),
                    w.pending_sent,
                    w.tier,
                    w.status,
                );
                if got != want {
                    return Err(fail(
                        step,
                        op,
                        format!(
                            "capacity ((daily used, limit, next_slot, available), weekly, notes, \
                             pending, tier, status) = {got:?}; model {want:?}"
                        ),
                    ));
                }
            }
            Op::AreConnected { a, b } => {
                self.sync_now(step, op)?;
                let got = self.engine.are_connected(MemberId(m(a)), MemberId(m(b)));
                let want = self.model.are_connected(m(a), m(b));
                if got != want {
                    return Err(fail(
                        step,
                        op,
                        format!("are_connected = {got}; model {want}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn run(policy: Policy, shards: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut h = Harness::new(policy, shards);
    for (i, op) in ops.iter().enumerate() {
        h.step(i, op)?;
    }
    // Final cross-check of every pair and member at the last instant.
    let now = h.clock_ms();
    let end = Op::Sweep;
    for &s in &MEMBERS {
        for &r in &MEMBERS {
            let got = h.engine.pending_between(MemberId(s), MemberId(r));
            let want = h.model.pending_between(s, r, now);
            if got != want {
                return Err(fail(
                    ops.len(),
                    &end,
                    format!("final pending_between({s}, {r}) = {got}; model {want}"),
                ));
            }
        }
    }
    let got = h.engine.sweep();
    let want = h.model.sweep(now);
    if got != want {
        return Err(fail(
            ops.len(),
            &end,
            format!("final sweep() = {got}; model {want}"),
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        max_shrink_iters: 20_000,
        ..Config::default()
    })]

    #[test]
    fn engine_agrees_with_reference_model(
        policy in policy(),
        shards in prop_oneof![Just(1usize), Just(4), Just(256)],
        ops in prop::collection::vec(op(), 1..200),
    ) {
        run(policy, shards, &ops)?;
    }
}

/// The idempotency window is the daily one; the model relies on it.
#[test]
fn idempotency_window_is_24_hours() {
    assert_eq!(
        reference::ms(invite_limiter::IDEMPOTENCY_WINDOW),
        IDEM_WINDOW,
        "the model assumes idempotency records live 24 h"
    );
}
