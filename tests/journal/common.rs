//! Helpers for the journal tests: temporary directories, a workload, fingerprints.
#![allow(dead_code)] // each test file uses its own share of the helpers

use invite_limiter::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn m(id: u64) -> MemberId {
    MemberId(id)
}

/// A directory under the system temp dir, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "invite-journal-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// The journal and snapshot files, sorted by name (not the lock file).
    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lock")
            .collect();
        names.sort();
        names
    }

    /// The newest journal file.
    pub(crate) fn journal(&self) -> PathBuf {
        let name = self
            .files()
            .into_iter()
            .rfind(|n| n.starts_with("journal-"))
            .expect("a journal file");
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn open(
    dir: &Path,
    clock: &ManualClock,
    durability: Durability,
) -> Result<Engine, PersistError> {
    Engine::builder()
        .clock(clock.clone())
        .shards(8)
        .persistence(dir, durability)
        .open()
}

pub(crate) fn memory(clock: &ManualClock) -> Engine {
    Engine::builder()
        .clock(clock.clone())
        .shards(8)
        .build()
        .expect("default policy")
}

/// A deterministic mix of every journaled operation; `round` varies it.
pub(crate) fn workload(e: &Engine, clock: &ManualClock, round: u64) -> Vec<InviteId> {
    let mut ids = Vec::new();
    let base = round * 100;
    e.set_tier(m(base + 1), Tier::Premium);
    e.register_email(m(base + 2), &format!("two{round}@example.com"))
        .expect("valid email");
    e.import_contacts(
        m(base + 3),
        [format!("two{round}@example.com"), "x@y.org".into()],
    )
    .expect("valid emails");
    e.set_invite_setting(m(base + 4), InviteSetting::ContactsOnly);
    e.connect(m(base + 1), m(base + 5));
    e.follow(m(base + 6), m(base + 1));
    for i in 0..12u64 {
        clock.advance(Duration::from_secs(90));
        let sender = base + 1 + i % 3;
        let mut req = InviteRequest::new(m(sender), m(base + 10 + i));
        if i % 4 == 0 {
            req = req.note(format!("Hello number {i}, we met at the {round} meetup"));
        }
        if i % 5 == 0 {
            req = req.idempotency_key(i);
        }
        if let Ok(sent) = e.send(req) {
            ids.push(sent.id());
        }
    }
    let _ = e.send(InviteRequest::new(m(base + 2), m(base + 4)));
    let _ = e.send(InviteRequest::new(m(base + 3), m(base + 3)));
    if let [a, b, c, d, rest @ ..] = ids.as_slice() {
        e.accept(*a).expect("pending");
        e.decline(*b).expect("pending");
        e.withdraw(*c).expect("pending");
        e.report_unknown(*d).expect("pending");
        clock.advance(Duration::from_secs(8 * 86_400));
        if let Some(r) = rest.first() {
            e.remind(*r).expect("a reminder is due");
        }
    }
    e.set_status(m(base + 7), AccountStatus::Banned);
    e.disconnect(m(base + 1), m(base + 5));
    e.unfollow(m(base + 6), m(base + 1));
    let _ = e.invite_contacts(m(base + 3));
    ids
}

/// Every answer the engine gives about members `0..n` (and `base..base+n` per round).
pub(crate) fn fingerprint(e: &Engine, rounds: u64) -> String {
    let mut out = String::new();
    for round in 0..rounds {
        for id in round * 100..round * 100 + 30 {
            let x = m(id);
            out += &format!(
                "{id}: {:?} {:?} {:?} {:?} {:?} {} {:?}\n",
                e.capacity(x),
                e.pending_sent(x, None, 100),
                e.tier(x),
                e.invite_setting(x),
                e.contacts(x),
                e.connection_count(x),
                e.diagnose(x, m(id + 1)),
            );
        }
    }
    out
}
