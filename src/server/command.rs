//! Parsing a command's arguments into a [`Command`], and writing a command back as
//! the arguments a replica runs (with its instant pinned).

use crate::codes::names;
use crate::server::args::{email, extras, request, status, u32_of, Args};
use crate::server::op::{EndBy, Fact, Op, Relation};
use crate::server::{CommandError, MAX_ARG_BYTES};

/// One parsed `IL.*` command: what it asks and, when the caller gave one, the
/// instant it is asked at (`AT <ms>`; otherwise the server's clock decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub(crate) op: Op,
    pub(crate) at: Option<u64>,
    /// The named policy the command decides by (`RULES <name>`; for `IL.POLICY`,
    /// the policy it reads or sets); the default policy when `None`.
    pub(crate) rules: Option<String>,
}

/// Every command: its name, its keys and whether it changes state.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    /// Keys at arguments `1..=keys`.
    pub(crate) keys: usize,
    pub(crate) writes: bool,
}

/// The command table, in the order `COMMANDS` lists them.
pub const COMMANDS: [(&str, usize, bool); 29] = [
    ("IL.SEND", 2, true),
    ("IL.DIAGNOSE", 2, false),
    ("IL.CAPACITY", 1, false),
    ("IL.PENDING", 1, false),
    ("IL.BETWEEN", 1, false),
    ("IL.ACCEPT", 2, true),
    ("IL.DECLINE", 1, true),
    ("IL.WITHDRAW", 1, true),
    ("IL.REPORT", 1, true),
    ("IL.REMIND", 1, true),
    ("IL.SET", 1, true),
    ("IL.GET", 1, false),
    ("IL.CONNECT", 1, true),
    ("IL.DISCONNECT", 1, true),
    ("IL.FOLLOW", 1, true),
    ("IL.UNFOLLOW", 1, true),
    ("IL.DUMP", 1, false),
    ("IL.RESTORE", 1, true),
    ("IL.EMAIL", 2, true),
    ("IL.CONTACTS", 1, true),
    ("IL.LIMITS", 1, true),
    ("IL.RECIPIENT", 1, false),
    ("IL.CONNECTED", 1, false),
    ("IL.PSEND", 1, true),
    ("IL.PDIAGNOSE", 1, false),
    ("IL.PACCEPT", 1, true),
    ("IL.MIRROR", 1, true),
    ("IL.POLICYAT", 1, true),
    ("IL.PEMAIL", 1, true),
];

impl Command {
    /// Parses one command, its name first (case-insensitive). Every argument is
    /// checked: arity, numbers, names, sizes; nothing is trusted.
    ///
    /// # Errors
    /// A [`CommandError`] naming what is wrong.
    pub fn parse(args: &[&[u8]]) -> Result<Command, CommandError> {
        if let Some(big) = args.iter().find(|a| a.len() > MAX_ARG_BYTES) {
            return Err(CommandError::new(format!(
                "argument of {} bytes is over the {MAX_ARG_BYTES}-byte limit",
                big.len()
            )));
        }
        let Some((name, rest)) = args.split_first() else {
            return Err(CommandError::new("empty command"));
        };
        let name = std::str::from_utf8(name)
            .map_err(|_| CommandError::new("unknown command"))?
            .to_ascii_uppercase();
        let mut a = Args { rest };
        if name == "IL.POLICYAT" {
            // A named policy set on the node that serves `key` (a cluster routes a
            // command by its key; the key is not read).
            a.next("key")?;
            let policy_name = a.text("name")?.to_owned();
            let bytes = a.next("policy")?.to_vec();
            let extras = extras(&mut a)?;
            let mut cmd = finish(Op::PolicySet(bytes, extras, true), a)?;
            cmd.rules = Some(policy_name);
            return Ok(cmd);
        }
        if name == "IL.POLICY" {
            let (op, name) = match a.word("subcommand")?.as_str() {
                "get" if a.rest.len() == 1 => (Op::PolicyGet, Some(a.text("name")?.to_owned())),
                "get" => (Op::PolicyGet, None),
                "set" => {
                    let first = a.next("policy")?;
                    let caps_next = |a: &Args<'_>| {
                        a.rest.first().is_none_or(|w| {
                            w.eq_ignore_ascii_case(b"CAPS") || w.eq_ignore_ascii_case(b"SHADOW")
                        })
                    };
                    let (name, bytes) = if caps_next(&a) {
                        (None, first)
                    } else {
                        let name = std::str::from_utf8(first)
                            .map_err(|_| CommandError::new("name is not UTF-8"))?;
                        (Some(name.to_owned()), a.next("policy")?)
                    };
                    let extras = extras(&mut a)?;
                    (Op::PolicySet(bytes.to_vec(), extras, false), name)
                }
                other => return Err(CommandError::new(format!("unknown subcommand {other}"))),
            };
            let mut cmd = finish(op, a)?;
            cmd.rules = name;
            return Ok(cmd);
        }
        let spec =
            spec(&name).ok_or_else(|| CommandError::new(format!("unknown command {name}")))?;
        for i in 0..spec.keys {
            a.next(if i == 0 { "key" } else { "second key" })?;
        }
        let op = match spec.name {
            "IL.SEND" | "IL.DIAGNOSE" | "IL.PSEND" | "IL.PDIAGNOSE" => {
                let req = request(&mut a, spec.name.starts_with("IL.P"))?;
                if spec.name.ends_with("SEND") {
                    Op::Send(req)
                } else {
                    Op::Diagnose(req)
                }
            }
            "IL.CAPACITY" => Op::Capacity(a.u64("member")?),
            "IL.PENDING" => {
                let member = a.u64("member")?;
                let (mut after, mut count) = (None, 50);
                while let Some(opt) = a.rest.first() {
                    match opt.to_ascii_uppercase().as_slice() {
                        b"AFTER" => {
                            a.next("AFTER")?;
                            after = Some(a.u64("AFTER")?);
                        }
                        b"COUNT" => {
                            a.next("COUNT")?;
                            let n = a.u64("COUNT")?;
                            if n == 0 || n > 1_000 {
                                return Err(CommandError::new("COUNT must be in 1..=1000"));
                            }
                            count = n as usize;
                        }
                        _ => break,
                    }
                }
                Op::Pending {
                    member,
                    after,
                    count,
                }
            }
            "IL.BETWEEN" => Op::Between(a.u64("sender")?, a.u64("recipient")?),
            "IL.ACCEPT" => Op::Accept(a.u64("sender")?, a.u64("sequence")?),
            "IL.DECLINE" => Op::End(EndBy::Decline, a.u64("sender")?, a.u64("sequence")?),
            "IL.WITHDRAW" => Op::End(EndBy::Withdraw, a.u64("sender")?, a.u64("sequence")?),
            "IL.REPORT" => Op::End(EndBy::Report, a.u64("sender")?, a.u64("sequence")?),
            "IL.REMIND" => Op::Remind(a.u64("sender")?, a.u64("sequence")?),
            "IL.SET" => {
                let member = a.u64("member")?;
                let fact = match a.word("fact")?.as_str() {
                    "tier" => Fact::Tier(
                        names::tier_named(&a.word("tier")?)
                            .ok_or_else(|| CommandError::new("tier must be free or premium"))?,
                    ),
                    "setting" => Fact::Setting(
                        names::setting_named(&a.word("setting")?).ok_or_else(|| {
                            CommandError::new(format!(
                                "setting must be one of {}",
                                names::SETTING_NAMES.join(", ")
                            ))
                        })?,
                    ),
                    "status" => Fact::Status(status(&mut a)?),
                    other => {
                        return Err(CommandError::new(format!(
                            "unknown fact {other}: tier, status or setting"
                        )))
                    }
                };
                Op::Set(member, fact)
            }
            "IL.GET" => Op::Get(a.u64("member")?),
            "IL.CONNECT" => Op::Relate(Relation::Connect, a.u64("member")?, a.u64("other")?),
            "IL.DISCONNECT" => Op::Relate(Relation::Disconnect, a.u64("member")?, a.u64("other")?),
            "IL.FOLLOW" => Op::Relate(Relation::Follow, a.u64("follower")?, a.u64("followee")?),
            "IL.UNFOLLOW" => Op::Relate(Relation::Unfollow, a.u64("follower")?, a.u64("followee")?),
            "IL.DUMP" => Op::Dump,
            "IL.RECIPIENT" => Op::Recipient(a.u64("sender")?, a.u64("sequence")?),
            "IL.PACCEPT" => Op::AcceptSide(a.u64("sender")?, a.u64("sequence")?),
            "IL.MIRROR" => Op::Mirror(a.u64("recipient")?, a.u64("sender")?),
            "IL.CONNECTED" => Op::Connected(a.u64("member")?, a.u64("other")?),
            "IL.EMAIL" | "IL.PEMAIL" => {
                let member = a.u64("member")?;
                let add = match a.word("action")?.as_str() {
                    "add" => true,
                    "del" => false,
                    other => {
                        return Err(CommandError::new(format!(
                            "unknown action {other}: ADD or DEL"
                        )))
                    }
                };
                let email = email(&mut a)?;
                let owner = if spec.name == "IL.PEMAIL" {
                    let owner = match a.rest.first() {
                        Some(w) if w.eq_ignore_ascii_case(b"OWNER") => {
                            a.next("OWNER")?;
                            Some(a.u64("owner")?)
                        }
                        _ => None,
                    };
                    Some(owner)
                } else {
                    None
                };
                Op::Email {
                    member,
                    add,
                    email,
                    owner,
                }
            }
            "IL.CONTACTS" => {
                let member = a.u64("member")?;
                let mut list = Vec::new();
                let tail =
                    |w: &[u8]| w.eq_ignore_ascii_case(b"AT") || w.eq_ignore_ascii_case(b"RULES");
                while !a.is_done() && !tail(a.rest[0]) {
                    list.push(email(&mut a)?);
                }
                Op::Contacts(member, list)
            }
            "IL.LIMITS" => {
                let member = a.u64("member")?;
                let limits = match a.word("action")?.as_str() {
                    "clear" => None,
                    "set" => {
                        let (daily, weekly) = (a.u32("daily")?, a.u32("weekly")?);
                        let notes = match a.next("notes")? {
                            b"-" => None,
                            n => Some(u32_of(n, "notes")?),
                        };
                        let limits = crate::policy::TierLimits {
                            daily,
                            weekly,
                            notes_per_30d: notes,
                            max_note_chars: a.u32("max note chars")?,
                        };
                        limits
                            .validate_as("limits")
                            .map_err(|e| CommandError::new(format!("invalid limits: {e}")))?;
                        Some(limits)
                    }
                    other => {
                        return Err(CommandError::new(format!(
                            "unknown action {other}: SET or CLEAR"
                        )))
                    }
                };
                Op::Limits(member, limits)
            }
            _ => Op::Restore(a.next("value")?.to_vec()),
        };
        finish(op, a)
    }

    /// The command's name, e.g. `IL.SEND`.
    pub fn name(&self) -> &'static str {
        match &self.op {
            Op::Send(r) if r.peer.is_some() => "IL.PSEND",
            Op::Send(_) => "IL.SEND",
            Op::Diagnose(r) if r.peer.is_some() => "IL.PDIAGNOSE",
            Op::Diagnose(_) => "IL.DIAGNOSE",
            Op::Capacity(_) => "IL.CAPACITY",
            Op::Pending { .. } => "IL.PENDING",
            Op::Between(..) => "IL.BETWEEN",
            Op::Accept(..) => "IL.ACCEPT",
            Op::End(EndBy::Decline, ..) => "IL.DECLINE",
            Op::End(EndBy::Withdraw, ..) => "IL.WITHDRAW",
            Op::End(EndBy::Report, ..) => "IL.REPORT",
            Op::Remind(..) => "IL.REMIND",
            Op::Set(..) => "IL.SET",
            Op::Get(_) => "IL.GET",
            Op::Relate(Relation::Connect, ..) => "IL.CONNECT",
            Op::Relate(Relation::Disconnect, ..) => "IL.DISCONNECT",
            Op::Relate(Relation::Follow, ..) => "IL.FOLLOW",
            Op::Relate(Relation::Unfollow, ..) => "IL.UNFOLLOW",
            Op::PolicySet(_, _, true) => "IL.POLICYAT",
            Op::PolicyGet | Op::PolicySet(..) => "IL.POLICY",
            Op::Recipient(..) => "IL.RECIPIENT",
            Op::AcceptSide(..) => "IL.PACCEPT",
            Op::Mirror(..) => "IL.MIRROR",
            Op::Connected(..) => "IL.CONNECTED",
            Op::Dump => "IL.DUMP",
            Op::Restore(_) => "IL.RESTORE",
            Op::Email { owner: Some(_), .. } => "IL.PEMAIL",
            Op::Email { .. } => "IL.EMAIL",
            Op::Contacts(..) => "IL.CONTACTS",
            Op::Limits(..) => "IL.LIMITS",
        }
    }

    /// How many keys the command names (arguments `1..=keys`).
    pub fn key_count(&self) -> usize {
        spec(self.name()).map_or(0, |s| s.keys)
    }

    /// Whether the command changes state, so it must be replicated.
    pub fn writes(&self) -> bool {
        match &self.op {
            Op::PolicySet(..) => true,
            Op::PolicyGet => false,
            _ => spec(self.name()).is_some_and(|s| s.writes),
        }
    }

    /// Whether a command naming two keys changes the second one's value: an
    /// acceptance connects the recipient too, while a send only reads the
    /// recipient's facts (its key need not be written back).
    pub fn writes_second(&self) -> bool {
        self.key_count() == 2 && !matches!(self.op, Op::Send(_))
    }

    /// The named policy the command decides by, reads or sets, if it names one.
    pub fn policy_name(&self) -> Option<&str> {
        self.rules.as_deref()
    }

    /// The instant the caller asked for, if any.
    pub fn at(&self) -> Option<u64> {
        self.at
    }

    /// The arguments a replica (or an AOF) runs to reach the same state: `args`
    /// without the command's name, with the instant the command was decided at
    /// pinned as `AT <at>` so the replica decides exactly as the master did.
    pub fn replicated(&self, args: &[&[u8]], at: u64) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = args.iter().skip(1).map(|a| a.to_vec()).collect();
        if self.at.is_some() {
            // `AT <ms>` is always the last pair: replace its value.
            out.pop();
            out.pop();
        }
        if !matches!(self.op, Op::PolicySet(..) | Op::PolicyGet | Op::Restore(_)) {
            out.push(b"AT".to_vec());
            out.push(at.to_string().into_bytes());
        }
        out
    }
}

/// Reads the optional trailing `AT <ms>` and refuses anything left over.
fn finish(op: Op, mut a: Args<'_>) -> Result<Command, CommandError> {
    let (mut at, mut rules) = (None, None);
    let timed = !matches!(op, Op::PolicySet(..) | Op::PolicyGet | Op::Restore(_));
    if timed
        && a.rest
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case(b"RULES"))
    {
        a.next("RULES")?;
        let name = a.text("rules")?;
        if name.is_empty() || name.len() > 256 {
            return Err(CommandError::new("a policy name is 1 to 256 bytes"));
        }
        rules = Some(name.to_owned());
    }
    if timed
        && a.rest
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case(b"AT"))
    {
        a.next("AT")?;
        let ms = a.u64("AT")?;
        if ms > crate::Timestamp::MAX.as_millis() {
            return Err(CommandError::new("AT is after Timestamp::MAX"));
        }
        at = Some(ms);
    }
    if !a.is_done() {
        return Err(CommandError::new(
            "wrong number of arguments or unknown option",
        ));
    }
    Ok(Command { op, at, rules })
}

pub(crate) fn spec(name: &str) -> Option<Spec> {
    COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(name, keys, writes)| Spec { name, keys, writes })
}
