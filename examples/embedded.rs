//! The in-memory engine embedded in a gateway: worker threads share one `Arc<Engine>`
//! and a background sweeper, turn each request's `Ok(Sent)` or `Err(Denied)` into
//! what the client is told, and tally the outcomes by reason.
//!
//! A manual clock stands in for time: every request moves it on by a few simulated
//! seconds, so one run covers most of a day of traffic in well under a second.
//!
//! ```text
//! cargo run --example embedded
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use invite_limiter::{
    Denied, Engine, InviteRequest, ManualClock, MemberId, Tier, Timestamp, WindowCapacity,
};

const WORKERS: u64 = 4;
const REQUESTS_PER_WORKER: u64 = 5_000;
/// Eight busy members make half of the traffic and run into their limits.
const BUSY: u64 = 8;
/// A Premium member whose copy-paste note trips the template signal.
const BOT: MemberId = MemberId(9);

/// What the workers saw, shared between them.
#[derive(Default)]
struct Tally {
    sent: u64,
    repeats: u64,
    denied: BTreeMap<&'static str, u64>,
    /// The first denial of each reason: the request, the denial and when.
    first: BTreeMap<&'static str, (InviteRequest, Denied, Timestamp)>,
}

fn main() {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let built = Engine::builder().clock(clock.clone()).build();
    let engine = Arc::new(built.expect("the default policy is valid"));
    engine.set_tier(BOT, Tier::Premium);
    // Releases expired invitations and idle members while the workers run; dropping
    // the handle stops the thread.
    let sweeper = engine.start_sweeper(Duration::from_millis(20));
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for worker in 0..WORKERS {
            let (engine, clock, tally) = (&engine, &clock, &tally);
            s.spawn(move || serve(engine, clock, tally, worker));
        }
    });
    drop(sweeper);
    let tally = tally.into_inner().expect("no worker panicked");

    println!("First denial of each kind, as a gateway would answer it:");
    for (code, (req, denied, at)) in &tally.first {
        let (from, to, reason) = (req.sender(), req.recipient(), denied.reason());
        let remedy = reason.remedy();
        println!("- [{code}] {from} -> {to}: {reason}\n    remedy: {remedy}");
        match denied.retry_at() {
            // `Retry-After` counts whole seconds from the decision, rounded up.
            Some(t) => {
                let secs = t.saturating_since(*at).as_millis().div_ceil(1000);
                println!("    retry at {t} (Retry-After: {secs})");
            }
            None => println!("    no retry time: only an action clears it"),
        }
    }
    // `Display` puts the reason, the retry time and the remedy in one sentence.
    if let Some((_, denied, _)) = tally.first.values().find(|f| f.1.retry_at().is_some()) {
        println!("\nAs one sentence for the member:\n  {denied}");
    }

    let (sent, repeats) = (tally.sent, tally.repeats);
    let denied: u64 = tally.denied.values().sum();
    let requests = WORKERS * REQUESTS_PER_WORKER;
    println!("\n{requests} requests: {sent} sent, {repeats} idempotent repeats, {denied} denied");
    for (code, n) in &tally.denied {
        println!("  {code:<22} {n:>6}");
    }

    let cap = engine.capacity(MemberId(1));
    let (tier, status, pending, now) = (cap.tier, cap.status, cap.pending_sent, engine.now());
    let (day, week, notes) = (usage(cap.daily), usage(cap.weekly), cap.notes.used);
    let quota = cap
        .notes
        .limit
        .map_or("unlimited".into(), |n| n.to_string());
    println!("\nCapacity of member 1 ({tier:?}, {status:?}) at {now}:");
    println!("  {day} sends today, {week} this week, {notes} of {quota} notes this month");
    println!("  {pending} invitations pending");
    if let Some(t) = cap.daily.available_at.max(cap.weekly.available_at) {
        println!("  no send fits before {t}");
    }
}

fn usage(w: WindowCapacity) -> String {
    format!("{} of {}", w.used, w.limit)
}

/// One worker: a stream of synthetic requests, each answered as a gateway would.
fn serve(engine: &Engine, clock: &ManualClock, tally: &Mutex<Tally>, worker: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (worker + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    // The last request sent with an idempotency key, for a client that retries it.
    let mut keyed: Option<InviteRequest> = None;
    for n in 0..REQUESTS_PER_WORKER {
        clock.advance(Duration::from_millis(rng.below(8_000)));
        // Half of the requests come from a few busy members.
        let pool = if rng.below(2) == 0 { BUSY } else { 1_000 };
        let sender = MemberId(1 + rng.below(pool));
        let recipient = MemberId(1_000 + rng.below(4_000));
        let plain = InviteRequest::new(sender, recipient);
        let req = match (rng.below(20), &keyed) {
            // A personal note: the Free quota is five a month.
            (0..=4, _) => plain.note(format!("Hi {recipient}, good to meet you on Tuesday.")),
            // The same note to everyone, from a member with unlimited notes.
            (5, _) => InviteRequest::new(BOT, recipient).note("I'd like to add you to my network."),
            // A client that sends an idempotency key, so that it may retry safely.
            (6 | 7, _) => plain.idempotency_key(worker << 32 | n),
            // That client retrying; or, a client bug, reusing the key for someone else.
            (8, Some(last)) => last.clone(),
            (9, Some(last)) => InviteRequest::new(last.sender(), recipient)
                .idempotency_key(last.key().unwrap_or_default()),
            _ => plain,
        };
        let repeat = keyed.as_ref() == Some(&req);
        match engine.send(req.clone()) {
            Ok(sent) => {
                // 201 Created with the invitation's id; a repeated key gets the first
                // send's id back and spends nothing.
                let mut t = tally.lock().expect("no worker panicked");
                t.sent += u64::from(!repeat);
                t.repeats += u64::from(repeat);
                drop(t);
                if req.key().is_some() {
                    keyed = Some(req);
                }
                // A quarter of the recipients accept at once.
                if rng.below(4) == 0 {
                    let _ = engine.accept(sent.id());
                }
            }
            Err(denied) => {
                // 429 or 403 with the reason's code, `Retry-After` from `retry_at` and
                // the remedy in the body.
                let code = denied.reason().code();
                let mut t = tally.lock().expect("no worker panicked");
                *t.denied.entry(code).or_default() += 1;
                t.first.entry(code).or_insert((req, denied, engine.now()));
            }
        }
    }
}

/// xorshift64: a repeatable stream without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
