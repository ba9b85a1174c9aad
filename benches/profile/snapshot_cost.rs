//! Snapshot size and snapshot/restore time for 1,000,000 members of whom 10% sent
//! about 10 invitations a day for a week (7,000,000 sends, all still pending).
//! `cargo run --release --example snapshot_cost [members]`

use std::time::{Duration, Instant};

use invite_limiter::{Engine, InviteRequest, ManualClock, MemberId, Policy, SpamPolicy, Timestamp};

fn main() {
    let members: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let senders = members / 10;
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    let engine = Engine::builder()
        .policy(policy.clone())
        .clock(clock.clone())
        .build()
        .expect("default policy");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let start = Instant::now();
    let mut sent = 0u64;
    for _day in 0..7 {
        for _round in 0..10 {
            for s in 0..senders {
                let r = next() % members;
                if engine
                    .send(InviteRequest::new(MemberId(s), MemberId(r)))
                    .is_ok()
                {
                    sent += 1;
                }
            }
            clock.advance(Duration::from_secs(3_600));
        }
        clock.advance(Duration::from_secs(14 * 3_600));
    }
    println!(
        "populated {sent} sends from {senders} of {members} members in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let mut bytes = Vec::new();
    engine.snapshot(&mut bytes).expect("writing to memory");
    let took = start.elapsed();
    println!(
        "snapshot: {:.1} MB ({:.0} B per send) in {:.0} ms",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / sent.max(1) as f64,
        took.as_secs_f64() * 1e3
    );
    let before = engine.capacity(MemberId(0));
    drop(engine);
    let start = Instant::now();
    let restored = Engine::builder()
        .policy(policy)
        .clock(clock)
        .restore(&mut bytes.as_slice())
        .expect("a snapshot just written");
    println!("restore: {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    assert_eq!(restored.capacity(MemberId(0)), before);
}
