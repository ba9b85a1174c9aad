//! Journal records: one state change each, encoded with [`crate::codec`].
//!
//! A record's payload is a tag byte, the instant the engine acted at (`u64`), then
//! the operation's fields. A send carries the recipient's facts as the decision read
//! them and its outcome, so its replay depends on nothing outside the sender's shard.

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::codec::{DecodeError, Reader, Writer};
use crate::codes;
use crate::ids::{InviteId, MemberId};
use crate::rules::precedence::{Subject, View};
use crate::sender::ledger::Ending;

const SEND: u8 = 1;
const END: u8 = 2;
const REMIND: u8 = 3;
const SET_TIER: u8 = 4;
const SET_STATUS: u8 = 5;
const SET_SETTING: u8 = 6;
const LINK: u8 = 7;
const FOLLOW: u8 = 8;
const REGISTER_EMAIL: u8 = 9;
const IMPORT_CONTACTS: u8 = 10;
const UNREGISTER_EMAIL: u8 = 11;
const SET_POLICY: u8 = 12;
const SET_SHADOW: u8 = 13;
const SET_LIMITS: u8 = 14;

/// A journaled send, decoded.
#[derive(Debug, Clone)]
pub(crate) struct SendRecord {
    pub(crate) sender: u64,
    pub(crate) recipient: u64,
    pub(crate) note: Option<String>,
    pub(crate) key: Option<u64>,
    pub(crate) count_attempt: bool,
    pub(crate) view: View,
    /// The invitation's sequence number when it was sent; `None` when denied.
    pub(crate) sent: Option<u64>,
}

impl SendRecord {
    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            sender: self.sender,
            recipient: self.recipient,
            note: self.note.as_deref(),
            key: self.key,
        }
    }
}

/// One state change.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A send (only decoded; sends are encoded by [`encode_send`] without copying).
    Send(SendRecord),
    /// An invitation ended: accepted, declined, withdrawn or reported.
    End(Ending, InviteId),
    Remind(InviteId),
    SetTier(MemberId, Tier),
    SetStatus(MemberId, AccountStatus),
    SetInviteSetting(MemberId, InviteSetting),
    /// Connect (`true`) or disconnect.
    Link(MemberId, MemberId, bool),
    /// Follow (`true`) or unfollow.
    Follow(MemberId, MemberId, bool),
    RegisterEmail(MemberId, String),
    ImportContacts(MemberId, Vec<String>),
    UnregisterEmail(MemberId, String),
    /// The policy and the shadow set in force from this record on.
    SetPolicy(Box<crate::policy::Policy>, crate::rules::shadow::Shadow),
    /// The shadow set in force from this record on.
    SetShadow(crate::rules::shadow::Shadow),
    /// A member's own limits set (`Some`) or cleared.
    SetLimits(MemberId, Option<crate::policy::TierLimits>),
}

/// A record's bytes: inline up to 64 bytes (a send without a long note), so the hot
/// path does not allocate.
pub(crate) type Payload = smallvec::SmallVec<[u8; 64]>;

/// Encodes a send decided at `now` (the layout [`Writer`] would give).
pub(crate) fn encode_send(
    now: u64,
    s: &Subject<'_>,
    view: View,
    count_attempt: bool,
    sent: Option<u64>,
) -> Payload {
    let mut p = Payload::new();
    let opt = |p: &mut Payload, v: Option<u64>| match v {
        Some(x) => {
            p.push(1);
            p.extend_from_slice(&x.to_le_bytes());
        }
        None => p.push(0),
    };
    p.push(SEND);
    p.extend_from_slice(&now.to_le_bytes());
    p.extend_from_slice(&s.sender.to_le_bytes());
    p.extend_from_slice(&s.recipient.to_le_bytes());
    p.push(u8::from(s.note.is_some()));
    if let Some(note) = s.note {
        p.extend_from_slice(&(note.len() as u64).to_le_bytes());
        p.extend_from_slice(note.as_bytes());
    }
    opt(&mut p, s.key);
    p.push(u8::from(count_attempt));
    p.push(u8::from(view.banned));
    p.push(codes::setting_code(view.setting));
    p.push(u8::from(view.admits));
    p.push(u8::from(view.stranger));
    opt(&mut p, sent);
    p
}

fn head(w: &mut Writer, tag: u8, now: u64) {
    w.u8(tag);
    w.u64(now);
}

fn id(w: &mut Writer, id: InviteId) {
    w.u64(id.sender().0);
    w.u64(id.seq());
}

impl Op {
    /// Encodes the operation, done at `now`.
    pub(crate) fn encode(&self, now: u64) -> Payload {
        let mut w = Writer::default();
        match self {
            Op::Send(r) => {
                let subject = r.subject();
                return encode_send(now, &subject, r.view, r.count_attempt, r.sent);
            }
            Op::End(how, i) => {
                head(&mut w, END, now);
                w.u8(codes::ending_code(Some(*how)));
                id(&mut w, *i);
            }
            Op::Remind(i) => {
                head(&mut w, REMIND, now);
                id(&mut w, *i);
            }
            Op::SetTier(m, t) => {
                head(&mut w, SET_TIER, now);
                w.u64(m.0);
                w.u8(codes::tier_code(*t));
            }
            Op::SetStatus(m, status) => {
                head(&mut w, SET_STATUS, now);
                w.u64(m.0);
                codes::write_status(&mut w, *status);
            }
            Op::SetInviteSetting(m, s) => {
                head(&mut w, SET_SETTING, now);
                w.u64(m.0);
                w.u8(codes::setting_code(*s));
            }
            Op::Link(a, b, on) | Op::Follow(a, b, on) => {
                head(
                    &mut w,
                    if matches!(self, Op::Link(..)) {
                        LINK
                    } else {
                        FOLLOW
                    },
                    now,
                );
                w.u64(a.0);
                w.u64(b.0);
                w.bool(*on);
            }
            Op::RegisterEmail(m, email) | Op::UnregisterEmail(m, email) => {
                let tag = if matches!(self, Op::RegisterEmail(..)) {
                    REGISTER_EMAIL
                } else {
                    UNREGISTER_EMAIL
                };
                head(&mut w, tag, now);
                w.u64(m.0);
                w.str(email);
            }
            Op::ImportContacts(m, list) => {
                head(&mut w, IMPORT_CONTACTS, now);
                w.u64(m.0);
                w.len(list.len());
                list.iter().for_each(|e| w.str(e));
            }
            Op::SetPolicy(policy, shadow) => {
                head(&mut w, SET_POLICY, now);
                crate::policy::codec::policy(&mut w, policy);
                w.u8(shadow.bits());
            }
            Op::SetShadow(shadow) => {
                head(&mut w, SET_SHADOW, now);
                w.u8(shadow.bits());
            }
            Op::SetLimits(m, limits) => {
                head(&mut w, SET_LIMITS, now);
                w.u64(m.0);
                w.bool(limits.is_some());
                if let Some(l) = limits {
                    crate::policy::codec::limits(&mut w, l);
                }
            }
        }
        Payload::from_vec(w.into_bytes())
    }
}

fn shadow(r: &mut Reader<'_>) -> Result<crate::rules::shadow::Shadow, DecodeError> {
    match crate::rules::shadow::Shadow::from_bits(r.u8()?) {
        Some(s) => Ok(s),
        None => r.fail("unknown shadowed rule"),
    }
}

/// Decodes one record's payload, which starts at byte `base` of its file: the
/// instant and the operation. Every byte must be used, and every field is checked as
/// a snapshot's are: known codes, instants the engine accepts, and invitation
/// sequence numbers that leave room for the next.
pub(crate) fn decode(payload: &[u8], base: usize) -> Result<(u64, Op), DecodeError> {
    let mut r = Reader::new(payload, base);
    let tag = r.u8()?;
    let now = crate::codec::instant(&mut r)?;
    let member = |r: &mut Reader<'_>| r.u64().map(MemberId);
    let invite = |r: &mut Reader<'_>| -> Result<InviteId, DecodeError> {
        let sender = MemberId(r.u64()?);
        Ok(InviteId::new(sender, r.u64()?))
    };
    let op = match tag {
        SEND => {
            let sender = r.u64()?;
            let recipient = r.u64()?;
            let note = if r.bool()? { Some(r.str()?) } else { None };
            let key = r.opt_u64()?;
            let count_attempt = r.bool()?;
            let banned = r.bool()?;
            let Some(setting) = codes::setting_from(r.u8()?) else {
                return r.fail("unknown invite setting");
            };
            let view = View {
                banned,
                setting,
                admits: r.bool()?,
                stranger: r.bool()?,
            };
            let sent = r.opt_u64()?;
            if sent.is_some_and(|seq| seq >= crate::ids::MAX_SEQ) {
                return r.fail("invitation sequence numbers exhausted");
            }
            Op::Send(SendRecord {
                sender,
                recipient,
                note,
                key,
                count_attempt,
                view,
                sent,
            })
        }
        END => match codes::ending_from(r.u8()?) {
            Some(Some(how)) => Op::End(how, invite(&mut r)?),
            _ => return r.fail("unknown ending"),
        },
        REMIND => Op::Remind(invite(&mut r)?),
        SET_TIER => {
            let m = member(&mut r)?;
            match codes::tier_from(r.u8()?) {
                Some(t) => Op::SetTier(m, t),
                None => return r.fail("unknown tier"),
            }
        }
        SET_STATUS => {
            let m = member(&mut r)?;
            Op::SetStatus(m, codes::read_status(&mut r)?)
        }
        SET_SETTING => {
            let m = member(&mut r)?;
            match codes::setting_from(r.u8()?) {
                Some(s) => Op::SetInviteSetting(m, s),
                None => return r.fail("unknown invite setting"),
            }
        }
        LINK | FOLLOW => {
            let (a, b) = (member(&mut r)?, member(&mut r)?);
            let on = r.bool()?;
            if tag == LINK {
                Op::Link(a, b, on)
            } else {
                Op::Follow(a, b, on)
            }
        }
        REGISTER_EMAIL => Op::RegisterEmail(member(&mut r)?, r.str()?),
        UNREGISTER_EMAIL => Op::UnregisterEmail(member(&mut r)?, r.str()?),
        IMPORT_CONTACTS => {
            let m = member(&mut r)?;
            let n = r.len(8)?;
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                list.push(r.str()?);
            }
            Op::ImportContacts(m, list)
        }
        SET_POLICY => {
            let policy = crate::policy::codec::read_policy(&mut r)?;
            Op::SetPolicy(Box::new(policy), shadow(&mut r)?)
        }
        SET_SHADOW => Op::SetShadow(shadow(&mut r)?),
        SET_LIMITS => {
            let m = member(&mut r)?;
            let limits = if r.bool()? {
                Some(crate::policy::codec::read_limits(&mut r)?)
            } else {
                None
            };
            Op::SetLimits(m, limits)
        }
        _ => {
            return Err(DecodeError {
                offset: base,
                what: "unknown record type",
            })
        }
    };
    if !r.is_done() {
        return r.fail("unexpected bytes after the record");
    }
    Ok((now, op))
}
