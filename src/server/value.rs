//! One member's state as the Redis module stores it under the member's key: the
//! record the state machine works on, and the latest instant it has seen. At rest
//! the module keeps it packed ([`PackedMember`], the compact bytes) and unpacks it
//! for the command that reads or changes it.

use crate::codec::{instant, DecodeError, Reader, Writer};
use crate::rules::Rules;
use crate::sender::record::Member;
use crate::server::CommandError;

/// The first byte of a stored value, and its layout version: 1 wrote every integer
/// at full width (still read), 2 writes them as varints (the compact form).
const MAGIC: u8 = b'M';
const FIXED: u8 = 1;
const VERSION: u8 = 2;

/// A member's stored state: the sender state machine's record, and the latest
/// instant any command about the member ran at, so its time never steps back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberValue {
    pub(crate) member: Member,
    pub(crate) clock: u64,
}

impl MemberValue {
    pub(crate) fn new(id: u64) -> Self {
        MemberValue {
            member: Member::new(id),
            clock: 0,
        }
    }

    /// The member the value belongs to.
    pub fn id(&self) -> u64 {
        self.member.id
    }

    /// The value's bytes, in the compact form: what the module keeps at rest, RDB
    /// saves, `IL.DUMP` answers and `IL.RESTORE` reads.
    pub fn encode(&self) -> Vec<u8> {
        self.write(Writer::compact(), VERSION)
    }

    /// The bytes in the first layout, every integer at full width.
    #[cfg(test)]
    pub(crate) fn encode_fixed(&self) -> Vec<u8> {
        self.write(Writer::default(), FIXED)
    }

    fn write(&self, mut w: Writer, version: u8) -> Vec<u8> {
        w.u8(MAGIC);
        w.u8(version);
        w.u64(self.clock);
        crate::persist::encode::write_member(&mut w, self.member.id, &self.member, 3);
        let mut cooldowns: Vec<(u64, u64)> = self
            .member
            .extra
            .iter()
            .flat_map(|x| x.cooldowns.iter().map(|(&r, &until)| (r, until)))
            .collect();
        cooldowns.sort_unstable();
        w.len(cooldowns.len());
        for (recipient, until) in cooldowns {
            w.u64(recipient);
            w.u64(until);
        }
        w.into_bytes()
    }

    /// Reads bytes written by [`MemberValue::encode`], checking every field.
    ///
    /// # Errors
    /// A [`CommandError`] saying where the bytes are malformed.
    pub fn decode(bytes: &[u8]) -> Result<MemberValue, CommandError> {
        Self::read(bytes).map_err(malformed)
    }

    /// The facts of a value stored by the module ([`PackedMember::facts`]).
    fn read_facts(bytes: &[u8]) -> Result<MemberValue, DecodeError> {
        let mut head = Reader::new(bytes, 0);
        if (head.u8()?, head.u8()?) != (MAGIC, VERSION) {
            return head.fail("not a member value of the current version");
        }
        let mut r = Reader::compact(bytes.get(2..).unwrap_or_default(), 2);
        let clock = instant(&mut r)?;
        let id = r.u64()?;
        let member = crate::persist::decode::read_lone_facts(&mut r, id)?;
        Ok(MemberValue { member, clock })
    }

    fn read(bytes: &[u8]) -> Result<MemberValue, DecodeError> {
        let mut head = Reader::new(bytes, 0);
        let (magic, version) = (head.u8()?, head.u8()?);
        let body = bytes.get(2..).unwrap_or_default();
        let mut r = match (magic, version) {
            (MAGIC, VERSION) => Reader::compact(body, 2),
            (MAGIC, FIXED) => Reader::new(body, 2),
            _ => return head.fail("not a member value of a known version"),
        };
        let clock = instant(&mut r)?;
        let id = r.u64()?;
        let mut member = crate::persist::decode::read_lone_member(&mut r, id)?;
        let mut last = None;
        for _ in 0..r.len(16)? {
            let (recipient, until) = (r.u64()?, instant(&mut r)?);
            if until == 0 || last.is_some_and(|l| l >= recipient) {
                return r.fail("cooldowns repeated, unsorted or empty");
            }
            last = Some(recipient);
            member.start_cooldown(recipient, until);
        }
        if !r.is_done() {
            return r.fail("unexpected bytes after the value");
        }
        Ok(MemberValue { member, clock })
    }

    /// The member's facts alone, copied: status, setting, tier and the extra record
    /// (relations, emails, contacts), with no sends and no invitations; what a send
    /// reads of its recipient (as [`PackedMember::facts`] reads it from bytes).
    pub(crate) fn facts_copy(&self) -> MemberValue {
        let mut member = Member::new(self.member.id);
        member.tier = self.member.tier;
        member.setting = self.member.setting;
        member.set_status(self.member.status());
        member.extra = self.member.extra.clone();
        member.ledger.issued_below(self.member.ledger.next_seq());
        MemberValue {
            member,
            clock: self.clock,
        }
    }

    /// The value packed for keeping at rest: written into a buffer reused from one
    /// value to the next, then copied to an allocation of its exact length.
    pub fn pack(&self) -> PackedMember {
        thread_local! {
            static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let mut buf = SCRATCH.take();
        buf.clear();
        let buf = self.write(Writer::compact_into(buf), VERSION);
        let packed = PackedMember(Box::from(buf.as_slice()));
        SCRATCH.set(buf);
        packed
    }

    /// When, with no further command, the value holds nothing that changes an
    /// answer (its windows empty, its facts at their defaults): the key may expire
    /// then. `None` while it holds a fact that does not expire by itself.
    pub(crate) fn idle_at(&self, rules: &Rules) -> Option<u64> {
        self.member.idle_estimate(&rules.spans, &rules.policy)
    }
}

/// A member's value at rest: its compact bytes ([`MemberValue::encode`]) in one
/// allocation of their exact length. A command unpacks it, runs on the
/// [`MemberValue`] and packs the result; a member with a few invitations pending
/// keeps about a hundred bytes instead of the record's several cache lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedMember(Box<[u8]>);

impl PackedMember {
    /// Checks `bytes` as a stored value (either version) and packs it in the
    /// current form.
    ///
    /// # Errors
    /// A [`CommandError`] saying where the bytes are malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<PackedMember, CommandError> {
        Ok(MemberValue::decode(bytes)?.pack())
    }

    /// The value to run a command on.
    ///
    /// # Errors
    /// A [`CommandError`] when the bytes do not decode, which only bytes changed
    /// behind the module's back can cause.
    pub fn unpack(&self) -> Result<MemberValue, CommandError> {
        MemberValue::decode(&self.0)
    }

    /// The member's facts alone, as a send or a diagnosis reads its recipient:
    /// status, setting, relations, emails and contacts, with no send log and no
    /// invitations (those are read past, not built). Only for what a command reads
    /// and does not write back.
    ///
    /// # Errors
    /// As [`PackedMember::unpack`].
    pub fn facts(&self) -> Result<MemberValue, CommandError> {
        MemberValue::read_facts(&self.0).map_err(malformed)
    }

    /// The bytes RDB saves and an AOF rewrite restores.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes the value holds: its header and its buffer.
    pub fn memory_usage(&self) -> usize {
        size_of::<PackedMember>() + self.0.len()
    }
}

fn malformed(e: DecodeError) -> CommandError {
    CommandError::new(format!(
        "stored value malformed at byte {}: {}",
        e.offset, e.what
    ))
}
