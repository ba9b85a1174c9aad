//! Crash test: a child process sends in durable mode and prints every acknowledged
//! invitation; it is killed (SIGKILL) at a random moment, and the reopened directory
//! must know every acknowledged invitation and hold every sender to its limits.

use invite_limiter::*;
use rand::Rng;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "INVITE_LIMITER_CRASH_CHILD_DIR";
const T0: u64 = 1_700_000_000_000;
const SENDERS: u64 = 16;

fn policy() -> Policy {
    let base = Policy::default();
    Policy {
        free: TierLimits {
            daily: 5,
            weekly: 20,
            ..base.free
        },
        spam: SpamPolicy::disabled(),
        ..base
    }
}

fn open(dir: &str, durability: Durability) -> Result<Engine, PersistError> {
    Engine::builder()
        .policy(policy())
        .clock(ManualClock::new(Timestamp::from_millis(T0)))
        .persistence(dir, durability)
        .open()
}

/// The child's work; a no-op unless the parent set the directory.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = Engine::builder()
        .policy(policy())
        .clock(clock.clone())
        .persistence(&dir, Durability::SyncEachDecision)
        .open()
        .expect("child opens the directory");
    clock.set(e.now());
    let e = Arc::new(e);
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let (e, clock) = (Arc::clone(&e), clock.clone());
            std::thread::spawn(move || {
                for round in 0u64.. {
                    clock.advance(Duration::from_secs(7_200));
                    // A fresh cohort of senders every 40 rounds keeps invitations flowing.
                    let cohort = round / 40 * SENDERS;
                    for s in (t..SENDERS).step_by(2) {
                        let recipient = MemberId(1_000_000 + round * 100 + s);
                        let sender = MemberId(cohort + s);
                        if let Ok(sent) = e.send(InviteRequest::new(sender, recipient)) {
                            let mut out = std::io::stdout().lock();
                            let _ = writeln!(out, "SENT {}", sent.id());
                            let _ = out.flush();
                        }
                    }
                    if t == 0 && round % 25 == 24 {
                        e.checkpoint().expect("checkpoint");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn acknowledged_invitations_survive_sigkill() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let mut rng = rand::thread_rng();
    for attempt in 0..3 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "invite-journal-crash-{}-{attempt}-{nanos}",
            std::process::id()
        ));
        let dir_str = dir.to_string_lossy().into_owned();
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &dir_str)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("piped stdout");
        let acked = Arc::new(Mutex::new(Vec::<InviteId>::new()));
        let reader = {
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(id) = line.strip_prefix("SENT ").and_then(|s| s.parse().ok()) {
                        acked.lock().expect("lock").push(id);
                    }
                }
            })
        };
        // Let the child get going, then kill it at a random moment.
        let start = Instant::now();
        while acked.lock().expect("lock").len() < 20 && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        reader.join().expect("reader");
        let acked = acked.lock().expect("lock").clone();
        assert!(!acked.is_empty(), "the child acknowledged nothing");

        let e = open(&dir_str, Durability::default()).expect("reopen after the crash");
        for id in &acked {
            match e.accept(*id) {
                Ok(()) | Err(InviteError::AlreadyEnded(_)) => {}
                Err(err) => panic!(
                    "acknowledged {id} was lost: {err} ({:?})",
                    e.recovery_report()
                ),
            }
        }
        let limits = policy().free;
        let senders: std::collections::BTreeSet<MemberId> =
            acked.iter().map(|id| id.sender()).collect();
        for &s in &senders {
            let cap = e.capacity(s);
            assert!(cap.daily.used <= limits.daily, "sender {s}: {cap:?}");
            assert!(cap.weekly.used <= limits.weekly, "sender {s}: {cap:?}");
        }
        drop(e);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn checkpoints_during_concurrent_sends_lose_nothing() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "invite-journal-cp-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    let dir_str = dir.to_string_lossy().into_owned();
    let e = open(&dir_str, Durability::FlushEvery(Duration::from_millis(1))).expect("open");
    let done = std::sync::atomic::AtomicBool::new(false);
    let ids: Vec<InviteId> = std::thread::scope(|s| {
        let senders: Vec<_> = (0..3u64)
            .map(|t| {
                let (e, done) = (&e, &done);
                s.spawn(move || {
                    let mut ids = Vec::new();
                    let mut i = 0u64;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) || i < 50 {
                        let req = InviteRequest::new(MemberId(t * 1000 + i % 200), MemberId(i));
                        if let Ok(sent) = e.send(req) {
                            ids.push(sent.id());
                        }
                        i += 1;
                    }
                    ids
                })
            })
            .collect();
        for _ in 0..10 {
            e.checkpoint().expect("checkpoint");
            std::thread::sleep(Duration::from_millis(2));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        senders
            .into_iter()
            .flat_map(|h| h.join().expect("sender"))
            .collect()
    });
    let pending: Vec<_> = (0..3000)
        .map(|s| e.pending_sent(MemberId(s), None, 1000))
        .collect();
    drop(e);
    let e = open(&dir_str, Durability::default()).expect("reopen");
    let again: Vec<_> = (0..3000)
        .map(|s| e.pending_sent(MemberId(s), None, 1000))
        .collect();
    assert_eq!(pending, again);
    for id in &ids {
        // Accepting one ends those pending the other way between the same two members.
        match e.accept(*id) {
            Ok(()) | Err(InviteError::AlreadyEnded(_)) => {}
            Err(err) => panic!("{id} was lost: {err}"),
        }
    }
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
