//! Opening a persistence directory (snapshot + journal replay) and checkpoints.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::memory::builder::EngineBuilder;
use crate::memory::engine::Engine;
use crate::persist::journal::file::{
    self, journal_path, snapshot_path, BATCH_FRAME_LEN, JOURNAL_V1,
};
use crate::persist::journal::record::{self, Op};
use crate::persist::journal::{Durability, Journal, RecoveryReport, TornRecord};
use crate::persist::PersistError;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |error| PersistError::File {
        file: path.to_path_buf(),
        error,
    }
}

pub(crate) fn open(
    builder: EngineBuilder,
    dir: PathBuf,
    durability: Durability,
) -> Result<Engine, PersistError> {
    builder.policy.validate().map_err(PersistError::Config)?;
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let lock = lock(&dir)?;
    let listing = file::list(&dir).map_err(io_err(&dir))?;
    for tmp in &listing.temps {
        fs::remove_file(tmp).map_err(io_err(tmp))?;
    }
    let mut report = RecoveryReport::default();
    let base = listing.snapshots.last().copied();
    let mut engine = match base {
        Some(gen) => {
            let path = snapshot_path(&dir, gen);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let engine = builder
                .restore(&mut bytes.as_slice())
                .map_err(|e| match e {
                    PersistError::Config(c) => PersistError::Config(c),
                    other => PersistError::SnapshotFile {
                        file: path.clone(),
                        error: Box::new(other),
                    },
                })?;
            report.snapshot = Some(path);
            engine
        }
        None => builder.build().map_err(PersistError::Config)?,
    };
    let base = base.unwrap_or(0);
    let journals: Vec<u64> = listing
        .journals
        .iter()
        .copied()
        .filter(|&g| g >= base)
        .collect();
    let mut loaded = Vec::with_capacity(journals.len());
    for &gen in &journals {
        let path = journal_path(&dir, gen);
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        let scan = file::scan(&path, &bytes, gen, true)?;
        loaded.push(Loaded { path, bytes, scan });
    }
    // A newer journal receives records only after the older one is synced whole, so
    // a torn tail (a crash mid-append) may be followed only by journals still empty.
    for (i, l) in loaded.iter().enumerate() {
        let later = loaded.get(i + 1..).unwrap_or_default();
        let written = |l: &Loaded| !l.scan.records.is_empty() || l.scan.torn_at.is_some();
        if let (Some(at), true) = (l.scan.torn_at, later.iter().any(written)) {
            return Err(PersistError::Journal {
                file: l.path.clone(),
                offset: at as u64,
                what: "truncated record in a journal that a newer one continues",
            });
        }
    }
    // Batches are never appended to a journal without them: a newer one begins.
    let old_format = loaded.last().is_some_and(|l| l.scan.version == JOURNAL_V1);
    for l in loaded {
        replay(&engine, l, &mut report)?;
    }
    let mut gen = journals.last().copied().unwrap_or(base);
    if old_format {
        gen += 1;
    }
    let path = journal_path(&dir, gen);
    let out = if journals.is_empty() || old_format {
        file::create_journal(&dir, gen)
    } else {
        OpenOptions::new().append(true).open(&path)
    }
    .map_err(io_err(&path))?;
    remove_older(&dir, &listing, base)?;
    let journal = Journal::start(dir, gen, out, durability, report, lock).map_err(io_err(&path))?;
    engine.journal = Some(journal);
    Ok(engine)
}

/// The name of the lock file an open engine holds in its directory.
pub(crate) const LOCK_FILE: &str = "lock";

/// How long `open` waits for a held lock before reporting it.
const LOCK_PATIENCE: Duration = Duration::from_millis(500);

/// Takes the directory's lock for the engine's lifetime: two engines appending to
/// one journal, or one checkpointing away the other's files, would lose decisions.
///
/// A held lock is tried again for a moment: a process that another thread is
/// spawning holds a copy of every open file until it executes its program, so the
/// lock of an engine dropped meanwhile lingers that long.
fn lock(dir: &Path) -> Result<File, PersistError> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    let start = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(TryLockError::WouldBlock) if start.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(PersistError::Locked {
                    dir: dir.to_path_buf(),
                })
            }
            Err(TryLockError::Error(error)) => {
                return Err(PersistError::File { file: path, error })
            }
        }
    }
}

/// A journal file read and checked.
struct Loaded {
    path: PathBuf,
    bytes: Vec<u8>,
    scan: file::Scan,
}

/// Replays a checked journal; a torn last record is cut off the file.
fn replay(engine: &Engine, l: Loaded, report: &mut RecoveryReport) -> Result<(), PersistError> {
    let Loaded { path, bytes, scan } = l;
    for (offset, range) in &scan.records {
        let (now, op) =
            record::decode(&bytes[range.clone()], *offset).map_err(|e| PersistError::Journal {
                file: path.clone(),
                offset: e.offset as u64,
                what: e.what,
            })?;
        report.replayed += 1;
        if !apply(engine, now, op) {
            report.skipped += 1;
        }
    }
    if let Some(at) = scan.torn_at {
        let mut f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match scan.reseal {
            // The kept records of a torn batch are written again as a whole batch, so
            // that batches appended after it are not taken for damage behind it.
            Some(start) => {
                let records = &bytes[start + BATCH_FRAME_LEN..at];
                file::batch_of(records, start as u64)
                    .and_then(|batch| {
                        f.set_len(start as u64)?;
                        f.seek(SeekFrom::Start(start as u64))?;
                        f.write_all(&batch)
                    })
                    .and_then(|()| f.sync_all())
            }
            None => f.set_len(at as u64).and_then(|()| f.sync_all()),
        }
        .map_err(io_err(&path))?;
        report.torn = Some(TornRecord {
            file: path.clone(),
            offset: at as u64,
            dropped_bytes: (bytes.len() - at) as u64,
        });
    }
    report.journals.push(path);
    Ok(())
}

/// Re-executes one record at its instant; `false` when it no longer applies.
fn apply(engine: &Engine, now: u64, op: Op) -> bool {
    engine.apply(op, Some(now)).took_effect()
}

/// Removes the snapshots and journals older than generation `base`.
fn remove_older(dir: &Path, listing: &file::Listing, base: u64) -> Result<(), PersistError> {
    let old_snapshots = listing.snapshots.iter().filter(|&&g| g < base);
    let old_journals = listing.journals.iter().filter(|&&g| g < base);
    let paths = old_snapshots
        .map(|&g| snapshot_path(dir, g))
        .chain(old_journals.map(|&g| journal_path(dir, g)));
    let mut any = false;
    for path in paths {
        fs::remove_file(&path).map_err(io_err(&path))?;
        any = true;
    }
    if any {
        file::sync_dir(dir).map_err(io_err(dir))?;
    }
    Ok(())
}

pub(crate) fn checkpoint(engine: &Engine, j: &Journal) -> Result<(), PersistError> {
    let mut gen = j.gen.lock();
    if let Some(why) = j.failure() {
        return Err(PersistError::Journaling(why));
    }
    let next = *gen + 1;
    let path = journal_path(&j.dir, next);
    let out = file::create_journal(&j.dir, next).map_err(io_err(&path))?;
    // The cut: with every shard locked (in ascending order, as everywhere), no record
    // is being queued, so those queued before belong to the snapshot's state and
    // those after go to the new journal.
    let (snapshot, rotated) = {
        let guards: Vec<_> = engine.shards.iter().map(|s| s.0.write()).collect();
        let snapshot = crate::memory::snapshot::snapshot_locked(engine, &guards);
        let rotated = j.rotate(out);
        engine.log_rules_at_cut();
        (snapshot, rotated)
    };
    match rotated.recv() {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(PersistError::Journaling(why)),
        Err(_) => {
            return Err(PersistError::Journaling(
                crate::persist::journal::JournalError::Stopped,
            ))
        }
    }
    *gen = next;
    let snap = snapshot_path(&j.dir, next);
    file::write_atomic(&snap, &snapshot).map_err(io_err(&snap))?;
    let listing = file::list(&j.dir).map_err(io_err(&j.dir))?;
    remove_older(&j.dir, &listing, next)
}
