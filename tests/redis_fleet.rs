//! Several gateways on one Redis: one truth. Two engine instances (two connections,
//! as two gateway processes would have) share a key prefix; one sender spreads
//! concurrent sends over both.
#![cfg(feature = "redis")]

mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use invite_limiter::redis::{RedisEngine, ServerSide};
use invite_limiter::{InviteRequest, ManualClock, MemberId, Policy, SpamPolicy, Tier, Timestamp};
use redis_support::{address, unique_prefix, CLUSTER, STANDALONE};

async fn gateways(
    var: &str,
    name: &str,
    clock: &ManualClock,
    near: Option<Duration>,
    side: ServerSide,
) -> Option<(String, [RedisEngine; 2])> {
    let addr = address(var)?;
    let prefix = unique_prefix(name);
    let policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    let mut out = Vec::new();
    for i in 0..2 {
        let mut b = RedisEngine::builder(invite_limiter::redis::RedisTarget::parse(&addr))
            .server_side(side)
            .prefix(prefix.clone())
            .policy(policy.clone())
            .clock(clock.clone())
            .deadline(Duration::from_secs(2));
        if let (0, Some(ttl)) = (i, near) {
            b = b.near_cache(ttl);
        }
        // The second gateway spreads its calls over a small pool of connections.
        if i == 1 {
            b = b.connections(3);
        }
        out.push(b.connect().await.expect("connects"));
    }
    Some((prefix, out.try_into().ok()?))
}

async fn exactly_the_limit_across_two_gateways(var: &str, name: &str) {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let Some((_, engines)) = gateways(var, name, &clock, None, ServerSide::Auto).await else {
        return;
    };
    let engines = Arc::new(engines);
    let mut tasks = Vec::new();
    for t in 0..16u64 {
        let engines = Arc::clone(&engines);
        tasks.push(tokio::spawn(async move {
            let mut sent = 0u32;
            for i in 0..10u64 {
                let e = &engines[((t + i) % 2) as usize];
                let r = 1_000 + t * 100 + i;
                if e.send(InviteRequest::new(MemberId(7), MemberId(r)))
                    .await
                    .is_ok()
                {
                    sent += 1;
                }
            }
            sent
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(
        total, 30,
        "160 concurrent attempts over two gateways admit exactly 30"
    );
    for e in engines.iter() {
        let cap = e.capacity(MemberId(7)).await.unwrap();
        assert_eq!(cap.daily.used, 30);
        assert_eq!(cap.pending_sent, 30);
    }

    // One pair, concurrent, both gateways: exactly the pair cap.
    let mut pair = Vec::new();
    for t in 0..8u64 {
        let engines = Arc::clone(&engines);
        pair.push(tokio::spawn(async move {
            engines[(t % 2) as usize]
                .send(InviteRequest::new(MemberId(8), MemberId(9)))
                .await
                .is_ok()
        }));
    }
    let mut admitted = 0;
    for t in pair {
        admitted += u32::from(t.await.unwrap());
    }
    assert_eq!(admitted, 3);

    // The same idempotency key through both gateways at once: one invitation.
    let mut keyed = Vec::new();
    for t in 0..8u64 {
        let engines = Arc::clone(&engines);
        keyed.push(tokio::spawn(async move {
            engines[(t % 2) as usize]
                .send(InviteRequest::new(MemberId(10), MemberId(11)).idempotency_key(5))
                .await
                .unwrap()
                .id()
        }));
    }
    let mut ids = Vec::new();
    for t in keyed {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id between the repeats");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_two_gateways_admit_exactly_the_limit() {
    exactly_the_limit_across_two_gateways(STANDALONE, "fleet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_two_gateways_admit_exactly_the_limit() {
    exactly_the_limit_across_two_gateways(CLUSTER, "fleet").await;
}

/// Brings member 1 to its daily limit through `engine` and returns the denial.
async fn at_the_limit(engine: &RedisEngine) -> invite_limiter::Denied {
    let s = MemberId(1);
    for r in 0..30 {
        engine
            .send(InviteRequest::new(s, MemberId(100 + r)))
            .await
            .unwrap();
    }
    let d = engine
        .send(InviteRequest::new(s, MemberId(200)))
        .await
        .unwrap_err();
    assert!(matches!(
        d.reason(),
        invite_limiter::DenyReason::DailyLimit { .. }
    ));
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_near_cache_denies_without_a_round_trip_until_a_change_notice() {
    near_cache_until_a_notice(STANDALONE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_change_notices_reach_every_gateway() {
    near_cache_until_a_notice(CLUSTER).await;
}

async fn near_cache_until_a_notice(var: &str) {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let ttl = Duration::from_secs(30);
    let Some((_, [cached, other])) =
        gateways(var, "near", &clock, Some(ttl), ServerSide::Auto).await
    else {
        return;
    };
    let s = MemberId(1);
    let d = at_the_limit(&cached).await;
    let before = cached.stats();
    let held = cached
        .send(InviteRequest::new(s, MemberId(202)))
        .await
        .unwrap_err();
    assert_eq!(held, d, "answered from the near-cache");
    let after = cached.stats();
    assert_eq!(after.round_trips, before.round_trips, "no round trip");
    assert_eq!(after.near_cache_hits, before.near_cache_hits + 1);
    // A request with an idempotency key always goes to Redis.
    let keyed = cached
        .send(InviteRequest::new(s, MemberId(203)).idempotency_key(1))
        .await
        .unwrap_err();
    assert_eq!(keyed, d);
    assert!(cached.stats().round_trips > after.round_trips);

    // An upgrade through the other gateway publishes a notice: the cached gateway
    // lets go long before its 30 s time to live.
    other.set_tier(s, Tier::Premium).await.unwrap();
    let since = std::time::Instant::now();
    loop {
        if cached
            .send(InviteRequest::new(s, MemberId(204)))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "no notice arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_notice_the_near_cache_holds_a_denial_at_most_its_ttl() {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let ttl = Duration::from_secs(1);
    // The change below is written into the script's key layout.
    let side = ServerSide::Script;
    let Some((prefix, [cached, _])) =
        gateways(STANDALONE, "near-ttl", &clock, Some(ttl), side).await
    else {
        return;
    };
    let d = at_the_limit(&cached).await;
    // A change made behind the engines' backs (no notice): only the TTL clears it.
    let addr = address(STANDALONE).unwrap();
    let client = redis::Client::open(addr.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{{{prefix}:1}}:h"))
        .arg("tier")
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let held = cached
        .send(InviteRequest::new(MemberId(1), MemberId(202)))
        .await
        .unwrap_err();
    assert_eq!(held, d);
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert!(cached
        .send(InviteRequest::new(MemberId(1), MemberId(202)))
        .await
        .is_ok());
}

#[tokio::test]
async fn the_server_clock_decides_by_default() {
    let Some(addr) = address(STANDALONE) else {
        return;
    };
    let engine = RedisEngine::builder(invite_limiter::redis::RedisTarget::parse(&addr))
        .prefix(unique_prefix("server-clock"))
        .connect()
        .await
        .unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let sent = engine
        .send(InviteRequest::new(MemberId(1), MemberId(2)))
        .await
        .unwrap();
    let ttl = 180 * 24 * 3_600_000;
    let sent_at = sent.expires_at().as_millis() - ttl;
    // Same machine here, so the server's clock is close to ours.
    assert!(
        sent_at + 5_000 >= before && sent_at <= before + 5_000,
        "{sent_at} vs {before}"
    );
}

#[tokio::test]
async fn idle_state_carries_a_ttl_and_facts_do_not() {
    let Some(addr) = address(STANDALONE) else {
        return;
    };
    let prefix = unique_prefix("ttl");
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    // The keys read below are the script's.
    let engine = RedisEngine::builder(invite_limiter::redis::RedisTarget::parse(&addr))
        .server_side(ServerSide::Script)
        .prefix(prefix.clone())
        .clock(clock)
        .connect()
        .await
        .unwrap();
    engine
        .send(
            InviteRequest::new(MemberId(1), MemberId(2))
                .note("hello")
                .idempotency_key(3),
        )
        .await
        .unwrap();
    engine.connect(MemberId(1), MemberId(5)).await.unwrap();
    engine.set_tier(MemberId(1), Tier::Premium).await.unwrap();
    let client = redis::Client::open(addr.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let day = 24 * 3_600_000i64;
    for name in ["s", "n", "p", "i", "q", "k", "kz", "a", "g"] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{{{prefix}:1}}:{name}"))
            .query_async(&mut raw)
            .await
            .unwrap();
        // The pending TTL plus the longest window its expiry still counts in (30 d).
        assert!(ttl > 210 * day && ttl <= 212 * day, "{name}: {ttl}");
    }
    for name in ["h", "c"] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{{{prefix}:1}}:{name}"))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(ttl, -1, "{name} holds facts and lives on");
    }
    // Reading about a member nobody has seen creates nothing.
    engine.capacity(MemberId(999)).await.unwrap();
    engine.diagnose(MemberId(998), MemberId(2)).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}:99[89]}}*"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[test]
fn the_blocking_form_serves_synchronous_callers_and_refuses_inside_a_runtime() {
    let Some(addr) = address(STANDALONE) else {
        return;
    };
    let engine = RedisEngine::builder(invite_limiter::redis::RedisTarget::parse(&addr))
        .prefix(unique_prefix("blocking"))
        .connect_blocking()
        .unwrap();
    let sent = engine
        .send(InviteRequest::new(MemberId(1), MemberId(2)))
        .unwrap();
    let pending = engine
        .run(|e| e.pending_between(MemberId(1), MemberId(2)))
        .unwrap();
    assert_eq!(pending, Ok(1));
    assert_eq!(engine.run(|e| e.accept(sent.id())).unwrap(), Ok(()));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let d = engine
            .send(InviteRequest::new(MemberId(3), MemberId(4)))
            .unwrap_err();
        assert_eq!(
            *d.reason(),
            invite_limiter::DenyReason::Unavailable {
                cause: invite_limiter::Outage::BlockingInAsync
            }
        );
        // From async code, the engine underneath is the way.
        assert!(engine
            .engine()
            .send(InviteRequest::new(MemberId(3), MemberId(4)))
            .await
            .is_ok());
    });
}

#[tokio::test]
async fn a_large_contact_import_is_applied_whole() {
    let Some(addr) = address(STANDALONE) else {
        return;
    };
    let engine = RedisEngine::builder(invite_limiter::redis::RedisTarget::parse(&addr))
        .prefix(unique_prefix("contacts"))
        .limits(invite_limiter::MemberLimits {
            max_contacts: 10_000,
            ..invite_limiter::MemberLimits::default()
        })
        .connect()
        .await
        .unwrap();
    let emails: Vec<String> = (0..9_000).map(|i| format!("c{i}@example.com")).collect();
    engine.import_contacts(MemberId(1), emails).await.unwrap();
    engine
        .set_invite_setting(MemberId(1), invite_limiter::InviteSetting::ContactsOnly)
        .await
        .unwrap();
    engine
        .register_email(MemberId(2), "c8999@example.com")
        .await
        .unwrap();
    assert!(engine
        .send(InviteRequest::new(MemberId(2), MemberId(1)))
        .await
        .is_ok());
}
