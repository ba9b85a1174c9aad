//! Journal files on disk: names, header, and the framing of batches and records
//! (`scan` reads them back).
//!
//! ```text
//! header   magic    8 bytes  \x89 I N V J N L \n
//!          version  u32      JOURNAL_VERSION
//!          gen      u64      the generation in the file's name
//!          crc      u32      CRC-32 of the 20 bytes above
//! batch    length   u32      bytes of the records that follow
//!          lcheck   u32      CRC-32 of "batch", the batch's offset in the file
//!                            (u64) and the 4 length bytes
//!          crc      u32      CRC-32 of the records
//!          records  one or more:
//! record   length   u32      payload bytes
//!          lcheck   u32      CRC-32 of the 4 length bytes
//!          crc      u32      CRC-32 of the payload
//!          payload  see `record`
//! ```
//! Integers are little-endian. A batch is what the writer appends and syncs at once,
//! and it writes the next batch only after the sync: so only the last batch can be
//! torn by a crash, and any damage followed by a whole batch lies in synced data.
//! Version 1 files hold records without batches; they are still read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Leading bytes of every journal file.
pub(crate) const MAGIC: [u8; 8] = *b"\x89INVJNL\n";
/// The journal layout this build writes.
pub(crate) const JOURNAL_VERSION: u32 = 2;
/// The layout without batches, which this build still reads.
pub(crate) const JOURNAL_V1: u32 = 1;
/// Bytes of the file header, checksum included.
pub(crate) const HEADER_LEN: usize = 24;
/// Bytes framing each record.
pub(crate) const FRAME_LEN: usize = 12;
/// Bytes framing each batch.
pub(crate) const BATCH_FRAME_LEN: usize = 12;
/// Salts the batch length check, so a record frame never reads as a batch frame.
const BATCH_SALT: &[u8] = b"batch";

pub(crate) use super::scan::{scan, Scan};

/// `dir/journal-<gen>.log`: the changes made after snapshot `gen`.
pub(crate) fn journal_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("journal-{gen:016}.log"))
}

/// `dir/snapshot-<gen>.bin`: the state when journal `gen` began.
pub(crate) fn snapshot_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("snapshot-{gen:016}.bin"))
}

/// The generations of the snapshots and journals in `dir`, ascending, and the
/// temporary files a crash may have left.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) snapshots: Vec<u64>,
    pub(crate) journals: Vec<u64>,
    pub(crate) temps: Vec<PathBuf>,
}

pub(crate) fn list(dir: &Path) -> io::Result<Listing> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let gen = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix)
                .and_then(|n| n.strip_suffix(suffix))
                .filter(|n| n.len() == 16)
                .and_then(|n| n.parse::<u64>().ok())
        };
        if name.ends_with(".tmp") {
            out.temps.push(entry.path());
        } else if let Some(g) = gen("journal-", ".log") {
            out.journals.push(g);
        } else if let Some(g) = gen("snapshot-", ".bin") {
            out.snapshots.push(g);
        }
    }
    out.snapshots.sort_unstable();
    out.journals.sort_unstable();
    Ok(out)
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing on every platform; where they can,
    // a failure to sync is a real error.
    match File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(_) => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Creates journal `gen` holding only its header (atomically), open for appending.
pub(crate) fn create_journal(dir: &Path, gen: u64) -> io::Result<File> {
    let path = journal_path(dir, gen);
    write_atomic(&path, &header(gen))?;
    OpenOptions::new().append(true).open(path)
}

pub(crate) fn header(gen: u64) -> [u8; HEADER_LEN] {
    header_of(JOURNAL_VERSION, gen)
}

pub(crate) fn header_of(version: u32, gen: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h[12..20].copy_from_slice(&gen.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Appends one framed record to `buf`.
pub(crate) fn frame(buf: &mut Vec<u8>, payload: &[u8]) {
    // Payloads are far below 4 GiB; a larger one would fail its scan, not wrap.
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&crc32fast::hash(&len).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// The check of the length bytes of a batch at byte `at` of its file. Binding it to
/// the offset means bytes a caller chose (a note) that mimic a batch frame check
/// nowhere but where the writer put a batch.
pub(crate) fn batch_lcheck(at: u64, len: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(BATCH_SALT);
    h.update(&at.to_le_bytes());
    h.update(len);
    h.finalize()
}

/// Starts a batch in the empty `buf`: room for its frame, filled by [`seal_batch`].
pub(crate) fn open_batch(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[0; BATCH_FRAME_LEN]);
}

/// Fills the frame of the batch `buf` holds (opened by [`open_batch`]), to be written
/// at byte `at` of its file.
pub(crate) fn seal_batch(buf: &mut [u8], at: u64) -> io::Result<()> {
    if buf.len() < BATCH_FRAME_LEN {
        return Err(io::Error::other("a journal batch without its frame"));
    }
    let (head, body) = buf.split_at_mut(BATCH_FRAME_LEN);
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::other("a journal batch of 4 GiB or more"))?
        .to_le_bytes();
    head[..4].copy_from_slice(&len);
    head[4..8].copy_from_slice(&batch_lcheck(at, &len).to_le_bytes());
    head[8..].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
    Ok(())
}

/// A sealed batch of the framed records in `records`, to be written at byte `at`.
pub(crate) fn batch_of(records: &[u8], at: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(BATCH_FRAME_LEN + records.len());
    open_batch(&mut buf);
    buf.extend_from_slice(records);
    seal_batch(&mut buf, at)?;
    Ok(buf)
}
