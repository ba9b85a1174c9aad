//! Spam signals of one sender: pure logic, times in milliseconds, no locks, no clock.
//!
//! Windows are half-open: an event at `t` counts at `q` when `t <= q < t + per`. Each
//! log keeps only what its rule can still count, so a sender's memory is bounded by
//! their activity within the rules' windows.

use std::collections::VecDeque;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::codec::{DecodeError, Reader, Writer};
use crate::policy::{RateRule, SpamPolicy};
use crate::spam_signals::{SpamSignal, SpamSignals};
use crate::time::millis;
use crate::window::Log;

/// What the spam signals see of one send attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    /// No shared connection, neither in the other's imported contacts, no email given.
    pub(crate) stranger: bool,
    /// The trimmed, non-empty note.
    pub(crate) note: Option<&'a str>,
}

/// Recipients' answers to the sender's invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feedback {
    Accepted,
    Declined,
    Expired,
    Reported,
}

impl Feedback {
    const ALL: [Feedback; 4] = [
        Feedback::Accepted,
        Feedback::Declined,
        Feedback::Expired,
        Feedback::Reported,
    ];
}

/// A denial by the spam signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) signals: SpamSignals,
    pub(crate) until: u64,
    pub(crate) restrict_until: Option<u64>,
}

/// The keyword list, compiled once per engine.
#[derive(Debug, Clone)]
pub(crate) struct Keywords {
    automaton: Option<AhoCorasick>,
}

impl Keywords {
    /// Compiles `phrases` for ASCII-case-insensitive search.
    pub(crate) fn new(phrases: &[String]) -> Self {
        // A blank phrase would match every note.
        let phrases: Vec<&str> = phrases
            .iter()
            .map(String::as_str)
            .filter(|p| !p.trim().is_empty())
            .collect();
        if phrases.is_empty() {
            return Keywords { automaton: None };
        }
        // A build failure (only on absurd sizes) turns this one signal off rather
        // than taking the engine down.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(phrases)
            .ok();
        Keywords { automaton }
    }

    /// Whether `note` contains any phrase.
    pub(crate) fn matches(&self, note: &str) -> bool {
        self.automaton.as_ref().is_some_and(|ac| ac.is_match(note))
    }
}

/// A note's identity with case and whitespace folded: trimmed, lowercased, every run of
/// whitespace one space.
pub(crate) fn note_fingerprint(note: &str) -> u64 {
    // FNV-1a rather than ahash: fingerprints live on in snapshots, and ahash output
    // differs between machines and crate versions.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |c: char| {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut gap = false;
    for c in note.trim().chars() {
        if c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap {
            feed(' ');
            gap = false;
        }
        c.to_lowercase().for_each(&mut feed);
    }
    hash
}

/// Resolved invitations in time order, with per-kind totals of what is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Outcomes {
    events: VecDeque<(u64, Feedback)>,
    /// Indexed by `Feedback as usize`; saves scanning 30 days of events per attempt.
    totals: [u32; 4],
}

impl Outcomes {
    fn insert(&mut self, at: u64, f: Feedback) {
        // Feedback may arrive late (an expiry noticed by a later sweep).
        let i = self.events.partition_point(|&(t, _)| t <= at);
        self.events.insert(i, (at, f));
        self.totals[f as usize] = self.totals[f as usize].saturating_add(1);
    }

    fn expire(&mut self, now: u64, per: u64) {
        while let Some(&(t, f)) = self.events.front() {
            if t.saturating_add(per) > now {
                break;
            }
            self.events.pop_front();
            self.totals[f as usize] = self.totals[f as usize].saturating_sub(1);
        }
    }

    /// Totals counted at `now`: kept events minus those already out of the window and
    /// those not yet in it (both ends are short, so this is cheap).
    fn counted(&self, now: u64, per: u64) -> [u64; 4] {
        let mut c = self.totals.map(u64::from);
        let old = |e: &&(u64, Feedback)| e.0.saturating_add(per) <= now;
        let early = self.events.iter().take_while(old);
        let late = self.events.iter().rev().take_while(|e| e.0 > now);
        for &(_, f) in early.chain(late) {
            c[f as usize] = c[f as usize].saturating_sub(1);
        }
        c
    }
}

/// One sender's spam state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SpamState {
    /// Every attempt, denied ones included, for `burst`.
    attempts: Log,
    /// Accepted sends to strangers, for `strangers`.
    strangers: Log,
    /// Accepted sends with a note, as (instant, fingerprint), for `template`.
    notes: VecDeque<(u64, u64)>,
    /// Report instants, sorted, for `reports`.
    reports: VecDeque<u64>,
    /// Resolved invitations, for `ignored`.
    outcomes: Outcomes,
    /// Instants of trips, for escalation.
    strikes: Log,
    /// The cooldown's end and the signals that started it.
    cooldown: Option<(u64, SpamSignals)>,
}

fn per(rule: Option<RateRule>) -> Option<u64> {
    rule.map(|r| millis(r.per))
}

/// Whether `count` events plus `extra` exceed the rule's `max`.
fn over(count: usize, extra: u64, max: u32) -> bool {
    (count as u64).saturating_add(extra) > u64::from(max)
}

/// A note that can be evidence of a template: blank ones never are.
fn real_note<'a>(a: &Attempt<'a>) -> Option<&'a str> {
    a.note.filter(|n| !n.trim().is_empty())
}

fn expire_log(log: &mut Log, now: u64, len: Option<u64>) {
    match len {
        Some(len) => log.expire(now, len),
        None => *log = Log::default(),
    }
}

fn insert_sorted(times: &mut VecDeque<u64>, at: u64) {
    let i = times.partition_point(|&t| t <= at);
    times.insert(i, at);
}

impl SpamState {
    /// What `attempt` would answer, recording nothing.
    pub(crate) fn check(
        &self,
        now: u64,
        a: &Attempt<'_>,
        p: &SpamPolicy,
        kw: &Keywords,
    ) -> Option<Verdict> {
        if let Some((signals, until)) = self.cooldown(now) {
            return Some(Verdict {
                signals,
                until,
                restrict_until: None,
            });
        }
        let signals = self.signals(now, a, p, kw);
        if signals.is_empty() {
            return None;
        }
        let strikes = self.strikes.count(now, millis(p.strike_memory));
        let until = now.saturating_add(millis(p.cooldown));
        let ladder = &p.restriction_ladder;
        let step = strikes
            .checked_sub(1)
            .and_then(|k| ladder.get(k).or(ladder.last()));
        Some(match step {
            None => Verdict {
                signals,
                until,
                restrict_until: None,
            },
            Some(&d) => {
                let end = now.saturating_add(millis(d));
                Verdict {
                    signals,
                    until: end,
                    restrict_until: Some(end),
                }
            }
        })
    }

    /// Records an attempt and judges it; a trip starts a cooldown and counts a strike.
    pub(crate) fn attempt(
        &mut self,
        now: u64,
        a: &Attempt<'_>,
        p: &SpamPolicy,
        kw: &Keywords,
    ) -> Option<Verdict> {
        self.prune(now, p);
        let cooling = self.cooldown.is_some();
        let verdict = self.check(now, a, p, kw);
        if p.burst.is_some() {
            self.attempts.push(now);
        }
        if let (Some(v), false) = (verdict, cooling) {
            self.strikes.push(now);
            self.cooldown = Some((now.saturating_add(millis(p.cooldown)), v.signals));
        }
        verdict
    }

    /// Records an accepted send.
    pub(crate) fn record_sent(&mut self, now: u64, a: &Attempt<'_>, p: &SpamPolicy) {
        self.prune(now, p);
        if a.stranger && p.strangers.is_some() {
            self.strangers.push(now);
        }
        if let (Some(note), Some(_)) = (real_note(a), p.template) {
            let at = self.notes.back().map_or(now, |&(t, _)| now.max(t));
            self.notes.push_back((at, note_fingerprint(note)));
        }
    }

    /// Records a recipient's answer at `at`, which may be earlier than recorded events.
    pub(crate) fn record_feedback(&mut self, at: u64, f: Feedback, p: &SpamPolicy) {
        if f == Feedback::Reported && p.reports.is_some() {
            insert_sorted(&mut self.reports, at);
        }
        if p.ignored.is_some() {
            self.outcomes.insert(at, f);
        }
        // No clock here: the newest instant seen is a safe lower bound on now.
        let now = [
            Some(at),
            self.attempts.last(),
            self.strangers.last(),
            self.notes.back().map(|e| e.0),
            self.reports.back().copied(),
            self.outcomes.events.back().map(|e| e.0),
            self.strikes.last(),
        ];
        self.prune(now.into_iter().flatten().max().unwrap_or(at), p);
    }

    /// The active cooldown's signals and end.
    pub(crate) fn cooldown(&self, now: u64) -> Option<(SpamSignals, u64)> {
        self.cooldown
            .filter(|&(until, _)| now < until)
            .map(|(until, signals)| (signals, until))
    }

    /// When, absent new events, nothing recorded matters any more; 0 when empty.
    pub(crate) fn idle_at(&self, p: &SpamPolicy) -> u64 {
        let ends = [
            (self.attempts.last(), per(p.burst)),
            (self.strangers.last(), per(p.strangers)),
            (self.notes.back().map(|e| e.0), per(p.template)),
            (self.reports.back().copied(), per(p.reports)),
            (
                self.outcomes.events.back().map(|e| e.0),
                p.ignored.map(|r| millis(r.per)),
            ),
            (self.strikes.last(), Some(millis(p.strike_memory))),
            (self.cooldown.map(|c| c.0), Some(0)),
        ];
        ends.into_iter()
            .filter_map(|(last, len)| Some(last?.saturating_add(len?)))
            .max()
            .unwrap_or(0)
    }

    /// Appends the state to a snapshot.
    pub(crate) fn write(&self, w: &mut Writer) {
        for log in [&self.attempts, &self.strangers] {
            w.len(log.len());
            log.iter().for_each(|t| w.u64(t));
        }
        w.len(self.notes.len());
        for &(t, fp) in &self.notes {
            w.u64(t);
            w.u64(fp);
        }
        w.len(self.reports.len());
        self.reports.iter().for_each(|&t| w.u64(t));
        w.len(self.outcomes.events.len());
        for &(t, f) in &self.outcomes.events {
            w.u64(t);
            w.u8(f as u8);
        }
        w.len(self.strikes.len());
        self.strikes.iter().for_each(|t| w.u64(t));
        w.bool(self.cooldown.is_some());
        if let Some((until, signals)) = self.cooldown {
            w.u64(until);
            w.u8(signals.bits());
        }
    }

    /// Reads a state written by [`SpamState::write`].
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut s = SpamState {
            attempts: read_log(r)?,
            strangers: read_log(r)?,
            ..SpamState::default()
        };
        for _ in 0..r.len(16)? {
            let t = read_after(r, s.notes.back().map(|e| e.0))?;
            s.notes.push_back((t, r.u64()?));
        }
        for _ in 0..r.len(8)? {
            let t = read_after(r, s.reports.back().copied())?;
            s.reports.push_back(t);
        }
        for _ in 0..r.len(9)? {
            let t = read_after(r, s.outcomes.events.back().map(|e| e.0))?;
            match Feedback::ALL.get(usize::from(r.u8()?)) {
                Some(&f) => s.outcomes.insert(t, f),
                None => return r.fail("invalid feedback kind"),
            }
        }
        s.strikes = read_log(r)?;
        if r.bool()? {
            let until = r.u64()?;
            let bits = r.u8()?;
            let signals = SpamSignals::from_bits(bits);
            if signals.is_empty() || signals.bits() != bits {
                return r.fail("invalid spam signal set");
            }
            s.cooldown = Some((until, signals));
        }
        Ok(s)
    }

    fn prune(&mut self, now: u64, p: &SpamPolicy) {
        expire_log(&mut self.attempts, now, per(p.burst));
        expire_log(&mut self.strangers, now, per(p.strangers));
        expire_log(&mut self.strikes, now, Some(millis(p.strike_memory)));
        match per(p.template) {
            Some(len) => {
                while self
                    .notes
                    .front()
                    .is_some_and(|e| e.0.saturating_add(len) <= now)
                {
                    self.notes.pop_front();
                }
            }
            None => self.notes.clear(),
        }
        match per(p.reports) {
            Some(len) => {
                while self
                    .reports
                    .front()
                    .is_some_and(|&t| t.saturating_add(len) <= now)
                {
                    self.reports.pop_front();
                }
            }
            None => self.reports.clear(),
        }
        match p.ignored {
            Some(rule) => self.outcomes.expire(now, millis(rule.per)),
            None => self.outcomes = Outcomes::default(),
        }
        self.cooldown = self.cooldown.filter(|c| now < c.0);
    }

    fn signals(&self, now: u64, a: &Attempt<'_>, p: &SpamPolicy, kw: &Keywords) -> SpamSignals {
        let mut s = SpamSignals::empty();
        // This attempt counts in its own burst.
        if let Some(r) = p.burst {
            if over(self.attempts.count(now, millis(r.per)), 1, r.max) {
                s.insert(SpamSignal::Burst);
            }
        }
        if let (true, Some(r)) = (a.stranger, p.strangers) {
            if over(self.strangers.count(now, millis(r.per)), 1, r.max) {
                s.insert(SpamSignal::Strangers);
            }
        }
        if let (Some(note), Some(r)) = (real_note(a), p.template) {
            let (fp, len) = (note_fingerprint(note), millis(r.per));
            let same = self
                .notes
                .iter()
                .filter(|e| e.1 == fp && e.0.saturating_add(len) > now);
            if over(same.count(), 1, r.max) {
                s.insert(SpamSignal::Template);
            }
        }
        if a.note.is_some_and(|n| kw.matches(n)) {
            s.insert(SpamSignal::Keyword);
        }
        if let Some(r) = p.reports {
            let len = millis(r.per);
            let from = self
                .reports
                .partition_point(|&t| t.saturating_add(len) <= now);
            let to = self.reports.partition_point(|&t| t <= now);
            if over(to.saturating_sub(from), 0, r.max) {
                s.insert(SpamSignal::Reports);
            }
        }
        if let Some(r) = p.ignored {
            let [accepted, declined, expired, reported] = self.outcomes.counted(now, millis(r.per));
            let bad = declined.saturating_add(expired).saturating_add(reported);
            let resolved = bad.saturating_add(accepted);
            // With `min_resolved` 0, a sender with no answers at all is not evidence.
            if resolved >= u64::from(r.min_resolved.max(1))
                && bad.saturating_mul(100) >= u64::from(r.max_percent).saturating_mul(resolved)
            {
                s.insert(SpamSignal::Ignored);
            }
        }
        s
    }
}

/// Reads an instant that must not precede `prev`, so decoded logs stay sorted.
fn read_after(r: &mut Reader<'_>, prev: Option<u64>) -> Result<u64, DecodeError> {
    let t = r.u64()?;
    match prev {
        Some(p) if t < p => r.fail("spam event instants out of order"),
        _ => Ok(t),
    }
}

fn read_log(r: &mut Reader<'_>) -> Result<Log, DecodeError> {
    let mut log = Log::default();
    for _ in 0..r.len(8)? {
        let t = read_after(r, log.last())?;
        log.push(t);
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn none() -> Keywords {
        Keywords::new(&[])
    }

    fn fired(v: Option<Verdict>) -> Vec<SpamSignal> {
        v.map(|v| v.signals.iter().collect()).unwrap_or_default()
    }

    #[test]
    fn burst_trips_past_max_and_its_window_is_half_open() {
        let p = only(|p| p.burst = rule(3, MIN));
        let (mut s, a) = (SpamState::default(), att(false, None));
        for t in [0, 10, 20] {
            assert_eq!(s.attempt(t, &a, &p, &none()), None);
        }
        assert_eq!(
            fired(s.check(MIN - 1, &a, &p, &none())),
            [SpamSignal::Burst]
        );
        assert_eq!(s.check(MIN, &a, &p, &none()), None);
        assert_eq!(fired(s.attempt(30, &a, &p, &none())), [SpamSignal::Burst]);
    }

    #[test]
    fn strangers_and_template_count_accepted_sends() {
        let p = only(|p| {
            p.strangers = rule(2, HOUR);
            p.template = rule(2, DAY);
        });
        let mut s = SpamState::default();
        s.record_sent(0, &att(true, Some("Hello  There")), &p);
        s.record_sent(1, &att(true, Some("hello there")), &p);
        let kw = none();
        assert_eq!(
            fired(s.check(2, &att(true, None), &p, &kw)),
            [SpamSignal::Strangers]
        );
        assert_eq!(s.check(2, &att(false, Some("hello")), &p, &kw), None);
        assert_eq!(s.check(HOUR, &att(true, None), &p, &kw), None);
        let same = att(false, Some(" HELLO\t\nthere "));
        assert_eq!(fired(s.check(2, &same, &p, &kw)), [SpamSignal::Template]);
        assert_eq!(
            fired(s.check(DAY - 1, &same, &p, &kw)),
            [SpamSignal::Template]
        );
        assert_eq!(s.check(DAY, &same, &p, &kw), None);
        assert_eq!(note_fingerprint("Ünï  Code"), note_fingerprint("ünï code"));
        assert_ne!(note_fingerprint("a b"), note_fingerprint("ab"));
    }

    #[test]
    fn keywords_match_case_insensitively_and_empty_list_matches_nothing() {
        let p = SpamPolicy::disabled();
        let kw = Keywords::new(&SpamPolicy::default().keywords);
        let s = SpamState::default();
        let spam = att(false, Some("Earn with CRYPTO today"));
        assert_eq!(fired(s.check(0, &spam, &p, &kw)), [SpamSignal::Keyword]);
        assert_eq!(
            s.check(0, &att(false, Some("Loved your talk")), &p, &kw),
            None
        );
        assert!(!none().matches("crypto"));
        assert!(!Keywords::new(&["  ".to_owned()]).matches("anything"));
    }

    #[test]
    fn reports_count_out_of_order_feedback() {
        let p = only(|p| p.reports = rule(2, 30 * DAY));
        let (mut s, a) = (SpamState::default(), att(false, None));
        s.record_feedback(10 * DAY, Feedback::Reported, &p);
        s.record_feedback(12 * DAY, Feedback::Reported, &p);
        assert_eq!(s.check(20 * DAY, &a, &p, &none()), None);
        s.record_feedback(DAY, Feedback::Reported, &p);
        assert_eq!(s.reports, [DAY, 10 * DAY, 12 * DAY]);
        assert_eq!(
            fired(s.check(31 * DAY - 1, &a, &p, &none())),
            [SpamSignal::Reports]
        );
        assert_eq!(s.check(31 * DAY, &a, &p, &none()), None);
        // A report that arrives already out of its window never counts, and goes at
        // the next attempt.
        s.record_feedback(0, Feedback::Reported, &p);
        assert_eq!(s.attempt(31 * DAY, &a, &p, &none()), None);
        assert_eq!(s.reports, [10 * DAY, 12 * DAY]);
    }

    #[test]
    fn ignored_needs_min_resolved_and_the_percentage() {
        let ignored = IgnoredRule {
            max_percent: 75,
            min_resolved: 4,
            per: Duration::from_millis(DAY),
        };
        let p = only(|p| p.ignored = Some(ignored));
        let (mut s, a) = (SpamState::default(), att(false, None));
        for (t, f) in [
            (1, Feedback::Declined),
            (2, Feedback::Expired),
            (3, Feedback::Reported),
        ] {
            s.record_feedback(t, f, &p);
        }
        assert_eq!(s.check(10, &a, &p, &none()), None);
        let mut at_75 = s.clone();
        at_75.record_feedback(4, Feedback::Accepted, &p);
        assert_eq!(
            fired(at_75.check(10, &a, &p, &none())),
            [SpamSignal::Ignored]
        );
        assert_eq!(at_75.check(DAY + 1, &a, &p, &none()), None);
        s.record_feedback(4, Feedback::Accepted, &p);
        s.record_feedback(5, Feedback::Accepted, &p);
        assert_eq!(s.check(10, &a, &p, &none()), None);
    }

    #[test]
    fn cooldown_then_escalation_along_the_ladder() {
        let p = only(|p| {
            p.burst = rule(1, 1_000);
            p.cooldown = Duration::from_millis(MIN);
            p.restriction_ladder = vec![Duration::from_millis(DAY), Duration::from_millis(7 * DAY)];
        });
        let (mut s, a, kw) = (SpamState::default(), att(false, None), none());
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
        // Calm attempts during the cooldown get its signals and end.
        assert_eq!(s.attempt(30_000, &a, &p, &kw), Some(first));
        assert_eq!(s.cooldown(MIN - 1), Some((burst, MIN)));
        assert_eq!(s.cooldown(MIN), None);
        for (t, r) in [(2 * MIN, DAY), (4 * MIN, 7 * DAY), (6 * MIN, 7 * DAY)] {
            let v = trip(&mut s, t).map(|v| (v.until, v.restrict_until));
            assert_eq!(v, Some((t + r, Some(t + r))));
            assert_eq!(s.cooldown(t), Some((burst, t + MIN)));
        }
        let later = 6 * MIN + 30 * DAY;
        assert_eq!(trip(&mut s, later).map(|v| v.restrict_until), Some(None));
    }

    /// A small deterministic generator for mixed workloads.
    fn lcg(x: &mut u64) -> u64 {
        *x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *x >> 33
    }

    #[test]
    fn check_predicts_attempt_and_changes_nothing() {
        let p = SpamPolicy {
            burst: rule(4, 10_000),
            strangers: rule(5, MIN),
            template: rule(3, HOUR),
            reports: rule(3, HOUR),
            ignored: Some(IgnoredRule {
                max_percent: 60,
                min_resolved: 5,
                per: Duration::from_millis(HOUR),
            }),
            cooldown: Duration::from_millis(2 * MIN),
            ..SpamPolicy::default()
        };
        let kw = Keywords::new(&p.keywords);
        let notes = ["hi", "Hi ", "crypto deal", "hello", "HELLO"];
        let (mut s, mut x, mut now) = (SpamState::default(), 7, 0);
        for _ in 0..5_000 {
            now += lcg(&mut x) % 20_000;
            let r = lcg(&mut x);
            let note = notes.get(r as usize % 8).copied();
            let a = att(r % 3 == 0, note);
            let before = s.clone();
            let predicted = s.check(now, &a, &p, &kw);
            assert_eq!(s, before);
            let got = s.attempt(now, &a, &p, &kw);
            assert_eq!(predicted, got);
            if got.is_none() {
                s.record_sent(now, &a, &p);
            }
            if r % 4 == 0 {
                let f = Feedback::ALL[(r / 4 % 4) as usize];
                s.record_feedback(now.saturating_sub(lcg(&mut x) % HOUR), f, &p);
            }
        }
    }

    #[test]
    fn an_honest_premium_sender_is_never_flagged() {
        let p = SpamPolicy::default();
        let kw = Keywords::new(&p.keywords);
        let mut s = SpamState::default();
        let mut answers: Vec<(u64, Feedback)> = Vec::new();
        for day in 0..7 {
            for i in 0..100u64 {
                let now = day * DAY + 9 * HOUR + i * 3 * MIN;
                let text = format!("Hi {day}-{i}, I enjoyed your post on topic {i}.");
                let a = att(i % 2 == 0, (i % 3 != 0).then_some(text.as_str()));
                assert_eq!(s.attempt(now, &a, &p, &kw), None, "day {day} #{i}");
                s.record_sent(now, &a, &p);
                use Feedback::{Accepted, Declined, Expired};
                let f = [Accepted, Accepted, Declined, Accepted, Expired][i as usize % 5];
                answers.push((now + DAY, f));
                // A sweep now and then notices answers late, newest first.
                if i % 10 == 9 {
                    for &(at, f) in answers.iter().rev().filter(|e| e.0 <= now) {
                        s.record_feedback(at, f, &p);
                    }
                    answers.retain(|e| e.0 > now);
                }
            }
        }
        assert!(s.attempts.len() <= 11 && s.strangers.len() <= 26 && s.notes.len() <= 100);
    }

    #[test]
    fn spammers_trip_their_signals_with_defaults() {
        let p = SpamPolicy::default();
        let kw = Keywords::new(&p.keywords);
        let mut s = SpamState::default();
        let a = att(false, None);
        for i in 0..10 {
            assert_eq!(s.attempt(i * 100, &a, &p, &kw), None);
        }
        assert_eq!(fired(s.attempt(1_000, &a, &p, &kw)), [SpamSignal::Burst]);

        let mut s = SpamState::default();
        for i in 0..11u64 {
            let spaces = " ".repeat(i as usize % 3 + 1);
            let text = format!("Let's{spaces}CONNECT and grow");
            let a = att(
                false,
                Some(if i % 2 == 0 {
                    &text
                } else {
                    "let's connect AND grow"
                }),
            );
            let v = s.attempt(i * 5 * MIN, &a, &p, &kw);
            if i < 10 {
                assert_eq!(v, None);
                s.record_sent(i * 5 * MIN, &a, &p);
            } else {
                assert_eq!(fired(v), [SpamSignal::Template]);
            }
        }

        let mut s = SpamState::default();
        for i in 0..5 {
            assert_eq!(s.attempt(i * HOUR, &a, &p, &kw), None);
            s.record_feedback(i * HOUR + 1, Feedback::Reported, &p);
        }
        assert_eq!(
            fired(s.attempt(5 * HOUR, &a, &p, &kw)),
            [SpamSignal::Reports]
        );
    }

    #[test]
    fn snapshot_round_trips_and_rejects_damage() {
        let p = SpamPolicy::default();
        let mut s = SpamState::default();
        let mut w = Writer::default();
        s.write(&mut w);
        assert_eq!(
            SpamState::read(&mut Reader::new(w.bytes(), 0)),
            Ok(s.clone())
        );
        s.record_sent(5, &att(true, Some("hello")), &p);
        for (t, f) in [
            (9, Feedback::Reported),
            (3, Feedback::Accepted),
            (7, Feedback::Expired),
        ] {
            s.record_feedback(t, f, &p);
        }
        for t in 10..22 {
            s.attempt(t, &att(false, None), &p, &Keywords::new(&[]));
        }
        assert!(s.cooldown.is_some() && !s.outcomes.events.is_empty());
        let mut w = Writer::default();
        s.write(&mut w);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes, 0);
        assert_eq!(SpamState::read(&mut r), Ok(s));
        assert!(r.is_done());
        for cut in 0..bytes.len() {
            assert!(SpamState::read(&mut Reader::new(&bytes[..cut], 0)).is_err());
        }
        let mut bad = bytes.clone();
        if let Some(b) = bad.last_mut() {
            *b = 0x40;
        }
        assert!(SpamState::read(&mut Reader::new(&bad, 0)).is_err());
    }

    #[test]
    fn idle_at_is_when_the_last_thing_stops_mattering() {
        let p = SpamPolicy::default();
        let mut s = SpamState::default();
        assert_eq!(s.idle_at(&p), 0);
        s.attempt(100, &att(false, None), &p, &none());
        assert_eq!(s.idle_at(&p), 100 + MIN);
        s.record_sent(100, &att(true, None), &p);
        assert_eq!(s.idle_at(&p), 100 + HOUR);
        s.record_feedback(50, Feedback::Declined, &p);
        assert_eq!(s.idle_at(&p), 50 + 30 * DAY);
        s.attempt(
            200,
            &att(false, Some("crypto")),
            &p,
            &Keywords::new(&p.keywords),
        );
        assert_eq!(s.idle_at(&p), 200 + 30 * DAY);
        assert_eq!(SpamState::default().idle_at(&SpamPolicy::disabled()), 0);
    }
}
