//! Recipients' invite settings, relations, contacts and email invitations.

use invite_limiter::*;

mod common;

fn engine() -> (Engine, ManualClock) {
    common::engine_with(common::quiet_policy())
}

const A: MemberId = MemberId(1);
const B: MemberId = MemberId(2);
const C: MemberId = MemberId(3);

fn reason(e: &Engine, req: InviteRequest) -> Option<DenyReason> {
    e.send(req).err().map(|d| *d.reason())
}

#[test]
fn every_setting_admits_exactly_its_senders() {
    let (e, _) = engine();
    e.register_email(A, "a@example.com").unwrap();
    e.register_email(B, "b@example.com").unwrap();
    let not_accepting = |setting| Some(DenyReason::RecipientNotAccepting { setting });

    e.set_invite_setting(B, InviteSetting::Nobody);
    assert_eq!(
        reason(&e, InviteRequest::new(A, B)),
        not_accepting(InviteSetting::Nobody)
    );

    e.set_invite_setting(B, InviteSetting::EmailOrContacts);
    let s = InviteSetting::EmailOrContacts;
    assert_eq!(reason(&e, InviteRequest::new(A, B)), not_accepting(s));
    assert_eq!(
        reason(
            &e,
            InviteRequest::new(A, B).recipient_email("wrong@example.com")
        ),
        not_accepting(s)
    );
    assert_eq!(
        reason(
            &e,
            InviteRequest::new(A, B).recipient_email(" B@Example.com ")
        ),
        None
    );
    e.import_contacts(B, ["A@EXAMPLE.COM"]).unwrap();
    assert_eq!(reason(&e, InviteRequest::new(A, B)), None);

    e.set_invite_setting(B, InviteSetting::ContactsOnly);
    assert_eq!(reason(&e, InviteRequest::new(A, B)), None);
    e.import_contacts(B, ["someone@else.org"]).unwrap();
    let s = InviteSetting::ContactsOnly;
    assert_eq!(reason(&e, InviteRequest::new(A, B)), not_accepting(s));
    // An email alone is not enough for ContactsOnly.
    assert_eq!(
        reason(
            &e,
            InviteRequest::new(A, B).recipient_email("b@example.com")
        ),
        not_accepting(s)
    );

    e.set_invite_setting(B, InviteSetting::NetworkOnly);
    let s = InviteSetting::NetworkOnly;
    let d = MemberId(4);
    assert_eq!(reason(&e, InviteRequest::new(d, B)), not_accepting(s));
    e.connect(d, C);
    assert_eq!(reason(&e, InviteRequest::new(d, B)), not_accepting(s));
    e.connect(C, B);
    assert_eq!(reason(&e, InviteRequest::new(d, B)), None);
    // A shares no connection with B: the setting denies before the pair cap would.
    assert_eq!(
        reason(&e, InviteRequest::new(A, B)),
        Some(DenyReason::RecipientNotAccepting { setting: s })
    );
}

#[test]
fn following_only_and_everyone() {
    let (e, _) = engine();
    e.set_invite_setting(B, InviteSetting::FollowingOnly);
    let s = InviteSetting::FollowingOnly;
    assert_eq!(
        reason(&e, InviteRequest::new(A, B)),
        Some(DenyReason::RecipientNotAccepting { setting: s })
    );
    // The sender following the recipient is not the same thing.
    e.follow(A, B);
    assert!(reason(&e, InviteRequest::new(A, B)).is_some());
    e.follow(B, A);
    assert!(e.follows(B, A));
    assert_eq!(reason(&e, InviteRequest::new(A, B)), None);
    e.unfollow(B, A);
    assert!(reason(&e, InviteRequest::new(A, B)).is_some());
    e.set_invite_setting(B, InviteSetting::Everyone);
    assert_eq!(reason(&e, InviteRequest::new(A, B)), None);
}

#[test]
fn banned_recipient_and_connections() {
    let (e, _) = engine();
    e.set_status(B, AccountStatus::Banned);
    assert_eq!(
        reason(&e, InviteRequest::new(A, B)),
        Some(DenyReason::RecipientUnavailable)
    );
    e.set_status(B, AccountStatus::Active);
    e.connect(A, C);
    assert!(e.are_connected(C, A));
    assert_eq!(
        reason(&e, InviteRequest::new(C, A)),
        Some(DenyReason::AlreadyConnected)
    );
    e.disconnect(C, A);
    assert!(!e.are_connected(A, C));
    assert_eq!(reason(&e, InviteRequest::new(C, A)), None);
    // Connecting a member to themselves does nothing.
    e.connect(A, A);
    assert!(!e.are_connected(A, A));
    assert_eq!(e.connection_count(A), 0);
}

#[test]
fn emails_belong_to_one_member_and_bad_ones_change_nothing() {
    let (e, _) = engine();
    e.register_email(A, " Ada@Example.com").unwrap();
    e.register_email(A, "ada@example.com")
        .expect("re-registering one's own is fine");
    let err = e.register_email(B, "ADA@example.com").unwrap_err();
    assert_eq!(
        err,
        EmailError::Taken {
            email: "ada@example.com".into(),
            owner: A
        }
    );
    assert_eq!(e.resolve_email("ada@EXAMPLE.com").unwrap(), Some(A));
    assert_eq!(e.resolve_email("nobody@example.com").unwrap(), None);
    assert!(matches!(
        e.register_email(B, "not an email"),
        Err(EmailError::Invalid(_))
    ));

    e.import_contacts(C, ["x@example.com", "y@example.com"])
        .unwrap();
    let err = e
        .import_contacts(C, ["z@example.com", "broken@", "w@example.com"])
        .unwrap_err();
    assert_eq!(err, EmailError::Invalid("broken@".into()));
    assert!(err.to_string().contains("broken@"));
    assert_eq!(e.contacts(C), vec!["x@example.com", "y@example.com"]);
    // A re-sync replaces the list; duplicates fold.
    e.import_contacts(C, ["Y@example.com", "y@example.com "])
        .unwrap();
    assert_eq!(e.contacts(C), vec!["y@example.com"]);
}

#[test]
fn send_by_email_resolves_the_member() {
    let (e, _) = engine();
    e.register_email(B, "b@example.com").unwrap();
    let sent = e.send_by_email(A, "B@example.com").unwrap();
    assert_eq!(sent.id().sender(), A);
    assert_eq!(e.pending_between(A, B), 1);
    assert!(matches!(
        e.send_by_email(A, "ghost@example.com"),
        Err(EmailInviteError::NotAMember(_))
    ));
    assert!(matches!(
        e.send_by_email(A, "ghost"),
        Err(EmailInviteError::Invalid(_))
    ));
}

#[test]
fn bulk_contact_invites_report_each_and_stop_at_the_limit() {
    let mut policy = Policy::default();
    policy.free.daily = 3;
    let (e, _) = common::engine_with(policy);
    let owner = MemberId(10);
    let mut book = vec![
        "stranger@nowhere.org".to_string(),
        "me@example.com".to_string(),
    ];
    e.register_email(owner, "me@example.com").unwrap();
    for i in 0..6u64 {
        let email = format!("m{i}@example.com");
        e.register_email(MemberId(100 + i), &email).unwrap();
        book.push(email);
    }
    e.connect(owner, MemberId(100));
    e.import_contacts(owner, &book).unwrap();

    let report = e.invite_contacts(owner);
    let outcomes: Vec<_> = report.contacts.iter().map(|c| c.outcome.clone()).collect();
    assert_eq!(outcomes[0], ContactOutcome::NotAMember);
    assert_eq!(outcomes[1], ContactOutcome::Own);
    assert_eq!(outcomes[2], ContactOutcome::AlreadyConnected);
    assert!(matches!(outcomes[3], ContactOutcome::Sent(_)));
    assert_eq!(
        report.sent(),
        3,
        "ten-a-minute bursts do not stop one bulk action"
    );
    let ContactOutcome::Denied(d) = &outcomes[6] else {
        panic!("the fourth send must be denied: {outcomes:?}")
    };
    assert!(matches!(d.reason(), DenyReason::DailyLimit { .. }));
    let stopped = report.stopped.expect("the run stops at the limit");
    assert_eq!(stopped.remaining, 1);
    assert_eq!(stopped.retry_at, d.retry_at());
    assert_eq!(e.capacity(owner).daily.used, 3);
}
