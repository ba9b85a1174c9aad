//! Reading a journal file back: which records it holds, and what a crash tore off
//! its end (see `file` for the layout).
//!
//! Only the last journal can be torn, and in it only the last batch: the writer
//! appends a batch and syncs it before it writes the next. Damage followed by a whole
//! batch therefore lies in synced data and is an error naming the file and offset;
//! damage with no whole batch after it is the unsynced tail of a crash, and the
//! records before the damage are kept.

use std::ops::Range;
use std::path::Path;

use super::file::{batch_lcheck, BATCH_FRAME_LEN, FRAME_LEN, HEADER_LEN, JOURNAL_V1};
use super::file::{JOURNAL_VERSION, MAGIC};
use crate::persist::PersistError;

/// A journal file, checked: where its records are, and what was torn off its end.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The file's format version.
    pub(crate) version: u32,
    /// (file offset of the payload, payload range in the bytes).
    pub(crate) records: Vec<(usize, Range<usize>)>,
    /// Bytes up to the end of the last record kept.
    pub(crate) valid_len: usize,
    /// Where the torn tail began (the file is cut to this length).
    pub(crate) torn_at: Option<usize>,
    /// Where the torn batch began, when records of it are kept: the file is cut
    /// there and they are written again as a whole batch.
    pub(crate) reseal: Option<usize>,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The end of the whole record frame at `pos`, if one lies within `..limit`.
fn record_at(b: &[u8], pos: usize, limit: usize) -> Option<usize> {
    let rest = b.get(pos..limit)?;
    if rest.len() < FRAME_LEN || le32(rest, 4)? != crc32fast::hash(&rest[..4]) {
        return None;
    }
    let len = usize::try_from(le32(rest, 0)?).ok()?;
    let end = FRAME_LEN.checked_add(len)?;
    let payload = rest.get(FRAME_LEN..end)?;
    (le32(rest, 8)? == crc32fast::hash(payload)).then_some(pos + end)
}

/// The end a batch frame at `pos` claims, if its length checks (it may lie past the
/// end of the file).
fn batch_claim(b: &[u8], pos: usize) -> Option<usize> {
    let len_bytes = b.get(pos..pos.checked_add(4)?)?;
    if le32(b, pos + 4)? != batch_lcheck(pos as u64, len_bytes) {
        return None;
    }
    let len = usize::try_from(le32(b, pos)?).ok()?;
    pos.checked_add(BATCH_FRAME_LEN)?.checked_add(len)
}

/// The end of the whole batch at `pos`, if its frame and records check.
fn batch_at(b: &[u8], pos: usize) -> Option<usize> {
    let end = batch_claim(b, pos)?;
    let body = b.get(pos + BATCH_FRAME_LEN..end)?;
    (le32(b, pos + 8)? == crc32fast::hash(body)).then_some(end)
}

/// Checks journal `gen`'s bytes. Only the `last` journal may end in a torn tail;
/// anything else that does not check is an error naming the file and the offset.
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
    if version != JOURNAL_VERSION && version != JOURNAL_V1 {
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
        version,
        valid_len: HEADER_LEN,
        ..Scan::default()
    };
    let body = if version == JOURNAL_V1 {
        scan_v1(b, last, &mut out)
    } else {
        scan_batches(b, last, &mut out)
    };
    body.map_err(|(offset, what)| damaged(offset, what))?;
    Ok(out)
}

type Damage = (usize, &'static str);

fn scan_batches(b: &[u8], last: bool, out: &mut Scan) -> Result<(), Damage> {
    let mut pos = HEADER_LEN;
    while pos < b.len() {
        if let Some(end) = batch_at(b, pos) {
            let mut r = pos + BATCH_FRAME_LEN;
            while r < end {
                let Some(next) = record_at(b, r, end) else {
                    return Err((r, "damaged record inside a whole batch"));
                };
                out.records.push((r + FRAME_LEN, r + FRAME_LEN..next));
                r = next;
            }
            pos = end;
            out.valid_len = end;
            continue;
        }
        if (pos + 1..b.len()).any(|q| batch_at(b, q).is_some()) {
            return Err((pos, "damaged batch followed by synced data"));
        }
        if !last {
            return Err((pos, "truncated batch"));
        }
        // The unsynced tail: keep the whole records it begins with.
        let limit = batch_claim(b, pos).map_or(b.len(), |end| end.min(b.len()));
        let mut r = pos.saturating_add(BATCH_FRAME_LEN);
        while let Some(next) = record_at(b, r, limit) {
            out.records.push((r + FRAME_LEN, r + FRAME_LEN..next));
            r = next;
        }
        if r > pos + BATCH_FRAME_LEN {
            out.reseal = Some(pos);
            out.valid_len = r;
        } else {
            out.valid_len = pos;
        }
        out.torn_at = Some(out.valid_len);
        break;
    }
    Ok(())
}

/// Version 1: records without batches. A torn last record is a partial frame, a
/// whole frame whose payload runs past the end, a final payload failing its checksum,
/// or zeros where a frame should start.
fn scan_v1(b: &[u8], last: bool, out: &mut Scan) -> Result<(), Damage> {
    let mut pos = HEADER_LEN;
    while pos < b.len() {
        let rest = &b[pos..];
        if rest.len() < FRAME_LEN {
            if last {
                out.torn_at = Some(pos);
                break;
            }
            return Err((pos, "truncated record frame"));
        }
        if le32(rest, 4) != Some(crc32fast::hash(&rest[..4])) {
            if last && rest.iter().all(|&x| x == 0) {
                out.torn_at = Some(pos);
                break;
            }
            return Err((pos, "record length check failed"));
        }
        let Some(end) = record_at(b, pos, b.len()) else {
            let claimed = usize::try_from(le32(rest, 0).unwrap_or(0))
                .ok()
                .and_then(|len| pos.checked_add(FRAME_LEN)?.checked_add(len));
            match claimed {
                Some(end) if end < b.len() => return Err((pos, "record checksum mismatch")),
                _ if last => {
                    out.torn_at = Some(pos);
                    break;
                }
                _ => return Err((pos, "truncated record")),
            }
        };
        out.records.push((pos + FRAME_LEN, pos + FRAME_LEN..end));
        pos = end;
        out.valid_len = end;
    }
    Ok(())
}
