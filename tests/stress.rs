//! Multi-threaded stress: real threads started together at one instant of a fixed
//! `ManualClock`, checking that limits hold exactly under contention.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

use invite_limiter::{
    DenyReason, Engine, InviteId, InviteRequest, ManualClock, MemberId, Policy, SpamPolicy, Tier,
    TierLimits, Timestamp,
};

const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;
const THREADS: usize = 8;

fn policy() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn engine(policy: Policy, clock: &ManualClock, shards: usize) -> Engine {
    Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .shards(shards)
        .build()
        .expect("valid policy")
}

/// Runs `f(thread_index)` on `THREADS` threads released together by a barrier and
/// returns their results in thread order.
fn together<R: Send>(threads: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let barrier = Barrier::new(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                let f = &f;
                scope.spawn(move || {
                    barrier.wait();
                    f(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread panicked"))
            .collect()
    })
}

/// (a) Many threads sending for one sender to distinct recipients at one instant get
/// exactly the daily limit between them, for both tiers, every time.
#[test]
fn one_sender_many_threads_gets_exactly_the_daily_limit() {
    for tier in [Tier::Free, Tier::Premium] {
        for (rep, shards) in [1usize, 4, 256, 256, 256, 16].into_iter().enumerate() {
            let p = policy();
            let daily = p.limits(tier).daily;
            let clock = ManualClock::new(Timestamp::from_millis(T0));
            let e = engine(p, &clock, shards);
            let sender = MemberId(7);
            e.set_tier(sender, tier);
            let per_thread = daily as usize; // THREADS × daily attempts: far over the limit
            let results = together(THREADS, |t| {
                let mut ok = Vec::new();
                let mut denied = Vec::new();
                for j in 0..per_thread {
                    let recipient = MemberId(1_000_000 + (t * 10_000 + j) as u64);
                    match e.send(InviteRequest::new(sender, recipient)) {
                        Ok(sent) => ok.push(sent.id()),
                        Err(d) => denied.push((*d.reason(), d.retry_at())),
                    }
                }
                (ok, denied)
            });
            let ids: Vec<InviteId> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
            let distinct: HashSet<InviteId> = ids.iter().copied().collect();
            assert_eq!(
                ids.len(),
                daily as usize,
                "{tier:?} rep {rep} ({shards} shards): {} sends accepted at one instant, limit {daily}",
                ids.len()
            );
            assert_eq!(
                distinct.len(),
                ids.len(),
                "{tier:?} rep {rep}: duplicate invitation ids"
            );
            for (reason, retry) in results.iter().flat_map(|r| r.1.iter()) {
                assert_eq!(
                    (*reason, *retry),
                    (
                        DenyReason::DailyLimit {
                            used: daily,
                            limit: daily
                        },
                        Some(Timestamp::from_millis(T0 + DAY))
                    ),
                    "{tier:?} rep {rep}: unexpected denial"
                );
            }
            let cap = e.capacity(sender);
            assert_eq!(
                cap.daily.used, daily,
                "{tier:?} rep {rep}: capacity.daily.used"
            );
            assert_eq!(
                cap.pending_sent, daily,
                "{tier:?} rep {rep}: capacity.pending_sent"
            );
        }
    }
}

/// (a') Several senders at once, each hammered by several threads, across days so the
/// weekly window binds too: each sender gets exactly what its windows allow.
#[test]
fn several_senders_across_days_get_exactly_their_windows() {
    let limits = TierLimits {
        daily: 10,
        weekly: 25,
        notes_per_30d: Some(5),
        max_note_chars: 200,
    };
    let p = Policy {
        free: limits.clone(),
        premium: limits,
        ..policy()
    };
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(p, &clock, 8);
    let senders = [MemberId(1), MemberId(2), MemberId(3), MemberId(4)];
    let counter = AtomicUsize::new(0);
    // Day 1: 10 each, day 2: 10 each, day 3: the weekly limit leaves 5 each.
    for (day, expected) in [(0u64, 10usize), (1, 10), (2, 5), (3, 0)] {
        clock.set(Timestamp::from_millis(T0 + day * DAY));
        let results = together(THREADS, |t| {
            let sender = senders[t % senders.len()];
            let mut ok = 0usize;
            for _ in 0..12 {
                let r = MemberId(10_000_000 + counter.fetch_add(1, Ordering::Relaxed) as u64);
                if e.send(InviteRequest::new(sender, r)).is_ok() {
                    ok += 1;
                }
            }
            (sender, ok)
        });
        for s in senders {
            let got: usize = results.iter().filter(|r| r.0 == s).map(|r| r.1).sum();
            assert_eq!(
                got, expected,
                "day {day}: {s} got {got} sends, expected {expected}"
            );
        }
    }
    for s in senders {
        assert_eq!(e.capacity(s).weekly.used, 25, "{s}: weekly used");
    }
}

/// (b) One hot pair: many threads sending the same sender → recipient get exactly
/// `max_pending_per_pair` invitations.
#[test]
fn hot_pair_gets_exactly_the_pair_cap() {
    for (cap, shards) in [(3u32, 256usize), (3, 1), (7, 4), (1, 256)] {
        for rep in 0..4 {
            let p = Policy {
                max_pending_per_pair: cap,
                ..policy()
            };
            let ttl = p.pending_ttl;
            let clock = ManualClock::new(Timestamp::from_millis(T0));
            let e = engine(p, &clock, shards);
            let (a, b) = (MemberId(11), MemberId(12));
            let results = together(THREADS, |_| {
                (0..5)
                    .map(|_| e.send(InviteRequest::new(a, b)))
                    .collect::<Vec<_>>()
            });
            let all: Vec<_> = results.into_iter().flatten().collect();
            let ok = all.iter().filter(|r| r.is_ok()).count();
            assert_eq!(
                ok, cap as usize,
                "cap {cap} rep {rep}: {ok} invitations pending at once"
            );
            for r in &all {
                if let Err(d) = r {
                    assert_eq!(
                        (*d.reason(), d.retry_at()),
                        (
                            DenyReason::PairPendingLimit {
                                pending: cap,
                                limit: cap
                            },
                            Some(Timestamp::from_millis(T0) + ttl)
                        ),
                        "cap {cap} rep {rep}"
                    );
                }
            }
            assert_eq!(
                e.pending_between(a, b),
                cap,
                "cap {cap} rep {rep}: pending_between"
            );
            assert_eq!(
                e.capacity(a).daily.used,
                cap,
                "cap {cap} rep {rep}: denied attempts counted"
            );
        }
    }
}

/// (c) Concurrent repeats of one idempotency key get one `Sent` between them, and
/// consume the quota once.
#[test]
fn concurrent_idempotent_repeats_send_once() {
    for (rep, shards) in [256usize, 1, 4, 256].into_iter().enumerate() {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = engine(policy(), &clock, shards);
        let (a, b) = (MemberId(21), MemberId(22));
        let results = together(THREADS, |_| {
            (0..50)
                .map(|_| {
                    e.send(
                        InviteRequest::new(a, b)
                            .idempotency_key(99)
                            .note("hello there"),
                    )
                })
                .collect::<Vec<_>>()
        });
        let mut ids = HashSet::new();
        for r in results.into_iter().flatten() {
            let sent = r.unwrap_or_else(|d| {
                panic!("rep {rep}: a repeat of an accepted key was denied: {d}")
            });
            ids.insert(sent.id());
        }
        assert_eq!(
            ids.len(),
            1,
            "rep {rep}: distinct ids among repeats: {ids:?}"
        );
        let cap = e.capacity(a);
        assert_eq!(
            cap.daily.used, 1,
            "rep {rep}: daily quota consumed more than once"
        );
        assert_eq!(
            cap.notes.used, 1,
            "rep {rep}: note quota consumed more than once"
        );
        assert_eq!(e.pending_between(a, b), 1, "rep {rep}: pending_between");
    }
}

/// (c') The same key raced towards two recipients: exactly one recipient wins; every
/// request to the other is an `IdempotencyConflict` naming the winner.
#[test]
fn concurrent_key_to_two_recipients_has_one_winner() {
    for rep in 0..20 {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = engine(policy(), &clock, 64);
        let a = MemberId(31);
        let targets = [MemberId(32), MemberId(33)];
        let results = together(THREADS, |t| {
            let r = targets[t % 2];
            (0..20)
                .map(|_| (r, e.send(InviteRequest::new(a, r).idempotency_key(5))))
                .collect::<Vec<_>>()
        });
        let all: Vec<_> = results.into_iter().flatten().collect();
        let winners: HashSet<(MemberId, InviteId)> = all
            .iter()
            .filter_map(|(r, res)| res.as_ref().ok().map(|s| (*r, s.id())))
            .collect();
        assert_eq!(winners.len(), 1, "rep {rep}: winners {winners:?}");
        let (winner, _) = *winners.iter().next().expect("one winner");
        for (r, res) in &all {
            match res {
                Ok(_) => assert_eq!(*r, winner, "rep {rep}"),
                Err(d) => assert_eq!(
                    (*d.reason(), d.retry_at()),
                    (
                        DenyReason::IdempotencyConflict {
                            key: 5,
                            first_recipient: winner
                        },
                        None
                    ),
                    "rep {rep}"
                ),
            }
        }
        assert_eq!(
            e.capacity(a).daily.used,
            1,
            "rep {rep}: quota consumed more than once"
        );
    }
}

/// (d) Concurrent accepts (and other endings) of the same invitation: exactly one wins.
#[test]
fn concurrent_endings_of_one_invitation_have_one_winner() {
    for rep in 0..60 {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let shards = [1usize, 2, 256][rep % 3];
        let e = engine(policy(), &clock, shards);
        let (a, b) = (MemberId(41 + rep as u64), MemberId(1_041 + rep as u64));
        let id = e.send(InviteRequest::new(a, b)).expect("first send").id();
        let mixed = rep % 2 == 1;
        let oks = together(THREADS, |t| {
            let r = if !mixed {
                e.accept(id)
            } else {
                match t % 4 {
                    0 => e.accept(id),
                    1 => e.decline(id),
                    2 => e.withdraw(id),
                    _ => e.report_unknown(id),
                }
            };
            usize::from(r.is_ok())
        });
        assert_eq!(
            oks.iter().sum::<usize>(),
            1,
            "rep {rep} (mixed {mixed}): successful endings"
        );
        assert_eq!(e.pending_between(a, b), 0, "rep {rep}: still pending");
    }
}

/// (d') Invitations in both directions accepted concurrently: accepting either ends
/// the other, so exactly one accept succeeds, and the members end up connected.
#[test]
fn concurrent_accepts_in_both_directions_have_one_winner() {
    for rep in 0..60u64 {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let shards = [1usize, 2, 256][(rep % 3) as usize];
        let e = engine(policy(), &clock, shards);
        let (a, b) = (MemberId(100 + rep), MemberId(5_000 + rep));
        let ab = e.send(InviteRequest::new(a, b)).expect("a→b").id();
        let ba = e.send(InviteRequest::new(b, a)).expect("b→a").id();
        let oks = together(THREADS, |t| {
            usize::from(e.accept(if t % 2 == 0 { ab } else { ba }).is_ok())
        });
        assert_eq!(
            oks.iter().sum::<usize>(),
            1,
            "rep {rep}: successful accepts"
        );
        assert!(
            e.are_connected(a, b) && e.are_connected(b, a),
            "rep {rep}: not connected"
        );
        assert_eq!(
            e.pending_between(a, b) + e.pending_between(b, a),
            0,
            "rep {rep}: still pending"
        );
    }
}

/// (e) Sweeps racing with sends, queries and declines neither lose nor double count:
/// the sweep totals across all threads equal the invitations that expired unanswered.
#[test]
fn concurrent_sweeps_count_every_expiry_once() {
    let ttl = Duration::from_secs(3600);
    let p = Policy {
        pending_ttl: ttl,
        ..policy()
    };
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = engine(p, &clock, 16);
    let swept = AtomicUsize::new(0);
    let sent = AtomicUsize::new(0);
    let declined = AtomicUsize::new(0);
    let ids: Mutex<Vec<InviteId>> = Mutex::new(Vec::new());
    for round in 0..6u64 {
        // Everything sent in earlier rounds has expired by now (unless ended).
        clock.set(Timestamp::from_millis(T0 + round * (3_600_000 + 1)));
        let previous: Vec<InviteId> = std::mem::take(&mut *ids.lock().expect("ids lock"));
        together(THREADS, |t| {
            if t % 2 == 0 {
                // sweepers, which also poke at the expired invitations
                for (k, id) in previous.iter().enumerate() {
                    if k % 8 == t {
                        assert!(e.accept(*id).is_err(), "accepted an expired invitation");
                    }
                }
                for _ in 0..20 {
                    swept.fetch_add(e.sweep(), Ordering::Relaxed);
                }
            } else {
                // senders: 20 senders per thread, a few invitations each; decline some
                for s in 0..20u64 {
                    let sender = MemberId(round * 1_000 + t as u64 * 100 + s);
                    for r in 0..3u64 {
                        let recipient = MemberId(900_000 + s * 10 + r);
                        let id = e
                            .send(InviteRequest::new(sender, recipient))
                            .expect("well within every limit")
                            .id();
                        sent.fetch_add(1, Ordering::Relaxed);
                        if (s + r) % 4 == 0 {
                            e.decline(id).expect("decline of a fresh invitation");
                            declined.fetch_add(1, Ordering::Relaxed);
                        } else {
                            ids.lock().expect("ids lock").push(id);
                        }
                    }
                    // queries settle the sender and notice expiries of earlier rounds
                    let _ = e.pending_between(sender, MemberId(900_000));
                    let _ = e.capacity(MemberId((round.saturating_sub(1)) * 1_000 + s));
                }
            }
        });
    }
    clock.set(Timestamp::from_millis(T0 + 7 * (3_600_000 + 1)));
    let last = together(THREADS, |_| e.sweep());
    swept.fetch_add(last.iter().sum::<usize>(), Ordering::Relaxed);
    let expected = sent.load(Ordering::Relaxed) - declined.load(Ordering::Relaxed);
    assert_eq!(
        swept.load(Ordering::Relaxed),
        expected,
        "sweep totals vs invitations that expired unanswered ({} sent, {} declined)",
        sent.load(Ordering::Relaxed),
        declined.load(Ordering::Relaxed)
    );
    assert_eq!(e.sweep(), 0, "a sweep after everything was counted");
}
