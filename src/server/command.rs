//! Parsing a command's arguments into a [`Command`], and writing a command back as
//! the arguments a replica runs (with its instant pinned).

use std::fmt;

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::codes::names;

/// Longest argument accepted, in bytes: a note, a policy or a stored value is far
/// smaller, and anything larger is refused before it is copied.
pub const MAX_ARG_BYTES: usize = 1 << 20;

/// A malformed command: the error reply's text, without the `ERR ` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub(crate) String);

impl CommandError {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        CommandError(text.into())
    }

    /// The error's text.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

/// How an invitation ends by one member's word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndBy {
    Decline,
    Withdraw,
    Report,
}

/// A member fact to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fact {
    Tier(Tier),
    Status(AccountStatus),
    Setting(InviteSetting),
}

/// A relation of one member's, changed on that member's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Connect,
    Disconnect,
    Follow,
    Unfollow,
}

/// What a command asks, with its member ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Send {
        sender: u64,
        recipient: u64,
        note: Option<String>,
        key: Option<u64>,
    },
    Diagnose {
        sender: u64,
        recipient: u64,
        note: Option<String>,
        key: Option<u64>,
    },
    Capacity(u64),
    Pending {
        member: u64,
        after: Option<u64>,
        count: usize,
    },
    Between(u64, u64),
    Accept(u64, u64),
    End(EndBy, u64, u64),
    Remind(u64, u64),
    Set(u64, Fact),
    Get(u64),
    Relate(Relation, u64, u64),
    PolicyGet,
    PolicySet(Vec<u8>),
    Dump,
    Restore(Vec<u8>),
}

/// One parsed `IL.*` command: what it asks and, when the caller gave one, the
/// instant it is asked at (`AT <ms>`; otherwise the server's clock decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub(crate) op: Op,
    pub(crate) at: Option<u64>,
}

/// Every command: its name, its keys and whether it changes state.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    /// Keys at arguments `1..=keys`.
    pub(crate) keys: usize,
    pub(crate) writes: bool,
}

/// The command table, in the order `COMMANDS` lists them.
pub const COMMANDS: [(&str, usize, bool); 18] = [
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
];

/// Arguments, read front to back.
struct Args<'a> {
    rest: &'a [&'a [u8]],
}

impl<'a> Args<'a> {
    fn next(&mut self, what: &str) -> Result<&'a [u8], CommandError> {
        let (first, rest) = self.rest.split_first().ok_or_else(|| {
            CommandError::new(format!("wrong number of arguments: {what} missing"))
        })?;
        self.rest = rest;
        Ok(first)
    }

    fn text(&mut self, what: &str) -> Result<&'a str, CommandError> {
        std::str::from_utf8(self.next(what)?)
            .map_err(|_| CommandError::new(format!("{what} is not UTF-8")))
    }

    fn u64(&mut self, what: &str) -> Result<u64, CommandError> {
        number(self.next(what)?, what)
    }

    fn word(&mut self, what: &str) -> Result<String, CommandError> {
        Ok(self.text(what)?.to_ascii_lowercase())
    }

    fn is_done(&self) -> bool {
        self.rest.is_empty()
    }
}

/// A decimal number in `0..=u64::MAX`, digits only.
pub(crate) fn number(arg: &[u8], what: &str) -> Result<u64, CommandError> {
    let bad = || CommandError::new(format!("{what} is not a non-negative integer"));
    if arg.is_empty() || arg.len() > 20 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)
}

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
        if name == "IL.POLICY" {
            let op = match a.word("subcommand")?.as_str() {
                "get" => Op::PolicyGet,
                "set" => Op::PolicySet(a.next("policy")?.to_vec()),
                other => return Err(CommandError::new(format!("unknown subcommand {other}"))),
            };
            return finish(op, a);
        }
        let spec =
            spec(&name).ok_or_else(|| CommandError::new(format!("unknown command {name}")))?;
        for i in 0..spec.keys {
            a.next(if i == 0 { "key" } else { "second key" })?;
        }
        let op = match spec.name {
            "IL.SEND" | "IL.DIAGNOSE" => {
                let (sender, recipient) = (a.u64("sender")?, a.u64("recipient")?);
                let (mut note, mut key) = (None, None);
                while let Some(opt) = a.rest.first() {
                    match opt.to_ascii_uppercase().as_slice() {
                        b"NOTE" if note.is_none() => {
                            a.next("NOTE")?;
                            note = Some(a.text("note")?.to_owned());
                        }
                        b"KEY" if key.is_none() => {
                            a.next("KEY")?;
                            key = Some(a.u64("idempotency key")?);
                        }
                        _ => break,
                    }
                }
                if spec.name == "IL.SEND" {
                    Op::Send {
                        sender,
                        recipient,
                        note,
                        key,
                    }
                } else {
                    Op::Diagnose {
                        sender,
                        recipient,
                        note,
                        key,
                    }
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
            _ => Op::Restore(a.next("value")?.to_vec()),
        };
        finish(op, a)
    }

    /// The command's name, e.g. `IL.SEND`.
    pub fn name(&self) -> &'static str {
        match &self.op {
            Op::Send { .. } => "IL.SEND",
            Op::Diagnose { .. } => "IL.DIAGNOSE",
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
            Op::PolicyGet | Op::PolicySet(_) => "IL.POLICY",
            Op::Dump => "IL.DUMP",
            Op::Restore(_) => "IL.RESTORE",
        }
    }

    /// How many keys the command names (arguments `1..=keys`).
    pub fn key_count(&self) -> usize {
        spec(self.name()).map_or(0, |s| s.keys)
    }

    /// Whether the command changes state, so it must be replicated.
    pub fn writes(&self) -> bool {
        match &self.op {
            Op::PolicySet(_) => true,
            Op::PolicyGet => false,
            _ => spec(self.name()).is_some_and(|s| s.writes),
        }
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
        if !matches!(self.op, Op::PolicySet(_) | Op::PolicyGet | Op::Restore(_)) {
            out.push(b"AT".to_vec());
            out.push(at.to_string().into_bytes());
        }
        out
    }
}

/// A status: `active`, `banned`, or `restricted [UNTIL <ms>]`.
fn status(a: &mut Args<'_>) -> Result<AccountStatus, CommandError> {
    Ok(match a.word("status")?.as_str() {
        "active" => AccountStatus::Active,
        "banned" => AccountStatus::Banned,
        "restricted" => {
            let until = match a.rest.first() {
                Some(w) if w.eq_ignore_ascii_case(b"UNTIL") => {
                    a.next("UNTIL")?;
                    let ms = a.u64("UNTIL")?;
                    if ms > crate::Timestamp::MAX.as_millis() {
                        return Err(CommandError::new("UNTIL is after Timestamp::MAX"));
                    }
                    Some(crate::Timestamp::from_millis(ms))
                }
                _ => None,
            };
            AccountStatus::Restricted { until }
        }
        other => {
            return Err(CommandError::new(format!(
                "unknown status {other}: active, restricted or banned"
            )))
        }
    })
}

/// Reads the optional trailing `AT <ms>` and refuses anything left over.
fn finish(op: Op, mut a: Args<'_>) -> Result<Command, CommandError> {
    let mut at = None;
    if let Some(w) = a.rest.first() {
        if w.eq_ignore_ascii_case(b"AT")
            && !matches!(op, Op::PolicySet(_) | Op::PolicyGet | Op::Restore(_))
        {
            a.next("AT")?;
            let ms = a.u64("AT")?;
            if ms > crate::Timestamp::MAX.as_millis() {
                return Err(CommandError::new("AT is after Timestamp::MAX"));
            }
            at = Some(ms);
        }
    }
    if !a.is_done() {
        return Err(CommandError::new(
            "wrong number of arguments or unknown option",
        ));
    }
    Ok(Command { op, at })
}

pub(crate) fn spec(name: &str) -> Option<Spec> {
    COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(name, keys, writes)| Spec { name, keys, writes })
}
