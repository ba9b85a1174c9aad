//! What a failover of one cluster master loses, with and without
//! `wait_for_replicas`. Each test starts its own six-node cluster (on ports no other
//! test uses) so it can stall and kill its nodes; they run when the Redis suite runs
//! (see `redis_support`).
//!
//! The scenario: one master's replica stalls (SIGSTOP) while two gateways drive
//! senders on every shard to their daily limit; that master dies (SIGKILL); its
//! replica resumes (SIGCONT) and is promoted; an empty node is attached to it as its
//! replica, as an operator replaces a dead node; the same gateways drive again.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::{Duration, Instant};

use invite_limiter::redis::ServerSide;
use invite_limiter::{ManualClock, Timestamp};
use redis_support::drive::{
    cli, drive_all, gateway_on, over_admitted, wait_until, Tally, LIMIT, T0,
};
use redis_support::servers::{self, Servers};
use redis_support::{address, unique_prefix, CLUSTER};

const SENDERS: u64 = 300;

/// A cluster on `base..base + 6`, stopped when dropped (also when a test fails).
struct Cluster {
    servers: Servers,
    base: u16,
    /// The Redis module every node loads, if any.
    module: Option<String>,
}

impl Cluster {
    fn start(base: u16, module: Option<String>) -> Cluster {
        let dir = servers::root().join(format!("cluster-{base}"));
        Cluster {
            servers: Servers::start_with("cluster", base, &dir.clone(), dir, module.as_deref()),
            base,
            module,
        }
    }

    fn urls(&self) -> String {
        (0..6)
            .map(|i| format!("redis://127.0.0.1:{}/", self.base + i))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn signal(&self, port: u16, sig: &str) {
        self.servers
            .signal(&format!("node-{port}/redis-{port}.pid"), sig);
    }

    /// The master owning `key` and its replica: `(master port, master id, replica port)`.
    fn shard_of(&self, key: &str) -> (u16, String, u16) {
        let slot: u16 = cli(self.base, &["cluster", "keyslot", key])
            .trim()
            .parse()
            .unwrap();
        let nodes = cli(self.base, &["cluster", "nodes"]);
        let port_of = |addr: &str| -> u16 {
            let a = addr.split('@').next().unwrap();
            a.rsplit(':').next().unwrap().parse().unwrap()
        };
        let mut master = None;
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 9 || !f[2].contains("master") {
                continue;
            }
            let owns = f[8..].iter().any(|range| {
                let mut it = range.split('-');
                let lo: u16 = it.next().and_then(|x| x.parse().ok()).unwrap_or(u16::MAX);
                let hi: u16 = it.next().and_then(|x| x.parse().ok()).unwrap_or(lo);
                (lo..=hi).contains(&slot)
            });
            if owns {
                master = Some((port_of(f[1]), f[0].to_string()));
            }
        }
        let (port, id) = master.expect("a master owns the slot");
        let replica = nodes
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[2].contains("slave") && f[3] == id)
            .map(|f| port_of(f[1]))
            .expect("the master has a replica");
        (port, id, replica)
    }

    /// Starts an empty node on `port` and attaches it as a replica of `master`.
    fn attach_empty_replica(&self, port: u16, master: u16, master_id: &str) {
        let dir = self.servers.dir.join(format!("node-{port}"));
        // Empty: no cluster identity left from an earlier run.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ];
        let timeout = ["--cluster-node-timeout", "2000"];
        let module: Vec<&str> = match &self.module {
            Some(so) => vec!["--loadmodule", so],
            None => Vec::new(),
        };
        servers::start_empty(
            &dir,
            port,
            &[&cluster[..], &timeout[..], &module[..]].concat(),
        );
        // Joined by hand rather than by `redis-cli --cluster add-node`, whose
        // consistency check can refuse while the dead master is still gossiped about.
        let meet = cli(port, &["cluster", "meet", "127.0.0.1", &master.to_string()]);
        assert!(meet.contains("OK"), "cluster meet from {port}: {meet}");
        wait_until(Duration::from_secs(30), "the new node replicates", || {
            cli(port, &["cluster", "replicate", master_id]).contains("OK")
        });
        wait_until(Duration::from_secs(30), "the new replica links", || {
            cli(port, &["info", "replication"]).contains("master_link_status:up")
        });
    }
}

/// Runs the scenario; returns each sender's tallies before and after the failover.
async fn failover(base: u16, strict: bool, module: Option<String>) -> (Vec<Tally>, Vec<Tally>) {
    let side = if module.is_some() {
        ServerSide::Module
    } else {
        ServerSide::Script
    };
    let cluster = Cluster::start(base, module);
    let prefix = unique_prefix(if strict { "cstrict" } else { "casync" });
    let (master, _, replica) = cluster.shard_of(&format!("{{{prefix}:1}}:h"));
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let urls = cluster.urls();
    let gateways = [
        gateway_on(&urls, &prefix, &clock, strict, 32, side).await,
        gateway_on(&urls, &prefix, &clock, strict, 32, side).await,
    ];
    // As in the Sentinel tests: the master drops its stalled replica at 64 kB.
    cli(
        master,
        &[
            "config",
            "set",
            "client-output-buffer-limit",
            "replica 64kb 32kb 0",
        ],
    );
    cluster.signal(replica, "-STOP");
    let before = drive_all(SENDERS, &gateways, 0, LIMIT + 5, false).await;
    cluster.signal(master, "-KILL");
    cluster.signal(replica, "-CONT");
    wait_until(Duration::from_secs(30), "the replica is promoted", || {
        cli(replica, &["role"]).starts_with("master")
            && cli(replica, &["cluster", "info"]).contains("cluster_state:ok")
    });
    let new_id = cli(replica, &["cluster", "myid"]).trim().to_string();
    cluster.attach_empty_replica(base + 6, replica, &new_id);
    let after = drive_all(SENDERS, &gateways, 5_000, LIMIT + 5, true).await;
    drop(cluster);
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_admits_nothing_twice_across_a_cluster_failover() {
    if address(CLUSTER).is_none() {
        return;
    }
    let started = Instant::now();
    let (before, after) = failover(7420, true, None).await;
    check_strict(&before, &after, started, "strict cluster failover");
}

/// The same on the Redis module (nodes on 7440-7446), with `INVITE_LIMITER_REDIS_MODULE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_on_the_module_admits_nothing_twice_across_a_cluster_failover() {
    if address(CLUSTER).is_none() {
        return;
    }
    let Some(module) = address("INVITE_LIMITER_REDIS_MODULE") else {
        return;
    };
    let started = Instant::now();
    let (before, after) = failover(7440, true, Some(module)).await;
    check_strict(
        &before,
        &after,
        started,
        "strict cluster failover on the module",
    );
}

/// No sender admitted past its limit across the failover, every one reached it.
fn check_strict(before: &[Tally], after: &[Tally], started: Instant, what: &str) {
    for (s, (b, a)) in before.iter().zip(after).enumerate() {
        // A sender on the stalled shard had nothing admitted; one elsewhere had no
        // send left unconfirmed.
        assert!(
            b.admitted == 0 || b.unconfirmed == 0,
            "sender {}: {b:?}",
            s + 1
        );
        assert!(a.full, "sender {} never reached its limit: {a:?}", s + 1);
        assert!(
            b.admitted + a.admitted <= LIMIT,
            "sender {}: {b:?} {a:?}",
            s + 1
        );
    }
    assert!(before.iter().any(|b| b.unconfirmed > 0), "no stalled shard");
    let (total, over, senders) = over_admitted(before, after);
    eprintln!(
        "{what}: {total} sends admitted for {SENDERS} senders of limit \
         {LIMIT}, {over} over the limit ({senders} senders), in {:?}",
        started.elapsed()
    );
    assert_eq!(over, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_waiting_a_cluster_failover_over_admits() {
    if address(CLUSTER).is_none() {
        return;
    }
    let started = Instant::now();
    let (before, after) = failover(7430, false, None).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.admitted, LIMIT, "{b:?}");
        assert!(a.full, "{a:?}");
    }
    let (total, over, senders) = over_admitted(&before, &after);
    // A figure for docs/redis.md, not an assertion.
    eprintln!(
        "async cluster failover: {total} sends admitted for {SENDERS} senders of limit \
         {LIMIT}, {over} over the limit ({senders} senders), in {:?}",
        started.elapsed()
    );
}
