//! The Redis engine that a fleet of gateways shares: connect, send a few invitations,
//! accept one, and read a member's capacity. The keys go under a prefix of their own,
//! removed at the end (on a single server; elsewhere they expire by themselves).
//!
//! ```text
//! cargo run --example redis --features redis -- redis://127.0.0.1:6379/
//! ```
//!
//! The address comes from the first argument, else `INVITE_LIMITER_REDIS_URL`, else
//! `redis://127.0.0.1:6379/`. When no server answers there, the example says so on
//! standard error and exits with status 2.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use invite_limiter::redis::{RedisEngine, RedisTarget};
use invite_limiter::{InviteRequest, MemberId};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("INVITE_LIMITER_REDIS_URL").ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_owned());
    // A prefix of this run's own, so that it neither sees nor disturbs other keys.
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let prefix = format!("il-example-{}-{}", std::process::id(), started.as_millis());

    let target = RedisTarget::parse(&url);
    let connected = RedisEngine::builder(target.clone())
        .prefix(prefix.as_str())
        .deadline(Duration::from_millis(500))
        .connect()
        .await;
    let limiter = match connected {
        Ok(limiter) => limiter,
        Err(e) => {
            let why = e.to_string().replace('\n', " ");
            eprintln!("redis example: cannot use Redis at {url}: {why}");
            return ExitCode::from(2);
        }
    };
    println!("connected to {url}, keys under {{{prefix}:…}}");

    let (alice, bob, carol, dan) = (MemberId(1), MemberId(2), MemberId(3), MemberId(4));
    let requests = [
        InviteRequest::new(alice, bob),
        InviteRequest::new(alice, carol).note("Carol, we met at the RustConf workshop."),
        InviteRequest::new(alice, dan).idempotency_key(7),
        // A retry with the same key: the first invitation comes back, nothing is spent.
        InviteRequest::new(alice, dan).idempotency_key(7),
        InviteRequest::new(alice, alice),
    ];
    let mut first = None;
    let mut last = None;
    for req in requests {
        let (from, to) = (req.sender(), req.recipient());
        match limiter.send(req).await {
            Ok(sent) if last == Some(sent.id()) => {
                println!("{from} -> {to}: {} again, nothing spent", sent.id())
            }
            Ok(sent) => {
                println!(
                    "{from} -> {to}: sent {}, expires {}",
                    sent.id(),
                    sent.expires_at()
                );
                first.get_or_insert((to, sent));
                last = Some(sent.id());
            }
            Err(denied) => println!("{from} -> {to}: [{}] {denied}", denied.reason().code()),
        }
    }

    // The first recipient accepts; inviting them again is then pointless.
    if let Some((to, sent)) = first {
        match limiter.accept(sent.id()).await {
            Ok(()) => println!("{to} accepted {}", sent.id()),
            Err(e) => println!("accepting {} failed: {e}", sent.id()),
        }
        if let Err(denied) = limiter.send(InviteRequest::new(alice, to)).await {
            println!("{alice} -> {to} again: {denied}");
        }
    }

    match limiter.capacity(alice).await {
        Ok(cap) => {
            let (d, w, n) = (cap.daily, cap.weekly, cap.notes);
            let quota = n.limit.map_or("unlimited".into(), |l| l.to_string());
            println!("capacity of {alice}:");
            println!(
                "  {} of {} sends today, {} of {} this week",
                d.used, d.limit, w.used, w.limit
            );
            println!(
                "  {} of {quota} notes this month, {} pending",
                n.used, cap.pending_sent
            );
        }
        Err(outage) => println!("capacity of {alice} unavailable: {outage}"),
    }

    drop(limiter);
    if let RedisTarget::Standalone(url) = &target {
        match remove_keys(url, &prefix).await {
            Ok(n) => println!("removed the run's {n} keys"),
            Err(e) => eprintln!("redis example: could not remove the keys under {prefix}: {e}"),
        }
    }
    ExitCode::SUCCESS
}

/// Deletes every key the engine made under `prefix` on one server.
async fn remove_keys(url: &str, prefix: &str) -> redis::RedisResult<usize> {
    let mut con = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let pattern = format!("{{{prefix}:*");
    let (mut cursor, mut removed) = (0u64, 0);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .cursor_arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut con)
            .await?;
        if !keys.is_empty() {
            removed += redis::cmd("DEL")
                .arg(&keys)
                .query_async::<usize>(&mut con)
                .await?;
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}
