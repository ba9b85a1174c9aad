//! One member's state as the Redis module stores it under the member's key: the
//! record the state machine works on, and the latest instant it has seen.

use crate::codec::{instant, DecodeError, Reader, Writer};
use crate::rules::Rules;
use crate::sender::record::{Extra, Member};
use crate::server::CommandError;

/// The first byte of a stored value, and its layout version.
const MAGIC: u8 = b'M';
const VERSION: u8 = 1;

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

    /// The value's bytes: what RDB saves, `IL.DUMP` answers and `IL.RESTORE` reads.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(MAGIC);
        w.u8(VERSION);
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
        Self::read(bytes).map_err(|e| {
            CommandError::new(format!(
                "stored value malformed at byte {}: {}",
                e.offset, e.what
            ))
        })
    }

    fn read(bytes: &[u8]) -> Result<MemberValue, DecodeError> {
        let mut r = Reader::new(bytes, 0);
        if r.u8()? != MAGIC || r.u8()? != VERSION {
            return r.fail("not a member value of this version");
        }
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

    /// An estimate of the bytes the value holds: the record, its boxed parts and
    /// their contents.
    pub fn memory_usage(&self) -> usize {
        let boxed = self.member.extra.as_ref().map_or(0, |_| size_of::<Extra>())
            + self
                .member
                .spam
                .as_ref()
                .map_or(0, |_| size_of::<crate::rules::spam::SpamState>());
        size_of::<MemberValue>() + boxed + self.encode().len()
    }

    /// When, with no further command, the value holds nothing that changes an
    /// answer (its windows empty, its facts at their defaults): the key may expire
    /// then. `None` while it holds a fact that does not expire by itself.
    pub(crate) fn idle_at(&self, rules: &Rules) -> Option<u64> {
        self.member.idle_estimate(&rules.spans, &rules.policy)
    }
}
