//! Commands that change nothing: capacity, diagnosis, the pending listing, facts,
//! stored bytes and the policy, answered from a settled copy when time has moved.

use std::borrow::Cow;

use crate::account::AccountStatus;
use crate::codes::names;
use crate::rules::Rules;
use crate::sender::record::Member;
use crate::server::op::Op;
use crate::server::slots::{check, invite_request, same_key, subject};
use crate::server::{Command, CommandError, MemberValue, Reply, Server};

impl Server {
    /// Runs a command that changes nothing, on the values under its keys: `second`
    /// is `Some` with the second key's value (`None` inside when the key is empty),
    /// and `None` for one-key commands and for two-key commands whose keys are one.
    ///
    /// # Errors
    /// A [`CommandError`] when the command changes state, or a key holds another
    /// member than the command names.
    pub fn read(
        &self,
        cmd: &Command,
        first: Option<&MemberValue>,
        second: Option<Option<&MemberValue>>,
        now: u64,
    ) -> Result<Reply, CommandError> {
        if let Op::PolicyGet = cmd.op {
            let bytes = self.policies.encoded(cmd.policy_name());
            return Ok(bytes.map_or(Reply::Nil, Reply::Bytes));
        }
        let rules = self.policies.get(cmd.rules.as_deref())?;
        let rules: &crate::rules::Rules = &rules;
        let asked = cmd.at.unwrap_or(now);
        let at = |v: Option<&MemberValue>| v.map_or(asked, |v| asked.max(v.clock));
        Ok(match &cmd.op {
            Op::Diagnose(r) => {
                check(first, r.sender)?;
                let at = at(first);
                let peer = crate::server::slots::peer(r, rules)?;
                let them = match (&peer, second) {
                    (Some(p), _) => p.as_ref(),
                    (None, Some(v)) => check(v, r.recipient).map(|_| v)?,
                    (None, None) if r.recipient == r.sender => first,
                    (None, None) => return Err(same_key()),
                };
                let req = invite_request(r);
                let s = subject(&req);
                let view = crate::server::exec::view(
                    rules,
                    first.map(|v| &v.member),
                    them.map(|v| &v.member),
                    &s,
                    r,
                    at,
                );
                let member = settled(first, r.sender, at, rules);
                let blockers = member.diagnose(at, &s.judged(&rules.policy), view, rules);
                Reply::blockers(&blockers)
            }
            Op::Capacity(m) => {
                check(first, *m)?;
                let at = at(first);
                capacity_reply(&settled(first, *m, at, rules).capacity(at, rules))
            }
            Op::Pending {
                member,
                after,
                count,
            } => {
                check(first, *member)?;
                let at = at(first);
                let from = after.map_or(0, |a| a.saturating_add(1));
                let page = settled(first, *member, at, rules).pending_page(from, *count, rules);
                let items = page.items.iter().map(|p| {
                    Reply::Array(vec![
                        Reply::Int(p.id.seq() as i64),
                        Reply::id(p.recipient.0),
                        Reply::instant(Some(p.sent_at)),
                        Reply::instant(Some(p.expires_at)),
                        Reply::Int(i64::from(p.reminders)),
                    ])
                });
                let next = page.next.map_or(Reply::Nil, |n| Reply::Int(n.seq() as i64));
                Reply::Array(vec![next, Reply::Array(items.collect())])
            }
            Op::Between(sender, recipient) => {
                check(first, *sender)?;
                let at = at(first);
                let m = settled(first, *sender, at, rules);
                Reply::Int(i64::from(m.ledger.pending_count_to(*recipient, u32::MAX).0))
            }
            Op::Get(m) => {
                check(first, *m)?;
                let at = at(first);
                let member =
                    first.map_or(Cow::Owned(Member::new(*m)), |v| Cow::Borrowed(&v.member));
                let status = member.status().at(crate::Timestamp::from_millis(at));
                let until = match status {
                    AccountStatus::Restricted { until } => Reply::instant(until),
                    _ => Reply::Nil,
                };
                let why = member
                    .extra
                    .as_deref()
                    .and_then(|x| x.restricted_for)
                    .filter(|_| status != AccountStatus::Active)
                    .map_or(Reply::Nil, |s| Reply::Text(s.to_string()));
                let own = member
                    .extra
                    .as_deref()
                    .and_then(|x| x.limits.as_deref())
                    .map_or(Reply::Nil, |l| Reply::Text(crate::codes::limits_text(l)));
                Reply::Array(vec![
                    Reply::text(names::tier_name(member.tier)),
                    Reply::text(names::status_name(status)),
                    until,
                    Reply::text(names::setting_name(member.setting)),
                    why,
                    own,
                ])
            }
            Op::Recipient(sender, seq) => {
                check(first, *sender)?;
                let at = at(first);
                let id = crate::InviteId::new(crate::MemberId(*sender), *seq);
                let Some(value) = first else {
                    return Ok(Reply::invite_error(&crate::InviteError::Unknown(id)));
                };
                // Looked up before settling, as an ending does: an invitation that
                // expired unanswered is `expired`, not gone.
                if let Err(e) = value.member.locate(*seq, at, rules) {
                    return Ok(Reply::invite_error(&e));
                }
                match settled(first, *sender, at, rules).locate(*seq, at, rules) {
                    Ok((_, inv)) => Reply::id(inv.recipient),
                    Err(e) => Reply::invite_error(&e),
                }
            }
            Op::Connected(m, other) => {
                check(first, *m)?;
                Reply::Int(i64::from(
                    first.is_some_and(|v| v.member.is_connected(*other)),
                ))
            }
            Op::Dump => first.map_or(Reply::Nil, |v| Reply::Bytes(v.encode())),
            _ => return Err(CommandError::new(format!("{} changes state", cmd.name()))),
        })
    }
}

/// The member settled at `at`: borrowed when nothing is due, else a settled copy.
fn settled<'a>(value: Option<&'a MemberValue>, id: u64, at: u64, rules: &Rules) -> Cow<'a, Member> {
    match value {
        None => Cow::Owned(Member::new(id)),
        Some(v) if at < v.member.due.0 => Cow::Borrowed(&v.member),
        Some(v) => {
            let mut m = v.member.clone();
            m.settle(at, rules);
            Cow::Owned(m)
        }
    }
}

/// `daily used limit next_slot_at available_at weekly … notes used limit
/// next_slot_at pending n tier name status name until`, nil where there is no
/// instant or limit.
pub(crate) fn capacity_reply(c: &crate::Capacity) -> Reply {
    let window = |w: &crate::report::WindowCapacity| {
        [
            Reply::Int(i64::from(w.used)),
            Reply::Int(i64::from(w.limit)),
            Reply::instant(w.next_slot_at),
            Reply::instant(w.available_at),
        ]
    };
    let status = match c.status {
        AccountStatus::Restricted { until } => Reply::instant(until),
        _ => Reply::Nil,
    };
    let mut items = vec![Reply::text("daily")];
    items.extend(window(&c.daily));
    items.push(Reply::text("weekly"));
    items.extend(window(&c.weekly));
    items.extend([
        Reply::text("notes"),
        Reply::Int(i64::from(c.notes.used)),
        c.notes
            .limit
            .map_or(Reply::Nil, |l| Reply::Int(i64::from(l))),
        Reply::instant(c.notes.next_slot_at),
        Reply::text("pending"),
        Reply::Int(i64::from(c.pending_sent)),
        Reply::text("tier"),
        Reply::text(names::tier_name(c.tier)),
        Reply::text("status"),
        Reply::text(names::status_name(c.status)),
        status,
    ]);
    Reply::Array(items)
}
