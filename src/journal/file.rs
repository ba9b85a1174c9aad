//! Journal files on disk: names, header, record framing, and the scan that tells a
//! torn last record (a crash mid-append) from damage.
//!
//! ```text
//! header   magic    8 bytes  \x89 I N V J N L \n
//!          version  u32      JOURNAL_VERSION
//!          gen      u64      the generation in the file's name
//!          crc      u32      CRC-32 of the 20 bytes above
//! record   length   u32      payload bytes
//!          lcheck   u32      CRC-32 of the 4 length bytes
//!          crc      u32      CRC-32 of the payload
//!          payload  see `record`
//! ```
//! Integers are little-endian. The separate length check means a damaged length in
//! the middle of a file is reported as damage, never mistaken for a torn tail.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::persist::PersistError;

/// Leading bytes of every journal file.
const MAGIC: [u8; 8] = *b"\x89INVJNL\n";
/// The journal layout this build writes and reads.
pub(crate) const JOURNAL_VERSION: u32 = 1;
/// Bytes of the file header, checksum included.
pub(crate) const HEADER_LEN: usize = 24;
/// Bytes framing each record.
pub(crate) const FRAME_LEN: usize = 12;

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

fn header(gen: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&JOURNAL_VERSION.to_le_bytes());
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

/// A journal file, checked: where its records are, and what was torn off its end.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// (file offset of the payload, payload range in the bytes).
    pub(crate) records: Vec<(usize, std::ops::Range<usize>)>,
    /// Bytes up to the end of the last whole record.
    pub(crate) valid_len: usize,
    /// Offset of a torn last record.
    pub(crate) torn_at: Option<usize>,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Checks journal `gen`'s bytes. Only the `last` journal may end in a torn record:
/// a partial frame, a whole frame whose payload runs past the end, a final payload
/// failing its checksum, or zeros where a frame should start. Anything else that does
/// not check is an error naming the file and the offset.
pub(crate) fn scan(path: &Path, b: &[u8], gen: u64, last: bool) -> Result<Scan, PersistError> {
    let damaged = |offset: usize, what: &'static str| PersistError::Journal {
        file: path.to_path_buf(),
        offset: offset as u64,
        what,
    };
    if b.len() < HEADER_LEN {
        return Err(damaged(b.len(), "truncated journal header"));
    }
    if b[..8] != MAGIC {
        return Err(damaged(0, "not a journal file (bad magic)"));
    }
    if le32(b, 20) != Some(crc32fast::hash(&b[..20])) {
        return Err(damaged(20, "journal header checksum mismatch"));
    }
    let version = le32(b, 8).unwrap_or(0);
    if version != JOURNAL_VERSION {
        return Err(PersistError::JournalVersion {
            file: path.to_path_buf(),
            found: version,
            expected: JOURNAL_VERSION,
        });
    }
    if b.get(12..20) != Some(&gen.to_le_bytes()[..]) {
        return Err(damaged(
            12,
            "journal generation does not match its file name",
        ));
    }
    let mut out = Scan {
        valid_len: HEADER_LEN,
        ..Scan::default()
    };
    let mut pos = HEADER_LEN;
    while pos < b.len() {
        let torn = |out: &mut Scan| out.torn_at = Some(pos);
        let rest = &b[pos..];
        if rest.len() < FRAME_LEN {
            if last {
                torn(&mut out);
                break;
            }
            return Err(damaged(pos, "truncated record frame"));
        }
        let len_bytes = &rest[..4];
        if le32(rest, 4) != Some(crc32fast::hash(len_bytes)) {
            if last && rest.iter().all(|&x| x == 0) {
                torn(&mut out);
                break;
            }
            return Err(damaged(pos, "record length check failed"));
        }
        // The length is checked, and the payload is sliced from bytes already read,
        // so no length can make the scan allocate.
        let len = le32(rest, 0).unwrap_or(0) as usize;
        let start = pos + FRAME_LEN;
        let end = start + len;
        if end > b.len() {
            if last {
                torn(&mut out);
                break;
            }
            return Err(damaged(pos, "truncated record"));
        }
        if le32(rest, 8) != Some(crc32fast::hash(&b[start..end])) {
            if last && end == b.len() {
                torn(&mut out);
                break;
            }
            return Err(damaged(pos, "record checksum mismatch"));
        }
        out.records.push((start, start..end));
        pos = end;
        out.valid_len = end;
    }
    Ok(out)
}
