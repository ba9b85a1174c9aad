//! Recipient admission: what a recipient's record says about a sender, read under
//! the recipient's lock and handed to the sender's state machine as a [`View`].

use crate::account::InviteSetting;
use crate::rules::precedence::Subject;
use crate::rules::recipient::{EmailMatch, View};
use crate::sender::record::{Extra, Member};
use crate::time::Timestamp;

/// What `recipient`'s facts say about `sender` for the send `s` at `now`: whether
/// the recipient is banned, whether their invite setting admits the sender, and
/// (with the strangers signal on) whether the two are strangers.
pub(crate) fn admission(
    sender: Option<&Member>,
    recipient: Option<&Member>,
    s: &Subject<'_>,
    email: EmailMatch,
    now: u64,
    strangers: bool,
) -> View {
    let sx = sender.and_then(|m| m.extra.as_deref());
    let rx = recipient.and_then(|m| m.extra.as_deref());
    let status = recipient.map(|m| m.status().at(Timestamp::from_millis(now)));
    let setting = recipient.map_or(InviteSetting::Everyone, |m| m.setting);
    // "A is in B's contacts": one of A's registered emails is in B's imported list.
    let in_contacts = |a: Option<&Extra>, b: Option<&Extra>| match (a, b) {
        (Some(a), Some(b)) => a.emails.iter().any(|e| b.contact_set.contains(e)),
        _ => false,
    };
    let shared = || shared_connection(sender, recipient);
    let admits = match setting {
        InviteSetting::Everyone => true,
        InviteSetting::EmailOrContacts => email.owner == Some(s.recipient) || in_contacts(sx, rx),
        InviteSetting::ContactsOnly => in_contacts(sx, rx),
        InviteSetting::NetworkOnly => shared(),
        InviteSetting::FollowingOnly => rx.is_some_and(|x| x.follows.contains(&s.sender)),
        InviteSetting::Nobody => false,
    };
    let stranger =
        strangers && !email.given && !in_contacts(sx, rx) && !in_contacts(rx, sx) && !shared();
    View {
        banned: status == Some(crate::AccountStatus::Banned),
        setting,
        admits,
        stranger,
    }
}

/// Whether the two members share a connection: probes the smaller set into the larger,
/// so the cost is at most the smaller member's number of connections.
fn shared_connection(a: Option<&Member>, b: Option<&Member>) -> bool {
    let (Some(a), Some(b)) = (
        a.and_then(Member::connections),
        b.and_then(Member::connections),
    ) else {
        return false;
    };
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.iter().any(|c| large.contains(c))
}
