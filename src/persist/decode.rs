//! Reading a snapshot: every byte framed, checksummed, decoded and checked before an
//! engine is touched (see `install` for what happens then).

use super::OLDEST_VERSION;
use super::{PersistError, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_SHARDS, TRAILER_LEN};
use crate::codec::{instant, DecodeError, Reader};
use crate::ids::MAX_SEQ;
use crate::sender::record::{FastMap, FastSet, Member};
use crate::time::Timestamp;

mod member;

use member::read_member;
#[cfg(feature = "server")]
pub(crate) use member::{read_lone_facts, read_lone_member};

/// Smallest encodings, so a corrupt count is refused before it allocates.
const MIN_MEMBER: usize = 8 + 3 + 8 + 8 + 8 + 1;
const COOLDOWN_BYTES: usize = 8 * 3;

/// A decoded snapshot, not yet placed in an engine.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The snapshot's format version.
    pub(crate) version: u32,
    pub(crate) latest: u64,
    /// No sequence number below this may be issued: the largest writer floor and,
    /// in snapshots from when sequences were counted per shard (before version 3),
    /// above every stored sequence.
    pub(crate) seq_floor: u64,
    /// The largest writer floor alone, which the trailer repeats.
    pub(crate) writer_floor: u64,
    pub(crate) expired_unswept: u64,
    pub(crate) members: Vec<(u64, Member)>,
    /// (sender, recipient, cooldown end).
    pub(crate) cooldowns: Vec<(u64, u64, u64)>,
    /// Registered email → owner, unique by construction.
    pub(crate) emails: FastMap<String, u64>,
    pub(crate) invitations: u64,
    /// Read a member's facts only: its send log and invitations are read past, not
    /// kept (what another member's admission reads; see `read_lone_facts`).
    pub(crate) facts_only: bool,
    /// Build ledgers that are scanned, never indexed (see `read_lone_member`).
    pub(crate) scan_only: bool,
}

fn corrupt(e: DecodeError) -> PersistError {
    PersistError::Corrupt {
        offset: e.offset as u64,
        what: e.what,
    }
}

fn err<T>(offset: usize, what: &'static str) -> Result<T, PersistError> {
    Err(corrupt(DecodeError { offset, what }))
}

/// Frames within the whole input: fixed-size fields and checksummed sections.
struct Frames<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Frames<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PersistError> {
        match self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => err(self.pos, "unexpected end of data"),
        }
    }

    fn u32(&mut self) -> Result<u32, PersistError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, PersistError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A CRC-32 field that must match `data`.
    fn crc(&mut self, data: &[u8], what: &'static str) -> Result<(), PersistError> {
        let at = self.pos;
        if self.u32()? != crc32fast::hash(data) {
            return err(at, what);
        }
        Ok(())
    }
}

/// Checks what of the header `bytes` holds (all of it when there are enough):
/// magic, version, checksum and shard count. Returns the version, the shard count and
/// the latest instant.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(u32, u32, u64), PersistError> {
    if bytes.is_empty() {
        return err(0, "the input is empty");
    }
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return err(0, "not an invite-limiter snapshot (wrong magic bytes)");
    }
    let mut f = Frames { bytes, pos: 0 };
    f.take(MAGIC.len())?;
    // The version is read before any checksum: another version may frame differently.
    let found = f.u32()?;
    if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&found) {
        return Err(PersistError::WrongVersion {
            found,
            expected: FORMAT_VERSION,
        });
    }
    let shards = f.u32()?;
    let latest = f.u64()?;
    f.crc(&bytes[..HEADER_LEN], "header checksum mismatch")?;
    if shards == 0 || shards > MAX_SHARDS || !shards.is_power_of_two() {
        return err(12, "invalid shard count");
    }
    if latest > Timestamp::MAX.as_millis() {
        return err(16, "instant after Timestamp::MAX");
    }
    Ok((found, shards, latest))
}

/// Decodes and checks a whole snapshot.
pub(crate) fn decode(bytes: &[u8]) -> Result<State, PersistError> {
    let (version, shards, latest) = check_header(bytes)?;
    let mut f = Frames {
        bytes,
        pos: HEADER_LEN + 4,
    };
    let mut state = State {
        version,
        latest,
        ..State::default()
    };
    let mut seen = FastSet::default();
    let mut pairs = FastSet::default();
    for _ in 0..shards {
        let at = f.pos;
        let len = usize::try_from(f.u64()?).unwrap_or(usize::MAX);
        if len > bytes.len().saturating_sub(f.pos) {
            return err(at, "section length exceeds the data");
        }
        let base = f.pos;
        let payload = f.take(len)?;
        f.crc(payload, "shard section checksum mismatch")?;
        let mut r = Reader::new(payload, base);
        read_section(&mut r, &mut state, &mut seen, &mut pairs).map_err(corrupt)?;
    }
    let totals_at = f.pos;
    let mut t = Reader::new(f.take(TRAILER_LEN)?, totals_at);
    let counts = (t.u32(), t.u64(), t.u64(), t.u64());
    let body = f.pos;
    f.crc(&bytes[..body], "snapshot checksum mismatch")?;
    let expected = (
        Ok(shards),
        Ok(state.members.len() as u64),
        Ok(state.invitations),
        Ok(state.writer_floor),
    );
    if counts != expected {
        return err(totals_at, "totals do not match the sections");
    }
    if f.pos != bytes.len() {
        return err(f.pos, "trailing bytes after the snapshot");
    }
    Ok(state)
}

fn read_section(
    r: &mut Reader<'_>,
    state: &mut State,
    seen: &mut FastSet<u64>,
    pairs: &mut FastSet<(u64, u64)>,
) -> Result<(), DecodeError> {
    state.latest = state.latest.max(instant(r)?);
    let floor = r.u64()?;
    if floor >= MAX_SEQ {
        return r.fail("invitation sequence numbers exhausted");
    }
    state.writer_floor = state.writer_floor.max(floor);
    state.seq_floor = state.seq_floor.max(floor);
    state.expired_unswept = state.expired_unswept.saturating_add(r.u64()?);
    let n = r.len(MIN_MEMBER)?;
    for _ in 0..n {
        let id = r.u64()?;
        if !seen.insert(id) {
            return r.fail("member stored twice");
        }
        let member = read_member(r, id, state)?;
        for email in member.extra.iter().flat_map(|x| &x.emails) {
            if state.emails.insert(email.clone(), id).is_some() {
                return r.fail("email registered to two members");
            }
        }
        state.members.push((id, member));
    }
    for _ in 0..r.len(COOLDOWN_BYTES)? {
        let (sender, recipient, until) = (r.u64()?, r.u64()?, r.u64()?);
        if until == 0 || !pairs.insert((sender, recipient)) {
            return r.fail("invalid or repeated re-invite cooldown");
        }
        state.cooldowns.push((sender, recipient, until));
    }
    if !r.is_done() {
        return r.fail("unexpected bytes at the end of a shard section");
    }
    Ok(())
}
