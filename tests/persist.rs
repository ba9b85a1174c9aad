//! Persistence: a snapshot brings back every answer and every later decision, under
//! any shard count and across downtime, and any input that is not one whole, valid
//! snapshot is an error — never a panic, never a half-restored engine.

use invite_limiter::*;
use proptest::prelude::*;
use std::collections::HashSet;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

fn m(id: u64) -> MemberId {
    MemberId(id)
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(m(s), m(r))
}

fn build(clock: &ManualClock, shards: usize) -> Engine {
    Engine::builder()
        .clock(clock.clone())
        .shards(shards)
        .build()
        .expect("the default policy is valid")
}

fn snapshot(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.snapshot(&mut out).expect("writing to a Vec cannot fail");
    out
}

fn restore(bytes: &[u8], clock: &ManualClock, shards: usize) -> Result<Engine, PersistError> {
    Engine::builder()
        .clock(clock.clone())
        .shards(shards)
        .restore(&mut &bytes[..])
}

/// What the scenario left behind, for the checks after restore.
#[derive(Default)]
struct Story {
    /// Every id issued before the snapshot, expired ones included.
    ids: HashSet<InviteId>,
    /// Sends made with an idempotency key: (sender, recipient, key, what was sent).
    keyed: Vec<(u64, u64, u64, Sent)>,
    /// Some invitations still pending at the snapshot.
    pending: Vec<InviteId>,
    /// An invitation that has had a reminder.
    reminded: Option<InviteId>,
}

impl Story {
    fn send(&mut self, e: &Engine, clock: &ManualClock, r: InviteRequest) -> Sent {
        let sent = e.send(r).expect("allowed");
        self.ids.insert(sent.id());
        // Paced like a person, so the burst and fan-out signals stay quiet.
        clock.advance(3 * MIN);
        sent
    }
}

/// Members whose every answer is compared; 99 and 7000 are unseen at the snapshot.
const MEMBERS: &[u64] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 32, 33, 34, 40,
    41, 99, 1000, 2000, 7000,
];

/// A state with something of every kind, under the default policy (spam signals on).
fn populate(e: &Engine, clock: &ManualClock) -> Story {
    let mut st = Story::default();
    // Invitations that expire unanswered and are noticed, but not swept, before the
    // snapshot: the next sweep must still count them.
    st.send(e, clock, req(40, 41));
    st.send(e, clock, req(40, 42));
    clock.advance(181 * DAY);
    assert_eq!(e.pending_between(m(40), m(41)), 0);
    // A reminder is due a week after the send.
    let first = st.send(e, clock, req(3, 4));
    st.send(e, clock, req(3, 4));
    st.send(e, clock, req(3, 4));
    clock.advance(8 * DAY);
    e.remind(first.id()).expect("a week has passed");
    st.reminded = Some(first.id());
    st.pending.push(first.id());

    e.set_tier(m(1), Tier::Premium);
    e.set_tier(m(12), Tier::Premium);
    for i in 0..40u64 {
        let mut r = req(1, 1000 + i).note(format!("Hello number {i}, we met at the fair"));
        if i % 4 == 0 {
            r = r.idempotency_key(500 + i);
        }
        let sent = st.send(e, clock, r);
        if i % 4 == 0 {
            st.keyed.push((1, 1000 + i, 500 + i, sent));
        }
        if i < 3 {
            st.pending.push(sent.id());
        }
    }
    for i in 0..30 {
        st.send(e, clock, req(2, 2000 + i));
    }
    let full = e.send(req(2, 2999)).unwrap_err();
    assert!(
        matches!(full.reason(), DenyReason::DailyLimit { .. }),
        "{full}"
    );

    let a = st.send(e, clock, req(5, 6));
    e.accept(a.id()).unwrap();
    let d = st.send(e, clock, req(5, 7));
    e.decline(d.id()).unwrap();
    let r = st.send(e, clock, req(5, 8));
    e.report_unknown(r.id()).unwrap();
    let w = st.send(e, clock, req(5, 10));
    e.withdraw(w.id()).unwrap();

    for i in 0..5 {
        st.send(
            e,
            clock,
            req(11, 1100 + i).note(format!("Personal note {i}")),
        );
    }
    let quota = e.send(req(11, 1199).note("one too many")).unwrap_err();
    assert!(
        matches!(quota.reason(), DenyReason::NoteQuota { .. }),
        "{quota}"
    );

    // Two spam trips: a cooldown, then a timed restriction by the engine.
    let spam = e.send(req(9, 1200).note("Click here now")).unwrap_err();
    assert!(matches!(spam.reason(), DenyReason::SpamSuspected { .. }));
    clock.advance(61 * MIN);
    e.send(req(9, 1201).note("click here again")).unwrap_err();
    assert!(e.restriction_reason(m(9)).is_some());

    e.set_invite_setting(m(20), InviteSetting::Nobody);
    e.set_invite_setting(m(21), InviteSetting::EmailOrContacts);
    e.set_invite_setting(m(22), InviteSetting::ContactsOnly);
    e.set_invite_setting(m(23), InviteSetting::NetworkOnly);
    e.set_invite_setting(m(24), InviteSetting::FollowingOnly);
    e.set_status(m(25), AccountStatus::Banned);
    let until = Some(e.now() + 10 * DAY);
    e.set_status(m(26), AccountStatus::Restricted { until });
    e.set_status(m(27), AccountStatus::Restricted { until: None });
    e.register_email(m(30), "A30@Example.com ").unwrap();
    e.register_email(m(21), "b21@example.com").unwrap();
    e.register_email(m(31), "c31@example.com").unwrap();
    e.import_contacts(m(22), ["c31@example.com", "nobody@example.org"])
        .unwrap();
    e.follow(m(24), m(32));
    e.follow(m(24), m(33));
    e.unfollow(m(24), m(33));
    e.connect(m(23), m(33));
    e.connect(m(34), m(33));
    e.connect(m(12), m(34));
    e.disconnect(m(12), m(34));
    st.send(e, clock, req(31, 22));
    st.send(e, clock, req(30, 21).recipient_email("b21@example.com"));
    st
}

/// Every question the API answers about the compared members; `name` renders ids.
fn answers(e: &Engine, name: &dyn Fn(InviteId) -> String) -> Vec<String> {
    let mut out = Vec::new();
    for &a in MEMBERS {
        let a = m(a);
        let page = e.pending_sent(a, None, 1_000);
        let pending: Vec<String> = page
            .items
            .iter()
            .map(|p| {
                let id = name(p.id);
                let (to, at, until, n) = (p.recipient, p.sent_at, p.expires_at, p.reminders);
                format!("{id} to {to} at {at} until {until}, {n} reminders")
            })
            .collect();
        out.push(format!(
            "{a}: {:?} {:?} {:?} {:?} {:?} {} {:?} {pending:?} {:?}",
            e.capacity(a),
            e.tier(a),
            e.status(a),
            e.invite_setting(a),
            e.restriction_reason(a),
            e.connection_count(a),
            e.contacts(a),
            page.next.map(name),
        ));
        for &b in MEMBERS {
            let b = m(b);
            out.push(format!(
                "{a} -> {b}: {:?} {} {} {}",
                e.diagnose(a, b),
                e.pending_between(a, b),
                e.are_connected(a, b),
                e.follows(a, b),
            ));
        }
    }
    for email in [
        "a30@example.com",
        "b21@example.com",
        "c31@example.com",
        "x@y.zz",
    ] {
        out.push(format!("{email}: {:?}", e.resolve_email(email)));
    }
    out
}

#[derive(Clone, Copy)]
enum Id {
    Old(InviteId),
    /// The k-th new invitation sent by this engine after the snapshot.
    New(usize),
}

enum Op {
    Send(InviteRequest),
    Accept(Id),
    Decline(Id),
    Withdraw(Id),
    Remind(Id),
    Advance(Duration),
    Sweep,
    Answers,
}

/// One engine's side of the lockstep run.
struct Side<'a> {
    engine: &'a Engine,
    new: Vec<InviteId>,
}

impl Side<'_> {
    fn id(&self, id: Id) -> InviteId {
        match id {
            Id::Old(id) => id,
            Id::New(k) => self.new[k],
        }
    }

    /// The outcome of `op`, with new ids replaced by their rank (the engines number
    /// them differently) and checked never to repeat an old one.
    fn apply(&mut self, op: &Op, old: &HashSet<InviteId>) -> Vec<String> {
        let e = self.engine;
        match op {
            Op::Send(r) => vec![match e.send(r.clone()) {
                Ok(s) if old.contains(&s.id()) => format!("replayed {} {}", s.id(), s.expires_at()),
                Ok(s) => {
                    assert!(!self.new.contains(&s.id()), "{} issued twice", s.id());
                    self.new.push(s.id());
                    format!("sent #{} {}", self.new.len() - 1, s.expires_at())
                }
                Err(d) => format!("denied {d:?} {:?}", d.retry_at()),
            }],
            Op::Accept(id) => vec![format!("{:?}", e.accept(self.id(*id)).map_err(strip))],
            Op::Decline(id) => vec![format!("{:?}", e.decline(self.id(*id)).map_err(strip))],
            Op::Withdraw(id) => vec![format!("{:?}", e.withdraw(self.id(*id)).map_err(strip))],
            Op::Remind(id) => vec![format!("{:?}", e.remind(self.id(*id)).map_err(strip))],
            Op::Sweep => vec![format!("swept {}", e.sweep())],
            Op::Answers => {
                let new = &self.new;
                answers(e, &|id| match new.iter().position(|&n| n == id) {
                    Some(k) => format!("new #{k}"),
                    None => id.to_string(),
                })
            }
            Op::Advance(_) => Vec::new(),
        }
    }
}

/// An error without the id in it (new ids differ between the engines).
fn strip(e: InviteError) -> String {
    match e {
        InviteError::Unknown(_) => "unknown".to_owned(),
        InviteError::AlreadyEnded(_) => "already ended".to_owned(),
        InviteError::Expired { at, .. } => format!("expired at {at}"),
        InviteError::ReminderNotAllowed { next_at, .. } => format!("no reminder until {next_at:?}"),
        other => format!("{other:?}"),
    }
}

/// The same operations after the snapshot, on both engines sharing one clock.
fn script(st: &Story) -> Vec<Op> {
    use Op::*;
    let mut ops = vec![Answers, Sweep];
    for &(s, r, key, _) in &st.keyed {
        ops.push(Send(req(s, r).idempotency_key(key)));
    }
    ops.push(Send(req(1, 9_999).idempotency_key(500)));
    for (s, r) in [
        (1, 3000),
        (1, 3001),
        (2, 3000),
        (3, 4),
        (5, 10),
        (5, 6),
        (9, 3000),
        (25, 3000),
        (26, 3000),
        (27, 3000),
        (31, 22),
        (32, 24),
        (34, 23),
        (33, 20),
        (12, 21),
        (6, 5),
        (99, 25),
    ] {
        ops.push(Send(req(s, r)));
        ops.push(Advance(3 * MIN));
    }
    ops.push(Send(req(99, 21).recipient_email("B21@example.com")));
    ops.push(Send(req(11, 3000).note("still over quota")));
    ops.push(Send(req(12, 3000).note("Premium has no note quota")));
    for &id in &st.pending {
        ops.push(Accept(Id::Old(id)));
        ops.push(Accept(Id::Old(id)));
    }
    if let Some(id) = st.reminded {
        ops.push(Remind(Id::Old(id)));
    }
    ops.extend([
        Accept(Id::New(0)),
        Decline(Id::New(1)),
        Withdraw(Id::New(2)),
    ]);
    ops.extend([Remind(Id::New(3)), Answers]);
    for step in [HOUR, DAY, 8 * DAY, 22 * DAY, 31 * DAY, 181 * DAY] {
        ops.push(Advance(step));
        for (s, r) in [(1, 3002), (2, 3001), (5, 10), (9, 3001), (3, 4), (11, 3003)] {
            ops.push(Send(req(s, r).note("A fresh note")));
            ops.push(Advance(3 * MIN));
        }
        ops.extend([Remind(Id::New(3)), Sweep, Answers]);
    }
    ops
}

fn lockstep(original: &Engine, restored: &Engine, clock: &ManualClock, st: &Story) {
    let mut a = Side {
        engine: original,
        new: Vec::new(),
    };
    let mut b = Side {
        engine: restored,
        new: Vec::new(),
    };
    for (i, op) in script(st).iter().enumerate() {
        if let Op::Advance(d) = op {
            clock.advance(*d);
            continue;
        }
        let (x, y) = (a.apply(op, &st.ids), b.apply(op, &st.ids));
        assert_eq!(x.len(), y.len(), "op {i}");
        for (x, y) in x.iter().zip(&y) {
            assert_eq!(x, y, "op {i}");
        }
    }
    assert!(b.new.len() > 20, "the script sends new invitations");
}

fn round_trip(writer_shards: usize, reader_shards: usize) {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let original = build(&clock, writer_shards);
    let st = populate(&original, &clock);
    let bytes = snapshot(&original);
    let restored = restore(&bytes, &clock, reader_shards).expect("a fresh snapshot restores");
    assert_eq!(restored.now(), original.now());
    assert_eq!(restored.member_records(), original.member_records());
    // Replays hand back the very `Sent` of before the snapshot.
    for &(s, r, key, sent) in &st.keyed {
        let again = restored.send(req(s, r).idempotency_key(key)).unwrap();
        assert_eq!(again, sent);
        assert_eq!(original.send(req(s, r).idempotency_key(key)).unwrap(), sent);
    }
    lockstep(&original, &restored, &clock, &st);
}

#[test]
fn round_trip_keeps_every_answer_and_decision() {
    round_trip(256, 256);
}

#[test]
fn restores_into_fewer_shards() {
    round_trip(64, 1);
}

#[test]
fn restores_into_more_shards() {
    round_trip(4, 1024);
}

#[test]
fn a_restored_engine_snapshots_to_the_same_bytes_again() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let original = build(&clock, 16);
    populate(&original, &clock);
    let first = restore(&snapshot(&original), &clock, 16).unwrap();
    let second_bytes = snapshot(&first);
    let second = restore(&second_bytes, &clock, 16).unwrap();
    // The first restore merges counters; from then on a snapshot is a fixpoint.
    assert_eq!(snapshot(&second), second_bytes);
}

#[test]
fn time_passes_across_the_restart() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = build(&clock, 8);
    let mut sent = Vec::new();
    for r in 0..30 {
        sent.push(e.send(req(1, 100 + r)).unwrap());
        clock.advance(3 * MIN);
    }
    assert!(e.send(req(1, 200)).is_err());
    let bytes = snapshot(&e);
    let at_snapshot = e.now();
    drop(e);

    // A clock behind the snapshot: the engine acts at the snapshot's instant, so
    // nothing is freed early.
    clock.set(Timestamp::from_millis(T0));
    let back = restore(&bytes, &clock, 8).unwrap();
    assert_eq!(back.now(), at_snapshot);
    assert_eq!(back.capacity(m(1)).daily.used, 30);
    assert!(back.send(req(1, 200)).is_err());

    // A day later the daily window has emptied while the engine was down.
    clock.set(at_snapshot + DAY);
    let later = restore(&bytes, &clock, 8).unwrap();
    assert_eq!(later.capacity(m(1)).daily.used, 0);
    assert_eq!(later.capacity(m(1)).weekly.used, 30);
    assert_eq!(later.pending_between(m(1), m(100)), 1);
    assert!(later.send(req(1, 200)).is_ok());

    // Past every expiry: nothing is pending, accepting fails, and sweep counts them.
    let last = sent.last().unwrap().expires_at();
    clock.set(last);
    let expired = restore(&bytes, &clock, 2).unwrap();
    assert_eq!(
        expired.accept(sent[0].id()),
        Err(InviteError::Expired {
            id: sent[0].id(),
            at: sent[0].expires_at()
        })
    );
    assert_eq!(expired.pending_between(m(1), m(100)), 0);
    assert_eq!(expired.capacity(m(1)).pending_sent, 0);
    assert_eq!(expired.sweep(), 30);
    assert_eq!(expired.sweep(), 0);
}

/// A small valid snapshot, for the corruption tests.
fn small() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let clock = ManualClock::new(Timestamp::from_millis(T0));
        let e = build(&clock, 4);
        let a = e
            .send(req(1, 2).note("Hi there").idempotency_key(7))
            .unwrap();
        clock.advance(MIN);
        e.send(req(1, 3)).unwrap();
        e.send(req(4, 1)).unwrap();
        e.accept(a.id()).unwrap();
        let w = e.send(req(5, 6)).unwrap();
        e.withdraw(w.id()).unwrap();
        e.register_email(m(2), "two@example.com").unwrap();
        e.import_contacts(m(3), ["two@example.com"]).unwrap();
        e.set_status(m(7), AccountStatus::Banned);
        e.follow(m(8), m(1));
        snapshot(&e)
    })
}

fn restore_small(bytes: &[u8]) -> Result<Engine, PersistError> {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    restore(bytes, &clock, 4)
}

fn corrupt_offset(r: Result<Engine, PersistError>) -> u64 {
    match r {
        Err(PersistError::Corrupt { offset, what }) => {
            assert!(!what.is_empty());
            offset
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn the_small_snapshot_restores() {
    let e = restore_small(small()).unwrap();
    assert!(e.are_connected(m(1), m(2)));
    assert_eq!(e.resolve_email("two@example.com").unwrap(), Some(m(2)));
}

#[test]
fn empty_input_is_corrupt_at_byte_zero() {
    assert_eq!(corrupt_offset(restore_small(&[])), 0);
}

#[test]
fn every_truncation_is_an_error_within_the_input() {
    let bytes = small();
    let cuts = (0..bytes.len()).step_by(7).chain([bytes.len() - 1]);
    for len in cuts {
        let offset = corrupt_offset(restore_small(&bytes[..len]));
        assert!(offset <= len as u64, "cut at {len}, reported {offset}");
    }
}

#[test]
fn every_sampled_byte_flip_is_an_error() {
    let bytes = small();
    let tail = bytes.len().saturating_sub(40)..bytes.len();
    let offsets: Vec<usize> = (0..bytes.len()).step_by(3).chain(tail).collect();
    for at in offsets {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.to_vec();
            bad[at] ^= mask;
            match restore_small(&bad) {
                Err(PersistError::Corrupt { offset, .. }) => assert!(offset <= bad.len() as u64),
                Err(PersistError::WrongVersion { found, expected }) => {
                    assert!((8..12).contains(&at) && found != expected)
                }
                other => panic!("flip {mask:#x} at {at}: {other:?}"),
            }
        }
    }
}

#[test]
fn wrong_magic_is_not_a_snapshot() {
    let mut bad = small().to_vec();
    bad[1] = b'X';
    assert_eq!(corrupt_offset(restore_small(&bad)), 0);
    assert_eq!(corrupt_offset(restore_small(b"{\"json\": true}")), 0);
}

#[test]
fn another_version_says_so() {
    let mut bad = small().to_vec();
    bad[8..12].copy_from_slice(&4u32.to_le_bytes());
    let err = restore_small(&bad).unwrap_err();
    assert!(matches!(
        err,
        PersistError::WrongVersion {
            found: 4,
            expected: 3
        }
    ));
    assert!(err.to_string().contains("version 4"), "{err}");
}

#[test]
fn trailing_bytes_are_refused_where_they_start() {
    let bytes = small();
    for extra in [&[0u8][..], b"garbage", bytes] {
        let mut bad = bytes.to_vec();
        bad.extend_from_slice(extra);
        assert_eq!(corrupt_offset(restore_small(&bad)), bytes.len() as u64);
    }
}

struct Failing;

impl io::Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("disk on fire"))
    }
}

impl io::Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn stream_errors_are_io_errors_and_the_policy_is_checked_first() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = build(&clock, 4);
    let err = e.snapshot(&mut Failing).unwrap_err();
    assert!(matches!(err, PersistError::Io(_)), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    let err = Engine::builder().restore(&mut Failing).unwrap_err();
    assert!(matches!(err, PersistError::Io(_)), "{err}");

    let mut policy = Policy::default();
    policy.free.daily = 0;
    let err = Engine::builder()
        .policy(policy)
        .restore(&mut Failing)
        .unwrap_err();
    let PersistError::Config(config) = &err else {
        panic!("expected Config, got {err:?}");
    };
    assert_eq!(config.field(), "free.daily");
    assert!(err.to_string().contains("free.daily"), "{err}");
}

#[test]
fn a_new_policy_applies_to_restored_state() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = build(&clock, 4);
    for r in 0..10 {
        e.send(req(1, 100 + r)).unwrap();
        clock.advance(3 * MIN);
    }
    let bytes = snapshot(&e);
    let mut policy = Policy::default();
    policy.free.daily = 10;
    let tight = Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .restore(&mut &bytes[..])
        .unwrap();
    let d = tight.send(req(1, 200)).unwrap_err();
    assert!(matches!(
        d.reason(),
        DenyReason::DailyLimit {
            used: 10,
            limit: 10
        }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random edits, optionally with a cut: never a panic, and an error unless the
    /// bytes came out unchanged.
    #[test]
    fn mutated_snapshots_are_refused(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let original = small();
        let mut bytes = original.to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(original.len()));
        }
        let result = restore_small(&bytes);
        if bytes == original {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err());
        }
    }
}

#[test]
fn ids_of_invitations_gone_before_the_snapshot_are_never_reissued() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = build(&clock, 4);
    let old = e.send(req(1, 2)).unwrap();
    clock.set(old.expires_at() + DAY);
    assert_eq!(e.sweep(), 1);
    // The sender's record is gone; only the shard's counter remembers the id.
    let bytes = snapshot(&e);
    for shards in [1, 4, 64] {
        let restored = restore(&bytes, &clock, shards).unwrap();
        let new = restored.send(req(1, 2)).unwrap();
        assert_ne!(new.id(), old.id());
        assert_eq!(
            restored.accept(old.id()),
            Err(InviteError::Unknown(old.id()))
        );
        assert_eq!(restored.pending_between(m(1), m(2)), 1);
    }
}

#[test]
fn sweep_finds_invitations_that_expire_after_the_restore() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let e = build(&clock, 1);
    let early = e.send(req(2, 3)).unwrap();
    clock.advance(MIN);
    let ended = e.send(req(1, 2)).unwrap();
    let late = e.send(req(1, 3)).unwrap();
    e.withdraw(ended.id()).unwrap();
    clock.set(Timestamp::from_millis(
        early.expires_at().as_millis() - 3_600_000,
    ));
    let bytes = snapshot(&e);
    // One shard: member 1's later expiries are decoded before member 2's earlier
    // one, so the rebuilt queue must be sorted for the sweep to reach it.
    let restored = restore(&bytes, &clock, 1).unwrap();
    assert_eq!(restored.sweep(), 0);
    clock.set(early.expires_at());
    // No query has touched the senders: only the rebuilt expiry queue finds them.
    assert_eq!(restored.sweep(), 1);
    clock.set(late.expires_at());
    assert_eq!(restored.sweep(), 1);
    assert_eq!(restored.pending_between(m(1), m(3)), 0);
}
