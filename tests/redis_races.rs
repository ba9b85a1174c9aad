//! The Redis engine under interleavings a gateway produces: calls dropped between
//! their steps (a client that went away), calls of one member racing each other,
//! and a client hammering through a denial. Each test reads the keys of the Lua
//! script's steps, so it runs on the script even where the server has the module.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::Duration;

use invite_limiter::redis::{RedisBuilder, ServerSide};
use invite_limiter::{
    InviteRequest, InviteSetting, ManualClock, MemberId, MemberLimits, Policy, SpamPolicy,
    Timestamp,
};
use redis_support::{builder, prefix_of, raw, STANDALONE};

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

/// An engine on the standalone server's Lua script, whose keys the tests read.
fn on_script(name: &str) -> Option<RedisBuilder> {
    Some(builder(STANDALONE, name)?.server_side(ServerSide::Script))
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
    let Some(b) = on_script("dropped") else {
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
    let Some(b) = on_script("hammer") else {
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
    let Some(b) = on_script("race") else {
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

/// An import dropped after its first step leaves its staging key for minutes, not
/// a day: interrupted imports cannot pile up on the server.
#[tokio::test]
async fn a_dropped_import_leaves_its_staging_key_briefly() {
    let Some(b) = on_script("staged") else {
        return;
    };
    let engine = b.policy(quiet()).clock(clock()).connect().await.unwrap();
    let prefix = prefix_of(&engine);
    let mut conn = raw(STANDALONE).await.unwrap();
    // Loads the scripts, so each step below is one command.
    engine
        .import_contacts(MemberId(2), ["a@x.co"])
        .await
        .unwrap();
    let contacts: Vec<String> = (0..1_200).map(|i| format!("c{i}@x.co")).collect();
    let mut fut = Box::pin(engine.import_contacts(MemberId(1), contacts));
    let mut done = false;
    step(&mut fut, &mut done).await;
    step(&mut fut, &mut done).await;
    assert!(!done, "dropped half way");
    drop(fut);
    let staged: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}:1}}:e:import:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(staged.len(), 1, "{staged:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&staged[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 300_000, "{ttl} ms");
}
