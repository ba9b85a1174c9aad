//! Member caps on the in-memory engine: refusals that say why, the silent setters'
//! count, the builder's checks, and unregistering an email through the journal and
//! snapshots.

#[path = "journal/common.rs"]
mod common;

use common::{m, TempDir, T0};
use invite_limiter::*;

fn engine(limits: MemberLimits) -> Engine {
    Engine::builder()
        .clock(ManualClock::new(Timestamp::from_millis(T0)))
        .limits(limits)
        .build()
        .expect("valid")
}

fn small() -> MemberLimits {
    MemberLimits {
        max_connections: 2,
        max_follows: 2,
        max_emails: 2,
        max_contacts: 3,
    }
}

#[test]
fn defaults_are_documented_figures() {
    let d = MemberLimits::default();
    assert_eq!(
        (
            d.max_connections,
            d.max_follows,
            d.max_emails,
            d.max_contacts
        ),
        (30_000, 30_000, 10, 5_000)
    );
}

#[test]
fn a_zero_cap_is_a_config_error_naming_it() {
    let zero = MemberLimits {
        max_follows: 0,
        ..MemberLimits::default()
    };
    let err = Engine::builder().limits(zero).build().unwrap_err();
    assert_eq!(err.field(), "limits.max_follows");
    assert!(err.to_string().contains("limits.max_follows"), "{err}");
}

#[test]
fn try_connect_names_the_member_at_the_cap_and_connect_counts_it() {
    let e = engine(small());
    e.try_connect(m(1), m(2)).unwrap();
    e.try_connect(m(1), m(3)).unwrap();
    e.try_connect(m(1), m(3))
        .expect("an existing connection is no growth");
    assert_eq!(
        e.try_connect(m(4), m(1)),
        Err(RelationError::ConnectionLimit {
            member: m(1),
            max: 2
        })
    );
    assert!(!e.are_connected(m(4), m(1)) && !e.are_connected(m(1), m(4)));
    assert_eq!(e.connection_count(m(4)), 0, "nothing half done");
    assert_eq!(
        e.refused_relations(),
        0,
        "try_connect reports, it does not count"
    );
    e.connect(m(1), m(5));
    e.connect(m(5), m(1));
    assert_eq!(e.refused_relations(), 2);
    assert_eq!(e.connection_count(m(1)), 2);
    // Accepting an invitation connects whatever the counts.
    let sent = e.send(InviteRequest::new(m(6), m(1))).unwrap();
    e.accept(sent.id()).unwrap();
    assert!(e.are_connected(m(1), m(6)));
}

#[test]
fn try_follow_names_the_follower_at_the_cap() {
    let e = engine(small());
    e.try_follow(m(1), m(2)).unwrap();
    e.try_follow(m(1), m(3)).unwrap();
    let err = e.try_follow(m(1), m(4)).unwrap_err();
    assert_eq!(
        err,
        RelationError::FollowLimit {
            member: m(1),
            max: 2
        }
    );
    assert!(err.to_string().contains("unfollow"), "{err}");
    e.follow(m(1), m(4));
    assert!(!e.follows(m(1), m(4)));
    assert_eq!(e.refused_relations(), 1);
    e.unfollow(m(1), m(2));
    e.try_follow(m(1), m(4)).unwrap();
}

#[test]
fn a_refused_import_keeps_the_previous_list() {
    let e = engine(small());
    e.import_contacts(m(1), ["a@x.co", "b@x.co"]).unwrap();
    let err = e
        .import_contacts(m(1), ["c@x.co", "d@x.co", "C@X.CO", "e@x.co", "f@x.co"])
        .unwrap_err();
    assert_eq!(err, EmailError::TooManyContacts { max: 3 });
    assert!(err.to_string().contains('3'), "{err}");
    assert_eq!(e.contacts(m(1)), ["a@x.co", "b@x.co"]);
}

/// Addresses are stored per member: one longer than a mail path allows (254 bytes)
/// is invalid wherever an address is taken, so no import holds megabytes.
#[test]
fn an_address_longer_than_a_mail_path_is_invalid_everywhere() {
    let e = engine(MemberLimits::default());
    let long = format!("{}@example.com", "x".repeat(243));
    assert_eq!(long.len(), 255);
    let invalid = |r: Result<(), EmailError>| matches!(r, Err(EmailError::Invalid(_)));
    assert!(invalid(e.register_email(m(1), &long)));
    assert!(invalid(e.import_contacts(m(1), ["a@x.co", long.as_str()])));
    assert!(matches!(
        e.resolve_email(&long),
        Err(EmailError::Invalid(_))
    ));
    assert!(e.send_by_email(m(2), &long).is_err());
    let huge = format!("{}@example.com", "x".repeat(50 << 20));
    assert!(invalid(e.register_email(m(1), &huge)));
    assert_eq!(e.email_count(m(1)), 0);
    assert!(e.contacts(m(1)).is_empty());
    e.register_email(m(1), &long[1..]).expect("254 bytes fit");
}

#[test]
fn unregistering_is_journaled_and_snapshotted_and_replay_keeps_past_registrations() {
    let dir = TempDir::new("unregister");
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let open = |limits: MemberLimits| {
        Engine::builder()
            .clock(clock.clone())
            .limits(limits)
            .persistence(dir.path(), Durability::SyncEachDecision)
            .open()
            .expect("open")
    };
    let e = open(MemberLimits::default());
    for i in 0..3 {
        e.register_email(m(1), &format!("a{i}@x.co")).unwrap();
    }
    e.unregister_email(m(1), "a0@x.co").unwrap();
    drop(e);
    // A lower cap refuses new addresses but keeps the journaled ones.
    let e = open(small());
    assert_eq!(e.resolve_email("a0@x.co"), Ok(None));
    assert_eq!(e.resolve_email("a1@x.co"), Ok(Some(m(1))));
    assert_eq!(e.email_count(m(1)), 2);
    assert_eq!(
        e.register_email(m(1), "a3@x.co"),
        Err(EmailError::TooManyEmails {
            member: m(1),
            max: 2
        })
    );
    e.register_email(m(2), "a0@x.co").expect("freed");
    e.checkpoint().expect("checkpoint");
    e.unregister_email(m(1), "a2@x.co").unwrap();
    drop(e);
    let e = open(small());
    let report = e.recovery_report().expect("persistent");
    assert!(report.snapshot.is_some() && report.skipped == 0, "{report}");
    assert_eq!(e.resolve_email("a0@x.co"), Ok(Some(m(2))));
    assert_eq!(e.resolve_email("a2@x.co"), Ok(None));
    assert_eq!(e.email_count(m(1)), 1);
    e.register_email(m(1), "a3@x.co").expect("room again");
}

#[test]
fn a_snapshot_round_trip_keeps_each_members_addresses() {
    let e = engine(MemberLimits::default());
    for i in 0..10 {
        e.register_email(m(i % 3), &format!("p{i}@x.co")).unwrap();
    }
    e.unregister_email(m(0), "p3@x.co").unwrap();
    let mut bytes = Vec::new();
    e.snapshot(&mut bytes).unwrap();
    let back = Engine::builder()
        .clock(ManualClock::new(Timestamp::from_millis(T0)))
        .restore(&mut bytes.as_slice())
        .unwrap();
    for i in 0..10 {
        let want = (i != 3).then_some(m(i % 3));
        assert_eq!(back.resolve_email(&format!("p{i}@x.co")), Ok(want), "p{i}");
    }
    assert_eq!(back.email_count(m(0)), 3);
}
