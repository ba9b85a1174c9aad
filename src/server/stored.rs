//! What the Redis module keeps under a member's key: the packed bytes while the
//! member holds few invitations, the open record once it holds many.
//!
//! Packed, a value costs a command a decode and an encode, which grow with its
//! invitations; open, it costs memory, three cache lines and buffers. A member with
//! more than [`OPEN_AT`] invitations is kept open, so no command's cost grows with a
//! heavy sender's backlog; it is packed again at [`PACK_AT`] or fewer, so a member
//! near the line does not switch at every command.

use std::borrow::Cow;

use crate::server::{CommandError, MemberValue, PackedMember};

/// Invitations above which a value is kept open.
pub const OPEN_AT: usize = 64;
/// Invitations at or below which an open value is packed again.
pub const PACK_AT: usize = 32;

/// A member's value as the module stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredMember {
    /// The compact bytes.
    Packed(PackedMember),
    /// The record itself.
    Open(Box<MemberValue>),
}

impl StoredMember {
    /// Stores a new key's value, in the form its size calls for.
    pub fn new(value: MemberValue) -> StoredMember {
        Self::sized(value, OPEN_AT)
    }

    /// Replaces the value, keeping an open one open until it is small again.
    pub fn put(&mut self, value: MemberValue) {
        let limit = match self {
            StoredMember::Open(_) => PACK_AT,
            StoredMember::Packed(_) => OPEN_AT,
        };
        *self = Self::sized(value, limit);
    }

    fn sized(value: MemberValue, limit: usize) -> StoredMember {
        if value.member.ledger.len() > limit {
            StoredMember::Open(Box::new(value))
        } else {
            StoredMember::Packed(value.pack())
        }
    }

    /// Checks `bytes` as a stored value (either layout) and stores it.
    ///
    /// # Errors
    /// A [`CommandError`] saying where the bytes are malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<StoredMember, CommandError> {
        Ok(Self::new(MemberValue::decode(bytes)?))
    }

    /// The value to run a command on: borrowed when open, unpacked when packed.
    ///
    /// # Errors
    /// A [`CommandError`] when packed bytes do not decode, which only bytes changed
    /// behind the module's back can cause.
    pub fn value(&self) -> Result<Cow<'_, MemberValue>, CommandError> {
        match self {
            StoredMember::Open(v) => Ok(Cow::Borrowed(v)),
            StoredMember::Packed(p) => p.unpack().map(Cow::Owned),
        }
    }

    /// What a send or a diagnosis reads of its recipient ([`PackedMember::facts`]):
    /// status, setting and relations, without sends or invitations.
    ///
    /// # Errors
    /// As [`StoredMember::value`].
    pub fn facts(&self) -> Result<MemberValue, CommandError> {
        match self {
            StoredMember::Open(v) => Ok(v.facts_copy()),
            StoredMember::Packed(p) => p.facts(),
        }
    }

    /// The bytes RDB saves and an AOF rewrite restores: the packed form either way.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            StoredMember::Open(v) => Cow::Owned(v.encode()),
            StoredMember::Packed(p) => Cow::Borrowed(p.bytes()),
        }
    }

    /// The bytes the value holds. Open: the record, its invitations and sends at
    /// their buffers' sizes, and the rest at its packed size (an estimate).
    pub fn memory_usage(&self) -> usize {
        match self {
            StoredMember::Packed(p) => size_of::<StoredMember>() + p.memory_usage(),
            StoredMember::Open(v) => {
                let invites = v.member.ledger.len().next_power_of_two() * 32;
                let sends = v.member.sends.times().count().next_power_of_two() * 8;
                let rest = v.encode().len();
                size_of::<StoredMember>() + size_of::<MemberValue>() + invites + sends + rest
            }
        }
    }
}
