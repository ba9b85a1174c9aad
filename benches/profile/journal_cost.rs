//! Cost of the journal on the send path: sends per second with no persistence, with
//! `FlushEvery(10 ms)` and with `SyncEachDecision`, side by side in one run, then the
//! time to replay a journal and to checkpoint. `cargo run --release --example journal_cost`

use invite_limiter::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn policy() -> Policy {
    let lim = TierLimits {
        daily: 1_000_000_000,
        weekly: 1_000_000_000,
        ..Policy::default().free
    };
    let lim2 = lim.clone();
    Policy {
        free: lim,
        premium: lim2,
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn engine(mode: Option<Durability>, dir: &std::path::Path) -> Engine {
    let b = Engine::builder()
        .policy(policy())
        .clock(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)));
    match mode {
        None => b.build().unwrap(),
        Some(d) => {
            let _ = std::fs::remove_dir_all(dir);
            b.persistence(dir, d).open().unwrap()
        }
    }
}

/// ns per send with `threads` threads each sending `per_thread` times.
fn run(mode: Option<Durability>, threads: u64, per_thread: u64) -> f64 {
    let dir = std::env::temp_dir().join(format!("journal-bench-{}", std::process::id()));
    let e = Arc::new(engine(mode, &dir));
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let e = Arc::clone(&e);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let s = (t * per_thread + i) % 100_000;
                    let r = 1_000_000 + t * per_thread + i;
                    std::hint::black_box(
                        e.send(InviteRequest::new(MemberId(s), MemberId(r))).is_ok(),
                    );
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let el = start.elapsed();
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
    el.as_nanos() as f64 / (threads * per_thread) as f64
}

/// Journals `n` sends, then times reopening (replay) and a checkpoint.
fn replay(n: u64) {
    let dir = std::env::temp_dir().join(format!("journal-bench-replay-{}", std::process::id()));
    let e = engine(Some(Durability::default()), &dir);
    for i in 0..n {
        let _ = e.send(InviteRequest::new(
            MemberId(i % 100_000),
            MemberId(1_000_000 + i),
        ));
    }
    drop(e);
    let start = Instant::now();
    let e = Engine::builder()
        .policy(policy())
        .clock(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)))
        .persistence(&dir, Durability::default())
        .open()
        .unwrap();
    let open = start.elapsed();
    let start = Instant::now();
    e.checkpoint().unwrap();
    let cp = start.elapsed();
    drop(e);
    let start = Instant::now();
    let _e = Engine::builder()
        .policy(policy())
        .clock(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)))
        .persistence(&dir, Durability::default())
        .open()
        .unwrap();
    println!("replay of {n} journaled sends: {:.0} ms ({:.0} ns/record); checkpoint {:.0} ms; open from snapshot {:.0} ms",
        open.as_secs_f64() * 1e3, open.as_nanos() as f64 / n as f64, cp.as_secs_f64() * 1e3, start.elapsed().as_secs_f64() * 1e3);
    let _ = std::fs::remove_dir_all(&dir);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let flush = Some(Durability::FlushEvery(Duration::from_millis(10)));
    let sync = Some(Durability::SyncEachDecision);
    replay(400_000);
    for threads in [1u64, 4] {
        let n = 400_000 / threads;
        let _ = run(None, threads, n / 4); // warm-up
        let (mut b, mut f, mut s) = (vec![], vec![], vec![]);
        for _ in 0..5 {
            b.push(run(None, threads, n));
            f.push(run(flush, threads, n));
            s.push(run(sync, threads, 2_000));
        }
        let (base, f, s) = (median(b), median(f), median(s));
        println!("threads={threads}: none {base:.0} ns/send | FlushEvery(10ms) {f:.0} ns/send ({:.2}x) | SyncEachDecision {:.1} us/send ({:.0}x)", f / base, s / 1000.0, s / base);
    }
}
