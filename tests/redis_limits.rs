//! The Redis engine's bounds: build-time refusals of huge durations, stored codes it
//! did not write, email keys that keep their hash tag, capped and chunked contact
//! imports, and capped relations.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::Duration;

use invite_limiter::redis::{BreakerPolicy, RedisEngine, RedisSetupError, RedisTarget};
use invite_limiter::{
    DenyReason, EmailError, InviteRequest, InviteSetting, ManualClock, MemberId, MemberLimits,
    Outage, Policy, RelationError, SpamPolicy, Timestamp,
};
use redis_support::{builder, CLUSTER, STANDALONE};

fn quiet() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn clock() -> ManualClock {
    ManualClock::new(Timestamp::from_millis(1_700_000_000_000))
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

/// The field a refused setup names.
fn refused(e: RedisSetupError) -> String {
    match e {
        RedisSetupError::Config(c) => c.field().to_owned(),
        RedisSetupError::Setting { field, .. } => field.to_owned(),
        other => panic!("not a refusal: {other}"),
    }
}

#[tokio::test]
async fn huge_durations_are_refused_before_connecting() {
    // Nothing listens on port 1: a refusal must come before any connection.
    let b = || RedisEngine::builder(RedisTarget::parse("redis://127.0.0.1:1/"));
    let max = Duration::MAX;
    let policy = |f: fn(&mut Policy)| {
        let mut p = Policy::default();
        f(&mut p);
        p
    };
    let cases = [
        (b().deadline(max), "deadline"),
        (b().near_cache(max), "near_cache"),
        (b().facts_ttl(max), "facts_ttl"),
        (
            b().breaker(BreakerPolicy {
                backoff: max,
                ..BreakerPolicy::default()
            }),
            "breaker.backoff",
        ),
        (
            b().policy(policy(|p| p.pending_ttl = Duration::MAX)),
            "pending_ttl",
        ),
        (
            b().policy(policy(|p| p.reinvite_cooldown = Duration::MAX)),
            "reinvite_cooldown",
        ),
        (
            b().policy(policy(|p| p.spam.strike_memory = Duration::MAX)),
            "spam.strike_memory",
        ),
        (b().prefix("a}b"), "prefix"),
        (
            b().limits(MemberLimits {
                max_emails: 0,
                ..MemberLimits::default()
            }),
            "limits.max_emails",
        ),
    ];
    for (builder, field) in cases {
        let err = builder.connect().await.unwrap_err();
        assert!(err.to_string().contains(field), "{err}");
        assert_eq!(refused(err), field);
    }
}

async fn raw(var: &str) -> Option<redis::aio::MultiplexedConnection> {
    let addr = redis_support::address(var)?;
    let first = addr.split(',').next().unwrap_or_default().to_string();
    let client = redis::Client::open(first).unwrap();
    Some(client.get_multiplexed_async_connection().await.unwrap())
}

#[tokio::test]
async fn stored_tier_or_status_codes_it_did_not_write_are_bad_data() {
    let Some(b) = builder(STANDALONE, "codes") else {
        return;
    };
    let mut conn = raw(STANDALONE).await.unwrap();
    let engine = b.policy(quiet()).clock(clock()).connect().await.unwrap();
    let prefix = prefix_of(&engine);
    // -1 once read the pair cap and TTLs as limits; 2 and 7 once passed as Free.
    let cases = [
        (1, "tier", "-1"),
        (2, "tier", "2"),
        (3, "st", "7"),
        (4, "st", "x"),
    ];
    for (m, field, code) in cases {
        let _: i64 = redis::cmd("HSET")
            .arg(format!("{{{prefix}:{m}}}:h"))
            .arg(field)
            .arg(code)
            .query_async(&mut conn)
            .await
            .unwrap();
        let d = engine.send(req(m, 50)).await.unwrap_err();
        assert_eq!(
            *d.reason(),
            DenyReason::Unavailable {
                cause: Outage::BadData
            },
            "{field}={code}"
        );
        assert_eq!(engine.capacity(MemberId(m)).await, Err(Outage::BadData));
        if field == "st" {
            // As a recipient too: an unknown status is not "not banned".
            let d = engine.send(req(60, m)).await.unwrap_err();
            assert!(
                matches!(d.reason(), DenyReason::Unavailable { .. }),
                "{field}={code}: {d}"
            );
        }
    }
}

fn prefix_of(engine: &RedisEngine) -> String {
    let dbg = format!("{engine:?}");
    dbg.split("prefix: \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_email_with_a_brace_keeps_its_whole_name_as_the_hash_tag() {
    let Some(b) = builder(CLUSTER, "brace") else {
        return;
    };
    let engine = b.policy(quiet()).clock(clock()).connect().await.unwrap();
    let prefix = prefix_of(&engine);
    let mut conn = raw(CLUSTER).await.unwrap();
    // Under the old names this address's owner key was `{prefix:@a}x@b.co}`, whose
    // tag `prefix:@a` every `a}…` address shared.
    let email = "a}x@b.co";
    engine.register_email(MemberId(7), email).await.unwrap();
    let key = format!("{{{prefix}:@a@x@b.co}}");
    let slot = |k: String| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("KEYSLOT").arg(k);
        cmd
    };
    let of_key: i64 = slot(key.clone()).query_async(&mut conn).await.unwrap();
    let of_tag: i64 = slot(format!("{prefix}:@a@x@b.co"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(of_key, of_tag, "the whole name is the tag");
    let nodes: Vec<String> = redis_support::address(CLUSTER)
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let cluster = redis::cluster::ClusterClient::new(nodes).unwrap();
    let mut cc = cluster.get_async_connection().await.unwrap();
    let owner: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut cc)
        .await
        .unwrap();
    assert_eq!(
        owner.as_deref(),
        Some("7"),
        "the owner key under its new name"
    );
    // The owner key is where the engine reads it: the address is member 7's.
    engine
        .set_invite_setting(MemberId(7), InviteSetting::EmailOrContacts)
        .await
        .unwrap();
    assert!(engine.send(req(1, 7)).await.is_err());
    engine
        .send(req(1, 7).recipient_email(email))
        .await
        .expect("the email given is member 7's");
    assert!(matches!(
        engine.register_email(MemberId(8), email).await,
        Err(EmailError::Taken {
            owner: MemberId(7),
            ..
        })
    ));
}

async fn scard(conn: &mut redis::aio::MultiplexedConnection, key: String) -> i64 {
    redis::cmd("SCARD")
        .arg(key)
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_long_import_is_written_in_steps_and_one_past_the_cap_keeps_the_old_list() {
    let Some(b) = builder(STANDALONE, "import") else {
        return;
    };
    let engine = b.policy(quiet()).clock(clock()).connect().await.unwrap();
    let prefix = prefix_of(&engine);
    let mut conn = raw(STANDALONE).await.unwrap();
    let contacts = |n: usize| (0..n).map(|i| format!("c{i}@x.co")).collect::<Vec<_>>();
    let owner = MemberId(1);
    engine
        .set_invite_setting(owner, InviteSetting::ContactsOnly)
        .await
        .unwrap();
    engine
        .register_email(MemberId(2), "c1233@x.co")
        .await
        .unwrap();
    engine.import_contacts(owner, contacts(1234)).await.unwrap();
    let list = format!("{{{prefix}:1}}:e");
    assert_eq!(scard(&mut conn, list.clone()).await, 1234);
    assert!(
        engine.send(req(2, 1)).await.is_ok(),
        "the last entry counts"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&list)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ttl, -1, "the list keeps no staging expiry");
    let staged: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}:1}}:e:import:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(staged.is_empty(), "{staged:?}");

    let err = engine
        .import_contacts(owner, contacts(5001))
        .await
        .unwrap_err();
    assert_eq!(err, EmailError::TooManyContacts { max: 5000 });
    assert_eq!(
        scard(&mut conn, list.clone()).await,
        1234,
        "the old list holds"
    );
    // An import interrupted before its last step leaves the list as it was.
    let _: i64 = redis::cmd("SADD")
        .arg(format!("{{{prefix}:1}}:e:import:dead"))
        .arg("z@x.co")
        .query_async(&mut conn)
        .await
        .unwrap();
    engine.import_contacts(owner, contacts(3)).await.unwrap();
    assert_eq!(scard(&mut conn, list.clone()).await, 3);
    engine
        .import_contacts(owner, Vec::<String>::new())
        .await
        .unwrap();
    assert_eq!(scard(&mut conn, list).await, 0);
}

#[tokio::test]
async fn try_connect_and_try_follow_name_the_member_at_the_cap() {
    let Some(b) = builder(CLUSTER, "relations") else {
        return;
    };
    let limits = MemberLimits {
        max_connections: 2,
        max_follows: 1,
        ..MemberLimits::default()
    };
    let engine = b.limits(limits).clock(clock()).connect().await.unwrap();
    let m = MemberId;
    engine.try_connect(m(1), m(2)).await.unwrap();
    engine.try_connect(m(1), m(3)).await.unwrap();
    assert_eq!(
        engine.try_connect(m(4), m(1)).await,
        Err(RelationError::ConnectionLimit {
            member: m(1),
            max: 2
        })
    );
    assert!(!engine.are_connected(m(4), m(1)).await.unwrap(), "undone");
    engine.try_connect(m(2), m(1)).await.expect("no growth");
    engine.try_follow(m(5), m(6)).await.unwrap();
    assert_eq!(
        engine.try_follow(m(5), m(7)).await,
        Err(RelationError::FollowLimit {
            member: m(5),
            max: 1
        })
    );
}

/// Whether the raw state shows `register_email(1, email)` has made its first write.
async fn first_write_seen(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    email: &str,
) -> bool {
    let in_set: i64 = redis::cmd("SISMEMBER")
        .arg(format!("{{{prefix}:1}}:em"))
        .arg(email)
        .query_async(conn)
        .await
        .unwrap();
    let owner: Option<String> = redis::cmd("GET")
        .arg(format!("{{{prefix}:@{email}}}"))
        .query_async(conn)
        .await
        .unwrap();
    in_set == 1 || owner.is_some()
}

/// A registration dropped between its steps (a gateway cancels a request whose
/// client went away) never lets the member pass, in a contacts check, for an
/// address another member then registers.
#[tokio::test]
async fn a_registration_dropped_half_way_claims_no_one_elses_address() {
    use std::future::Future;
    let Some(b) = builder(STANDALONE, "dropped") else {
        return;
    };
    let limits = MemberLimits {
        max_emails: 1,
        ..MemberLimits::default()
    };
    let engine = b
        .policy(quiet())
        .limits(limits)
        .clock(clock())
        .connect()
        .await
        .unwrap();
    let prefix = prefix_of(&engine);
    let mut conn = raw(STANDALONE).await.unwrap();
    let email = "victim@example.com";
    {
        let mut fut = Box::pin(engine.register_email(MemberId(1), email));
        loop {
            let step =
                std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
            assert!(step.is_pending(), "finished before it could be dropped");
            tokio::time::sleep(Duration::from_millis(30)).await;
            if first_write_seen(&mut conn, &prefix, email).await {
                break;
            }
        }
    }
    // The address's rightful owner registers it, if it is still free, and a third
    // member lists it as a contact and takes invitations from contacts only.
    let taken = engine.register_email(MemberId(2), email).await;
    engine.import_contacts(MemberId(3), [email]).await.unwrap();
    engine
        .set_invite_setting(MemberId(3), InviteSetting::ContactsOnly)
        .await
        .unwrap();
    let owner: Option<String> = redis::cmd("GET")
        .arg(format!("{{{prefix}:@{email}}}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let passes = engine.send(req(1, 3)).await.is_ok();
    assert!(
        !passes || owner.as_deref() == Some("1"),
        "member 1 passes for {email}, owned by {owner:?} (member 2: {taken:?})"
    );
    // Whatever the step it stopped at, member 1 can complete or undo it, and its
    // address count is not held by an address it does not own.
    if owner.as_deref() == Some("1") {
        engine.register_email(MemberId(1), email).await.unwrap();
        assert!(engine.send(req(1, 3)).await.is_ok(), "now it is member 1's");
        engine.unregister_email(MemberId(1), email).await.unwrap();
    } else {
        let _ = engine.unregister_email(MemberId(1), email).await;
    }
    engine
        .register_email(MemberId(1), "own@example.com")
        .await
        .expect("member 1 holds no address, so one fits under the cap");
}

/// Every attempt is recorded for the burst signal, denied ones included; only the
/// latest `max` are kept, so hammering through a denial does not grow the set.
#[tokio::test]
async fn hammering_keeps_only_the_attempts_the_burst_rule_reads() {
    let Some(b) = builder(STANDALONE, "hammer") else {
        return;
    };
    let engine = b.clock(clock()).connect().await.unwrap();
    let prefix = prefix_of(&engine);
    let mut conn = raw(STANDALONE).await.unwrap();
    let mut denied = 0;
    for r in 0..200 {
        if engine.send(req(1, 1_000 + r)).await.is_err() {
            denied += 1;
        }
    }
    assert!(denied >= 190, "the burst signal denies: {denied}");
    let burst = Policy::default().spam.burst.expect("on by default").max;
    let kept: i64 = redis::cmd("ZCARD")
        .arg(format!("{{{prefix}:1}}:a"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, i64::from(burst));
}

/// Polls `fut` once unless it has finished (a poll sends at most one command), then
/// lets the reply arrive; whether it has finished now.
async fn step<F: std::future::Future + Unpin>(fut: &mut F, done: &mut bool) {
    if !*done {
        *done = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx).is_ready())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
}

/// A member racing its own registration and unregistration of one address (each
/// call's steps interleaved with the other's) never ends with the address in its
/// set but not its own: else a later owner's address would pass for the member's.
#[tokio::test]
async fn racing_register_and_unregister_leave_no_unowned_address_in_the_set() {
    let Some(b) = builder(STANDALONE, "race") else {
        return;
    };
    let engine = b.policy(quiet()).clock(clock()).connect().await.unwrap();
    let prefix = prefix_of(&engine);
    let mut conn = raw(STANDALONE).await.unwrap();
    // Loads the scripts, so each step below is one command.
    engine
        .register_email(MemberId(9), "warm@x.co")
        .await
        .unwrap();
    engine
        .unregister_email(MemberId(9), "warm@x.co")
        .await
        .unwrap();
    let email = "race@x.co";
    // Interleavings of register (R) and unregister (U), as the order of their steps.
    let schedules: [&[u8]; 5] = [
        b"URURUUUU",
        b"URUURRRR",
        b"RUURRRRR",
        b"UURRRRRR",
        b"RRUUUURR",
    ];
    for schedule in schedules {
        engine.register_email(MemberId(1), email).await.unwrap();
        let mut r = Box::pin(engine.register_email(MemberId(1), email));
        let mut u = Box::pin(engine.unregister_email(MemberId(1), email));
        let (mut r_done, mut u_done) = (false, false);
        for &who in schedule {
            if who == b'R' {
                step(&mut r, &mut r_done).await;
            } else {
                step(&mut u, &mut u_done).await;
            }
        }
        while !(r_done && u_done) {
            step(&mut r, &mut r_done).await;
            step(&mut u, &mut u_done).await;
        }
        let in_set: i64 = redis::cmd("SISMEMBER")
            .arg(format!("{{{prefix}:1}}:em"))
            .arg(email)
            .query_async(&mut conn)
            .await
            .unwrap();
        let owner: Option<String> = redis::cmd("GET")
            .arg(format!("{{{prefix}:@{email}}}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            in_set == 0 || owner.as_deref() == Some("1"),
            "{}: in the set, owned by {owner:?}",
            String::from_utf8_lossy(schedule)
        );
        // Clean for the next schedule.
        let _ = engine.unregister_email(MemberId(1), email).await;
        let _: i64 = redis::cmd("SREM")
            .arg(format!("{{{prefix}:1}}:em"))
            .arg(email)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
