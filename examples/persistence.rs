//! An engine that keeps its state across restarts: open a directory, send, close,
//! reopen and find the pending invitations and window counts again; then take a
//! checkpoint, and copy the state through `snapshot` and `restore`.
//!
//! ```text
//! cargo run --example persistence
//! ```
//!
//! The directory is a fresh one under the system's temporary directory, removed at
//! the end.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use invite_limiter::{Durability, Engine, InviteRequest, MemberId};

/// A directory removed when dropped, even if the example fails half-way.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let started = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let name = format!(
        "invite-limiter-example-{}-{}",
        std::process::id(),
        started.as_nanos()
    );
    let dir = TempDir(std::env::temp_dir().join(name));
    let (alice, bob, carol, dan) = (MemberId(1), MemberId(2), MemberId(3), MemberId(4));

    // First run: every change goes to a journal, flushed every 10 ms.
    let engine = Engine::builder()
        .persistence(&dir.0, Durability::FlushEvery(Duration::from_millis(10)))
        .open()?;
    println!("opened {}", dir.0.display());
    let to_bob = engine.send(InviteRequest::new(alice, bob))?;
    engine.send(InviteRequest::new(alice, carol).note("Carol, thanks for the talk on Tuesday."))?;
    let to_dan = engine.send(InviteRequest::new(alice, dan))?;
    engine.withdraw(to_dan.id())?;
    engine.send(InviteRequest::new(bob, carol))?;
    let before = engine.capacity(alice);
    println!(
        "before the restart: {alice} used {} of {} daily sends and {} note(s), {} pending",
        before.daily.used, before.daily.limit, before.notes.used, before.pending_sent
    );
    // Dropping the engine writes and syncs what is queued, and releases the directory.
    drop(engine);

    // Second run, acknowledging each decision only once it is on disk.
    let engine = Engine::builder()
        .persistence(&dir.0, Durability::SyncEachDecision)
        .open()?;
    println!("reopened: {}", report(&engine));
    let after = engine.capacity(alice);
    assert_eq!(
        (after.daily.used, after.notes.used),
        (before.daily.used, before.notes.used)
    );
    assert_eq!(after.pending_sent, before.pending_sent);
    println!(
        "after the restart: {alice} used {} daily sends and {} note(s); pending to {bob}: {}, to {carol}: {}",
        after.daily.used,
        after.notes.used,
        engine.pending_between(alice, bob),
        engine.pending_between(alice, carol)
    );
    // The withdrawal's re-invite cooldown survived as well.
    println!("{alice} -> {dan} now: {}", engine.diagnose(alice, dan));
    // Invitation ids from before the restart still work.
    engine.accept(to_bob.id())?;
    println!(
        "{bob} accepted {}; connected: {}",
        to_bob.id(),
        engine.are_connected(alice, bob)
    );

    // A checkpoint writes a new snapshot and starts an empty journal, so the next
    // open replays nothing older.
    engine.checkpoint()?;
    println!(
        "after a checkpoint the directory holds: {}",
        listing(&dir.0)?
    );

    // The whole state as bytes (to ship elsewhere, or to keep a copy), and back.
    let mut bytes = Vec::new();
    engine.snapshot(&mut bytes)?;
    let copy = Engine::builder().restore(&mut bytes.as_slice())?;
    println!(
        "a snapshot of {} bytes restores an in-memory copy: connected {}, {alice} used {} daily sends",
        bytes.len(),
        copy.are_connected(alice, bob),
        copy.capacity(alice).daily.used
    );
    assert_eq!(copy.capacity(alice), engine.capacity(alice));
    drop(engine);

    let engine = Engine::builder()
        .persistence(&dir.0, Durability::SyncEachDecision)
        .open()?;
    println!("reopened after the checkpoint: {}", report(&engine));
    drop(engine);
    Ok(())
}

fn report(engine: &Engine) -> String {
    engine
        .recovery_report()
        .map_or_else(|| "no persistence".to_owned(), ToString::to_string)
}

fn listing(dir: &Path) -> std::io::Result<String> {
    let mut names = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    names.sort();
    Ok(names.join(", "))
}
