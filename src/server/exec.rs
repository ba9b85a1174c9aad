//! Running a parsed command on the stored members it names, with the sender state
//! machine: the same steps the in-memory engine takes under its shard locks.

use std::borrow::Cow;
use std::sync::Arc;

use crate::account::AccountStatus;
use crate::codes::names;
use crate::outcome::InviteError;
use crate::policy::{ConfigError, Policy, ReminderPolicy};
use crate::request::InviteRequest;
use crate::rules::precedence::{Subject, View};
use crate::rules::recipient::EmailMatch;
use crate::rules::Rules;
use crate::sender::admission::admission;
use crate::sender::ledger::Ending;
use crate::sender::record::Member;
use crate::server::command::{EndBy, Fact, Op, Relation};
use crate::server::{Command, CommandError, MemberValue, Reply};

/// The rules a Redis server decides by: the policy in force and the reminder policy.
#[derive(Debug, Clone)]
pub struct Server {
    rules: Arc<Rules>,
    reminders: ReminderPolicy,
}

/// What a command that changes state did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The answer.
    pub reply: Reply,
    /// The instant the command was decided at: never before the instant of any
    /// earlier command about the member it changed. Replicas run it at this instant.
    pub at: u64,
}

/// A stored value's slot: `None` when the key holds nothing.
type Slot = Option<MemberValue>;

impl Server {
    /// A server deciding by `policy`.
    ///
    /// # Errors
    /// [`ConfigError`] when the policy is invalid.
    pub fn new(policy: Policy) -> Result<Server, ConfigError> {
        policy.validate()?;
        Ok(Server {
            rules: Rules::new(Arc::new(policy), crate::Shadow::none(), false),
            reminders: ReminderPolicy::default(),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.rules.policy
    }

    /// The policy in force, in the bytes `IL.POLICY SET` takes.
    pub fn encoded_policy(&self) -> Vec<u8> {
        crate::policy::codec::encode(&self.rules.policy)
    }

    /// Puts a policy in force from the bytes [`Server::encoded_policy`] writes.
    ///
    /// # Errors
    /// A [`CommandError`] when the bytes are malformed or the policy invalid; the
    /// policy in force is then unchanged.
    pub fn set_encoded_policy(&mut self, bytes: &[u8]) -> Result<(), CommandError> {
        let policy = crate::policy::codec::decode(bytes).map_err(|e| {
            CommandError::new(format!("policy malformed at byte {}: {}", e.offset, e.what))
        })?;
        policy
            .validate()
            .map_err(|e| CommandError::new(format!("invalid policy: {e}")))?;
        self.rules = Rules::new(Arc::new(policy), crate::Shadow::none(), false);
        Ok(())
    }

    /// When the key holding `value` may expire: once nothing in it changes an answer.
    /// `None` while it holds a fact that does not expire by itself.
    pub fn expires_at(&self, value: &MemberValue) -> Option<u64> {
        value.idle_at(&self.rules)
    }

    /// Runs a command that changes state. `first` and `second` are the values under
    /// the command's first and second keys (`second` is `None` for one-key commands,
    /// and for two-key commands whose keys are one key). `now` is the server's clock,
    /// used unless the command names its instant. On return the slots hold what the
    /// keys must hold (`None`: delete the key).
    ///
    /// # Errors
    /// A [`CommandError`] when the command does not change state, or a key holds
    /// another member than the command names; nothing is changed then.
    pub fn write(
        &mut self,
        cmd: &Command,
        first: &mut Slot,
        second: Option<&mut Slot>,
        now: u64,
    ) -> Result<Written, CommandError> {
        let asked = cmd.at.unwrap_or(now);
        let at = |slot: &Slot| slot.as_ref().map_or(asked, |v| asked.max(v.clock));
        let (at, reply) = match &cmd.op {
            Op::Send {
                sender,
                recipient,
                note,
                key,
            } => {
                let mut req =
                    InviteRequest::new(crate::MemberId(*sender), crate::MemberId(*recipient));
                if let Some(n) = note {
                    req = req.note(n.as_str());
                }
                if let Some(k) = key {
                    req = req.idempotency_key(*k);
                }
                let at = at(owned(first, *sender)?);
                let other = other(second, *recipient, *sender)?;
                (at, self.send(&req, first, other, at))
            }
            Op::Accept(sender, seq) => {
                let at = at(owned(first, *sender)?);
                (at, self.accept(*seq, first, second, at)?)
            }
            Op::End(by, sender, seq) => {
                let at = at(owned(first, *sender)?);
                let how = match by {
                    EndBy::Decline => Ending::Declined,
                    EndBy::Withdraw => Ending::Withdrawn,
                    EndBy::Report => Ending::Reported,
                };
                let Some(value) = first.as_mut() else {
                    return Ok(Written {
                        reply: unknown(*sender, *seq),
                        at,
                    });
                };
                let reply = match value.member.end(*seq, how, at, &self.rules, &mut 0) {
                    Ok(_) => Reply::Array(vec![Reply::text("ok")]),
                    Err(e) => Reply::invite_error(&e),
                };
                (at, reply)
            }
            Op::Remind(sender, seq) => {
                let at = at(owned(first, *sender)?);
                let Some(value) = first.as_mut() else {
                    return Ok(Written {
                        reply: unknown(*sender, *seq),
                        at,
                    });
                };
                let reply = match value.member.remind(*seq, at, &self.rules, &self.reminders) {
                    Ok(n) => Reply::Array(vec![Reply::text("ok"), Reply::Int(i64::from(n))]),
                    Err(e) => Reply::invite_error(&e),
                };
                (at, reply)
            }
            Op::Set(member, fact) => {
                let at = at(owned(first, *member)?);
                let m = &mut created(first, *member).member;
                match *fact {
                    Fact::Tier(t) => m.tier = t,
                    Fact::Setting(s) => m.setting = s,
                    Fact::Status(s) => {
                        m.set_status(s);
                        if let Some(extra) = m.extra.as_deref_mut() {
                            extra.restricted_for = None;
                        }
                    }
                }
                (at, Reply::Ok)
            }
            Op::Relate(how, member, other) => {
                let at = at(owned(first, *member)?);
                let m = &mut created(first, *member).member;
                let set = |m: &mut Member| match how {
                    Relation::Connect if other != member => {
                        m.extra_mut().connections.insert(*other);
                    }
                    Relation::Follow => {
                        m.extra_mut().follows.insert(*other);
                    }
                    Relation::Disconnect => {
                        m.extra.as_deref_mut().map(|x| x.connections.remove(other));
                    }
                    Relation::Unfollow => {
                        m.extra.as_deref_mut().map(|x| x.follows.remove(other));
                    }
                    _ => {}
                };
                set(m);
                (at, Reply::Ok)
            }
            Op::Restore(bytes) => {
                let value = MemberValue::decode(bytes)?;
                let at = asked.max(value.clock);
                *first = Some(value);
                (at, Reply::Ok)
            }
            Op::PolicySet(bytes) => {
                self.set_encoded_policy(bytes)?;
                (asked, Reply::Ok)
            }
            _ => return Err(CommandError::new(format!("{} changes nothing", cmd.name()))),
        };
        finish(first, at, &self.rules);
        Ok(Written { reply, at })
    }

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
        let rules = &*self.rules;
        let asked = cmd.at.unwrap_or(now);
        let at = |v: Option<&MemberValue>| v.map_or(asked, |v| asked.max(v.clock));
        Ok(match &cmd.op {
            Op::Diagnose {
                sender,
                recipient,
                note,
                key,
            } => {
                check(first, *sender)?;
                let at = at(first);
                let mut req =
                    InviteRequest::new(crate::MemberId(*sender), crate::MemberId(*recipient));
                if let Some(n) = note {
                    req = req.note(n.as_str());
                }
                if let Some(k) = key {
                    req = req.idempotency_key(*k);
                }
                let them = match second {
                    Some(v) => check(v, *recipient).map(|_| v)?,
                    None if recipient == sender => first,
                    None => return Err(same_key()),
                };
                let s = subject(&req);
                let view = self.view(first.map(|v| &v.member), them.map(|v| &v.member), &s, at);
                let member = settled(first, *sender, at, rules);
                let blockers = member.diagnose(at, &s.judged(&rules.policy), view, rules);
                Reply::Array(
                    blockers
                        .iter()
                        .map(|b| {
                            Reply::Array(vec![
                                Reply::text(b.reason().code()),
                                Reply::instant(b.retry_at()),
                            ])
                        })
                        .collect(),
                )
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
                Reply::Array(vec![
                    Reply::text(names::tier_name(member.tier)),
                    Reply::text(names::status_name(status)),
                    until,
                    Reply::text(names::setting_name(member.setting)),
                    why,
                ])
            }
            Op::Dump => first.map_or(Reply::Nil, |v| Reply::Bytes(v.encode())),
            Op::PolicyGet => Reply::Bytes(self.encoded_policy()),
            _ => return Err(CommandError::new(format!("{} changes state", cmd.name()))),
        })
    }

    /// What the recipient's record says about the sender (see `admission`).
    fn view(
        &self,
        sender: Option<&Member>,
        recipient: Option<&Member>,
        s: &Subject<'_>,
        at: u64,
    ) -> View {
        if s.sender == s.recipient {
            // As the in-memory engine judges a self-invite: with nothing read.
            return View::plain(false);
        }
        let strangers = self.rules.policy.spam.strangers.is_some();
        let email = EmailMatch {
            given: false,
            owner: None,
        };
        admission(sender, recipient, s, email, at, strangers)
    }

    fn send(&self, req: &InviteRequest, first: &mut Slot, other: Other<'_>, at: u64) -> Reply {
        let rules = &*self.rules;
        let s = subject(req);
        let view = {
            let sender = first.as_ref().map(|v| &v.member);
            let recipient = match &other {
                Other::Same => sender,
                Other::Value(v) => v.as_ref().map(|v| &v.member),
            };
            self.view(sender, recipient, &s, at)
        };
        let m = &mut created(first, s.sender).member;
        m.settle(at, rules);
        let s = s.judged(&rules.policy);
        let sent = match m.keyed_send(&s, rules) {
            Some(sent) => sent,
            None => {
                let judged = m.judge(at, &s, view, rules, true);
                if let Some(denied) = judged.denied {
                    return Reply::denied(&denied);
                }
                let seq = m.next_seq(at, 0);
                m.commit(at, &s, view, seq, judged.shadowed, rules)
            }
        };
        Reply::Array(vec![
            Reply::text("sent"),
            Reply::Int(sent.id().seq() as i64),
            Reply::instant(Some(sent.expires_at())),
        ])
    }

    fn accept(
        &self,
        seq: u64,
        first: &mut Slot,
        second: Option<&mut Slot>,
        at: u64,
    ) -> Result<Reply, CommandError> {
        let rules = &*self.rules;
        let Some(sender) = first.as_mut() else {
            return Ok(unknown(0, seq));
        };
        let s = sender.member.id;
        let recipient = match sender.member.locate(seq, at, rules) {
            Ok((_, inv)) => inv.recipient,
            Err(e) => return Ok(Reply::invite_error(&e)),
        };
        let theirs = match second {
            Some(slot) => {
                owned(slot, recipient)?;
                slot
            }
            None => return Err(same_key()),
        };
        let m = &mut sender.member;
        if let Err(e) = m.end(seq, Ending::Accepted, at, rules, &mut 0) {
            return Ok(Reply::invite_error(&e));
        }
        m.end_pair(recipient, Ending::Accepted);
        m.extra_mut().connections.insert(recipient);
        let them = &mut created(theirs, recipient).member;
        them.settle(at, rules);
        them.end_pair(s, Ending::Accepted);
        them.extra_mut().connections.insert(s);
        finish(theirs, at, rules);
        Ok(Reply::Array(vec![Reply::text("ok")]))
    }
}

/// The recipient's value in a two-key command.
enum Other<'a> {
    /// The keys are one key: the sender is the recipient.
    Same,
    Value(&'a Slot),
}

fn other(
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

fn same_key() -> CommandError {
    CommandError::new("the two keys are one key but the command names two members")
}

/// The request prepared for judging, as the in-memory engine prepares it.
fn subject(req: &InviteRequest) -> Subject<'_> {
    Subject {
        sender: req.sender().0,
        recipient: req.recipient().0,
        note: req.trimmed_note(),
        key: req.key(),
    }
}

/// Checks that the value under a key belongs to member `id`.
fn check(value: Option<&MemberValue>, id: u64) -> Result<(), CommandError> {
    match value {
        Some(v) if v.member.id != id => Err(CommandError::new(format!(
            "the key holds member {}, not member {id}",
            v.member.id
        ))),
        _ => Ok(()),
    }
}

fn owned(slot: &Slot, id: u64) -> Result<&Slot, CommandError> {
    check(slot.as_ref(), id).map(|_| slot)
}

fn created(slot: &mut Slot, id: u64) -> &mut MemberValue {
    slot.get_or_insert_with(|| MemberValue::new(id))
}

/// The answer about an invitation of a member with no stored value.
fn unknown(sender: u64, seq: u64) -> Reply {
    let id = crate::InviteId::new(crate::MemberId(sender), seq);
    Reply::invite_error(&InviteError::Unknown(id))
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

/// After a change: the member's clock moves to `at`, and a value that holds
/// nothing that changes an answer is dropped.
fn finish(slot: &mut Slot, at: u64, rules: &Rules) {
    if let Some(v) = slot.as_mut() {
        v.clock = v.clock.max(at);
        if v.member.is_idle(at, |s| s.idle_at(&rules.policy.spam))
            && v.idle_at(rules).is_some_and(|t| t <= at)
        {
            *slot = None;
        }
    }
}

pub(crate) fn capacity_reply(c: &crate::Capacity) -> Reply {
    let window = |w: &crate::report::WindowCapacity| {
        [
            Reply::Int(i64::from(w.used)),
            Reply::Int(i64::from(w.limit)),
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
