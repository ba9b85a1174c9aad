//! Running a parsed command on the stored members it names, with the sender state
//! machine: the same steps the in-memory engine takes under its shard locks.

use crate::server::policies::Policies;

use crate::policy::{ConfigError, Policy, ReminderPolicy};
use crate::rules::precedence::{Subject, View};
use crate::rules::Rules;
use crate::sender::admission::admission;
use crate::sender::ledger::Ending;
use crate::sender::record::Member;
use crate::server::op::{EndBy, Fact, Op, Relation, Request};
use crate::server::slots::{
    created, email_match, finish, invite_request, other, owned, refused, same_key, subject,
    unknown, Other, Slot,
};
use crate::server::{Command, CommandError, MemberValue, Reply};

/// The rules a Redis server decides by: the policy in force and the reminder policy.
#[derive(Debug, Clone)]
pub struct Server {
    pub(super) policies: Policies,
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

impl Server {
    /// A server deciding by `policy`.
    ///
    /// # Errors
    /// [`ConfigError`] when the policy is invalid.
    pub fn new(policy: Policy) -> Result<Server, ConfigError> {
        policy.validate()?;
        Ok(Server {
            policies: Policies::new(policy),
            reminders: ReminderPolicy::default(),
        })
    }

    /// The default policy, in the bytes `IL.POLICY SET` takes.
    pub fn encoded_policy(&self) -> Vec<u8> {
        self.policies.encoded(None).unwrap_or_default()
    }

    /// Every policy in force (the default and the named ones), in the bytes
    /// [`Server::load_policies`] reads: what the module saves in RDB files.
    pub fn saved_policies(&self) -> Vec<u8> {
        self.policies.save()
    }

    /// Puts in force the policies [`Server::saved_policies`] wrote.
    ///
    /// # Errors
    /// A [`CommandError`] when the bytes are malformed or a policy invalid; the
    /// policies in force are then unchanged.
    pub fn load_policies(&mut self, bytes: &[u8]) -> Result<(), CommandError> {
        self.policies.load(bytes)
    }

    /// When the key holding `value` may expire, by the rules `cmd` names: once
    /// nothing in it changes an answer. `None` while it holds a fact that does not
    /// expire by itself (or the rules are unknown).
    pub fn expires_at(&self, value: &MemberValue, cmd: &Command) -> Option<u64> {
        let rules = self.policies.get(cmd.rules.as_deref()).ok()?;
        value.idle_at(&rules)
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
        if let Op::PolicySet(bytes, extras, _) = &cmd.op {
            self.policies.set(cmd.policy_name(), bytes, *extras)?;
            return Ok(Written {
                reply: Reply::Ok,
                at: asked,
            });
        }
        let rules = self.policies.get(cmd.rules.as_deref())?;
        let rules: &Rules = &rules;
        let at = |slot: &Slot| slot.as_ref().map_or(asked, |v| asked.max(v.clock));
        let (at, reply) = match &cmd.op {
            Op::Send(r) => {
                let at = at(owned(first, r.sender)?);
                let peer = crate::server::slots::peer(r, rules)?;
                let other = match &peer {
                    Some(value) => Other::Value(value),
                    None => other(second, r.recipient, r.sender)?,
                };
                (at, send(rules, r, first, other, at))
            }
            Op::AcceptSide(sender, seq) => {
                let at = at(owned(first, *sender)?);
                (at, accept_side(rules, *seq, first, at))
            }
            Op::Mirror(member, other) => {
                let at = at(owned(first, *member)?);
                let m = &mut created(first, *member).member;
                m.settle(at, rules);
                m.end_pair(*other, Ending::Accepted);
                m.extra_mut().connections.insert(*other);
                (at, Reply::Ok)
            }
            Op::Accept(sender, seq) => {
                let at = at(owned(first, *sender)?);
                (at, accept(rules, *seq, first, second, at)?)
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
                let reply = match value.member.end(*seq, how, at, rules, &mut 0) {
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
                let reply = match value.member.remind(*seq, at, rules, &self.reminders) {
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
                let caps = self.policies.caps(cmd.rules.as_deref());
                (at, relate(*how, *member, *other, first, caps))
            }
            Op::Restore(bytes) => {
                let value = MemberValue::decode(bytes)?;
                let at = asked.max(value.clock);
                *first = Some(value);
                (at, Reply::Ok)
            }
            Op::Email {
                owner: Some(read), ..
            } => {
                // The one-key form: the caller keeps the owner key (see `write_email`).
                let mut owner = *read;
                let done = self.write_email(cmd, first, &mut owner, now)?;
                return Ok(done);
            }
            Op::Contacts(member, emails) => {
                let at = at(owned(first, *member)?);
                let mut list = Vec::new();
                let mut set = crate::sender::record::FastSet::default();
                for email in emails {
                    if set.insert(email.clone()) {
                        let max = self.policies.caps(cmd.rules.as_deref()).max_contacts;
                        if list.len() >= max as usize {
                            return Ok(Written {
                                reply: refused("too_many", Some(max.into())),
                                at,
                            });
                        }
                        list.push(email.clone());
                    }
                }
                let extra = created(first, *member).member.extra_mut();
                extra.contacts = list;
                extra.contact_set = set;
                (at, Reply::Ok)
            }
            Op::Limits(member, limits) => {
                let at = at(owned(first, *member)?);
                let m = &mut created(first, *member).member;
                if limits.is_some() || m.extra.is_some() {
                    m.extra_mut().limits = limits.clone().map(Box::new);
                }
                (at, Reply::Ok)
            }
            _ => return Err(CommandError::new(format!("{} changes nothing", cmd.name()))),
        };
        finish(first, at, rules);
        Ok(Written { reply, at })
    }

    /// Runs `IL.EMAIL`: `member` is the value under its first key, `owner` the member
    /// its second key (the email's owner key, a plain string) names. On return
    /// `owner` holds what that key must hold (`None`: delete it).
    ///
    /// # Errors
    /// A [`CommandError`] when the command is not `IL.EMAIL`, or the first key holds
    /// another member; nothing is changed then.
    pub fn write_email(
        &mut self,
        cmd: &Command,
        member: &mut Slot,
        owner: &mut Option<u64>,
        now: u64,
    ) -> Result<Written, CommandError> {
        let rules = self.policies.get(cmd.rules.as_deref())?;
        let Op::Email {
            member: id,
            add,
            email,
            ..
        } = &cmd.op
        else {
            return Err(CommandError::new(format!("{} is not IL.EMAIL", cmd.name())));
        };
        let at = owned(member, *id)?
            .as_ref()
            .map_or(cmd.at.unwrap_or(now), |v| {
                cmd.at.unwrap_or(now).max(v.clock)
            });
        let reply = match (*add, *owner) {
            (true, Some(o)) if o == *id => Reply::Ok,
            (true, Some(o)) => refused("taken", Some(Reply::id(o))),
            (true, None) => {
                let m = &mut created(member, *id).member;
                let held = m.extra.as_ref().map_or(0, |x| x.emails.len());
                let max = self.policies.caps(cmd.rules.as_deref()).max_emails;
                if held >= max as usize {
                    refused("too_many", Some(max.into()))
                } else {
                    m.extra_mut().emails.insert(email.clone());
                    *owner = Some(*id);
                    Reply::Ok
                }
            }
            (false, Some(o)) if o == *id => {
                if let Some(x) = member.as_mut().and_then(|v| v.member.extra.as_deref_mut()) {
                    x.emails.remove(email);
                }
                *owner = None;
                Reply::Ok
            }
            (false, _) => refused("not_registered", None),
        };
        finish(member, at, &rules);
        Ok(Written { reply, at })
    }
}

/// Changes one member's side of a relation. Adding answers 1, or 0 when the other
/// was already there, or `too_many max` when the member is at the cap (nothing
/// changes); removing answers `OK`.
fn relate(
    how: Relation,
    member: u64,
    other: u64,
    slot: &mut Slot,
    caps: crate::MemberLimits,
) -> Reply {
    let (connect, max) = match how {
        Relation::Connect => (true, caps.max_connections),
        Relation::Follow => (false, caps.max_follows),
        Relation::Disconnect | Relation::Unfollow => {
            if let Some(x) = slot.as_mut().and_then(|v| v.member.extra.as_deref_mut()) {
                let set = if how == Relation::Disconnect {
                    &mut x.connections
                } else {
                    &mut x.follows
                };
                set.remove(&other);
            }
            return Reply::Ok;
        }
    };
    // A member is never connected to themselves (following oneself is allowed, as
    // in the in-memory engine).
    if connect && other == member {
        return Reply::Int(0);
    }
    let held = slot
        .as_ref()
        .and_then(|v| v.member.extra.as_deref())
        .map(|x| if connect { &x.connections } else { &x.follows });
    if held.is_some_and(|set| set.contains(&other)) {
        return Reply::Int(0);
    }
    if held.map_or(0, |set| set.len()) >= max as usize {
        return refused("too_many", Some(max.into()));
    }
    let x = created(slot, member).member.extra_mut();
    if connect {
        x.connections.insert(other);
    } else {
        x.follows.insert(other);
    }
    Reply::Int(1)
}

/// What the recipient's record says about the sender (see `admission`).
pub(super) fn view(
    rules: &Rules,
    sender: Option<&Member>,
    recipient: Option<&Member>,
    s: &Subject<'_>,
    r: &Request,
    at: u64,
) -> View {
    let email = email_match(r);
    if s.sender == s.recipient {
        // As the in-memory engine judges a self-invite: with nothing read.
        return View::plain(email.given);
    }
    let strangers = rules.policy.spam.strangers.is_some();
    admission(sender, recipient, s, email, at, strangers)
}

fn send(rules: &Rules, r: &Request, first: &mut Slot, other: Other<'_>, at: u64) -> Reply {
    let req = invite_request(r);
    let s = subject(&req);
    let view = {
        let sender = first.as_ref().map(|v| &v.member);
        let recipient = match &other {
            Other::Same => sender,
            Other::Value(v) => v.as_ref().map(|v| &v.member),
        };
        view(rules, sender, recipient, &s, r, at)
    };
    let m = &mut created(first, s.sender).member;
    m.settle(at, rules);
    let s = s.judged(&rules.policy);
    let sent = match m.keyed_send(&s, rules) {
        Some(sent) => sent,
        None => {
            let judged = m.judge(at, &s, view, rules, r.counted);
            if let Some(denied) = judged.denied {
                return Reply::denied(&denied);
            }
            let seq = m.next_seq(at, 0);
            m.commit(at, &s, view, seq, judged.shadowed, rules)
        }
    };
    Reply::sent(&sent)
}

/// The sender's side of an acceptance (`IL.PACCEPT`): the invitation ends, the
/// sender's invitations to the recipient end, the sender is connected; the answer
/// names the recipient, whose side `IL.MIRROR` does on the recipient's key.
fn accept_side(rules: &Rules, seq: u64, first: &mut Slot, at: u64) -> Reply {
    let Some(sender) = first.as_mut() else {
        return unknown(0, seq);
    };
    let m = &mut sender.member;
    let recipient = match m.locate(seq, at, rules) {
        Ok((_, inv)) => inv.recipient,
        Err(e) => return Reply::invite_error(&e),
    };
    if let Err(e) = m.end(seq, Ending::Accepted, at, rules, &mut 0) {
        return Reply::invite_error(&e);
    }
    m.end_pair(recipient, Ending::Accepted);
    m.extra_mut().connections.insert(recipient);
    Reply::Array(vec![Reply::text("ok"), Reply::id(recipient)])
}

fn accept(
    rules: &Rules,
    seq: u64,
    first: &mut Slot,
    second: Option<&mut Slot>,
    at: u64,
) -> Result<Reply, CommandError> {
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
