//! Driving senders to their limit through two gateways while servers fail, for the
//! failover tests.

use std::process::Command;
use std::time::{Duration, Instant};

use invite_limiter::redis::{RedisEngine, RedisTarget};
use invite_limiter::{DenyReason, InviteRequest, ManualClock, MemberId, Outage};

pub(crate) const T0: u64 = 1_700_000_000_000;
/// The Free daily limit.
pub(crate) const LIMIT: u32 = 30;

pub(crate) fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `ok` holds, for at most `within`.
pub(crate) fn wait_until(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn quiet() -> invite_limiter::Policy {
    invite_limiter::Policy {
        spam: invite_limiter::SpamPolicy::disabled(),
        ..invite_limiter::Policy::default()
    }
}

pub(crate) async fn gateway(
    url: &str,
    prefix: &str,
    clock: &ManualClock,
    strict: bool,
    connections: usize,
) -> RedisEngine {
    let side = invite_limiter::redis::ServerSide::Script;
    gateway_on(url, prefix, clock, strict, connections, side).await
}

/// As [`gateway`], deciding on the server side `side`.
pub(crate) async fn gateway_on(
    url: &str,
    prefix: &str,
    clock: &ManualClock,
    strict: bool,
    connections: usize,
    side: invite_limiter::redis::ServerSide,
) -> RedisEngine {
    let mut b = RedisEngine::builder(RedisTarget::parse(url))
        .server_side(side)
        .prefix(prefix)
        .clock(clock.clone())
        .policy(quiet())
        .deadline(Duration::from_secs(2))
        .connections(connections);
    if strict {
        b = b.wait_for_replicas(1, Duration::from_millis(100));
    }
    b.connect().await.expect("connects")
}

/// What one sender's attempts met.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) admitted: u32,
    pub(crate) unconfirmed: u32,
    pub(crate) outages: u32,
    pub(crate) full: bool,
}

/// Sends for `sender` to fresh recipients through the gateways in turn: at most
/// `tries` attempts, stopping at the daily limit; with `retry`, outage answers are
/// retried (after a pause) until `within` has passed instead of counting as tries.
pub(crate) async fn drive(
    gateways: [RedisEngine; 2],
    sender: u64,
    first: u64,
    tries: u32,
    retry: bool,
    within: Duration,
) -> Tally {
    let started = Instant::now();
    let mut t = Tally::default();
    let mut tried = 0;
    let mut r = first;
    while tried < tries && started.elapsed() < within {
        let g = &gateways[(r % 2) as usize];
        r += 1;
        match g
            .send(InviteRequest::new(MemberId(sender), MemberId(r)))
            .await
        {
            Ok(_) => t.admitted += 1,
            Err(d) => match d.reason() {
                DenyReason::DailyLimit { .. } => {
                    t.full = true;
                    return t;
                }
                DenyReason::Unavailable { cause } => {
                    if matches!(cause, Outage::ReplicasUnconfirmed { .. }) {
                        t.unconfirmed += 1;
                    } else {
                        t.outages += 1;
                    }
                    if retry {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
                other => panic!("unexpected denial {other:?}"),
            },
        }
        tried += 1;
    }
    t
}

pub(crate) async fn drive_all(
    senders: u64,
    gateways: &[RedisEngine; 2],
    first: u64,
    tries: u32,
    retry: bool,
) -> Vec<Tally> {
    let tasks: Vec<_> = (1..=senders)
        .map(|s| {
            let g = gateways.clone();
            tokio::spawn(drive(
                g,
                s,
                s * 10_000 + first,
                tries,
                retry,
                Duration::from_secs(25),
            ))
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

pub(crate) fn over_admitted(before: &[Tally], after: &[Tally]) -> (u32, u32, u32) {
    let mut total = 0;
    let mut over = 0;
    let mut senders_over = 0;
    for (b, a) in before.iter().zip(after) {
        let sum = b.admitted + a.admitted;
        total += sum;
        if sum > LIMIT {
            over += sum - LIMIT;
            senders_over += 1;
        }
    }
    (total, over, senders_over)
}
