//! Strict mode and repeated requests, on the master with one replica that the Redis suite
//! runs under Sentinel (see `redis_support`). The replica is stalled for a
//! moment with SIGSTOP, so this file holds one test and shares its process with none.
#![cfg(feature = "redis")]

mod redis_support;

use std::process::Command;
use std::time::Duration;

use invite_limiter::redis::{RedisEngine, RedisTarget};
use invite_limiter::{DenyReason, InviteRequest, ManualClock, MemberId, Outage, Timestamp};
use redis_support::{address, unique_prefix, SENTINEL};

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
}

/// The master's port and its first replica's pid, found through the first Sentinel.
fn topology(url: &str) -> (u16, u32) {
    let sentinel: u16 = url
        .split("//")
        .nth(1)
        .and_then(|h| h.split(',').next())
        .and_then(|h| h.split('/').next())
        .and_then(|h| h.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("a Sentinel port");
    let service = url.rsplit('/').next().expect("a service");
    let addr = cli(sentinel, &["SENTINEL", "get-master-addr-by-name", service]);
    let master: u16 = addr.lines().nth(1).and_then(|p| p.parse().ok()).unwrap();
    let info = cli(master, &["INFO", "replication"]);
    let replica: u16 = field(&info, "slave0")
        .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("port=")))
        .and_then(|p| p.parse().ok())
        .expect("the master has a replica");
    let server = cli(replica, &["INFO", "server"]);
    let pid = field(&server, "process_id")
        .and_then(|p| p.trim().parse().ok())
        .expect("the replica's pid");
    (master, pid)
}

/// Stops a process until dropped.
struct Stalled(u32);

impl Stalled {
    fn new(pid: u32) -> Self {
        signal(pid, "-STOP");
        Stalled(pid)
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_of_an_unconfirmed_send_is_not_admitted_until_confirmed() {
    let Some(url) = address(SENTINEL) else {
        return;
    };
    // The master as a standalone target: its connections are separate, so a repeat
    // may take another than the first send did. The clock stands still, so a repeat
    // changes nothing the first send wrote.
    let (master, replica) = topology(&url);
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let engine = RedisEngine::builder(RedisTarget::parse(&format!("redis://127.0.0.1:{master}/")))
        .prefix(unique_prefix("repeat"))
        .clock(clock)
        .connections(4)
        .deadline(Duration::from_secs(2))
        .wait_for_replicas(1, Duration::from_millis(150))
        .connect()
        .await
        .expect("one replica is connected");
    let req = || InviteRequest::new(MemberId(7), MemberId(8)).idempotency_key(42);
    let unconfirmed = |r: &Result<_, invite_limiter::Denied>| match r {
        Err(d) => matches!(
            d.reason(),
            DenyReason::Unavailable {
                cause: Outage::ReplicasUnconfirmed { .. }
            }
        ),
        Ok(_) => false,
    };
    // Everything written so far (on every connection) is confirmed before the stall.
    engine
        .send(InviteRequest::new(MemberId(1), MemberId(2)))
        .await
        .expect("confirmed by the replica");
    {
        let _stalled = Stalled::new(replica);
        let first = engine.send(req()).await;
        assert!(unconfirmed(&first), "{first:?}");
        // Every connection: the first send's record was written on one of them, and
        // the replica has confirmed it on none.
        for i in 0..8 {
            let again = engine.send(req()).await;
            assert!(unconfirmed(&again), "repeat {i}: {again:?}");
        }
    }
    // Once the replica has caught up, the repeat is the first decision, confirmed.
    let mut last = None;
    for _ in 0..50 {
        match engine.send(req()).await {
            Ok(sent) => {
                last = Some(sent);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let sent = last.expect("confirmed once the replica is back");
    let again = engine.send(req()).await.expect("the same send");
    assert_eq!(sent.id(), again.id());
    assert_eq!(
        engine.capacity(MemberId(7)).await.unwrap().daily.used,
        1,
        "the repeats consumed nothing"
    );
}
