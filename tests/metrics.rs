//! The metrics an engine reports, read back through a recording recorder.
#![cfg(feature = "metrics")]

#[cfg(feature = "redis")]
mod redis_support;

use std::time::Duration;

use invite_limiter::metrics::{
    DECISIONS, DECISION_SECONDS, INVITATIONS_EXPIRED, LATENCY_SAMPLE, MEMBER_RECORDS,
    PENDING_INVITATIONS, SHADOW_DENIALS, SWEEPER_LAG_SECONDS,
};
use invite_limiter::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const T0: u64 = 1_700_000_000_000;

/// One series: name, sorted labels, value.
type Series = (String, Vec<(String, String)>, DebugValue);

/// Every series.
fn series(s: &Snapshotter) -> Vec<Series> {
    s.snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let k = key.key();
            let mut labels: Vec<_> = k
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            labels.sort();
            (k.name().to_string(), labels, value)
        })
        .collect()
}

fn counter(all: &[Series], name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    all.iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| match v {
            DebugValue::Counter(c) => *c,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .unwrap_or(0)
}

fn no_personal_labels(all: &[Series]) {
    for (name, labels, _) in all {
        for (k, _) in labels {
            assert!(
                ["engine", "outcome", "reason", "tier", "cause", "rule"].contains(&k.as_str()),
                "{name} has label {k}"
            );
        }
    }
}

fn engine(clock: &ManualClock, daily: u32) -> Engine {
    let mut policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    policy.free.daily = daily;
    Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn decisions_are_counted_by_outcome_reason_and_tier() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = engine(&clock, 10);
        // Sends 1..=7 are within the limit; 8, 9 and 10 reach 80% of the daily window.
        for r in 1..=10 {
            e.send(InviteRequest::new(MemberId(1), MemberId(100 + r)))
                .unwrap();
        }
        e.send(InviteRequest::new(MemberId(1), MemberId(200)))
            .unwrap_err();
        e.send(InviteRequest::new(MemberId(2), MemberId(2)))
            .unwrap_err();
        // An engine built without metrics reports nothing.
        let quiet = Engine::builder().metrics(false).build().unwrap();
        quiet
            .send(InviteRequest::new(MemberId(1), MemberId(2)))
            .unwrap();
    });
    let all = series(&snapshotter);
    let memory = ("engine", "memory");
    let allowed = |tier| {
        [
            memory,
            ("outcome", "allowed"),
            ("reason", "none"),
            ("tier", tier),
        ]
    };
    assert_eq!(counter(&all, DECISIONS, &allowed("within_limit")), 7);
    assert_eq!(counter(&all, DECISIONS, &allowed("near_limit")), 3);
    let daily = [
        memory,
        ("outcome", "denied"),
        ("reason", "daily_limit"),
        ("tier", "over_limit"),
    ];
    assert_eq!(counter(&all, DECISIONS, &daily), 1);
    let selfie = [
        memory,
        ("outcome", "denied"),
        ("reason", "self_invite"),
        ("tier", "within_limit"),
    ];
    assert_eq!(counter(&all, DECISIONS, &selfie), 1);
    let samples = all
        .iter()
        .find(|(n, _, _)| n == DECISION_SECONDS)
        .map(|(_, _, v)| match v {
            DebugValue::Histogram(h) => h.len(),
            other => panic!("{other:?}"),
        });
    // One decision in LATENCY_SAMPLE per thread is timed, starting with the first.
    assert_eq!(samples, Some(12usize.div_ceil(LATENCY_SAMPLE as usize)));
    no_personal_labels(&all);
}

#[test]
fn shadowed_rules_are_counted_as_if_enforced() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = engine(&clock, 2);
        e.set_shadow(Shadow::none().with(ShadowRule::DailyLimit));
        for r in 1..=3 {
            let sent = e
                .send(InviteRequest::new(MemberId(1), MemberId(100 + r)))
                .expect("admitted: the daily limit is shadowed");
            assert_eq!(sent.shadowed().is_empty(), r <= 2);
        }
    });
    let all = series(&snapshotter);
    let memory = ("engine", "memory");
    let rule = [memory, ("rule", "daily_limit")];
    assert_eq!(counter(&all, SHADOW_DENIALS, &rule), 1);
    let over = [
        memory,
        ("outcome", "allowed"),
        ("reason", "none"),
        ("tier", "over_limit"),
    ];
    assert_eq!(counter(&all, DECISIONS, &over), 1);
    no_personal_labels(&all);
}

#[test]
fn expired_invitations_are_counted_by_the_sweep() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = engine(&clock, 30);
        for r in 0..3 {
            e.send(InviteRequest::new(MemberId(1), MemberId(10 + r)))
                .unwrap();
        }
        clock.advance(Duration::from_secs(181 * 86_400));
        assert_eq!(e.sweep(), 3);
    });
    let all = series(&snapshotter);
    assert_eq!(
        counter(&all, INVITATIONS_EXPIRED, &[("engine", "memory")]),
        3
    );
}

#[test]
fn the_background_sweeper_samples_its_gauges() {
    // The sweeper thread reports to the global recorder: this is the only test here
    // that installs one.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other global recorder in this test binary");
    let e = std::sync::Arc::new(Engine::builder().build().unwrap());
    for r in 0..4 {
        e.send(InviteRequest::new(MemberId(r), MemberId(100)))
            .unwrap();
    }
    let sweeper = e.start_sweeper(Duration::from_millis(5));
    // A snapshot drains what it reads: take one, once the sample is in.
    let start = std::time::Instant::now();
    let all = loop {
        let all = series(&snapshotter);
        if all.iter().any(|(n, _, _)| n == PENDING_INVITATIONS) {
            break all;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no sample");
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(sweeper);
    let gauge = |name: &str| {
        all.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| match v {
                DebugValue::Gauge(g) => g.into_inner(),
                other => panic!("{other:?}"),
            })
    };
    assert_eq!(gauge(PENDING_INVITATIONS), Some(4.0));
    assert_eq!(gauge(MEMBER_RECORDS), Some(4.0));
    assert!(gauge(SWEEPER_LAG_SECONDS).is_some());
    no_personal_labels(&all);
}

#[cfg(feature = "redis")]
#[test]
fn the_redis_engine_counts_round_trips_and_decisions() {
    use invite_limiter::metrics::REDIS_ROUND_TRIPS;
    let Some(b) = redis_support::builder(redis_support::STANDALONE, "metrics") else {
        return;
    };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let e = b.connect().await.unwrap();
            e.send(InviteRequest::new(MemberId(1), MemberId(2)))
                .await
                .unwrap();
            e.send(InviteRequest::new(MemberId(3), MemberId(3)))
                .await
                .unwrap_err();
        });
    });
    let all = series(&snapshotter);
    let redis = ("engine", "redis");
    let ok = [
        redis,
        ("outcome", "allowed"),
        ("reason", "none"),
        ("tier", "within_limit"),
    ];
    assert_eq!(counter(&all, DECISIONS, &ok), 1);
    let selfie = [
        redis,
        ("outcome", "denied"),
        ("reason", "self_invite"),
        ("tier", "within_limit"),
    ];
    assert_eq!(counter(&all, DECISIONS, &selfie), 1);
    assert!(counter(&all, REDIS_ROUND_TRIPS, &[redis]) >= 1);
    no_personal_labels(&all);
}

#[cfg(feature = "redis")]
#[test]
fn a_redis_outage_is_counted_and_opens_the_breaker_gauge() {
    use invite_limiter::metrics::{REDIS_BREAKER_STATE, REDIS_OUTAGES};
    use invite_limiter::redis::{BreakerPolicy, RedisEngine, RedisTarget};
    // Needs a redis-server binary: runs where the Redis suite runs.
    if redis_support::address(redis_support::STANDALONE).is_none() {
        return;
    }
    let mut server = redis_support::OwnServer::start();
    let port = server.port;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    ::metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let url = format!("redis://127.0.0.1:{port}/");
            let e = RedisEngine::builder(RedisTarget::parse(&url))
                .breaker(BreakerPolicy {
                    failures: 1,
                    ..BreakerPolicy::default()
                })
                .connect()
                .await
                .unwrap();
            e.send(InviteRequest::new(MemberId(1), MemberId(2)))
                .await
                .unwrap();
            server.kill();
            let d = e
                .send(InviteRequest::new(MemberId(1), MemberId(3)))
                .await
                .unwrap_err();
            assert!(matches!(d.reason(), DenyReason::Unavailable { .. }), "{d}");
        });
    });
    let all = series(&snapshotter);
    let outages: u64 = all
        .iter()
        .filter(|(n, _, _)| n == REDIS_OUTAGES)
        .map(|(_, _, v)| match v {
            DebugValue::Counter(c) => *c,
            other => panic!("{other:?}"),
        })
        .sum();
    assert!(outages >= 1, "{all:?}");
    let breaker = all.iter().find(|(n, _, _)| n == REDIS_BREAKER_STATE);
    assert!(
        matches!(breaker, Some((_, _, DebugValue::Gauge(g))) if g.into_inner() == 1.0),
        "{breaker:?}"
    );
    let unavailable = [
        ("engine", "redis"),
        ("outcome", "denied"),
        ("reason", "unavailable"),
        ("tier", "within_limit"),
    ];
    assert_eq!(counter(&all, DECISIONS, &unavailable), 1);
}
