//! Snapshots: the whole engine state written to a byte stream and read back.
//!
//! # Format, version 3
//! Integers are little-endian, collections are a `u64` count then the items, text is
//! a `u64` byte length then UTF-8.
//! ```text
//! header    magic    8 bytes  \x89 I N V L I M \n
//!           version  u32      FORMAT_VERSION
//!           shards   u32      the writer's shard count
//!           latest   u64      the engine's latest instant when the snapshot began
//!           crc      u32      CRC-32 of the 24 bytes above
//! section   one per writer shard:
//!           length   u64
//!           payload  length bytes: now, seq_floor, expired_unswept (u64 each),
//!                    members (sorted by id), pair cooldowns (sender, recipient, until)
//!           crc      u32      CRC-32 of the payload
//! trailer   sections u32, members u64, invitations u64,
//!           seq_floor u64 (the largest of the sections')
//!           crc      u32      CRC-32 of every byte before it
//! ```
//! A member is its id, tier, status, invite setting, send log (daily cursor and
//! instants), ledger (seq, recipient, sent_at, last_reminder, reminders, ending), (from
//! version 3) the smallest sequence number the member has not issued, and,
//! when present, the extra record: note instants, idempotency records, spam state,
//! connections, follows (both sorted), emails, contacts, the restriction's signals
//! and (from version 2) the member's own limits (a flag, then daily, weekly, the
//! optional note quota and the note length). Versions 1 and 2 still restore: their
//! sequence numbers were counted per shard, so their largest becomes a floor below
//! which no new one is issued (`seq_floor`, carried by later snapshots; 0 otherwise).
//!
//! Only primary facts are stored. Everything derived — pair states, expiry, cooldown
//! and idle queues, the email index, the recipient flags — is rebuilt on restore, so a
//! snapshot can be restored with any shard count.

pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod journal;

use std::fmt;
use std::path::PathBuf;

use crate::policy::ConfigError;

/// Leading bytes of every snapshot. The high first byte and the newline catch
/// transfers that strip the eighth bit or rewrite line endings, as PNG's do.
pub(crate) const MAGIC: [u8; 8] = *b"\x89INVLIM\n";
/// The layout this build writes.
pub(crate) const FORMAT_VERSION: u32 = 3;
/// The oldest layout this build still reads (version 1 has no member limits).
pub(crate) const OLDEST_VERSION: u32 = 1;
/// Bytes of the header before its checksum.
pub(crate) const HEADER_LEN: usize = 24;
/// The most shards a builder creates, so the most sections a snapshot can have.
pub(crate) const MAX_SHARDS: u32 = 1 << 16;
/// Bytes of the trailer before its checksum.
pub(crate) const TRAILER_LEN: usize = 4 + 3 * 8;
/// The longest snapshot [`EngineBuilder::restore`] reads: 16 GiB, room for tens of
/// millions of members with their histories. A longer input is refused with
/// [`PersistError::TooLarge`] once this many bytes have been read, so an endless or
/// hostile stream cannot take all the memory there is.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 30;

/// Why a snapshot could not be written or restored.
#[derive(Debug)]
#[non_exhaustive]
pub enum PersistError {
    /// Reading or writing the stream failed.
    Io(std::io::Error),
    /// The bytes are not a whole, valid snapshot: truncated, damaged, or not a
    /// snapshot at all.
    Corrupt {
        /// Where in the input the problem was found.
        offset: u64,
        /// What was wrong there.
        what: &'static str,
    },
    /// The snapshot was written in a format this build does not read.
    WrongVersion {
        /// The snapshot's format version.
        found: u32,
        /// The format version this build reads.
        expected: u32,
    },
    /// The builder's policy cannot work, so nothing was restored.
    Config(ConfigError),
    /// A file in the persistence directory could not be read or written.
    File {
        /// The file (or directory).
        file: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The snapshot in the persistence directory does not restore.
    SnapshotFile {
        /// The snapshot file.
        file: PathBuf,
        /// Why it does not restore ([`PersistError::Corrupt`] names the byte).
        error: Box<PersistError>,
    },
    /// A journal file is damaged or truncated (other than a torn last record, which
    /// is dropped and reported by [`Engine::recovery_report`]).
    Journal {
        /// The journal file.
        file: PathBuf,
        /// Where in the file the problem was found.
        offset: u64,
        /// What was wrong there.
        what: &'static str,
    },
    /// A journal file was written in a format this build does not read.
    JournalVersion {
        /// The journal file.
        file: PathBuf,
        /// Its format version.
        found: u32,
        /// The format version this build reads.
        expected: u32,
    },
    /// The engine has no persistence directory, or its journal writer failed.
    Journaling(crate::persist::journal::JournalError),
    /// Another engine (in this process or another) has the persistence directory
    /// open; one directory serves one engine at a time.
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// The snapshot is longer than [`MAX_SNAPSHOT_BYTES`], the most `restore` reads.
    TooLarge {
        /// The bound, in bytes.
        limit: u64,
    },
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Io(e) => write!(
                f,
                "reading or writing the snapshot failed ({e}); check the file or stream and try again"
            ),
            PersistError::Corrupt { offset, what } => write!(
                f,
                "the snapshot is not valid at byte {offset} ({what}); restore from an intact copy"
            ),
            PersistError::WrongVersion { found, expected } => write!(
                f,
                "the snapshot has format version {found} but this build reads version {expected}; \
                 restore it with the version of invite-limiter that wrote it"
            ),
            PersistError::Config(e) => write!(
                f,
                "the policy to restore under cannot work ({e}); fix the policy and restore again"
            ),
            PersistError::File { file, error } => write!(
                f,
                "{} could not be read or written ({error}); check the path and its permissions",
                file.display()
            ),
            PersistError::SnapshotFile { file, error } => {
                write!(f, "{}: {error}", file.display())
            }
            PersistError::Journal { file, offset, what } => write!(
                f,
                "the journal {} is not valid at byte {offset} ({what}); restore the directory \
                 from an intact copy",
                file.display()
            ),
            PersistError::JournalVersion {
                file,
                found,
                expected,
            } => write!(
                f,
                "the journal {} has format version {found} but this build reads version \
                 {expected}; open it with the version of invite-limiter that wrote it",
                file.display()
            ),
            PersistError::Journaling(why) => write!(f, "journaling is not available: {why}"),
            PersistError::Locked { dir } => write!(
                f,
                "{} is held by another open engine; drop that engine first, or give this \
                 one its own directory",
                dir.display()
            ),
            PersistError::TooLarge { limit } => write!(
                f,
                "the snapshot is longer than {limit} bytes, the most restore reads; it is \
                 not a snapshot this build wrote"
            ),
        }
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PersistError::Io(e) => Some(e),
            PersistError::Config(e) => Some(e),
            PersistError::File { error, .. } => Some(error),
            PersistError::SnapshotFile { error, .. } => Some(error.as_ref()),
            PersistError::Journaling(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for PersistError {
    fn from(e: std::io::Error) -> Self {
        PersistError::Io(e)
    }
}
