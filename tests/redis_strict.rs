//! What `wait_for_replicas` refuses at connect, on the Sentinel-managed master with
//! one replica that the Redis suite runs on (see `redis_support`).
#![cfg(feature = "redis")]

mod redis_support;

use std::process::Command;
use std::time::Duration;

use invite_limiter::redis::{FailureMode, RedisEngine, RedisSetupError, RedisTarget};
use invite_limiter::{InviteRequest, MemberId};
use redis_support::{address, unique_prefix, SENTINEL};

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builder_refuses_what_strict_mode_cannot_keep() {
    let Some(url) = address(SENTINEL) else {
        return;
    };
    let builder = || {
        RedisEngine::builder(RedisTarget::parse(&url))
            .prefix(unique_prefix("refusals"))
            .deadline(Duration::from_secs(1))
    };
    match builder()
        .wait_for_replicas(2, Duration::from_millis(100))
        .connect()
        .await
    {
        Err(e @ RedisSetupError::Replicas { .. }) => {
            let words = e.to_string();
            assert!(
                words.contains("asks for 2 replicas but a master has 1 connected"),
                "{words}"
            );
        }
        other => panic!("{other:?}"),
    }
    match builder()
        .wait_for_replicas(1, Duration::from_millis(100))
        .failure_mode(FailureMode::Open)
        .connect()
        .await
    {
        Err(e @ RedisSetupError::Durability(_)) => {
            assert!(e.to_string().contains("FailureMode::Open"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let version = cli(
        url.split("//")
            .nth(1)
            .and_then(|h| h.split(',').next())
            .and_then(|h| h.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(26379),
        &["info", "server"],
    );
    let fsync = builder()
        .wait_for_replicas(1, Duration::from_millis(100))
        .wait_for_fsync()
        .connect()
        .await;
    if version.contains("redis_version:7.0") || version.contains("redis_version:6.") {
        match fsync {
            Err(e @ RedisSetupError::Durability(_)) => {
                assert!(e.to_string().contains("Redis 7.2"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    let ok = builder()
        .wait_for_replicas(1, Duration::from_millis(500))
        .connect()
        .await
        .expect("one replica is connected");
    ok.send(InviteRequest::new(MemberId(1), MemberId(2)))
        .await
        .expect("confirmed by the replica");
}
