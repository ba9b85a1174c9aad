//! What a parsed command asks: the operation, its members and options, and the
//! error a malformed command gets.

use std::fmt;

use crate::account::{AccountStatus, InviteSetting, Tier};

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
    Send(Request),
    Diagnose(Request),
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
    /// A policy's bytes, and the member caps that go with it.
    /// `true`: `IL.POLICYAT`, which names a key to be routed by.
    PolicySet(Vec<u8>, PolicyExtras, bool),
    /// The recipient of a sender's invitation.
    Recipient(u64, u64),
    /// An acceptance on the sender's key alone; `Mirror` does the recipient's side.
    AcceptSide(u64, u64),
    /// The recipient's side of an acceptance: (recipient, sender).
    Mirror(u64, u64),
    /// Whether a member is connected to another.
    Connected(u64, u64),
    Dump,
    Restore(Vec<u8>),
    Email {
        member: u64,
        add: bool,
        email: String,
        /// The one-key form (`IL.PEMAIL`): the owner the caller read from (or
        /// claimed in) the email's owner key, which the caller keeps itself.
        owner: Option<Option<u64>>,
    },
    Contacts(u64, Vec<String>),
    Limits(u64, Option<crate::policy::TierLimits>),
}

/// What a policy is set with besides its bytes: the member caps and the rules in
/// shadow mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PolicyExtras {
    pub(crate) caps: crate::MemberLimits,
    pub(crate) shadow: crate::Shadow,
}

/// A send or a diagnosis, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) sender: u64,
    pub(crate) recipient: u64,
    pub(crate) note: Option<String>,
    pub(crate) key: Option<u64>,
    /// The recipient's email as given, and the member it is registered to (read
    /// by the caller from the email's owner key).
    pub(crate) email: Option<(String, Option<u64>)>,
    /// Count the send as an attempt for the spam signals (all but the second and
    /// later sends of one bulk action).
    pub(crate) counted: bool,
    /// The one-key form (`IL.PSEND`, `IL.PDIAGNOSE`): the recipient's stored bytes as
    /// read from the recipient's key (`PEER <bytes>`; `None`: the key holds nothing),
    /// for a cluster, where the two keys live on different slots.
    pub(crate) peer: Option<Option<Vec<u8>>>,
    /// The one-key form given the recipient's facts instead of their value
    /// (`FACTS <active|banned> <setting>`): whether they are banned, and their invite
    /// setting, as the caller's cache holds them. Enough whenever the setting admits
    /// everyone or nobody and the strangers signal is off; refused otherwise.
    pub(crate) facts: Option<(bool, InviteSetting)>,
}
