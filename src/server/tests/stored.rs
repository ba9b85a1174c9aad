//! The two forms a stored value takes: packed while small, open once large, and the
//! same value, bytes and facts either way.

use crate::server::{Command, MemberValue, Server, StoredMember, OPEN_AT, PACK_AT};
use crate::{Policy, SpamPolicy};

/// A sender with `n` invitations pending, each to another member, and a connection.
fn sender_with(n: usize) -> MemberValue {
    let mut policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    policy.free.daily = 10_000;
    policy.free.weekly = 10_000;
    let mut server = Server::new(policy).unwrap();
    let mut v = None;
    let connect = Command::parse(&[b"IL.CONNECT", b"a", b"1", b"99999"]).unwrap();
    server.write(&connect, &mut v, None, 1_000).unwrap();
    for r in 0..n {
        let r = (r + 2).to_string();
        let send = Command::parse(&[b"IL.SEND", b"a", b"b", b"1", r.as_bytes()]).unwrap();
        server.write(&send, &mut v, Some(&mut None), 1_000).unwrap();
    }
    v.unwrap()
}

fn is_open(s: &StoredMember) -> bool {
    matches!(s, StoredMember::Open(_))
}

#[test]
fn a_large_value_is_kept_open_and_reads_as_packed() {
    let large = sender_with(OPEN_AT + 1);
    let stored = StoredMember::new(large.clone());
    assert!(is_open(&stored));
    assert_eq!(*stored.value().unwrap(), large);
    // RDB and AOF rewrite get the packed bytes, which load back open.
    assert_eq!(*stored.bytes(), *large.encode());
    let loaded = StoredMember::from_bytes(&stored.bytes()).unwrap();
    assert!(is_open(&loaded));
    assert_eq!(*loaded.value().unwrap(), large);
    // A recipient's facts are the same from either form.
    let packed = large.pack();
    assert_eq!(
        stored.facts().unwrap().encode(),
        packed.facts().unwrap().encode()
    );
    assert!(stored.memory_usage() > packed.memory_usage());
}

#[test]
fn a_value_changes_form_past_its_thresholds_only() {
    let small = StoredMember::new(sender_with(OPEN_AT));
    assert!(!is_open(&small), "at the threshold it stays packed");
    let mut stored = StoredMember::new(sender_with(OPEN_AT + 1));
    // Between the thresholds each form keeps its own.
    let between = sender_with(PACK_AT + 1);
    stored.put(between.clone());
    assert!(is_open(&stored));
    let mut packed = StoredMember::new(between.clone());
    packed.put(between.clone());
    assert!(!is_open(&packed));
    stored.put(sender_with(PACK_AT));
    assert!(!is_open(&stored), "small again: packed");
    assert_eq!(*stored.value().unwrap(), sender_with(PACK_AT));
}
