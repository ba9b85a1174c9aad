//! A note of any size is judged on at most a few times the longest allowed note:
//! denied `NoteTooLong` in its place among the rules, and never journaled whole.

use std::path::PathBuf;
use std::time::Duration;

use invite_limiter::{
    AccountStatus, DenyReason, Durability, Engine, InviteRequest, ManualClock, MemberId, Policy,
    SpamPolicy, Tier, Timestamp,
};

const T0: u64 = 1_700_000_000_000;

fn huge() -> String {
    "x".repeat(50 << 20)
}

fn engine(policy: Policy) -> Engine {
    Engine::builder()
        .policy(policy)
        .clock(ManualClock::new(Timestamp::from_millis(T0)))
        .build()
        .expect("valid policy")
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

#[test]
fn a_50_mb_note_is_too_long_with_the_tiers_limit() {
    let e = engine(Policy::default());
    e.set_tier(MemberId(1), Tier::Premium);
    let denied = e.send(req(1, 2).note(huge())).unwrap_err();
    match *denied.reason() {
        DenyReason::NoteTooLong { chars, limit } => {
            assert_eq!(limit, 300);
            assert!(chars > 300 && chars <= 1_204, "{chars}");
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(denied.retry_at(), None);
    // Nothing was committed, and a note of the allowed length still goes.
    assert_eq!(e.capacity(MemberId(1)).daily.used, 0);
    let diagnosis = e.diagnose_request(&req(1, 2).note(huge()));
    assert!(matches!(
        diagnosis.blockers()[0].reason(),
        DenyReason::NoteTooLong { limit: 300, .. }
    ));
    assert!(e.send(req(1, 2).note("\u{1F600}".repeat(300))).is_ok());
}

#[test]
fn rules_before_note_too_long_still_come_first() {
    let quiet = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    let e = engine(quiet);
    e.set_status(MemberId(1), AccountStatus::Banned);
    let banned = e.send(req(1, 2).note(huge())).unwrap_err();
    assert_eq!(*banned.reason(), DenyReason::SenderBanned);
    assert_eq!(
        e.send(req(3, 3).note(huge())).unwrap_err().reason(),
        &DenyReason::SelfInvite
    );
    // A full daily window is reported first; the note keeps retry_at at None.
    for r in 0..30 {
        e.send(req(4, 100 + r)).unwrap();
    }
    let full = e.send(req(4, 200).note(huge())).unwrap_err();
    assert!(matches!(full.reason(), DenyReason::DailyLimit { .. }));
    assert_eq!(full.retry_at(), None);
    let blockers = e.diagnose_request(&req(4, 200).note(huge()));
    let reasons: Vec<_> = blockers.blockers().iter().map(|b| *b.reason()).collect();
    assert!(matches!(
        reasons[..],
        [
            DenyReason::DailyLimit { .. },
            DenyReason::NoteTooLong { limit: 200, .. }
        ]
    ));
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// With spam signals on, a denied send is journaled (attempts count towards a
/// burst): the journal keeps the note as far as the rules read it, not 50 MB.
#[test]
fn a_denied_huge_note_is_journaled_only_as_far_as_the_rules_read() {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "invite-long-note-{}-{}",
        std::process::id(),
        T0
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = Engine::builder()
        .clock(clock.clone())
        .persistence(&dir.0, Durability::FlushEvery(Duration::from_millis(1)))
        .open()
        .expect("open");
    for r in 0..3 {
        let denied = e.send(req(1, 10 + r).note(huge())).unwrap_err();
        assert!(matches!(denied.reason(), DenyReason::NoteTooLong { .. }));
    }
    e.sync_journal().expect("synced");
    let bytes: u64 = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(bytes < 16 << 10, "the journal holds {bytes} bytes");
    drop(e);
    // Replayed, the denied attempts still count towards the burst signal.
    let e = Engine::builder()
        .clock(clock)
        .persistence(&dir.0, Durability::FlushEvery(Duration::from_millis(1)))
        .open()
        .expect("reopen");
    assert_eq!(e.recovery_report().expect("persistent").replayed, 3);
}

/// The cut is at four bytes a character of the longest limit of any tier, so every
/// note within a tier's limit is judged whole: a limit's worth of four-byte
/// characters passes (padding around it trimmed first), one more is counted
/// exactly, and a tier whose limit is the larger one is not cut at the other's.
#[test]
fn the_bound_is_exact_for_wide_characters_and_the_larger_tier() {
    let wide = |n: usize| "\u{1F600}".repeat(n);
    let e = engine(Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    });
    e.set_tier(MemberId(1), Tier::Premium);
    assert_eq!(wide(300).len(), 1_200);
    e.send(req(1, 2).note(format!("  {}\n\t", wide(300))))
        .expect("300 characters in 1,200 bytes fit Premium");
    let over = e.send(req(1, 3).note(wide(301))).unwrap_err();
    assert_eq!(
        *over.reason(),
        DenyReason::NoteTooLong {
            chars: 301,
            limit: 300
        }
    );
    e.send(req(4, 5).note(wide(200))).expect("Free allows 200");
    let free_over = e.send(req(4, 6).note(wide(201))).unwrap_err();
    assert_eq!(
        *free_over.reason(),
        DenyReason::NoteTooLong {
            chars: 201,
            limit: 200
        }
    );
    // Free allowed more than Premium: the bound follows the larger limit.
    let mut policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    policy.free.max_note_chars = 400;
    let e = engine(policy);
    e.send(req(1, 2).note(wide(400)))
        .expect("400 characters fit Free");
    let cut = e.send(req(1, 3).note(wide(10_000))).unwrap_err();
    assert!(matches!(
        *cut.reason(),
        DenyReason::NoteTooLong {
            chars: 401,
            limit: 400
        }
    ));
}
