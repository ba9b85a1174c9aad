//! `RedisEngine` on the Redis module: two engines on one sender get exactly the
//! limit, one idempotency key one invitation; `ServerSide` picks the module where it
//! is loaded. Servers of their own with the module, as in `redis_module.rs`.

#![cfg(all(feature = "redis", feature = "server"))]

mod redis_support;

use redis_support::module_servers::{module, server};
use redis_support::servers::{root, start_empty, Servers};

/// `RedisEngine`s on a server of their own with the module.
fn gateways(
    port: u16,
    n: usize,
    side: invite_limiter::redis::ServerSide,
) -> Vec<invite_limiter::redis::BlockingRedisEngine> {
    use invite_limiter::redis::{RedisEngine, RedisTarget};
    let quiet = redis_support::drive::quiet();
    (0..n)
        .map(|_| {
            RedisEngine::builder(RedisTarget::parse(&format!("redis://127.0.0.1:{port}/")))
                .policy(quiet.clone())
                .server_side(side)
                .connect_blocking()
                .expect("connects")
        })
        .collect()
}

#[test]
fn two_redis_engines_on_the_module_admit_exactly_the_limit_and_one_id_per_key() {
    use invite_limiter::redis::ServerSide;
    use invite_limiter::{InviteRequest, MemberId};
    let Some(so) = module() else { return };
    let _servers = server(&so, 6446, &[]);
    let engines = gateways(6446, 2, ServerSide::Module);
    assert!(engines.iter().all(|e| e.engine().uses_module()));
    let sent: usize = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter()
            .enumerate()
            .map(|(g, e)| {
                s.spawn(move || {
                    (0..40)
                        .filter(|i| {
                            let r = 1_000 + 100 * g as u64 + i;
                            e.send(InviteRequest::new(MemberId(1), MemberId(r))).is_ok()
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sent, 30, "the Free daily limit, across both gateways");
    let keyed = InviteRequest::new(MemberId(2), MemberId(3)).idempotency_key(77);
    let a = engines[0].send(keyed.clone()).unwrap();
    let b = engines[1].send(keyed).unwrap();
    assert_eq!(a.id(), b.id(), "one idempotency key, one invitation");
}

#[test]
fn auto_picks_the_module_where_it_is_loaded_and_module_insists_on_it() {
    use invite_limiter::redis::{RedisEngine, RedisTarget, ServerSide};
    let Some(so) = module() else { return };
    let _with = server(&so, 6447, &[]);
    let plain_dir = root().join("module-6448");
    let _plain = Servers::start_in(plain_dir.clone());
    start_empty(&plain_dir, 6448, &[]);
    assert!(gateways(6447, 1, ServerSide::Auto)[0]
        .engine()
        .uses_module());
    assert!(!gateways(6447, 1, ServerSide::Script)[0]
        .engine()
        .uses_module());
    assert!(!gateways(6448, 1, ServerSide::Auto)[0]
        .engine()
        .uses_module());
    let refused = RedisEngine::builder(RedisTarget::parse("redis://127.0.0.1:6448/"))
        .server_side(ServerSide::Module)
        .connect_blocking()
        .unwrap_err();
    assert!(
        refused.to_string().contains("no invite-limiter module"),
        "{refused}"
    );
    // Shadow mode runs on the module too.
    let shadowed = RedisEngine::builder(RedisTarget::parse("redis://127.0.0.1:6447/"))
        .shadow(invite_limiter::Shadow::none().with(invite_limiter::ShadowRule::DailyLimit))
        .server_side(ServerSide::Auto)
        .connect_blocking()
        .unwrap();
    assert!(shadowed.engine().uses_module());
}

/// On a cluster, a send carries its recipient's banned flag and setting from the
/// facts cache when those decide (the strangers signal off, a setting of everyone or
/// nobody): one command on the sender's slot, and a change made through another
/// gateway reaches the cache through its notice.
#[test]
fn on_a_cluster_the_module_sends_with_cached_recipient_facts() {
    use invite_limiter::redis::ServerSide;
    use invite_limiter::{AccountStatus, DenyReason, InviteRequest, MemberId};
    let Some(b) = redis_support::builder(redis_support::CLUSTER, "module-facts") else {
        return;
    };
    let quiet = redis_support::drive::quiet();
    let make = |b: invite_limiter::redis::RedisBuilder| {
        b.policy(quiet.clone())
            .server_side(ServerSide::Auto)
            .facts_ttl(std::time::Duration::from_secs(60))
            .connect_blocking()
            .expect("connects")
    };
    let prefix = redis_support::unique_prefix("module-facts");
    let one = make(b.prefix(prefix.clone()));
    if !one.engine().uses_module() {
        return; // a cluster without the module: nothing to check here
    }
    let other = make(
        redis_support::builder(redis_support::CLUSTER, "module-facts")
            .unwrap()
            .prefix(prefix),
    );
    let send = |s: u64| one.send(InviteRequest::new(MemberId(s), MemberId(900)));
    for s in 1..=5 {
        assert!(send(s).is_ok(), "sender {s}");
    }
    assert!(
        one.engine().stats().facts_cache_hits >= 4,
        "the recipient's facts were read once: {:?}",
        one.engine().stats()
    );
    other
        .run(|e| e.set_status(MemberId(900), AccountStatus::Banned))
        .unwrap()
        .unwrap();
    // The notice drops the cached facts, long before their time to live (60 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let denied = loop {
        match send(6) {
            Err(d) => break d,
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Ok(_) => panic!("the ban never reached the other gateway"),
        }
    };
    assert_eq!(*denied.reason(), DenyReason::RecipientUnavailable);
}
