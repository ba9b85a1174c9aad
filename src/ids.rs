//! Identifiers of members and invitations.

use std::fmt;

/// A member of the network. Members need no registration: an id never seen before
/// is an active Free member who accepts invitations from everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MemberId(pub u64);

impl From<u64> for MemberId {
    fn from(id: u64) -> Self {
        MemberId(id)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {}", self.0)
    }
}

/// An invitation, unique within one engine.
///
/// The id is its sender and a sequence number of that sender's own, so the engine
/// finds the invitation in the sender's record without a global index, and an id
/// means the same invitation in every storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InviteId {
    sender: u64,
    seq: u64,
}

/// How many sequence numbers a sender has per millisecond before running into the
/// next one's: see [`first_seq_at`].
pub(crate) const SEQS_PER_MILLI: u64 = 1_000;

/// The first sequence number of a send at `now`. A sender's sequences start from the
/// sending instant, so they grow with time and stay unique even when the sender's
/// record was dropped in between (storage keeps nothing of idle members). The Redis
/// script numbers them the same way.
pub(crate) fn first_seq_at(now: u64) -> u64 {
    now.saturating_mul(SEQS_PER_MILLI)
}

/// Sequence numbers stored or replayed must be below this, so a sender can always
/// issue the next one.
pub(crate) const MAX_SEQ: u64 = 1 << 63;

impl InviteId {
    pub(crate) fn new(sender: MemberId, seq: u64) -> Self {
        InviteId {
            sender: sender.0,
            seq,
        }
    }

    /// The member who sent the invitation.
    pub fn sender(self) -> MemberId {
        MemberId(self.sender)
    }

    pub(crate) fn seq(self) -> u64 {
        self.seq
    }

    /// The id as 16 bytes (sender, then sequence, big-endian), for logs and storage.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.sender.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The id written by [`InviteId::to_bytes`].
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut sender = [0u8; 8];
        let mut seq = [0u8; 8];
        sender.copy_from_slice(&bytes[..8]);
        seq.copy_from_slice(&bytes[8..]);
        InviteId {
            sender: u64::from_be_bytes(sender),
            seq: u64::from_be_bytes(seq),
        }
    }
}

impl fmt::Display for InviteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inv-{:x}-{:x}", self.sender, self.seq)
    }
}

/// Text that is not an invitation id as [`InviteId`]'s `Display` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseInviteIdError(String);

impl fmt::Display for ParseInviteIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an invitation id (expected inv-<hex>-<hex>); copy the id as it was given",
            self.0
        )
    }
}

impl std::error::Error for ParseInviteIdError {}

/// Parses the `inv-<sender hex>-<sequence hex>` form that `Display` writes, so ids
/// taken from logs can be used again.
impl std::str::FromStr for InviteId {
    type Err = ParseInviteIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = || ParseInviteIdError(s.to_owned());
        let rest = s.strip_prefix("inv-").ok_or_else(fail)?;
        let (sender, seq) = rest.split_once('-').ok_or_else(fail)?;
        let hex = |t: &str| {
            if t.is_empty() || t.starts_with('+') {
                return Err(fail());
            }
            u64::from_str_radix(t, 16).map_err(|_| fail())
        };
        Ok(InviteId {
            sender: hex(sender)?,
            seq: hex(seq)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_id_round_trips_through_bytes() {
        let id = InviteId::new(MemberId(0xdead_beef), 77);
        assert_eq!(InviteId::from_bytes(id.to_bytes()), id);
        assert_eq!(id.sender(), MemberId(0xdead_beef));
        assert_eq!(id.to_string(), "inv-deadbeef-4d");
    }

    #[test]
    fn invite_id_parses_what_it_displays() {
        let id = InviteId::new(MemberId(u64::MAX), 0);
        assert_eq!(id.to_string().parse::<InviteId>(), Ok(id));
        for bad in [
            "",
            "inv-",
            "inv-1",
            "inv-1-",
            "inv--1",
            "inv-g-1",
            "id-1-2",
            "inv-+1-2",
            "inv-1-2-3",
        ] {
            assert!(bad.parse::<InviteId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn member_id_from_u64_and_display() {
        assert_eq!(MemberId::from(7), MemberId(7));
        assert_eq!(MemberId(7).to_string(), "member 7");
    }
}
