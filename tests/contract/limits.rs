//! The member caps and unregistering an email, on every engine.

use invite_limiter::MemberLimits;
use invite_limiter::{EmailError, InviteRequest, InviteSetting, Limiter, ManualClock, MemberId};

/// The caps every engine of the suite is built with: small, so a test reaches them.
pub(crate) fn limits() -> MemberLimits {
    MemberLimits {
        max_connections: 5,
        max_follows: 5,
        max_emails: 3,
        max_contacts: 10,
    }
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

fn contact(i: u64) -> String {
    format!("c{i}@example.com")
}

pub(crate) async fn emails_are_capped_and_can_be_unregistered<L: Limiter>(l: L, _c: ManualClock) {
    let m = MemberId(1);
    for i in 0..3 {
        l.register_email(m, &format!("one{i}@example.com"))
            .await
            .unwrap();
    }
    l.register_email(m, "ONE0@example.com")
        .await
        .expect("an own address again is fine at the cap");
    assert_eq!(
        l.register_email(m, "one3@example.com").await,
        Err(EmailError::TooManyEmails { member: m, max: 3 })
    );
    // Another member's address is not theirs to remove.
    l.register_email(MemberId(2), "two@example.com")
        .await
        .unwrap();
    assert!(matches!(
        l.unregister_email(m, "two@example.com").await,
        Err(EmailError::NotRegistered { .. })
    ));
    assert!(matches!(
        l.register_email(m, "two@example.com").await,
        Err(EmailError::Taken { .. })
    ));
    assert!(matches!(
        l.unregister_email(m, "nobody@example.com").await,
        Err(EmailError::NotRegistered { .. })
    ));
    assert!(matches!(
        l.unregister_email(m, "not-an-email").await,
        Err(EmailError::Invalid(_))
    ));
    l.unregister_email(m, " One1@Example.com ").await.unwrap();
    l.register_email(m, "one3@example.com")
        .await
        .expect("room again after unregistering");
    // The freed address is anyone's now, and no longer says "member 1".
    l.register_email(MemberId(3), "one1@example.com")
        .await
        .unwrap();
    l.set_invite_setting(MemberId(4), InviteSetting::ContactsOnly)
        .await
        .unwrap();
    l.import_contacts(MemberId(4), vec!["one1@example.com".to_string()])
        .await
        .unwrap();
    assert!(
        l.send(req(1, 4)).await.is_err(),
        "member 1 left that address"
    );
    assert!(l.send(req(3, 4)).await.is_ok(), "member 3 owns it now");
}

pub(crate) async fn contact_imports_are_capped<L: Limiter>(l: L, _c: ManualClock) {
    let (owner, friend) = (MemberId(10), MemberId(11));
    l.set_invite_setting(owner, InviteSetting::ContactsOnly)
        .await
        .unwrap();
    l.register_email(friend, &contact(0)).await.unwrap();
    let full: Vec<String> = (0..10).map(contact).collect();
    l.import_contacts(owner, full.clone()).await.unwrap();
    assert!(l.send(req(11, 10)).await.is_ok());
    // Duplicates (after folding) do not count against the cap.
    let mut repeated = full.clone();
    repeated.extend(full.iter().map(|e| e.to_uppercase()));
    l.import_contacts(owner, repeated).await.unwrap();
    // One more distinct entry is refused, and the previous list stays.
    let over: Vec<String> = (1..12).map(contact).collect();
    assert_eq!(
        l.import_contacts(owner, over).await,
        Err(EmailError::TooManyContacts { max: 10 })
    );
    assert!(l.send(req(11, 10)).await.is_ok(), "the previous list holds");
}

pub(crate) async fn connections_and_follows_stop_at_their_caps<L: Limiter>(l: L, _c: ManualClock) {
    let m = MemberId(1);
    for other in 100..105 {
        l.connect(m, MemberId(other)).await.unwrap();
    }
    l.connect(m, MemberId(104))
        .await
        .expect("an existing connection again");
    l.connect(m, MemberId(105))
        .await
        .expect("a setter does not fail");
    assert!(!l.are_connected(m, MemberId(105)).await.unwrap());
    assert!(!l.are_connected(MemberId(105), m).await.unwrap());
    // The cap of the other side holds too, and nothing is left half done.
    l.connect(MemberId(106), m).await.unwrap();
    assert!(!l.are_connected(MemberId(106), m).await.unwrap());
    l.disconnect(m, MemberId(100)).await.unwrap();
    l.connect(MemberId(106), m).await.unwrap();
    assert!(l.are_connected(m, MemberId(106)).await.unwrap());

    // Member 20 follows five members, then a sixth past the cap.
    let f = MemberId(20);
    l.set_invite_setting(f, InviteSetting::FollowingOnly)
        .await
        .unwrap();
    for other in 30..35 {
        l.follow(f, MemberId(other)).await.unwrap();
    }
    l.follow(f, MemberId(40)).await.unwrap();
    assert!(l.send(req(30, 20)).await.is_ok());
    assert!(
        l.send(req(40, 20)).await.is_err(),
        "the sixth follow was refused"
    );
    l.unfollow(f, MemberId(31)).await.unwrap();
    l.follow(f, MemberId(40)).await.unwrap();
    assert!(l.send(req(40, 20)).await.is_ok());
}
