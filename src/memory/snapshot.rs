//! Snapshots of the in-memory engine: writing one (each shard encoded under its
//! lock), restoring one into a freshly built engine, and the consistent cut a
//! checkpoint takes with every shard locked. The formats live in `persist`.

use std::io::{Read, Write};

use parking_lot::RwLockWriteGuard;

use crate::memory::builder::EngineBuilder;
use crate::memory::engine::Engine;
use crate::memory::shard::Shard;
use crate::persist::encode::{self, encode_shard_as, ShardParts};
use crate::persist::{decode, PersistError, FORMAT_VERSION, HEADER_LEN, MAX_SNAPSHOT_BYTES};

impl Engine {
    /// Writes the whole state to `out` as a snapshot that
    /// [`EngineBuilder::restore`] reads back.
    ///
    /// Shards are locked one at a time, each only while it is encoded, so sends go
    /// on meanwhile: the snapshot is consistent per shard — hence per sender, as
    /// everything a decision commits belongs to its sender — but not across members.
    /// `out` is not buffered here; pass a `BufWriter` for a file.
    ///
    /// ```
    /// use invite_limiter::{Engine, InviteRequest, ManualClock, MemberId, Timestamp};
    ///
    /// let clock = ManualClock::new(Timestamp::from_millis(0));
    /// let engine = Engine::builder().clock(clock.clone()).build().unwrap();
    /// let sent = engine.send(InviteRequest::new(MemberId(1), MemberId(2))).unwrap();
    /// let mut bytes = Vec::new();
    /// engine.snapshot(&mut bytes).unwrap();
    ///
    /// let restored = Engine::builder().clock(clock).restore(&mut bytes.as_slice()).unwrap();
    /// restored.accept(sent.id()).unwrap();
    /// assert!(restored.are_connected(MemberId(1), MemberId(2)));
    /// ```
    ///
    /// # Errors
    /// [`PersistError::Io`] when `out` fails; what was written by then is not a valid
    /// snapshot.
    pub fn snapshot(&self, out: &mut impl Write) -> Result<(), PersistError> {
        write_snapshot(self, out)
    }
}

impl EngineBuilder {
    /// Builds an engine holding the state of a snapshot written by
    /// [`Engine::snapshot`], enforcing this builder's policy with its clock and shard
    /// count (which may differ from the writer's).
    ///
    /// Invitation ids issued before the snapshot keep working, and new ones never
    /// repeat them. Instants are absolute, so time that passed while the engine was
    /// down counts: windows, invitations and cooldowns that ran out meanwhile have
    /// run out after restore. The engine never acts earlier than the snapshot's
    /// latest instant, whatever the clock says.
    ///
    /// # Errors
    /// [`PersistError::Config`] when the policy cannot work (checked first);
    /// [`PersistError::Io`] when `input` fails; [`PersistError::WrongVersion`] for a
    /// snapshot of another format; [`PersistError::Corrupt`], naming the byte, for
    /// anything that is not one whole, valid snapshot — truncated, damaged, or
    /// followed by more bytes; [`PersistError::TooLarge`] past
    /// [`MAX_SNAPSHOT_BYTES`]. Nothing is half-restored: the input is decoded and
    /// checked completely before the engine is built. The header is checked before
    /// the rest is read, so input that is not a snapshot is refused at once.
    pub fn restore(self, input: &mut impl Read) -> Result<Engine, PersistError> {
        self.policy.validate().map_err(PersistError::Config)?;
        let bytes = read_bounded(input, MAX_SNAPSHOT_BYTES)?;
        let state = decode::decode(&bytes)?;
        let engine = self.build().map_err(PersistError::Config)?;
        Ok(super::install::install(engine, state))
    }
}

/// Reads a snapshot's bytes: its header first (decoded alone, so anything that is not
/// a snapshot fails before more is read), then the rest, up to the bound.
pub(crate) fn read_bounded(input: &mut impl Read, limit: u64) -> Result<Vec<u8>, PersistError> {
    let mut bytes = Vec::new();
    input
        .by_ref()
        .take(HEADER_LEN as u64 + 4)
        .read_to_end(&mut bytes)?;
    decode::check_header(&bytes)?;
    let rest = limit.saturating_add(1).saturating_sub(bytes.len() as u64);
    input.take(rest).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(PersistError::TooLarge { limit });
    }
    Ok(bytes)
}

/// A snapshot of shards the caller holds locked (all of them, in order): one
/// consistent cut of the whole state.
pub(crate) fn snapshot_locked(engine: &Engine, shards: &[RwLockWriteGuard<'_, Shard>]) -> Vec<u8> {
    let mut out = Vec::new();
    let parts = shards
        .iter()
        .map(|g| encode_shard_as(parts(g), FORMAT_VERSION));
    // Writing to a Vec cannot fail.
    let _ = encode::write_parts(engine.shards.len(), engine.time.now(), &mut out, parts);
    out
}

/// What a shard's section holds, borrowed under its lock.
fn parts(shard: &Shard) -> ShardParts<'_> {
    ShardParts {
        now: shard.now,
        seq_floor: shard.seq_floor,
        expired_unswept: shard.expired_unswept,
        members: shard.members.iter().map(|(&id, m)| (id, m)).collect(),
    }
}

/// Writes a snapshot with one shard locked at a time: each guard lives only while
/// its shard is encoded (in memory); the (possibly slow) write holds no lock.
fn write_snapshot(engine: &Engine, out: &mut impl Write) -> Result<(), PersistError> {
    let parts = engine
        .shards
        .iter()
        .map(|s| encode_shard_as(parts(&s.0.write()), FORMAT_VERSION));
    encode::write_parts(engine.shards.len(), engine.time.now(), out, parts)
}

/// A snapshot in the oldest format this build reads, as the builds that wrote it
/// did (no member limits), to test that it still restores.
#[cfg(test)]
pub(crate) fn write_oldest(engine: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    let version = crate::persist::OLDEST_VERSION;
    let parts = engine
        .shards
        .iter()
        .map(|s| encode_shard_as(parts(&s.0.write()), version));
    let _ = encode::write_parts_as(
        engine.shards.len(),
        engine.time.now(),
        &mut out,
        parts,
        version,
    );
    out
}
