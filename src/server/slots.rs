//! What every command does with the values under its keys: checks they hold the
//! members named, creates, settles the clock, drops what holds nothing; and how a
//! request is read (note, key, email) exactly as the in-memory engine reads it.

use crate::account::InviteSetting;
use crate::outcome::InviteError;
use crate::request::InviteRequest;
use crate::rules::precedence::Subject;
use crate::rules::recipient::EmailMatch;
use crate::rules::Rules;
use crate::server::op::Request;
use crate::server::{CommandError, MemberValue, Reply};

/// A stored value's slot: `None` when the key holds nothing.
pub(super) type Slot = Option<MemberValue>;

/// The recipient's value in a two-key command.
pub(crate) enum Other<'a> {
    /// The keys are one key: the sender is the recipient.
    Same,
    Value(&'a Slot),
}

pub(crate) fn other(
    second: Option<&mut Slot>,
    recipient: u64,
    sender: u64,
) -> Result<Other<'_>, CommandError> {
    match second {
        Some(slot) => owned(slot, recipient).map(|_| Other::Value(slot)),
        None if recipient == sender => Ok(Other::Same),
        None => Err(same_key()),
    }
}

pub(crate) fn same_key() -> CommandError {
    CommandError::new("the two keys are one key but the command names two members")
}

/// `[what]` or `[what, detail]`: a request refused for a reason the caller can act on.
pub(crate) fn refused(what: &str, detail: Option<Reply>) -> Reply {
    let mut items = vec![Reply::text(what)];
    items.extend(detail);
    Reply::Array(items)
}

impl From<u32> for Reply {
    fn from(n: u32) -> Reply {
        Reply::Int(i64::from(n))
    }
}

pub(crate) fn invite_request(r: &Request) -> InviteRequest {
    let mut req = InviteRequest::new(crate::MemberId(r.sender), crate::MemberId(r.recipient));
    if let Some(n) = &r.note {
        req = req.note(n.as_str());
    }
    if let Some(k) = r.key {
        req = req.idempotency_key(k);
    }
    if let Some((email, _)) = &r.email {
        req = req.recipient_email(email.as_str());
    }
    req
}

/// What the request's email says, as the in-memory engine reads it: given when it
/// is valid and not another member's.
pub(crate) fn email_match(r: &Request) -> EmailMatch {
    match &r.email {
        Some((raw, owner)) if crate::email::normalize(raw).is_ok() => EmailMatch {
            given: owner.is_none_or(|o| o == r.recipient),
            owner: *owner,
        },
        _ => EmailMatch {
            given: false,
            owner: None,
        },
    }
}

/// The request prepared for judging, as the in-memory engine prepares it.
pub(crate) fn subject(req: &InviteRequest) -> Subject<'_> {
    Subject {
        sender: req.sender().0,
        recipient: req.recipient().0,
        note: req.trimmed_note(),
        key: req.key(),
    }
}

/// Checks that the value under a key belongs to member `id`.
pub(crate) fn check(value: Option<&MemberValue>, id: u64) -> Result<(), CommandError> {
    match value {
        Some(v) if v.member.id != id => Err(CommandError::new(format!(
            "the key holds member {}, not member {id}",
            v.member.id
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn owned(slot: &Slot, id: u64) -> Result<&Slot, CommandError> {
    check(slot.as_ref(), id).map(|_| slot)
}

pub(crate) fn created(slot: &mut Slot, id: u64) -> &mut MemberValue {
    slot.get_or_insert_with(|| MemberValue::new(id))
}

/// The answer about an invitation of a member with no stored value.
pub(crate) fn unknown(sender: u64, seq: u64) -> Reply {
    let id = crate::InviteId::new(crate::MemberId(sender), seq);
    Reply::invite_error(&InviteError::Unknown(id))
}

/// After a change: the member's clock moves to `at`, and a value that holds
/// nothing that changes an answer is dropped.
pub(crate) fn finish(slot: &mut Slot, at: u64, rules: &Rules) {
    if let Some(v) = slot.as_mut() {
        v.clock = v.clock.max(at);
        if v.member.is_idle(at, |s| s.idle_at(&rules.policy.spam))
            && v.idle_at(rules).is_some_and(|t| t <= at)
        {
            *slot = None;
        }
    }
}

/// The recipient's value a one-key send carries (`PEER`), checked to be theirs,
/// or made from the facts it carries (`FACTS`) when those decide the admission;
/// `None` when the command is not of the one-key form.
pub(crate) fn peer(r: &Request, rules: &Rules) -> Result<Option<Slot>, CommandError> {
    let Some(bytes) = &r.peer else {
        return Ok(None);
    };
    if let Some((banned, setting)) = r.facts {
        // Shared connections, contacts and follows are not in the facts: they decide
        // only for the settings between everyone and nobody, and for the strangers
        // signal.
        let relations = !matches!(setting, InviteSetting::Everyone | InviteSetting::Nobody);
        if relations || rules.policy.spam.strangers.is_some() {
            return Err(CommandError::new(
                "the recipient's relations decide this send: give PEER, not FACTS",
            ));
        }
        let mut value = MemberValue::new(r.recipient);
        value.member.setting = setting;
        if banned {
            value.member.set_status(crate::AccountStatus::Banned);
        }
        return Ok(Some(Some(value)));
    }
    let value = bytes.as_deref().map(MemberValue::decode).transpose()?;
    check(value.as_ref(), r.recipient)?;
    Ok(Some(value))
}
