//! Byte fuzzing of what persistence reads: any bytes to `restore`, and any damage to
//! the files of a persistence directory before `open`. Nothing panics or hangs; the
//! answer is an error or an engine whose state reads back whole.

#[path = "journal/common.rs"]
mod common;

use common::*;
use invite_limiter::*;
use proptest::prelude::*;
use std::sync::OnceLock;
use std::time::Duration;

/// The longest any one open or restore may take before it counts as a hang.
const PATIENCE: Duration = Duration::from_secs(60);

/// A directory's files after a workload: a snapshot and a journal of several batches.
fn template() -> &'static Vec<(String, Vec<u8>)> {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = TempDir::new("fuzz-template");
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = open(dir.path(), &clock, Durability::SyncEachDecision).expect("open");
        workload(&e, &clock, 0);
        e.checkpoint().expect("checkpoint");
        workload(&e, &clock, 1);
        drop(e);
        dir.files()
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(dir.path().join(&name)).expect("read");
                (name, bytes)
            })
            .collect()
    })
}

fn snapshot_bytes() -> &'static Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = memory(&clock);
        workload(&e, &clock, 0);
        let mut out = Vec::new();
        e.snapshot(&mut out).expect("written");
        out
    })
}

/// Runs `f` on another thread; a panic fails the case, and so does a hang.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .expect("finished in time without panicking")
}

fn restore(bytes: Vec<u8>) -> Result<Engine, PersistError> {
    within(move || {
        Engine::builder()
            .clock(ManualClock::new(Timestamp::from_millis(T0)))
            .shards(8)
            .restore(&mut bytes.as_slice())
    })
}

/// The engine's state as bytes, checked by restoring them.
fn state(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.snapshot(&mut out).expect("written");
    restore(out.clone()).expect("an engine's own snapshot restores");
    out
}

#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Zero(usize, usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), 1u8..=255).prop_map(|(at, x)| Damage::Flip(at, x)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..64)
        )
            .prop_map(|(at, b)| Damage::Insert(at, b)),
        (any::<usize>(), 1usize..5000).prop_map(|(at, n)| Damage::Zero(at, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match d {
        Damage::Truncate(i) => bytes.truncate(at(*i, bytes.len())),
        Damage::Flip(i, x) => {
            let i = at(*i, bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b ^= x;
            }
        }
        Damage::Insert(i, more) => {
            let i = at(*i, bytes.len() + 1);
            bytes.splice(i..i, more.iter().copied());
        }
        Damage::Zero(i, n) => {
            let i = at(*i, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes[i..end].fill(0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_to_restore_are_an_error_or_an_engine(
        head in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut input = Vec::new();
        if head {
            // Past the magic and version, so the rest is read too.
            input.extend_from_slice(&snapshot_bytes()[..12]);
        }
        input.extend_from_slice(&bytes);
        if let Ok(e) = restore(input) {
            state(&e);
        }
    }

    #[test]
    fn a_snapshot_with_one_byte_changed_is_an_error(at in any::<usize>(), x in 1u8..=255) {
        let mut bytes = snapshot_bytes().clone();
        let at = at % bytes.len();
        bytes[at] ^= x;
        prop_assert!(restore(bytes).is_err(), "byte {} changed", at);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_directory_opens_whole_or_not_at_all(
        which in any::<usize>(),
        hits in proptest::collection::vec(damage(), 1..4),
    ) {
        let files = template();
        let dir = TempDir::new("fuzz");
        let target = which % files.len();
        for (i, (name, bytes)) in files.iter().enumerate() {
            let mut bytes = bytes.clone();
            if i == target {
                hits.iter().for_each(|d| apply(&mut bytes, d));
            }
            std::fs::write(dir.path().join(name), bytes).expect("write");
        }
        let path = dir.path().to_path_buf();
        let opened = within(move || {
            let clock = ManualClock::new(Timestamp::from_millis(T0));
            open(&path, &clock, Durability::FlushEvery(Duration::from_millis(1)))
                .map(|e| (state(&e), e))
        });
        if let Ok((before, e)) = opened {
            drop(e);
            // What was recovered is on disk: opening again gives the same state.
            let path = dir.path().to_path_buf();
            let again = within(move || {
                let clock = ManualClock::new(Timestamp::from_millis(T0));
                open(&path, &clock, Durability::FlushEvery(Duration::from_millis(1)))
                    .map(|e| state(&e))
            });
            prop_assert_eq!(again.expect("a recovered directory opens again"), before);
        }
    }
}
