//! Table-driven boundary tests: window edges at millisecond resolution, expiry,
//! restriction and cooldown ends, the precedence of denial reasons and the
//! combination of their retry instants, a clock stepping backwards, tier changes and
//! denied attempts.

use std::time::Duration;

use invite_limiter::{
    AccountStatus, Denied, DenyReason, Engine, InviteRequest, InviteSetting, ManualClock, MemberId,
    Policy, Sent, SpamPolicy, Tier, TierLimits, Timestamp,
};

const T0: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;
const WEEK: u64 = 7 * DAY;
const MONTH: u64 = 30 * DAY;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn base_policy() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn limits(daily: u32, weekly: u32, notes: Option<u32>, chars: u32) -> TierLimits {
    TierLimits {
        daily,
        weekly,
        notes_per_30d: notes,
        max_note_chars: chars,
    }
}

fn with_limits(l: TierLimits) -> Policy {
    Policy {
        free: l.clone(),
        premium: l,
        ..base_policy()
    }
}

fn engine(p: Policy) -> (ManualClock, Engine) {
    let clock = ManualClock::new(ts(T0));
    let e = Engine::builder()
        .policy(p)
        .clock(clock.clone())
        .build()
        .expect("valid policy");
    (clock, e)
}

fn send(e: &Engine, s: u64, r: u64) -> Result<Sent, Denied> {
    e.send(InviteRequest::new(MemberId(s), MemberId(r)))
}

fn send_ok(e: &Engine, req: InviteRequest, why: &str) -> Sent {
    e.send(req)
        .unwrap_or_else(|d| panic!("{why}: expected the send to succeed, got: {d:?}"))
}

fn denial(r: Result<Sent, Denied>, why: &str) -> (DenyReason, Option<Timestamp>) {
    match r {
        Ok(s) => panic!("{why}: expected a denial, got {s:?}"),
        Err(d) => (*d.reason(), d.retry_at()),
    }
}

// ---------------------------------------------------------------------------------
// Rolling windows
// ---------------------------------------------------------------------------------

struct WindowCase {
    name: &'static str,
    limits: TierLimits,
    /// (offset from T0, with a note) of the accepted sends that fill the window.
    fill: &'static [(u64, bool)],
    /// The window that binds and its length.
    len: u64,
    probe_note: bool,
    /// The denial expected at `T0 + len - 1`.
    denied: DenyReason,
}

#[test]
fn windows_count_a_send_until_just_before_t_plus_l() {
    let cases = [
        WindowCase {
            name: "daily",
            limits: limits(2, 10, None, 50),
            fill: &[(0, false), (1_000, false)],
            len: DAY,
            probe_note: false,
            denied: DenyReason::DailyLimit { used: 2, limit: 2 },
        },
        WindowCase {
            name: "weekly",
            limits: limits(2, 3, None, 50),
            fill: &[(0, false), (DAY, false), (2 * DAY, false)],
            len: WEEK,
            probe_note: false,
            denied: DenyReason::WeeklyLimit { used: 3, limit: 3 },
        },
        WindowCase {
            name: "notes (30 days)",
            limits: limits(10, 10, Some(1), 50),
            fill: &[(0, true)],
            len: MONTH,
            probe_note: true,
            denied: DenyReason::NoteQuota { used: 1, limit: 1 },
        },
        WindowCase {
            name: "notes, two in the window",
            limits: limits(10, 10, Some(2), 50),
            fill: &[(0, true), (5, false), (7 * DAY, true)],
            len: MONTH,
            probe_note: true,
            denied: DenyReason::NoteQuota { used: 2, limit: 2 },
        },
    ];
    for c in cases {
        let (clock, e) = engine(with_limits(c.limits.clone()));
        for (k, &(off, note)) in c.fill.iter().enumerate() {
            clock.set(ts(T0 + off));
            let mut req = InviteRequest::new(MemberId(1), MemberId(100 + k as u64));
            if note {
                req = req.note("hello");
            }
            send_ok(&e, req, c.name);
        }
        let probe = |r: u64| {
            let req = InviteRequest::new(MemberId(1), MemberId(r));
            if c.probe_note {
                req.note("again")
            } else {
                req
            }
        };
        clock.set(ts(T0 + c.len - 1));
        let used_before = |e: &Engine| {
            let cap = e.capacity(MemberId(1));
            match c.denied {
                DenyReason::DailyLimit { .. } => (cap.daily.used, cap.daily.next_slot_at),
                DenyReason::WeeklyLimit { .. } => (cap.weekly.used, cap.weekly.next_slot_at),
                _ => (cap.notes.used, cap.notes.next_slot_at),
            }
        };
        let (used, next) = used_before(&e);
        assert_eq!(next, Some(ts(T0 + c.len)), "{}: next slot", c.name);
        assert_eq!(
            denial(e.send(probe(900)), c.name),
            (c.denied, Some(ts(T0 + c.len))),
            "{}: at t+L-1 the first send still counts",
            c.name
        );
        clock.set(ts(T0 + c.len));
        let (used_at_end, _) = used_before(&e);
        assert_eq!(
            used_at_end,
            used - 1,
            "{}: at t+L the first send no longer counts",
            c.name
        );
        send_ok(&e, probe(901), c.name);
    }
}

// ---------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------

#[test]
fn an_invitation_is_pending_until_just_before_expires_at() {
    for ttl in [1u64, 1_000, HOUR, 180 * DAY] {
        for probe in [ttl - 1, ttl] {
            let p = Policy {
                pending_ttl: Duration::from_millis(ttl),
                max_pending_per_pair: 1,
                ..base_policy()
            };
            let (clock, e) = engine(p);
            let sent = send(&e, 1, 2).expect("first send");
            assert_eq!(sent.expires_at(), ts(T0 + ttl), "ttl {ttl}: expires_at");
            clock.set(ts(T0 + probe));
            let pending = probe < ttl;
            let ctx = format!("ttl {ttl}, at sent_at + {probe}");
            assert_eq!(
                e.pending_between(MemberId(1), MemberId(2)),
                u32::from(pending),
                "{ctx}: pending_between"
            );
            assert_eq!(
                e.capacity(MemberId(1)).pending_sent,
                u32::from(pending),
                "{ctx}: pending_sent"
            );
            // The pair cap frees at expires_at without any sweep.
            let again = send(&e, 1, 2);
            if pending {
                assert_eq!(
                    denial(again, &ctx),
                    (
                        DenyReason::PairPendingLimit {
                            pending: 1,
                            limit: 1
                        },
                        Some(sent.expires_at())
                    ),
                    "{ctx}: pair cap"
                );
                e.accept(sent.id()).unwrap_or_else(|err| {
                    panic!("{ctx}: accept just before expiry failed: {err:?}")
                });
                assert!(e.are_connected(MemberId(1), MemberId(2)), "{ctx}");
            } else {
                assert!(
                    again.is_ok(),
                    "{ctx}: pair cap not freed at expires_at: {again:?}"
                );
                assert!(
                    e.accept(sent.id()).is_err(),
                    "{ctx}: accept at expires_at must be Err"
                );
                assert!(
                    e.decline(sent.id()).is_err(),
                    "{ctx}: decline at expires_at must be Err"
                );
                assert!(
                    e.withdraw(sent.id()).is_err(),
                    "{ctx}: withdraw at expires_at must be Err"
                );
                assert!(!e.are_connected(MemberId(1), MemberId(2)), "{ctx}");
                assert_eq!(
                    e.sweep(),
                    1,
                    "{ctx}: the first invitation expired unanswered"
                );
            }
        }
    }
}

/// `accept` ends the invitations *pending* between the two members. One that already
/// expired (unnoticed, since nothing touched its sender) expired unanswered and must
/// be counted by `sweep`, not silently re-labelled as accepted.
#[test]
fn accept_does_not_end_an_invitation_that_already_expired() {
    for (second_at, accept_at) in [(10 * 60_000, HOUR), (10 * 60_000, HOUR + 5), (1, HOUR)] {
        let p = Policy {
            pending_ttl: Duration::from_millis(HOUR),
            ..base_policy()
        };
        let (clock, e) = engine(p);
        let first = send(&e, 1, 2).expect("first");
        clock.set(ts(T0 + second_at));
        let second = send(&e, 1, 2).expect("second");
        clock.set(ts(T0 + accept_at));
        e.accept(second.id())
            .expect("the second invitation is still pending");
        assert!(e.accept(first.id()).is_err(), "the first had expired");
        assert_eq!(
            e.sweep(),
            1,
            "sent at T0 and T0+{second_at}, TTL 1 h, accept of the second at T0+{accept_at}: \
             the first expired unanswered at T0+1h and must be counted by sweep"
        );
    }
}

// ---------------------------------------------------------------------------------
// Restriction and cooldown ends
// ---------------------------------------------------------------------------------

#[test]
fn a_restriction_lifts_at_its_until() {
    for d in [1u64, HOUR, 3 * DAY] {
        let (clock, e) = engine(base_policy());
        let until = ts(T0 + d);
        let status = AccountStatus::Restricted { until: Some(until) };
        e.set_status(MemberId(1), status);
        clock.set(ts(T0 + d - 1));
        assert_eq!(
            e.status(MemberId(1)),
            status,
            "until T0+{d}: status just before"
        );
        assert_eq!(
            denial(send(&e, 1, 2), "restricted"),
            (
                DenyReason::SenderRestricted { until: Some(until) },
                Some(until)
            ),
            "until T0+{d}: just before it lifts"
        );
        clock.set(until);
        assert_eq!(
            e.status(MemberId(1)),
            AccountStatus::Active,
            "until T0+{d}: at until"
        );
        assert_eq!(
            e.capacity(MemberId(1)).status,
            AccountStatus::Active,
            "capacity status"
        );
        send(&e, 1, 2).unwrap_or_else(|d2| panic!("until T0+{d}: still denied at until: {d2:?}"));
    }
    // Without an end, only an action lifts it.
    let (clock, e) = engine(base_policy());
    e.set_status(MemberId(1), AccountStatus::Restricted { until: None });
    clock.set(ts(T0 + 400 * DAY));
    assert_eq!(
        denial(send(&e, 1, 2), "restricted forever"),
        (DenyReason::SenderRestricted { until: None }, None)
    );
    e.set_status(MemberId(1), AccountStatus::Active);
    send(&e, 1, 2).expect("lifted by setting Active");
}

#[test]
fn reinvite_cooldown_ends_at_withdrawal_plus_cooldown() {
    for (cooldown, withdraw_after) in [(21 * DAY, 5 * HOUR), (21 * DAY, 0), (HOUR, 7)] {
        let p = Policy {
            reinvite_cooldown: Duration::from_millis(cooldown),
            ..base_policy()
        };
        let (clock, e) = engine(p);
        let sent = send(&e, 1, 2).expect("first");
        let w = T0 + withdraw_after;
        clock.set(ts(w));
        e.withdraw(sent.id())
            .expect("withdraw a pending invitation");
        // Others, and the other direction, are not affected.
        send(&e, 1, 3).expect("cooldown is per recipient");
        send(&e, 2, 1).expect("cooldown is per direction");
        clock.set(ts(w + cooldown - 1));
        assert_eq!(
            denial(send(&e, 1, 2), "cooldown"),
            (
                DenyReason::ReinviteCooldown {
                    until: ts(w + cooldown)
                },
                Some(ts(w + cooldown))
            ),
            "cooldown {cooldown}: just before it ends"
        );
        clock.set(ts(w + cooldown));
        send(&e, 1, 2)
            .unwrap_or_else(|d| panic!("cooldown {cooldown}: still denied at its end: {d:?}"));
    }
    // A zero cooldown is none.
    let p = Policy {
        reinvite_cooldown: Duration::ZERO,
        ..base_policy()
    };
    let (_clock, e) = engine(p);
    let sent = send(&e, 1, 2).expect("first");
    e.withdraw(sent.id()).expect("withdraw");
    send(&e, 1, 2).expect("no cooldown when it is zero");
}

// ---------------------------------------------------------------------------------
// Precedence of denial reasons and the retry_at combination
// ---------------------------------------------------------------------------------

const S: u64 = 1;
const R: u64 = 2;
/// Probe instant: every scenario's setup happens before it.
const P: u64 = T0 + 10 * DAY;
const TTL: u64 = 10 * DAY;
const COOLDOWN: u64 = 21 * DAY;
const KEY: u64 = 77;

#[derive(Debug, Clone, Copy, PartialEq)]
enum SenderStatus {
    Active,
    Banned,
    RestrictedUntil,
    RestrictedForever,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WeeklyFiller {
    /// The weekly window clears later than the daily one.
    Later,
    /// Both clear at the same instant.
    Tie,
    /// The weekly window clears earlier.
    Earlier,
}

/// Which rules deny at the probe.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    idem: bool,
    self_invite: bool,
    status: SenderStatus,
    recipient_banned: bool,
    connected: bool,
    not_accepting: bool,
    pair: bool,
    cooldown: bool,
    daily: bool,
    weekly: bool,
    weekly_filler: WeeklyFiller,
    note_quota: bool,
    note_long: bool,
}

impl Scenario {
    const NONE: Scenario = Scenario {
        idem: false,
        self_invite: false,
        status: SenderStatus::Active,
        recipient_banned: false,
        connected: false,
        not_accepting: false,
        pair: false,
        cooldown: false,
        daily: false,
        weekly: false,
        weekly_filler: WeeklyFiller::Later,
        note_quota: false,
        note_long: false,
    };

    /// The policy the scenario needs: (daily limit, weekly limit).
    fn limits(&self) -> (u32, u32) {
        let count_recent = u32::from(self.idem)
            + u32::from(self.pair)
            + u32::from(self.cooldown)
            + u32::from(self.note_quota);
        let daily_limit = count_recent + 1;
        let in_week = count_recent + u32::from(self.daily) + u32::from(self.weekly);
        let weekly_limit = if self.weekly { in_week } else { in_week + 1 };
        (daily_limit, weekly_limit)
    }

    /// Runs the scenario in a fresh world: members 1 (sender), 2 (recipient) and
    /// 101… (fillers), probe at `P`.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
    ) -> (
        Result<Sent, Denied>,
        Vec<(DenyReason, Option<Timestamp>)>,
        Vec<(DenyReason, Option<Timestamp>)>,
    ) {
        self.run_in(&mut World::new(self.limits()))
    }

    /// Builds the situation in `w` (with its own members and its own stretch of
    /// time), probes it, and returns (send result, diagnosis blockers, expected
    /// blockers with their own instants).
    #[allow(clippy::type_complexity)]
    fn run_in(
        &self,
        w: &mut World,
    ) -> (
        Result<Sent, Denied>,
        Vec<(DenyReason, Option<Timestamp>)>,
        Vec<(DenyReason, Option<Timestamp>)>,
    ) {
        assert_eq!(
            w.limits,
            self.limits(),
            "scenario run in a world with other limits"
        );
        let (daily_limit, weekly_limit) = w.limits;
        let (base, sender, r, p) = (w.base, w.base + S, w.base + R, w.p);
        w.base += 1_000;
        w.p += 8 * DAY;
        let (clock, e) = (&w.clock, &w.engine);
        let recipient = if self.self_invite { sender } else { r };
        // Sends made close to the probe (each counts in the daily and weekly windows).
        let mut recent: Vec<u64> = Vec::new();
        let weekly_filler_at;
        {
            let earliest_recent = if self.cooldown {
                p - 2 * HOUR
            } else {
                p - HOUR
            };
            weekly_filler_at = match self.weekly_filler {
                WeeklyFiller::Later => p - 3 * DAY,
                WeeklyFiller::Tie => earliest_recent + DAY - WEEK,
                WeeklyFiller::Earlier => earliest_recent + DAY - WEEK - HOUR,
            };
        }
        let ctx = format!("{self:?}");
        let mut filler = base + 100;
        let mut next_filler = || {
            filler += 1;
            filler
        };
        if self.weekly {
            clock.set(ts(weekly_filler_at));
            send_ok(
                e,
                InviteRequest::new(MemberId(sender), MemberId(next_filler())),
                &ctx,
            );
        }
        let mut withdrawn_at = None;
        if self.cooldown {
            clock.set(ts(p - 2 * HOUR));
            let s = send_ok(e, InviteRequest::new(MemberId(sender), MemberId(r)), &ctx);
            recent.push(p - 2 * HOUR);
            clock.set(ts(p - HOUR));
            e.withdraw(s.id()).expect("withdraw");
            withdrawn_at = Some(p - HOUR);
        }
        clock.set(ts(p - HOUR));
        let idem_recipient = next_filler();
        if self.idem {
            let req =
                InviteRequest::new(MemberId(sender), MemberId(idem_recipient)).idempotency_key(KEY);
            send_ok(e, req, &ctx);
            recent.push(p - HOUR);
        }
        if self.pair {
            send_ok(e, InviteRequest::new(MemberId(sender), MemberId(r)), &ctx);
            recent.push(p - HOUR);
        }
        if self.note_quota {
            let req = InviteRequest::new(MemberId(sender), MemberId(next_filler())).note("hey");
            send_ok(e, req, &ctx);
            recent.push(p - HOUR);
        }
        if self.daily {
            send_ok(
                e,
                InviteRequest::new(MemberId(sender), MemberId(next_filler())),
                &ctx,
            );
            recent.push(p - HOUR);
        }
        if self.connected {
            e.connect(MemberId(sender), MemberId(r));
        }
        if self.not_accepting {
            e.set_invite_setting(MemberId(r), InviteSetting::Nobody);
        }
        if self.recipient_banned {
            e.set_status(MemberId(r), AccountStatus::Banned);
        }
        let restricted_until = ts(p + 2 * DAY);
        match self.status {
            SenderStatus::Active => {}
            SenderStatus::Banned => e.set_status(MemberId(sender), AccountStatus::Banned),
            SenderStatus::RestrictedUntil => e.set_status(
                MemberId(sender),
                AccountStatus::Restricted {
                    until: Some(restricted_until),
                },
            ),
            SenderStatus::RestrictedForever => {
                e.set_status(MemberId(sender), AccountStatus::Restricted { until: None })
            }
        }
        clock.set(ts(p));

        // What must deny, in precedence order, with each rule's own instant.
        let mut want: Vec<(DenyReason, Option<Timestamp>)> = Vec::new();
        if self.idem {
            want.push((
                DenyReason::IdempotencyConflict {
                    key: KEY,
                    first_recipient: MemberId(idem_recipient),
                },
                None,
            ));
        }
        if self.self_invite {
            want.push((DenyReason::SelfInvite, None));
        }
        match self.status {
            SenderStatus::Active => {}
            SenderStatus::Banned => want.push((DenyReason::SenderBanned, None)),
            SenderStatus::RestrictedUntil => want.push((
                DenyReason::SenderRestricted {
                    until: Some(restricted_until),
                },
                Some(restricted_until),
            )),
            SenderStatus::RestrictedForever => {
                want.push((DenyReason::SenderRestricted { until: None }, None))
            }
        }
        if self.recipient_banned {
            want.push((DenyReason::RecipientUnavailable, None));
        }
        if self.connected {
            want.push((DenyReason::AlreadyConnected, None));
        }
        if self.not_accepting {
            want.push((
                DenyReason::RecipientNotAccepting {
                    setting: InviteSetting::Nobody,
                },
                None,
            ));
        }
        if self.pair {
            want.push((
                DenyReason::PairPendingLimit {
                    pending: 1,
                    limit: 1,
                },
                Some(ts(p - HOUR + TTL)),
            ));
        }
        if let Some(w) = withdrawn_at {
            let until = ts(w + COOLDOWN);
            want.push((DenyReason::ReinviteCooldown { until }, Some(until)));
        }
        let oldest_recent = recent.iter().min().copied();
        if self.daily {
            want.push((
                DenyReason::DailyLimit {
                    used: daily_limit,
                    limit: daily_limit,
                },
                oldest_recent.map(|t| ts(t + DAY)),
            ));
        }
        if self.weekly {
            want.push((
                DenyReason::WeeklyLimit {
                    used: weekly_limit,
                    limit: weekly_limit,
                },
                Some(ts(weekly_filler_at + WEEK)),
            ));
        }
        if self.note_quota {
            want.push((
                DenyReason::NoteQuota { used: 1, limit: 1 },
                Some(ts(p - HOUR + MONTH)),
            ));
        }
        if self.note_long {
            want.push((DenyReason::NoteTooLong { chars: 6, limit: 5 }, None));
        }

        let note = if self.note_long { "  äbcdéf  " } else { "hi" };
        let key = if self.idem { KEY } else { KEY + 1 };
        let req = InviteRequest::new(MemberId(sender), MemberId(recipient))
            .note(note)
            .idempotency_key(key);
        let diagnosis: Vec<_> = e
            .diagnose_request(&req)
            .blockers()
            .iter()
            .map(|b| (*b.reason(), b.retry_at()))
            .collect();
        (e.send(req), diagnosis, want)
    }
}

/// An engine shared by scenarios with the same limits: each scenario gets its own
/// members and its own stretch of time, so they cannot interfere.
struct World {
    limits: (u32, u32),
    clock: ManualClock,
    engine: Engine,
    base: u64,
    p: u64,
}

impl World {
    fn new(limits: (u32, u32)) -> Self {
        let (daily, weekly) = limits;
        let p = Policy {
            free: self::limits(daily, weekly, Some(1), 5),
            premium: self::limits(daily, weekly, Some(1), 5),
            max_pending_per_pair: 1,
            pending_ttl: Duration::from_millis(TTL),
            reinvite_cooldown: Duration::from_millis(COOLDOWN),
            ..base_policy()
        };
        let (clock, engine) = engine(p);
        World {
            limits,
            clock,
            engine,
            base: 0,
            p: P,
        }
    }
}

/// The reported reason and retry_at for a list of denying rules, as SPEC.md says.
fn expected_denial(
    blockers: &[(DenyReason, Option<Timestamp>)],
) -> Option<(DenyReason, Option<Timestamp>)> {
    let &(first, first_at) = blockers.first()?;
    let mut reason = first;
    if matches!(first, DenyReason::DailyLimit { .. }) {
        if let Some(&(weekly, weekly_at)) = blockers
            .iter()
            .find(|(r, _)| matches!(r, DenyReason::WeeklyLimit { .. }))
        {
            if weekly_at > first_at {
                reason = weekly;
            }
        }
    }
    let retry = if blockers.iter().any(|(_, at)| at.is_none()) {
        None
    } else {
        blockers.iter().filter_map(|(_, at)| *at).max()
    };
    Some((reason, retry))
}

fn check(s: &Scenario, w: &mut World) -> Result<(), String> {
    let (got, diagnosis, want) = s.run_in(w);
    let got = got
        .map(|sent| sent.id())
        .map_err(|d| (*d.reason(), d.retry_at()));
    let expected = match expected_denial(&want) {
        None => Ok(()),
        Some(d) => Err(d),
    };
    match (&got, &expected) {
        (Ok(_), Ok(())) => {}
        (Err(g), Err(w)) if g == w => {}
        _ => {
            return Err(format!(
                "{s:?}\n  send: {got:?}\n  want: {expected:?}\n  denying rules: {want:?}"
            ))
        }
    }
    if diagnosis != want {
        return Err(format!(
            "{s:?}\n  diagnosis: {diagnosis:?}\n  want:      {want:?}"
        ));
    }
    Ok(())
}

/// Every combination of denying rules (that can hold at once) reports the first in
/// precedence order, and retry_at combines all of them.
#[test]
fn every_combination_of_denying_rules_reports_first_and_latest() {
    let statuses = [
        SenderStatus::Active,
        SenderStatus::Banned,
        SenderStatus::RestrictedUntil,
        SenderStatus::RestrictedForever,
    ];
    let mut failures = Vec::new();
    let mut total = 0;
    let mut worlds: std::collections::BTreeMap<(u32, u32), World> = Default::default();
    for self_invite in [false, true] {
        for status in statuses {
            for bits in 0u32..(1 << 10) {
                let bit = |i: u32| bits & (1 << i) != 0;
                let mut s = Scenario {
                    idem: bit(0),
                    self_invite,
                    status,
                    recipient_banned: bit(1),
                    connected: bit(2),
                    not_accepting: bit(3),
                    pair: bit(4),
                    cooldown: bit(5),
                    daily: bit(6),
                    weekly: bit(7),
                    weekly_filler: WeeklyFiller::Later,
                    note_quota: bit(8),
                    note_long: bit(9),
                };
                // A withdrawal leaves the pair below its cap, and a member cannot
                // be connected to, banned as or hidden from themselves.
                if s.pair && s.cooldown {
                    continue;
                }
                if self_invite
                    && (s.recipient_banned
                        || s.connected
                        || s.not_accepting
                        || s.pair
                        || s.cooldown)
                {
                    continue;
                }
                let fillers: &[WeeklyFiller] = if s.daily && s.weekly {
                    &[
                        WeeklyFiller::Later,
                        WeeklyFiller::Tie,
                        WeeklyFiller::Earlier,
                    ]
                } else {
                    &[WeeklyFiller::Later]
                };
                for &f in fillers {
                    s.weekly_filler = f;
                    total += 1;
                    let w = worlds
                        .entry(s.limits())
                        .or_insert_with(|| World::new(s.limits()));
                    if let Err(msg) = check(&s, w) {
                        failures.push(msg);
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} combinations disagree; first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The same rules as named cases, each checked for the exact reported reason and
/// retry_at.
#[test]
fn named_precedence_cases() {
    let n = Scenario::NONE;
    let restricted = ts(P + 2 * DAY);
    let pair_frees = ts(P - HOUR + TTL);
    let cases: Vec<(&str, Scenario, DenyReason, Option<Timestamp>)> = vec![
        (
            "weekly clears later than daily: weekly reported, retry = weekly",
            Scenario {
                daily: true,
                weekly: true,
                weekly_filler: WeeklyFiller::Later,
                ..n
            },
            DenyReason::WeeklyLimit { used: 2, limit: 2 },
            Some(ts(P - 3 * DAY + WEEK)),
        ),
        (
            "daily and weekly clear at once: daily reported",
            Scenario {
                daily: true,
                weekly: true,
                weekly_filler: WeeklyFiller::Tie,
                ..n
            },
            DenyReason::DailyLimit { used: 1, limit: 1 },
            Some(ts(P - HOUR + DAY)),
        ),
        (
            "daily clears later than weekly: daily reported",
            Scenario {
                daily: true,
                weekly: true,
                weekly_filler: WeeklyFiller::Earlier,
                ..n
            },
            DenyReason::DailyLimit { used: 1, limit: 1 },
            Some(ts(P - HOUR + DAY)),
        ),
        (
            "an action-only rule among timed ones: retry None",
            Scenario {
                daily: true,
                note_quota: true,
                note_long: true,
                ..n
            },
            DenyReason::DailyLimit { used: 2, limit: 2 },
            None,
        ),
        (
            "restriction and pair cap: restriction reported, retry = the later (pair)",
            Scenario {
                status: SenderStatus::RestrictedUntil,
                pair: true,
                ..n
            },
            DenyReason::SenderRestricted {
                until: Some(restricted),
            },
            Some(pair_frees),
        ),
        (
            "pair cap before the daily limit, retry the later of both",
            Scenario {
                pair: true,
                daily: true,
                ..n
            },
            DenyReason::PairPendingLimit {
                pending: 1,
                limit: 1,
            },
            Some(pair_frees),
        ),
        (
            "idempotency conflict comes first of all",
            Scenario {
                idem: true,
                self_invite: true,
                status: SenderStatus::Banned,
                daily: true,
                ..n
            },
            DenyReason::IdempotencyConflict {
                key: KEY,
                first_recipient: MemberId(101),
            },
            None,
        ),
        (
            "self invite before a ban",
            Scenario {
                self_invite: true,
                status: SenderStatus::Banned,
                ..n
            },
            DenyReason::SelfInvite,
            None,
        ),
        (
            "recipient banned before connected before not accepting",
            Scenario {
                recipient_banned: true,
                connected: true,
                not_accepting: true,
                ..n
            },
            DenyReason::RecipientUnavailable,
            None,
        ),
        (
            "cooldown before the weekly limit; retry = the later (cooldown)",
            Scenario {
                cooldown: true,
                weekly: true,
                ..n
            },
            DenyReason::ReinviteCooldown {
                until: ts(P - HOUR + COOLDOWN),
            },
            Some(ts(P - HOUR + COOLDOWN)),
        ),
        (
            "note quota before a too-long note; retry None",
            Scenario {
                note_quota: true,
                note_long: true,
                ..n
            },
            DenyReason::NoteQuota { used: 1, limit: 1 },
            None,
        ),
    ];
    for (name, s, reason, retry) in cases {
        let (got, _, _) = s.run();
        let got = denial(got, name);
        assert_eq!(got, (reason, retry), "{name}");
        check(&s, &mut World::new(s.limits())).unwrap_or_else(|msg| panic!("{name}: {msg}"));
    }
    let (clear, diagnosis, _) = Scenario::NONE.run();
    clear.expect("nothing denies the plain scenario");
    assert!(
        diagnosis.is_empty(),
        "plain scenario diagnosis: {diagnosis:?}"
    );
}

// ---------------------------------------------------------------------------------
// Time stepping back, tier changes, denied attempts
// ---------------------------------------------------------------------------------

#[test]
fn a_clock_stepping_back_frees_nothing_and_panics_nowhere() {
    let p = Policy {
        pending_ttl: Duration::from_millis(2 * DAY),
        ..with_limits(limits(2, 10, Some(1), 20))
    };
    let (clock, e) = engine(p);
    let first = send_ok(
        &e,
        InviteRequest::new(MemberId(1), MemberId(2)).note("hi"),
        "first",
    );
    clock.set(ts(T0 + 1));
    send(&e, 1, 3).expect("second");
    e.set_status(
        MemberId(9),
        AccountStatus::Restricted {
            until: Some(ts(T0 + DAY)),
        },
    );
    let late = T0 + DAY - 1;
    clock.set(ts(late));
    let at_limit = denial(send(&e, 1, 4), "at the limit");
    assert_eq!(
        at_limit,
        (
            DenyReason::DailyLimit { used: 2, limit: 2 },
            Some(ts(T0 + DAY))
        )
    );
    for (i, back) in [ts(late - 1), ts(T0), ts(T0 - 5 * DAY), ts(0)]
        .into_iter()
        .enumerate()
    {
        clock.set(back);
        let ctx = format!("clock set back to {back}");
        assert_eq!(
            e.now(),
            ts(late),
            "{ctx}: the engine acts at the latest instant seen"
        );
        assert_eq!(denial(send(&e, 1, 4), &ctx), at_limit, "{ctx}: send");
        assert_eq!(e.pending_between(MemberId(1), MemberId(2)), 1, "{ctx}");
        let cap = e.capacity(MemberId(1));
        assert_eq!(
            (cap.daily.used, cap.daily.available_at),
            (2, Some(ts(T0 + DAY))),
            "{ctx}"
        );
        assert_eq!(cap.notes.used, 1, "{ctx}");
        assert_eq!(
            e.diagnose(MemberId(1), MemberId(4)).blockers().len(),
            1,
            "{ctx}"
        );
        assert_eq!(e.sweep(), 0, "{ctx}");
        // Another sender's send is stamped at the latest instant seen.
        let sent = send(&e, 50 + i as u64, 6).unwrap_or_else(|d| panic!("{ctx}: {d:?}"));
        assert_eq!(sent.expires_at(), ts(late + 2 * DAY), "{ctx}: expires_at");
        assert!(e.withdraw(sent.id()).is_ok(), "{ctx}");
        assert_eq!(
            e.status(MemberId(9)),
            AccountStatus::Restricted {
                until: Some(ts(T0 + DAY))
            },
            "{ctx}"
        );
    }
    // Past the restriction's end, stepping back does not restore it.
    clock.set(ts(T0 + DAY));
    assert_eq!(e.status(MemberId(9)), AccountStatus::Active);
    clock.set(ts(T0));
    assert_eq!(
        e.status(MemberId(9)),
        AccountStatus::Active,
        "a lifted restriction came back"
    );
    send(&e, 9, 1).expect("the restriction lifted at its until");
    // The first invitation expires at T0 + 2 days; stepping back does not revive it.
    clock.set(first.expires_at());
    assert_eq!(e.pending_between(MemberId(1), MemberId(2)), 0);
    clock.set(ts(T0 + 1));
    assert_eq!(
        e.pending_between(MemberId(1), MemberId(2)),
        0,
        "expired invitation revived"
    );
    assert!(
        e.accept(first.id()).is_err(),
        "accepted an expired invitation after a step back"
    );
    // And forward again, the window frees at exactly T0 + DAY (already passed).
    send(&e, 1, 4).expect("the daily window has room after T0 + DAY");
}

#[test]
fn a_tier_change_keeps_counts_and_changes_limits_at_once() {
    let p = Policy {
        free: limits(3, 10, Some(3), 10),
        premium: limits(5, 12, None, 20),
        ..base_policy()
    };
    let (clock, e) = engine(p);
    let m = MemberId(1);
    for k in 0..3u64 {
        clock.set(ts(T0 + k));
        send_ok(
            &e,
            InviteRequest::new(m, MemberId(10 + k)).note("note"),
            "free sends",
        );
    }
    assert_eq!(
        denial(send(&e, 1, 20), "free at its limit").0,
        DenyReason::DailyLimit { used: 3, limit: 3 }
    );
    e.set_tier(m, Tier::Premium);
    let cap = e.capacity(m);
    assert_eq!(
        (cap.daily.used, cap.daily.limit, cap.tier),
        (3, 5, Tier::Premium)
    );
    assert_eq!((cap.notes.used, cap.notes.limit), (3, None));
    for k in 3..5u64 {
        clock.set(ts(T0 + k));
        send_ok(
            &e,
            InviteRequest::new(m, MemberId(10 + k)).note("premium note"),
            "premium sends",
        );
    }
    assert_eq!(
        denial(send(&e, 1, 20), "premium at its limit"),
        (
            DenyReason::DailyLimit { used: 5, limit: 5 },
            Some(ts(T0 + DAY))
        )
    );
    // Back to Free: 5 counted against a limit of 3, so three must leave: the third
    // oldest (sent at T0 + 2) leaves at T0 + 2 + DAY.
    e.set_tier(m, Tier::Free);
    assert_eq!(
        denial(send(&e, 1, 20), "downgraded"),
        (
            DenyReason::DailyLimit { used: 5, limit: 3 },
            Some(ts(T0 + 2 + DAY))
        )
    );
    let cap = e.capacity(m);
    assert_eq!(
        (cap.daily.used, cap.daily.limit, cap.daily.available_at),
        (5, 3, Some(ts(T0 + 2 + DAY)))
    );
    assert_eq!((cap.notes.used, cap.notes.limit), (5, Some(3)));
    // The note quota, counted while Premium, binds the Free member at once: five notes
    // in the window, a quota of three; the third oldest (T0 + 2) frees a note.
    let blockers: Vec<_> = e
        .diagnose_request(&InviteRequest::new(m, MemberId(21)).note("n"))
        .blockers()
        .iter()
        .map(|b| (*b.reason(), b.retry_at()))
        .collect();
    assert_eq!(
        blockers,
        vec![
            (
                DenyReason::DailyLimit { used: 5, limit: 3 },
                Some(ts(T0 + 2 + DAY))
            ),
            (
                DenyReason::NoteQuota { used: 5, limit: 3 },
                Some(ts(T0 + 2 + MONTH))
            ),
        ]
    );
    clock.set(ts(T0 + 2 + DAY - 1));
    assert!(
        send(&e, 1, 20).is_err(),
        "freed too early after the downgrade"
    );
    clock.set(ts(T0 + 2 + DAY));
    send(&e, 1, 20).expect("the third oldest send has left the window");
}

#[test]
fn denied_attempts_never_count() {
    let (clock, e) = engine(with_limits(limits(2, 3, Some(1), 5)));
    let m = MemberId(1);
    send_ok(&e, InviteRequest::new(m, MemberId(2)).note("hey"), "first");
    e.set_status(MemberId(50), AccountStatus::Banned);
    e.set_invite_setting(MemberId(51), InviteSetting::Nobody);
    for k in 0..50u64 {
        let attempts = [
            InviteRequest::new(m, MemberId(60 + k)).note("too long a note"),
            InviteRequest::new(m, MemberId(60 + k)).note("x"), // note quota used up
            InviteRequest::new(m, m),
            InviteRequest::new(m, MemberId(50)),
            InviteRequest::new(m, MemberId(51)),
        ];
        for req in attempts {
            assert!(e.send(req.clone()).is_err(), "{req:?} should be denied");
        }
    }
    let cap = e.capacity(m);
    assert_eq!(
        (cap.daily.used, cap.weekly.used, cap.notes.used),
        (1, 1, 1),
        "denied attempts counted"
    );
    send(&e, 1, 3).expect("second send of the day");
    for k in 0..100u64 {
        assert_eq!(
            denial(send(&e, 1, 200 + k), "over the daily limit"),
            (
                DenyReason::DailyLimit { used: 2, limit: 2 },
                Some(ts(T0 + DAY))
            )
        );
    }
    clock.set(ts(T0 + DAY));
    send(&e, 1, 4).expect("a day later the window has room");
    assert_eq!(
        denial(send(&e, 1, 5), "weekly").0,
        DenyReason::WeeklyLimit { used: 3, limit: 3 },
        "only accepted sends count towards the weekly limit"
    );
    let cap = e.capacity(m);
    assert_eq!((cap.daily.used, cap.weekly.used, cap.notes.used), (1, 3, 1));
    assert_eq!(e.sweep(), 0);
}

#[test]
fn an_idempotency_key_is_remembered_until_just_before_24_hours() {
    let (clock, e) = engine(base_policy());
    let m = MemberId(1);
    let first = send_ok(
        &e,
        InviteRequest::new(m, MemberId(2)).idempotency_key(9),
        "first",
    );
    clock.set(ts(T0 + DAY - 1));
    let again = send_ok(
        &e,
        InviteRequest::new(m, MemberId(2)).idempotency_key(9),
        "replay",
    );
    assert_eq!(again, first, "a replay within 24 h returns the same Sent");
    assert_eq!(
        denial(
            e.send(InviteRequest::new(m, MemberId(3)).idempotency_key(9)),
            "conflict"
        ),
        (
            DenyReason::IdempotencyConflict {
                key: 9,
                first_recipient: MemberId(2)
            },
            None
        ),
        "the key to another recipient within 24 h"
    );
    assert_eq!(e.capacity(m).daily.used, 1, "a replay consumed quota");
    clock.set(ts(T0 + DAY));
    // 24 h on the key is forgotten: the same request is judged afresh (and the pair
    // already has one pending, so this is a second invitation).
    let fresh = send_ok(
        &e,
        InviteRequest::new(m, MemberId(2)).idempotency_key(9),
        "after 24 h",
    );
    assert_ne!(
        fresh.id(),
        first.id(),
        "the key was remembered for 24 h or more"
    );
    assert_eq!(e.pending_between(m, MemberId(2)), 2);
    // Denials are not remembered: a key first used in a denied send is free.
    e.set_status(MemberId(50), AccountStatus::Banned);
    assert_eq!(
        denial(
            e.send(InviteRequest::new(m, MemberId(50)).idempotency_key(10)),
            "banned"
        )
        .0,
        DenyReason::RecipientUnavailable
    );
    let other = send_ok(
        &e,
        InviteRequest::new(m, MemberId(4)).idempotency_key(10),
        "after a denial",
    );
    assert_eq!(
        denial(
            e.send(InviteRequest::new(m, MemberId(50)).idempotency_key(10)),
            "now a conflict"
        ),
        (
            DenyReason::IdempotencyConflict {
                key: 10,
                first_recipient: MemberId(4)
            },
            None
        )
    );
    assert_eq!(
        send_ok(
            &e,
            InviteRequest::new(m, MemberId(4)).idempotency_key(10),
            "replay"
        ),
        other
    );
}

#[test]
fn note_length_counts_chars_of_the_trimmed_note() {
    let (_clock, e) = engine(with_limits(limits(50, 50, Some(3), 5)));
    // Too-long notes first: once three notes are accepted the quota denies earlier.
    let cases: [(&str, Option<u32>); 6] = [
        ("abcdef", Some(6)),
        (" äöü字éx ", Some(6)),
        (
            "\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}",
            Some(6),
        ),
        ("abcde", None),
        ("  äöü字é \n", None), // 5 chars, 10 bytes, surrounded by whitespace
        ("ab de", None),       // inner whitespace counts
    ];
    for (k, (note, too_long)) in cases.iter().enumerate() {
        let r = e.send(InviteRequest::new(MemberId(1), MemberId(100 + k as u64)).note(*note));
        match too_long {
            None => {
                r.unwrap_or_else(|d| panic!("{note:?}: {d:?}"));
            }
            Some(chars) => assert_eq!(
                denial(r, note),
                (
                    DenyReason::NoteTooLong {
                        chars: *chars,
                        limit: 5
                    },
                    None
                ),
                "{note:?}"
            ),
        }
    }
    assert_eq!(e.capacity(MemberId(1)).notes.used, 3);
    // A blank note is no note: it neither counts nor is checked against the quota.
    for (k, blank) in ["", "   ", "\n\t "].iter().enumerate() {
        send_ok(
            &e,
            InviteRequest::new(MemberId(1), MemberId(200 + k as u64)).note(*blank),
            "blank",
        );
    }
    assert_eq!(
        e.capacity(MemberId(1)).notes.used,
        3,
        "a blank note counted as a note"
    );
    assert_eq!(
        denial(
            e.send(InviteRequest::new(MemberId(1), MemberId(300)).note("x")),
            "quota"
        )
        .0,
        DenyReason::NoteQuota { used: 3, limit: 3 }
    );
}
