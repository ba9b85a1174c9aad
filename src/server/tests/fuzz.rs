//! Malformed commands and stored bytes: refused with an error that names what is
//! wrong, never a panic; and the rules for time and for values with nothing left.

use proptest::prelude::*;

use super::policy;
use crate::server::{Command, MemberValue, Reply, Server};
use crate::{Policy, Tier};

proptest! {
    /// Any bytes, any command name: an error or a command, never a panic.
    #[test]
    fn parsing_arbitrary_arguments_never_panics(parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..12)) {
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let _ = Command::parse(&refs);
    }

    /// Real command names with arguments drawn from numbers, words and junk: the
    /// parser and the server answer or refuse, and a parsed command runs without a
    /// panic on members holding state.
    #[test]
    fn well_named_commands_with_junk_never_panic(
        name in prop::sample::select(crate::server::COMMANDS.iter().map(|c| c.0).chain(["IL.POLICY"]).collect::<Vec<_>>()),
        rest in prop::collection::vec(prop_oneof![
            Just(b"{il:1}".to_vec()), Just(b"1".to_vec()), Just(b"2".to_vec()),
            Just(b"18446744073709551615".to_vec()), Just(b"18446744073709551616".to_vec()),
            Just(b"-1".to_vec()), Just(b"NOTE".to_vec()), Just(b"KEY".to_vec()), Just(b"AT".to_vec()),
            Just(b"TIER".to_vec()), Just(b"STATUS".to_vec()), Just(b"restricted".to_vec()), Just(b"UNTIL".to_vec()),
            Just(b"premium".to_vec()), Just(b"COUNT".to_vec()), Just(b"set".to_vec()), Just(b"get".to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
        ], 0..10),
    ) {
        let mut parts = vec![name.as_bytes().to_vec()];
        parts.extend(rest);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        if let Ok(cmd) = Command::parse(&refs) {
            let mut server = Server::new(Policy::default()).unwrap();
            let held = {
                let mut v = Some(MemberValue::new(1));
                let c = Command::parse(&[b"IL.SEND", b"k", b"k2", b"1", b"2"]).unwrap();
                server.write(&c, &mut v, Some(&mut None), 5_000).unwrap();
                v
            };
            let (mut first, mut second) = (held.clone(), Some(MemberValue::new(2)));
            if cmd.writes() {
                let _ = server.write(&cmd, &mut first, Some(&mut second), 9_000);
            } else {
                let _ = server.read(&cmd, first.as_ref(), Some(second.as_ref()), 9_000);
            }
            // A replica's form of the command parses to the same command at its instant.
            let replica = cmd.replicated(&refs, 7_000);
            let mut full = vec![cmd.name().as_bytes().to_vec()];
            full.extend(replica);
            let back: Vec<&[u8]> = full.iter().map(Vec::as_slice).collect();
            let again = Command::parse(&back).expect("a replicated command parses");
            prop_assert_eq!(&again.op, &cmd.op);
        }
    }

    /// Any bytes as a stored value: refused or read, never a panic; what is read
    /// writes back to the same bytes.
    #[test]
    fn decoding_arbitrary_values_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = MemberValue::decode(&bytes) {
            prop_assert_eq!(MemberValue::decode(&v.encode()).unwrap().encode(), v.encode());
        }
    }
}
#[test]
fn facts_stand_in_for_the_recipient_only_where_they_decide() {
    let quiet = Policy {
        spam: crate::SpamPolicy::disabled(),
        ..Policy::default()
    };
    let run = |policy: Policy, facts: &[&[u8]]| {
        let mut server = Server::new(policy).unwrap();
        let mut parts: Vec<&[u8]> = vec![b"IL.PSEND", b"{il:1}", b"1", b"2", b"FACTS"];
        parts.extend(facts);
        let cmd = Command::parse(&parts).map_err(|e| e.to_string())?;
        server
            .write(&cmd, &mut None, None, 5_000)
            .map(|done| done.reply)
            .map_err(|e| e.to_string())
    };
    let word = |reply: Reply| match reply {
        Reply::Array(items) => items.into_iter().next(),
        _ => None,
    };
    let sent = run(quiet.clone(), &[b"active", b"everyone"]).unwrap();
    assert_eq!(word(sent), Some(Reply::text("sent")));
    let banned = run(quiet.clone(), &[b"banned", b"everyone"]).unwrap();
    assert_eq!(word(banned), Some(Reply::text("denied")));
    let nobody = run(quiet.clone(), &[b"active", b"nobody"]).unwrap();
    assert_eq!(word(nobody), Some(Reply::text("denied")));
    // Relations decide a network-only recipient, and whether two members are
    // strangers: the facts are refused, the value must be given.
    let network = run(quiet.clone(), &[b"active", b"network_only"]).unwrap_err();
    assert!(network.contains("give PEER"), "{network}");
    let strangers = run(Policy::default(), &[b"active", b"everyone"]).unwrap_err();
    assert!(strangers.contains("give PEER"), "{strangers}");
    assert!(run(quiet.clone(), &[b"maybe", b"everyone"])
        .unwrap_err()
        .contains("active or banned"));
    assert!(run(quiet.clone(), &[b"active", b"friends"])
        .unwrap_err()
        .contains("setting must be one of"));
    assert!(run(quiet, &[b"active", b"everyone", b"PEER", b"x"]).is_err());
}

#[test]
fn an_invitation_that_expired_unanswered_is_expired_to_every_ending() {
    let mut server = Server::new(policy()).unwrap();
    let (t0, ttl) = (1_764_000_000_000u64, 180 * 86_400_000u64);
    let (mut sender, mut recipient) = (None, None);
    let send = Command::parse(&[b"IL.SEND", b"a", b"b", b"1", b"2"]).unwrap();
    let done = server
        .write(&send, &mut sender, Some(&mut recipient), t0)
        .unwrap();
    let Reply::Array(words) = done.reply else {
        panic!("not an array")
    };
    let Reply::Int(seq) = words[1] else {
        panic!("no sequence number")
    };
    let seq = seq.to_string();
    let expired = Reply::Array(vec![Reply::text("expired"), Reply::Int((t0 + ttl) as i64)]);
    // The recipient lookup an acceptance starts with, as the decline itself.
    let lookup = Command::parse(&[b"IL.RECIPIENT", b"a", b"1", seq.as_bytes()]).unwrap();
    let read = server
        .read(&lookup, sender.as_ref(), None, t0 + ttl)
        .unwrap();
    assert_eq!(read, expired);
    let decline = Command::parse(&[b"IL.DECLINE", b"a", b"1", seq.as_bytes()]).unwrap();
    let done = server.write(&decline, &mut sender, None, t0 + ttl).unwrap();
    assert_eq!(done.reply, expired);
}

#[test]
fn a_packed_value_holds_a_fraction_of_the_full_width_bytes() {
    let mut server = Server::new(policy()).unwrap();
    let (mut v, t) = (None, 1_764_000_000_000u64);
    for r in 2..7u64 {
        let r = r.to_string();
        let c = Command::parse(&[b"IL.SEND", b"a", b"b", b"1", r.as_bytes()]).unwrap();
        server.write(&c, &mut v, Some(&mut None), t).unwrap();
    }
    let v = v.unwrap();
    let packed = v.pack();
    assert_eq!(packed.unpack().unwrap(), v);
    // The facts alone: the record without its sends and invitations.
    let facts = packed.facts().unwrap();
    assert_eq!(facts.member.ledger.all().count(), 0);
    assert_eq!(facts.member.sends.times().count(), 0);
    assert_eq!(
        (facts.id(), facts.member.setting, facts.member.status()),
        (v.id(), v.member.setting, v.member.status())
    );
    assert_eq!(facts.member.extra, v.member.extra);
    assert_eq!(
        crate::server::PackedMember::from_bytes(&v.encode_fixed()).unwrap(),
        packed,
        "a value in the first layout is packed in the compact one"
    );
    // Five pending invitations and their spam record: small ids and sequence numbers
    // take a byte, instants six.
    let (compact, wide) = (packed.bytes().len(), v.encode_fixed().len());
    assert!(
        compact * 2 < wide,
        "{compact} bytes packed, {wide} at full width"
    );
    assert_eq!(
        packed.memory_usage(),
        compact + size_of::<crate::server::PackedMember>()
    );
    let mut unknown = v.encode();
    unknown[1] = 9;
    assert!(MemberValue::decode(&unknown)
        .unwrap_err()
        .to_string()
        .contains("known version"));
}

#[test]
fn a_value_flipped_anywhere_is_refused_or_read_without_panicking() {
    let mut server = Server::new(policy()).unwrap();
    let mut v = None;
    for (i, note) in ["hi", "yo", "x"].iter().enumerate() {
        let r = (i + 2).to_string();
        let c = Command::parse(&[
            b"IL.SEND",
            b"a",
            b"b",
            b"1",
            r.as_bytes(),
            b"NOTE",
            note.as_bytes(),
            b"KEY",
            b"7",
        ])
        .unwrap();
        server
            .write(&c, &mut v, Some(&mut None), 10_000 + i as u64)
            .unwrap();
    }
    let bytes = v.unwrap().encode();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let _ = MemberValue::decode(&b);
        }
        let _ = MemberValue::decode(&bytes[..i]);
    }
}

#[test]
fn malformed_commands_name_what_is_wrong() {
    let err = |parts: &[&[u8]]| Command::parse(parts).unwrap_err().to_string();
    assert!(err(&[]).contains("empty"));
    assert!(err(&[b"IL.NOPE"]).contains("unknown command"));
    assert!(err(&[b"IL.SEND", b"a", b"b", b"1"]).contains("recipient missing"));
    assert!(err(&[b"IL.SEND", b"a", b"b", b"x", b"2"]).contains("sender is not"));
    assert!(
        err(&[b"IL.SEND", b"a", b"b", b"1", b"18446744073709551616"]).contains("recipient is not")
    );
    assert!(err(&[b"IL.CAPACITY", b"a", b"1", b"AT", b"-5"]).contains("AT is not"));
    assert!(
        err(&[b"IL.CAPACITY", b"a", b"1", b"AT", b"253402300800000"])
            .contains("after Timestamp::MAX")
    );
    assert!(err(&[b"IL.CAPACITY", b"a", b"1", b"extra"]).contains("unknown option"));
    assert!(err(&[b"IL.SET", b"a", b"1", b"TIER", b"gold"]).contains("free or premium"));
    let huge = vec![b'x'; crate::server::MAX_ARG_BYTES + 1];
    assert!(err(&[b"IL.SEND", b"a", b"b", b"1", b"2", b"NOTE", &huge]).contains("limit"));
    // A key holding another member than the command names.
    let mut server = Server::new(Policy::default()).unwrap();
    let c = Command::parse(&[b"IL.SET", b"a", b"5", b"TIER", b"premium"]).unwrap();
    let mut v = None;
    server.write(&c, &mut v, None, 1).unwrap();
    let c = Command::parse(&[b"IL.SET", b"a", b"6", b"TIER", b"free"]).unwrap();
    let e = server.write(&c, &mut v, None, 2).unwrap_err();
    assert!(e.to_string().contains("holds member 5"), "{e}");
    assert_eq!(
        v.unwrap().member.tier,
        Tier::Premium,
        "an error changes nothing"
    );
}

#[test]
fn time_never_steps_back_for_a_member() {
    let mut server = Server::new(policy()).unwrap();
    let mut v = None;
    let send = |at: u64, r: &str| {
        Command::parse(&[
            b"IL.SEND",
            b"a",
            b"b",
            b"1",
            r.as_bytes(),
            b"AT",
            at.to_string().as_bytes(),
        ])
        .unwrap()
    };
    let done = server
        .write(&send(1_000_000, "2"), &mut v, Some(&mut None), 0)
        .unwrap();
    assert_eq!(done.at, 1_000_000);
    // A later command asked at an earlier instant runs at the member's latest.
    let done = server
        .write(&send(5, "3"), &mut v, Some(&mut None), 0)
        .unwrap();
    assert_eq!(done.at, 1_000_000);
    let Reply::Array(items) = done.reply else {
        panic!()
    };
    let ttl = policy().pending_ttl.as_millis() as i64;
    assert_eq!(
        items[2],
        Reply::Int(1_000_000 + ttl),
        "expiry from the member's clock"
    );
}

#[test]
fn a_value_with_nothing_left_is_dropped_and_one_with_facts_kept() {
    let mut server = Server::new(Policy::default()).unwrap();
    let mut v = None;
    let c = Command::parse(&[b"IL.SET", b"a", b"1", b"TIER", b"free"]).unwrap();
    server.write(&c, &mut v, None, 1_000).unwrap();
    assert!(v.is_none(), "a default fact creates no value");
    let c = Command::parse(&[b"IL.SET", b"a", b"1", b"TIER", b"premium"]).unwrap();
    server.write(&c, &mut v, None, 1_000).unwrap();
    assert_eq!(
        server.expires_at(v.as_ref().unwrap(), &c),
        None,
        "a premium member never expires"
    );
    let c = Command::parse(&[b"IL.SEND", b"a", b"b", b"3", b"4"]).unwrap();
    let mut w = None;
    server.write(&c, &mut w, Some(&mut None), 1_000).unwrap();
    let week = 7 * 24 * 3_600_000;
    assert!(server.expires_at(w.as_ref().unwrap(), &c).unwrap() >= 1_000 + week);
}

#[test]
fn named_policies_decide_their_own_commands_and_travel_together() {
    let mut server = Server::new(Policy::default()).unwrap();
    let mut tight = policy();
    tight.free.daily = 1;
    let bytes = Server::new(tight).unwrap().encoded_policy();
    let send = |r: &[u8], rules: Option<&[u8]>| {
        let mut parts: Vec<&[u8]> = vec![b"IL.SEND", b"a", b"b", b"1", r];
        if let Some(name) = rules {
            parts.extend([b"RULES".as_slice(), name]);
        }
        Command::parse(&parts).unwrap()
    };
    let mut v = None;
    let err = server.write(&send(b"2", Some(b"tight")), &mut v, Some(&mut None), 1_000);
    assert!(err.unwrap_err().to_string().contains("unknown rules tight"));
    assert!(v.is_none(), "nothing changed");
    let set = Command::parse(&[b"IL.POLICY", b"SET", b"tight", &bytes]).unwrap();
    server.write(&set, &mut None, None, 1_000).unwrap();
    let first = server
        .write(&send(b"2", Some(b"tight")), &mut v, Some(&mut None), 1_000)
        .unwrap();
    assert!(format!("{:?}", first.reply).contains("sent"));
    let second = server
        .write(&send(b"3", Some(b"tight")), &mut v, Some(&mut None), 1_000)
        .unwrap();
    assert!(
        format!("{:?}", second.reply).contains("daily_limit"),
        "{:?}",
        second.reply
    );
    // The default policy still allows 30 a day.
    let third = server
        .write(&send(b"3", None), &mut v, Some(&mut None), 1_000)
        .unwrap();
    assert!(format!("{:?}", third.reply).contains("sent"));
    // Saved and loaded together; a malformed save changes nothing.
    let saved = server.saved_policies();
    let mut other = Server::new(Policy::default()).unwrap();
    assert!(other.load_policies(&saved[..saved.len() - 1]).is_err());
    other.load_policies(&saved).unwrap();
    let get = Command::parse(&[b"IL.POLICY", b"GET", b"tight"]).unwrap();
    assert_eq!(
        other.read(&get, None, None, 0).unwrap(),
        Reply::Bytes(bytes)
    );
}

#[test]
fn a_relation_past_the_cap_changes_nothing() {
    let mut server = Server::new(Policy::default()).unwrap();
    let bytes = server.encoded_policy();
    let set = Command::parse(&[
        b"IL.POLICY",
        b"SET",
        b"small",
        &bytes,
        b"CAPS",
        b"2",
        b"1",
        b"3",
        b"10",
    ])
    .unwrap();
    server.write(&set, &mut None, None, 0).unwrap();
    let mut v = None;
    let mut connect = |other: &[u8]| {
        let c = Command::parse(&[b"IL.CONNECT", b"k", b"1", other, b"RULES", b"small"]).unwrap();
        server.write(&c, &mut v, None, 1_000).unwrap().reply
    };
    assert_eq!(connect(b"2"), Reply::Int(1));
    assert_eq!(connect(b"3"), Reply::Int(1));
    assert_eq!(
        connect(b"3"),
        Reply::Int(0),
        "already there: no cap to meet"
    );
    assert_eq!(
        connect(b"4"),
        Reply::Array(vec![Reply::Text("too_many".into()), Reply::Int(2)])
    );
    assert_eq!(connect(b"1"), Reply::Int(0), "never connected to oneself");
    let held = v.as_ref().unwrap().member.extra.as_ref().unwrap();
    assert_eq!(held.connections.len(), 2);
}
