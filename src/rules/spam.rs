//! Spam signals of one sender: pure logic, times in milliseconds, no locks, no clock.
//!
//! Windows are half-open: an event at `t` counts at `q` when `t <= q < t + per`. Each
//! log keeps only what its rule can still count, so a sender's memory is bounded by
//! their activity within the rules' windows.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::policy::{RateRule, SpamPolicy};
use crate::rules::spam::signals::{SpamSignal, SpamSignals};
use crate::rules::window::deque::SmallDeque;
use crate::time::millis;

/// What the spam signals see of one send attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    /// No shared connection, neither in the other's imported contacts, no email given.
    pub(crate) stranger: bool,
    /// The trimmed, non-empty note.
    pub(crate) note: Option<&'a str>,
}

/// Recipients' answers to the sender's invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Feedback {
    #[default]
    Accepted,
    Declined,
    Expired,
    Reported,
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

/// Time-sorted events, each with its payload (8 bytes an event when it has none); as
/// many as fit in the queue's 32 bytes are kept in place, so a sender with a few
/// recent events needs no buffer for them.
type Events<T, const N: usize = 3> = SmallDeque<(u64, T), N>;

/// One sender's spam state: what every sender records inline, the rest boxed.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpamState {
    /// Every attempt, denied ones included, for `burst`.
    attempts: Events<()>,
    /// Accepted sends to strangers, for `strangers`.
    strangers: Events<()>,
    /// Recipients' answers for `reports` and `ignored`, sorted although they arrive late.
    feedback: Events<Feedback, 1>,
    /// Absent while empty: most senders never write a note twice or trip a signal.
    rare: Option<Box<Rare>>,
}

/// The parts of a sender's spam state that most senders never fill.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rare {
    /// Accepted sends with a note, with its fingerprint, for `template`.
    notes: Events<u64, 1>,
    /// Instants of trips, for escalation.
    strikes: Events<()>,
    /// The cooldown's end and the signals that started it.
    cooldown: Option<(u64, SpamSignals)>,
}

static NO_RARE: Rare = Rare {
    notes: SmallDeque::Inline {
        len: 0,
        items: [(0, 0)],
    },
    strikes: SmallDeque::Inline {
        len: 0,
        items: [(0, ()); 3],
    },
    cooldown: None,
};

impl Default for Rare {
    fn default() -> Self {
        NO_RARE.clone()
    }
}

/// Equal when they record the same, whether or not empty rare parts are allocated.
impl PartialEq for SpamState {
    fn eq(&self, other: &SpamState) -> bool {
        self.attempts == other.attempts
            && self.strangers == other.strangers
            && self.feedback == other.feedback
            && self.rare() == other.rare()
    }
}

impl Eq for SpamState {}

fn per(rule: Option<RateRule>) -> Option<u64> {
    rule.map(|r| millis(r.per))
}

/// How long feedback can count: the longer of the two windows that read it.
fn feedback_len(p: &SpamPolicy) -> Option<u64> {
    per(p.reports).max(p.ignored.map(|r| millis(r.per)))
}

/// Whether `count` events plus `extra` exceed the rule's `max`.
fn over(count: usize, extra: u64, max: u32) -> bool {
    (count as u64).saturating_add(extra) > u64::from(max)
}

/// A note that can be evidence of a template: blank ones never are.
fn real_note<'a>(a: &Attempt<'a>) -> Option<&'a str> {
    a.note.filter(|n| !n.trim().is_empty())
}

fn last<T: Copy + Default, const N: usize>(q: &Events<T, N>) -> Option<u64> {
    q.back().map(|e| e.0)
}

/// Appends at `now`; callers' clocks never step back, the clamp only keeps order.
fn push<T: Copy + Default, const N: usize>(q: &mut Events<T, N>, now: u64, v: T) {
    q.push_back((last(q).map_or(now, |t| now.max(t)), v));
}

/// The payloads of the events that count at `now` in a window of `len`.
fn in_window<T: Copy + Default, const N: usize>(
    q: &Events<T, N>,
    now: u64,
    len: u64,
) -> impl Iterator<Item = &T> {
    let from = q.partition_point(|e| e.0.saturating_add(len) <= now);
    let to = q.partition_point(|e| e.0 <= now).max(from);
    q.iter_from(from).take(to - from).map(|e| &e.1)
}

/// Drops events that no longer count; with the rule off, none can.
fn expire<T: Copy + Default, const N: usize>(q: &mut Events<T, N>, now: u64, len: Option<u64>) {
    match len {
        Some(len) => {
            while q.front().is_some_and(|e| e.0.saturating_add(len) <= now) {
                q.pop_front();
            }
        }
        None => q.clear(),
    }
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
        let strikes = in_window(&self.rare().strikes, now, millis(p.strike_memory)).count();
        let ladder = &p.restriction_ladder;
        let step = strikes
            .checked_sub(1)
            .and_then(|k| ladder.get(k).or(ladder.last()));
        let restrict_until = step.map(|&d| now.saturating_add(millis(d)));
        let until = restrict_until.unwrap_or(now.saturating_add(millis(p.cooldown)));
        Some(Verdict {
            signals,
            until,
            restrict_until,
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
        let cooling = self.rare().cooldown.is_some();
        let verdict = self.check(now, a, p, kw);
        if let Some(burst) = p.burst {
            push(&mut self.attempts, now, ());
            // The rule asks only whether `max` attempts lie in its window, and the
            // latest `max` tell: older ones are dropped, so a client hammering
            // through a denial grows neither this queue nor the time to count it.
            let keep = usize::try_from(burst.max).unwrap_or(usize::MAX).max(1);
            let extra = self.attempts.len().saturating_sub(keep);
            self.attempts.drop_front(extra);
        }
        if let (Some(v), false) = (verdict, cooling) {
            let rare = self.rare_mut();
            push(&mut rare.strikes, now, ());
            rare.cooldown = Some((now.saturating_add(millis(p.cooldown)), v.signals));
        }
        verdict
    }

    /// Records an accepted send.
    pub(crate) fn record_sent(&mut self, now: u64, a: &Attempt<'_>, p: &SpamPolicy) {
        self.prune(now, p);
        if a.stranger && p.strangers.is_some() {
            push(&mut self.strangers, now, ());
        }
        if let (Some(note), Some(_)) = (real_note(a), p.template) {
            push(&mut self.rare_mut().notes, now, note_fingerprint(note));
        }
    }

    /// Records a recipient's answer at `at`, which may precede recorded events.
    pub(crate) fn record_feedback(&mut self, at: u64, f: Feedback, p: &SpamPolicy) {
        if p.ignored.is_some() || (f == Feedback::Reported && p.reports.is_some()) {
            let i = self.feedback.partition_point(|e| e.0 <= at);
            self.feedback.insert(i, (at, f));
        }
        // No clock here: the newest instant seen is a safe lower bound on now.
        let seen = [
            last(&self.attempts),
            last(&self.strangers),
            last(&self.rare().notes),
            last(&self.feedback),
            last(&self.rare().strikes),
        ];
        self.prune(seen.into_iter().flatten().fold(at, u64::max), p);
    }

    /// The active cooldown's signals and end.
    pub(crate) fn cooldown(&self, now: u64) -> Option<(SpamSignals, u64)> {
        self.rare()
            .cooldown
            .filter(|&(until, _)| now < until)
            .map(|(until, signals)| (signals, until))
    }

    /// When, absent new events, nothing recorded matters any more; 0 when empty.
    pub(crate) fn idle_at(&self, p: &SpamPolicy) -> u64 {
        let ends = [
            (last(&self.attempts), per(p.burst)),
            (last(&self.strangers), per(p.strangers)),
            (last(&self.rare().notes), per(p.template)),
            (last(&self.feedback), feedback_len(p)),
            (last(&self.rare().strikes), Some(millis(p.strike_memory))),
            (self.rare().cooldown.map(|c| c.0), Some(0)),
        ];
        ends.into_iter()
            .filter_map(|(last, len)| Some(last?.saturating_add(len?)))
            .max()
            .unwrap_or(0)
    }

    fn prune(&mut self, now: u64, p: &SpamPolicy) {
        expire(&mut self.attempts, now, per(p.burst));
        expire(&mut self.strangers, now, per(p.strangers));
        expire(&mut self.feedback, now, feedback_len(p));
        if let Some(rare) = self.rare.as_deref_mut() {
            expire(&mut rare.notes, now, per(p.template));
            expire(&mut rare.strikes, now, Some(millis(p.strike_memory)));
            rare.cooldown = rare.cooldown.filter(|c| now < c.0);
            if *rare == NO_RARE {
                self.rare = None;
            }
        }
    }

    fn rare(&self) -> &Rare {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    fn signals(&self, now: u64, a: &Attempt<'_>, p: &SpamPolicy, kw: &Keywords) -> SpamSignals {
        let mut s = SpamSignals::empty();
        let mut flag = |on: bool, signal| {
            if on {
                s.insert(signal);
            }
        };
        let count = |q: &Events<()>, len| in_window(q, now, len).count();
        // This attempt counts in its own burst, fan-out and template.
        if let Some(r) = p.burst {
            flag(
                over(count(&self.attempts, millis(r.per)), 1, r.max),
                SpamSignal::Burst,
            );
        }
        if let (true, Some(r)) = (a.stranger, p.strangers) {
            let n = count(&self.strangers, millis(r.per));
            flag(over(n, 1, r.max), SpamSignal::Strangers);
        }
        if let (Some(note), Some(r)) = (real_note(a), p.template) {
            let fp = note_fingerprint(note);
            let same = in_window(&self.rare().notes, now, millis(r.per)).filter(|&&f| f == fp);
            flag(over(same.count(), 1, r.max), SpamSignal::Template);
        }
        flag(a.note.is_some_and(|n| kw.matches(n)), SpamSignal::Keyword);
        if let Some(r) = p.reports {
            let answers = in_window(&self.feedback, now, millis(r.per));
            let n = answers.filter(|&&f| f == Feedback::Reported).count();
            flag(over(n, 0, r.max), SpamSignal::Reports);
        }
        if let Some(r) = p.ignored {
            let (mut resolved, mut bad) = (0u64, 0u64);
            for &f in in_window(&self.feedback, now, millis(r.per)) {
                resolved += 1;
                bad += u64::from(f != Feedback::Accepted);
            }
            // With `min_resolved` 0, a sender without answers is still no evidence.
            let enough = resolved >= u64::from(r.min_resolved.max(1));
            let pct = u64::from(r.max_percent).saturating_mul(resolved);
            flag(
                enough && bad.saturating_mul(100) >= pct,
                SpamSignal::Ignored,
            );
        }
        s
    }
}

mod codec;
pub(crate) mod signals;

#[cfg(test)]
mod tests;
