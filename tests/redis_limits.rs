//! The Redis engine's bounds: build-time refusals of huge durations, stored codes it
//! did not write, email keys that keep their hash tag, capped and chunked contact
//! imports, capped relations, and caps that differ between gateways.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::Duration;

use invite_limiter::redis::{BreakerPolicy, RedisEngine, RedisSetupError, RedisTarget, ServerSide};
use invite_limiter::{
    DenyReason, EmailError, InviteRequest, InviteSetting, ManualClock, MemberId, MemberLimits,
    Outage, Policy, RelationError, SpamPolicy, Timestamp,
};
use redis_support::{builder, prefix_of, raw, CLUSTER, STANDALONE};

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

#[tokio::test]
async fn stored_tier_or_status_codes_it_did_not_write_are_bad_data() {
    let Some(b) = builder(STANDALONE, "codes") else {
        return;
    };
    let mut conn = raw(STANDALONE).await.unwrap();
    // The codes are written into the script's member hash.
    let b = b.server_side(ServerSide::Script);
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
    // The contact list and its staging keys read below are the script's.
    let b = b.server_side(ServerSide::Script);
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

/// Gateways with one policy but different member caps on one server each keep their
/// own caps, whichever connected last (on the module too, where the caps are
/// registered with the policy).
#[tokio::test]
async fn gateways_with_different_caps_keep_their_own() {
    let Some(b) = builder(STANDALONE, "caps-small") else {
        return;
    };
    let small = MemberLimits {
        max_emails: 2,
        ..MemberLimits::default()
    };
    let capped = b.policy(quiet()).limits(small).connect().await.unwrap();
    let roomy = builder(STANDALONE, "caps-default")
        .unwrap()
        .policy(quiet())
        .connect()
        .await
        .unwrap();
    for (engine, cap) in [(&capped, 2), (&roomy, MemberLimits::default().max_emails)] {
        for i in 0..cap {
            engine
                .register_email(MemberId(1), &format!("e{i}@x.co"))
                .await
                .unwrap();
        }
        assert_eq!(
            engine.register_email(MemberId(1), "one-more@x.co").await,
            Err(EmailError::TooManyEmails {
                member: MemberId(1),
                max: cap
            })
        );
    }
}
