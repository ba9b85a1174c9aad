//! Where the Redis tests find their servers, and engines on them.

#![allow(dead_code)] // each test crate uses what it needs

pub(crate) mod drive;
pub(crate) mod module_servers;
pub(crate) mod servers;

use invite_limiter::redis::{RedisBuilder, RedisEngine, RedisTarget};
use invite_limiter::{ManualClock, MemberLimits, Policy};

/// The address in `var`, or `None` (with a note) when the suite runs without Redis.
/// `INVITE_LIMITER_REQUIRE_REDIS=1` (set by `.ci/run`) turns a missing address into
/// a failure, so the suite cannot pass without running.
pub(crate) fn address(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("INVITE_LIMITER_REQUIRE_REDIS").is_err(),
                "{var} is not set but INVITE_LIMITER_REQUIRE_REDIS is"
            );
            eprintln!("skipped: {var} is not set (see README, \"Redis\")");
            None
        }
    }
}

pub(crate) const STANDALONE: &str = "INVITE_LIMITER_REDIS_URL";
pub(crate) const CLUSTER: &str = "INVITE_LIMITER_REDIS_CLUSTER";
/// A `redis+sentinel://` address of a master with one replica.
pub(crate) const SENTINEL: &str = "INVITE_LIMITER_REDIS_SENTINEL";

/// A key prefix no other test or run shares.
pub(crate) fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("t{}:{name}:{nanos}", std::process::id())
}

pub(crate) fn builder(var: &str, name: &str) -> Option<RedisBuilder> {
    let addr = address(var)?;
    Some(RedisEngine::builder(RedisTarget::parse(&addr)).prefix(unique_prefix(name)))
}

pub(crate) async fn engine(
    var: &str,
    policy: Policy,
    clock: ManualClock,
    name: &str,
) -> Option<RedisEngine> {
    engine_with(var, policy, MemberLimits::default(), clock, name).await
}

/// As [`engine`], with member caps.
pub(crate) async fn engine_with(
    var: &str,
    policy: Policy,
    limits: MemberLimits,
    clock: ManualClock,
    name: &str,
) -> Option<RedisEngine> {
    let b = builder(var, name)?.limits(limits);
    Some(
        b.policy(policy)
            .clock(clock)
            .deadline(std::time::Duration::from_secs(2))
            .connect()
            .await
            .expect("connects"),
    )
}

/// A plain connection to the first address in `var`, for reading keys directly.
pub(crate) async fn raw(var: &str) -> Option<redis::aio::MultiplexedConnection> {
    let addr = address(var)?;
    let first = addr.split(',').next().unwrap_or_default().to_string();
    let client = redis::Client::open(first).unwrap();
    Some(client.get_multiplexed_async_connection().await.unwrap())
}

/// The key prefix an engine was built with.
pub(crate) fn prefix_of(engine: &RedisEngine) -> String {
    let dbg = format!("{engine:?}");
    dbg.split("prefix: \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned()
}

/// A redis-server of a test's own on a free loopback port (for tests that stop it),
/// ready to accept connections; killed when dropped.
pub(crate) struct OwnServer {
    child: std::process::Child,
    /// Its port.
    pub(crate) port: u16,
}

impl OwnServer {
    /// Starts one (the `redis-server` binary must be on the path).
    pub(crate) fn start() -> Self {
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnServer { child, port }
    }

    /// Its `redis://` address.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it at once, as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
    }
}
