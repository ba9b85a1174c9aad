//! Unit tests of the pending ledger.

use super::*;

#[test]
fn expire_pops_due_and_reports_only_unanswered() {
    let mut l = Ledger::default();
    l.push(1, 10, 100);
    l.push(2, 11, 200);
    l.push(3, 12, 300);
    let at = l.find(2).unwrap();
    l.end(at, Ending::Declined);
    assert_eq!(l.live(), 2);
    let mut seen = vec![];
    l.expire(100 + 1_000 - 1, 1_000, |i| seen.push(i.seq));
    assert!(seen.is_empty());
    l.expire(200 + 1_000, 1_000, |i| seen.push(i.seq));
    assert_eq!(seen, vec![1]);
    assert_eq!(l.live(), 1);
    assert_eq!(l.find(1), None);
    assert_eq!(
        l.pending_from(0).map(|i| i.seq).collect::<Vec<_>>(),
        vec![3]
    );
}

#[test]
fn find_locates_by_sequence_and_end_is_idempotent() {
    let mut l = Ledger::default();
    for seq in [5, 9, 14] {
        l.push(seq, 1, seq * 10);
    }
    assert_eq!(l.find(9), Some(1));
    assert_eq!(l.find(10), None);
    l.end(1, Ending::Accepted);
    l.end(1, Ending::Withdrawn);
    assert_eq!(l.get(1).unwrap().ended, Some(Ending::Accepted));
    assert_eq!(l.live(), 2);
}

#[test]
fn tombstones_are_compacted_when_they_dominate() {
    let mut l = Ledger::default();
    for seq in 0..200 {
        l.push(seq, seq, seq);
    }
    for seq in 0..150 {
        let at = l.find(seq).unwrap();
        l.end(at, Ending::Withdrawn);
    }
    assert_eq!(l.live(), 50);
    assert!(l.all().count() < 200);
    assert_eq!(l.pending_from(0).count(), 50);
    assert!(l.find(199).is_some());
}

#[test]
fn inline_and_spilled_ledgers_answer_alike() {
    let mut l = Ledger::default();
    for seq in 1..=5 {
        l.push(seq, seq, seq * 10);
        assert_eq!(l.next_seq(), seq + 1);
        assert_eq!(l.find(seq), Some(seq as usize - 1));
    }
    let at = l.find(2).unwrap();
    l.end(at, Ending::Declined);
    let mut seen = vec![];
    l.expire(30 + 100, 100, |i| seen.push(i.seq));
    assert_eq!(seen, vec![1, 3]);
    assert_eq!(l.all().map(|i| i.seq).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(
        l.pending_from(5).map(|i| i.seq).collect::<Vec<_>>(),
        vec![5]
    );
    assert_eq!(l.find(3), None);
    let mut small = Ledger::default();
    small.push(4, 4, 40);
    small.push(5, 5, 50);
    assert_eq!(l, small, "equal whatever the storage");
    l.expire(u64::MAX, 100, |_| {});
    assert!(l.is_empty());
}

#[test]
fn pending_by_recipient_agrees_whether_scanned_or_indexed() {
    // The same history on a ledger that stays short (scanned) and on one pushed
    // past the scan length first (indexed), checked against a plain filter.
    let brute = |l: &Ledger, r: u64| -> Vec<(u64, u64)> {
        l.all()
            .filter(|i| i.ended.is_none() && i.recipient == r)
            .map(|i| (i.seq, i.sent_at))
            .collect()
    };
    let got = |l: &Ledger, r: u64| -> Vec<(u64, u64)> {
        let mut got = Vec::new();
        l.for_each_pending_to(r, |p| got.push((p.seq, p.sent_at)));
        got
    };
    for padding in [0u64, 2 * SCAN as u64] {
        let mut l = Ledger::default();
        for seq in 0..padding {
            l.push(seq, 1_000 + seq, seq);
        }
        assert_eq!(l.index.is_some(), padding > 0);
        for seq in padding..padding + 30 {
            l.push(seq, seq % 3, seq * 10);
        }
        for seq in (padding..padding + 30).step_by(4) {
            let at = l.find(seq).unwrap();
            l.end(at, Ending::Withdrawn);
        }
        l.expire(padding * 10 + 100 + 55, 100, |_| {});
        for r in [0, 1, 2, 7] {
            let want = brute(&l, r);
            assert_eq!(got(&l, r), want, "recipient {r}, padding {padding}");
            for cap in [1, 2, 3, 9, 40] {
                let frees = want.len().checked_sub(cap).map(|i| want[i].1);
                let summary = (want.len() as u32, frees);
                assert_eq!(l.pending_count_to(r, cap as u32), summary, "cap {cap}");
            }
        }
        assert!(!got(&l, 1).is_empty());
    }
}

#[test]
fn pending_by_recipient_stays_right_as_the_index_comes_and_goes() {
    let mut l = Ledger::default();
    let (mut seq, mut now, mut x) = (0u64, 0u64, 99u64);
    let mut had_index = false;
    for _ in 0..3_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        now += (x >> 60) % 4;
        match (x >> 33) % 8 {
            0..=3 => {
                seq += 1;
                l.push(seq, (x >> 20) % 4, now);
            }
            4 | 5 => {
                if l.live() > 0 {
                    let at = (x >> 10) as usize % l.all().count();
                    l.end(at, Ending::Declined);
                }
            }
            _ => l.expire(now, 40, |_| {}),
        }
        had_index |= l.index.is_some();
        for r in 0..4 {
            let want: Vec<u64> = l
                .all()
                .filter(|i| i.ended.is_none() && i.recipient == r)
                .map(|i| i.seq)
                .collect();
            let mut got: Vec<u64> = Vec::new();
            l.for_each_pending_to(r, |p| got.push(p.seq));
            assert_eq!(got, want);
        }
        assert_eq!(
            l.live() as usize,
            l.all().filter(|i| i.ended.is_none()).count()
        );
    }
    assert!(had_index, "the history built an index at some point");
}

#[test]
fn pending_count_reaches_past_the_instants_it_keeps() {
    let mut l = Ledger::default();
    for seq in 0..20 {
        l.push(seq, 5, 1_000 + seq);
    }
    assert_eq!(l.pending_count_to(5, 10), (20, Some(1_010)));
    assert_eq!(l.pending_count_to(5, 20), (20, Some(1_000)));
    assert_eq!(l.pending_count_to(5, 21), (20, None));
    assert_eq!(l.pending_count_to(6, 1), (0, None));
}

#[test]
fn restore_refuses_out_of_order() {
    let mut l = Ledger::default();
    let inv = Invite {
        seq: 4,
        recipient: 1,
        sent_at: 0,
        ended: None,
    };
    let none = Reminders::default();
    assert!(l.restore(inv, none));
    assert!(!l.restore(inv, none));
    assert_eq!(l.live(), 1);
}

#[test]
fn reminders_follow_a_pending_invitation_and_go_when_it_ends() {
    let mut l = Ledger::default();
    l.push(1, 7, 100);
    l.push(2, 8, 200);
    assert_eq!(std::mem::size_of::<Invite>(), 32);
    l.remind(0, 150);
    l.remind(0, 170);
    assert_eq!(
        l.reminders(1),
        Reminders {
            count: 2,
            last: 170
        }
    );
    assert_eq!(l.reminders(2), Reminders::default());
    let mut other = Ledger::default();
    other.push(1, 7, 100);
    other.push(2, 8, 200);
    assert_ne!(l, other, "reminders are part of the state");
    l.end(0, Ending::Declined);
    assert_eq!(l.reminders(1), Reminders::default());
    l.remind(0, 180);
    assert_eq!(
        l.reminders(1),
        Reminders::default(),
        "an ended one gets none"
    );
    assert!(l.reminders.is_none());
    l.remind(1, 250);
    l.expire(200 + 1_000, 1_000, |_| {});
    assert!(l.reminders.is_none(), "expiry takes them too");
}

#[test]
fn sequences_start_from_the_instant_and_never_repeat() {
    let mut l = Ledger::default();
    let first = l.seq_at(5, 0);
    assert_eq!(first, 5_000);
    l.push(first, 1, 5);
    assert_eq!(
        l.seq_at(5, 0),
        5_001,
        "a second send in the same millisecond"
    );
    assert_eq!(l.seq_at(9, 0), 9_000);
    assert_eq!(l.seq_at(9, 70_000), 70_000, "never below the floor");
    assert!(
        !l.issues_as_new_at(5),
        "a fresh ledger would issue 5,000 again"
    );
    assert!(l.issues_as_new_at(6));
    l.issued_below(3);
    assert_eq!(l.next_seq(), 5_001, "never lowered");
}

#[test]
fn a_scan_only_ledger_answers_as_an_indexed_one_at_any_length() {
    let (mut indexed, mut scanned) = (Ledger::default(), Ledger::scan_only());
    for seq in 1..=40u64 {
        for l in [&mut indexed, &mut scanned] {
            l.push(seq, seq % 3, seq * 10);
        }
    }
    for l in [&mut indexed, &mut scanned] {
        let at = l.find(7).unwrap();
        l.end(at, Ending::Declined);
        l.expire(10 * 10 + 1_000, 1_000, |_| {});
    }
    assert!(indexed.index.is_some() && scanned.index.is_none());
    for recipient in 0..4 {
        let pending = |l: &Ledger| {
            let mut out = vec![];
            l.for_each_pending_to(recipient, |p| out.push((p.seq, p.sent_at)));
            out
        };
        assert_eq!(
            pending(&indexed),
            pending(&scanned),
            "recipient {recipient}"
        );
    }
    assert_eq!(indexed, scanned);
}
