//! The module's side of the side-by-side test: values kept by member as a Redis
//! server keeps them, every command run through `Server`, in its two-key form or
//! in the one-key forms a gateway on a cluster uses.

use std::collections::HashMap;

use crate::server::{Command, MemberValue, Reply, Server};
use crate::{AccountStatus, InviteSetting};

/// The module's side: values by member, kept as a Redis server keeps them.
pub(super) struct Store {
    pub(super) server: Server,
    pub(super) values: HashMap<u64, MemberValue>,
    /// Email owner keys: normalised email to member.
    pub(super) owners: HashMap<String, u64>,
    /// Run two-key sends, diagnoses and acceptances in their one-key forms, as a
    /// gateway on a cluster does.
    pub(super) peer: bool,
    /// In the one-key forms, give the recipient's facts (`FACTS`) instead of their
    /// value wherever the facts decide, as a gateway with them cached does.
    pub(super) facts: bool,
}

pub(super) fn key(m: u64) -> Vec<u8> {
    format!("{{il:{m}}}").into_bytes()
}

impl Store {
    pub(super) fn email(&mut self, m: u64, add: bool, email: &str, now: u64) -> Reply {
        if self.peer {
            return self.email_in_two(m, add, email, now);
        }
        let action: &[u8] = if add { b"ADD" } else { b"DEL" };
        let parts = args(&[
            b"IL.EMAIL",
            &key(m),
            b"{il:@}",
            &num(m),
            action,
            email.as_bytes(),
        ]);
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let cmd = Command::parse(&refs).expect("well-formed");
        let norm = crate::email::normalize(email).unwrap();
        let mut owner = self.owners.get(&norm).copied();
        let mut first = self.values.remove(&m);
        let done = self
            .server
            .write_email(&cmd, &mut first, &mut owner, now)
            .expect("write");
        if let Some(v) = first {
            self.values
                .insert(m, MemberValue::decode(&v.encode()).unwrap());
        }
        match owner {
            Some(o) => self.owners.insert(norm, o),
            None => self.owners.remove(&norm),
        };
        done.reply
    }

    /// `IL.PEMAIL` as a gateway on a cluster runs it: the owner key claimed (SET
    /// NX) or read first, released or cleared after.
    fn email_in_two(&mut self, m: u64, add: bool, email: &str, now: u64) -> Reply {
        let norm = crate::email::normalize(email).unwrap();
        let old = self.owners.get(&norm).copied();
        match (add, old) {
            (true, Some(o)) if o == m => return Reply::Ok,
            (true, Some(o)) => return Reply::Array(vec![Reply::text("taken"), Reply::id(o)]),
            (true, None) => {
                self.owners.insert(norm.clone(), m);
            }
            _ => {}
        }
        let action: &[u8] = if add { b"ADD" } else { b"DEL" };
        let mut parts = args(&[b"IL.PEMAIL", &key(m), &num(m), action, email.as_bytes()]);
        if let (false, Some(o)) = (add, old) {
            parts.extend(args(&[b"OWNER", &num(o)]));
        }
        let reply = self.run_as_given(parts, now);
        if add != (reply == Reply::Ok) {
            self.owners.remove(&norm);
        }
        reply
    }

    /// A two-key command in its one-key form: the recipient's value travels as
    /// `PEER`, an acceptance is `IL.PACCEPT` then `IL.MIRROR`.
    pub(super) fn run(&mut self, args: Vec<Vec<u8>>, now: u64) -> Reply {
        if !self.peer
            || !matches!(
                args[0].as_slice(),
                b"IL.SEND" | b"IL.DIAGNOSE" | b"IL.ACCEPT"
            )
        {
            return self.run_as_given(args, now);
        }
        let recipient_key = args[2].clone();
        let mut one: Vec<Vec<u8>> = vec![
            [b"IL.P".as_slice(), &args[0][3..]].concat(),
            args[1].clone(),
        ];
        one.extend(args[3..].iter().cloned());
        if args[0] == b"IL.ACCEPT" {
            let reply = self.run_as_given(one, now);
            let Reply::Array(words) = &reply else {
                return reply;
            };
            let Some(Reply::Text(r)) = words.get(1) else {
                return reply;
            };
            let mirror = vec![
                b"IL.MIRROR".to_vec(),
                recipient_key,
                r.clone().into_bytes(),
                args[3].clone(),
            ];
            assert_eq!(self.run_as_given(mirror, now), Reply::Ok);
            return Reply::Array(vec![Reply::text("ok")]);
        }
        let r: u64 = std::str::from_utf8(&args[4]).unwrap().parse().unwrap();
        let value = self.values.get(&r);
        let (banned, setting) = value.map_or((false, InviteSetting::Everyone), |v| {
            (v.member.status() == AccountStatus::Banned, v.member.setting)
        });
        let decided = matches!(setting, InviteSetting::Everyone | InviteSetting::Nobody);
        match value {
            _ if self.facts && decided => {
                let status: &[u8] = if banned { b"banned" } else { b"active" };
                let name = crate::codes::names::setting_name(setting).as_bytes();
                one.extend([b"FACTS".to_vec(), status.to_vec(), name.to_vec()]);
            }
            Some(v) => one.extend([b"PEER".to_vec(), v.encode()]),
            None => {}
        }
        self.run_as_given(one, now)
    }

    fn run_as_given(&mut self, args: Vec<Vec<u8>>, now: u64) -> Reply {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let cmd = Command::parse(&refs).expect("well-formed");
        let id = |i: usize| -> u64 {
            std::str::from_utf8(&args[i])
                .unwrap()
                .trim_matches(|c| c == '{' || c == '}')
                .trim_start_matches("il:")
                .parse()
                .unwrap()
        };
        let (a, b) = (
            id(1),
            if cmd.key_count() == 2 {
                Some(id(2))
            } else {
                None
            },
        );
        // A recipient only read (a send's, a diagnosis's) is given as the module
        // gives it: its facts alone.
        let facts = |v: Option<&MemberValue>| v.map(|v| v.pack().facts().expect("facts"));
        if !cmd.writes() {
            let first = self.values.get(&a);
            let second = b.filter(|b| *b != a).map(|b| facts(self.values.get(&b)));
            let second = second.as_ref().map(Option::as_ref);
            return self.server.read(&cmd, first, second, now).expect("read");
        }
        let mut first = self.values.remove(&a);
        let mut second = b.filter(|b| *b != a).map(|b| {
            if cmd.writes_second() {
                self.values.remove(&b)
            } else {
                facts(self.values.get(&b))
            }
        });
        let done = self
            .server
            .write(&cmd, &mut first, second.as_mut(), now)
            .expect("write");
        let second = second.filter(|_| cmd.writes_second());
        // Every value is packed and unpacked, as the module keeps it between
        // commands (and RDB and AOF rewrite take its bytes); the first layout, at
        // full width, reads as the same value.
        let mut put = |m: u64, v: Option<MemberValue>| {
            if let Some(v) = v {
                let packed = v.pack();
                assert_eq!(packed.bytes(), v.encode().as_slice());
                let back = packed.unpack().expect("unpacks");
                assert_eq!(back.encode(), v.encode(), "stored bytes change the value");
                let wide = MemberValue::decode(&v.encode_fixed()).expect("decodes");
                assert_eq!(
                    wide.encode(),
                    v.encode(),
                    "the first layout reads differently"
                );
                self.values.insert(m, back);
            }
        };
        put(a, first);
        if let (Some(b), Some(v)) = (b.filter(|b| *b != a), second) {
            put(b, v);
        }
        done.reply
    }
}

pub(super) fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

pub(super) fn num(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}
