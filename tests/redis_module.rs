//! The Redis module (`module/`) inside real servers: every answer survives
//! replication, `DEBUG RELOAD`, an AOF restart and an RDB restart unchanged; two
//! gateways on one sender get exactly the limit; malformed commands get error
//! replies and the server stays up. Each test starts its own servers with the
//! module loaded (ports 6440-6449); the module file is named by
//! `INVITE_LIMITER_REDIS_MODULE`, which `.ci/run` sets after building it.

#![cfg(all(feature = "redis", feature = "server"))]

mod redis_support;

use std::path::PathBuf;
use std::time::Duration;

use redis::Value;
use redis_support::drive::{cli, wait_until};
use redis_support::module_servers::{connect, key, module, port_of, run, server, start, words, T0};
use redis_support::servers::root;

/// A deterministic mixed load: sends (some with notes and idempotency keys),
/// accepts, declines, withdrawals, reminders, tier changes and connections over
/// 12 members, at instants that move forward by seconds to days; before them, 80
/// sends of a 13th member.
fn mixed_load(con: &mut redis::Connection, steps: usize) {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    // One heavy sender, whose value the module keeps open (over 64 invitations).
    let tier = format!("IL.SET {} 13 TIER premium AT {T0}", key(13));
    run(con, &words(&tier)).unwrap();
    for i in 0..80u64 {
        let (r, at) = (1_000 + i, T0 + i * 600_000);
        let send = format!("IL.SEND {} {} 13 {r} AT {at}", key(13), key(r));
        let reply = run(con, &words(&send)).unwrap();
        assert!(format!("{reply:?}").contains("sent"), "{reply:?}");
    }
    let mut now = T0;
    let mut sent: Vec<(u64, i64, u64)> = Vec::new();
    for _ in 0..steps {
        now += [1_000, 60_000, 3_600_000, 86_400_000][next(4) as usize];
        let (s, r) = (1 + next(12), 1 + next(12));
        let at = now.to_string();
        let args = match next(10) {
            0..=4 => {
                let mut a = words(&format!("IL.SEND {} {} {s} {r}", key(s), key(r)));
                if next(3) == 0 {
                    a.extend(words("NOTE hello"));
                }
                if next(4) == 0 {
                    a.extend(words(&format!("KEY {}", next(3))));
                }
                a
            }
            5 if !sent.is_empty() => {
                let (s, seq, r) = sent[next(sent.len() as u64) as usize];
                words(&format!("IL.ACCEPT {} {} {s} {seq}", key(s), key(r)))
            }
            6 if !sent.is_empty() => {
                let (s, seq, _) = sent[next(sent.len() as u64) as usize];
                let how = ["IL.DECLINE", "IL.WITHDRAW", "IL.REPORT", "IL.REMIND"][next(4) as usize];
                words(&format!("{how} {} {s} {seq}", key(s)))
            }
            7 => words(&format!(
                "IL.SET {} {s} TIER {}",
                key(s),
                ["free", "premium"][next(2) as usize]
            )),
            8 => words(&format!("IL.CONNECT {} {s} {r}", key(s))),
            _ => words(&format!(
                "IL.SET {} {s} SETTING {}",
                key(s),
                ["everyone", "network_only"][next(2) as usize]
            )),
        };
        let mut args = args;
        args.extend(["AT".to_owned(), at]);
        let reply = run(con, &args).unwrap();
        if let Value::Array(items) = &reply {
            if let (Some(Value::BulkString(kind)), Some(Value::Int(seq))) =
                (items.first(), items.get(1))
            {
                if kind == b"sent" {
                    sent.push((s, *seq, r));
                }
            }
        }
    }
}

/// Every member's answers: capacity, pending page, facts and stored bytes, at one
/// instant far enough on that every window has moved.
fn answers(con: &mut redis::Connection) -> Vec<String> {
    let at = (T0 + 400 * 86_400_000).to_string();
    let mut out = Vec::new();
    for m in 1..=13 {
        for q in ["IL.CAPACITY", "IL.PENDING", "IL.GET"] {
            let args = [
                q.to_owned(),
                key(m),
                m.to_string(),
                "AT".to_owned(),
                at.clone(),
            ];
            out.push(format!("{q} {m}: {:?}", run(con, &args).unwrap()));
        }
        out.push(format!(
            "dump {m}: {:?}",
            run(con, &["IL.DUMP".to_owned(), key(m)]).unwrap()
        ));
    }
    out
}

#[test]
fn malformed_commands_get_error_replies_and_the_server_stays_up() {
    let Some(so) = module() else { return };
    let _servers = server(&so, 6440, &[]);
    let mut con = connect(6440);
    run(&mut con, &words("IL.SET {il:1} 1 TIER premium")).unwrap();
    run(&mut con, &words("SET plain text")).unwrap();
    let huge = "x".repeat(2 << 20);
    let bad: Vec<Vec<String>> = vec![
        words("IL.SEND"),
        words("IL.SEND {il:1}"),
        words("IL.SEND {il:1} {il:2} 1"),
        words("IL.SEND {il:1} {il:2} one 2"),
        words("IL.SEND {il:1} {il:2} 1 -2"),
        words("IL.SEND {il:1} {il:2} 1 99999999999999999999999"),
        words("IL.SEND {il:1} {il:2} 1 2 AT soon"),
        words("IL.SEND {il:1} {il:2} 1 2 AT 999999999999999999"),
        words("IL.SEND {il:1} {il:2} 1 2 BOGUS"),
        words("IL.SEND plain {il:2} 1 2"),
        words("IL.CAPACITY plain 1"),
        words("IL.CAPACITY {il:1} 2"),
        words("IL.SET {il:1} 1 TIER gold"),
        words("IL.SET {il:1} 1 STATUS restricted UNTIL never"),
        words("IL.PENDING {il:1} 1 COUNT 0"),
        words("IL.RESTORE {il:9} garbage"),
        words("IL.POLICY SET garbage"),
        words("IL.POLICY"),
        vec![
            "IL.SEND".into(),
            "{il:1}".into(),
            "{il:2}".into(),
            "1".into(),
            "2".into(),
            "NOTE".into(),
            huge,
        ],
    ];
    for args in &bad {
        let err =
            run(&mut con, args).expect_err(&format!("{:?} must fail", &args[..args.len().min(6)]));
        assert!(!err.to_string().is_empty());
    }
    let err = run(&mut con, &words("IL.CAPACITY plain 1")).unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err}");
    // The server is up and nothing was touched.
    assert!(cli(6440, &["ping"]).contains("PONG"));
    let get = run(&mut con, &words("IL.GET {il:1} 1")).unwrap();
    assert!(format!("{get:?}").contains("premium"), "{get:?}");
    assert_eq!(cli(6440, &["get", "plain"]).trim(), "text");
    assert_eq!(cli(6440, &["exists", "{il:2}", "{il:9}"]).trim(), "0");
}

#[test]
fn two_gateways_on_one_sender_admit_exactly_the_limit_and_one_id_per_key() {
    let Some(so) = module() else { return };
    let _servers = server(&so, 6441, &[]);
    // No spam signals: forty sends a minute would trip the burst signal.
    let quiet = invite_limiter::server::Server::new(redis_support::drive::quiet()).unwrap();
    let set: Value = redis::cmd("IL.POLICY")
        .arg("SET")
        .arg(quiet.encoded_policy())
        .query(&mut connect(6441))
        .unwrap();
    assert_eq!(set, Value::Okay);
    let sent = |gateway: u64| {
        std::thread::spawn(move || {
            let mut con = connect(6441);
            let mut ids = Vec::new();
            for i in 0..40 {
                let r = 1_000 + gateway * 100 + i;
                let args = words(&format!("IL.SEND {} {} 1 {r}", key(1), key(r)));
                if let Value::Array(items) = run(&mut con, &args).unwrap() {
                    if items[0] == Value::BulkString(b"sent".to_vec()) {
                        ids.push(items[1].clone());
                    }
                }
            }
            // The same idempotency key through both gateways, for another sender.
            let args = words(&format!("IL.SEND {} {} 2 3 KEY 77", key(2), key(3)));
            (ids.len(), run(&mut con, &args).unwrap())
        })
    };
    let (a, b) = (sent(1), sent(2));
    let ((na, ka), (nb, kb)) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(na + nb, 30, "the Free daily limit, across both gateways");
    assert_eq!(ka, kb, "one idempotency key, one invitation");
}

#[test]
fn answers_survive_debug_reload_and_restarts_from_aof_and_rdb() {
    let Some(so) = module() else { return };
    let port = 6442;
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let servers = server(&so, port, &aof);
    let mut con = connect(port);
    // A policy of its own, which must survive too (RDB auxiliary data, AOF command).
    let mut own = redis_support::drive::quiet();
    own.free.daily = 7;
    let own = invite_limiter::server::Server::new(own)
        .unwrap()
        .encoded_policy();
    let set: Value = redis::cmd("IL.POLICY")
        .arg("SET")
        .arg(&own)
        .query(&mut con)
        .unwrap();
    assert_eq!(set, Value::Okay);
    let policy = Value::BulkString(own);
    mixed_load(&mut con, 400);
    let before = answers(&mut con);
    assert!(
        before.iter().any(|a| a.contains("premium")),
        "the load set facts"
    );
    cli(port, &["debug", "reload"]);
    assert_eq!(answers(&mut con), before, "after DEBUG RELOAD");
    assert_eq!(run(&mut con, &words("IL.POLICY GET")).unwrap(), policy);

    let dir: PathBuf = servers.dir.clone();
    let restart = |extra: &[&str]| {
        cli(port, &["shutdown", "nosave"]);
        wait_until(Duration::from_secs(10), "the server stops", || {
            !cli(port, &["ping"]).contains("PONG")
        });
        start(&so, &dir, port, extra);
        connect(port)
    };
    let mut con = restart(&aof);
    assert_eq!(answers(&mut con), before, "after a restart from the AOF");
    cli(port, &["bgrewriteaof"]);
    wait_until(Duration::from_secs(20), "the AOF rewrite ends", || {
        cli(port, &["info", "persistence"]).contains("aof_rewrite_in_progress:0")
            && !cli(port, &["info", "persistence"]).contains("aof_rewrite_scheduled:1")
    });
    let mut con = restart(&aof);
    assert_eq!(answers(&mut con), before, "after a rewritten AOF");
    assert_eq!(run(&mut con, &words("IL.POLICY GET")).unwrap(), policy);
    cli(port, &["save"]);
    let mut con = restart(&[]);
    assert_eq!(
        answers(&mut con),
        before,
        "after a restart from the RDB file"
    );
    assert_eq!(run(&mut con, &words("IL.POLICY GET")).unwrap(), policy);
    drop(servers);
}

#[test]
fn a_replica_holds_exactly_what_its_master_holds() {
    let Some(so) = module() else { return };
    let (master, replica) = (6443, 6444);
    let _servers = server(&so, master, &[]);
    let dir = root().join(format!("module-{master}"));
    start(
        &so,
        &dir,
        replica,
        &["--replicaof", "127.0.0.1", &master.to_string()],
    );
    wait_until(Duration::from_secs(20), "the replica links", || {
        cli(replica, &["info", "replication"]).contains("master_link_status:up")
    });
    let mut con = connect(master);
    mixed_load(&mut con, 600);
    // Also decisions at the server's own clock, which the replica must not re-read.
    for r in 0..5 {
        run(
            &mut con,
            &words(&format!(
                "IL.SEND {} {} 1 {}",
                key(1),
                key(100 + r),
                100 + r
            )),
        )
        .unwrap();
    }
    let acked = run(&mut con, &words("WAIT 1 5000")).unwrap();
    assert_eq!(acked, Value::Int(1));
    let want = answers(&mut con);
    let got = answers(&mut connect(replica));
    assert_eq!(got, want, "the replica answers as the master");
    let dumps = |port| {
        let mut con = connect(port);
        (100..105)
            .map(|r| format!("{:?}", run(&mut con, &["IL.DUMP".into(), key(r)]).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(dumps(replica), dumps(master));
    assert!(
        run(&mut connect(replica), &words("IL.SET {il:1} 1 TIER free")).is_err(),
        "a replica refuses writes"
    );
}

#[test]
fn the_suite_servers_load_the_module() {
    let Some(url) = redis_support::address(redis_support::STANDALONE) else {
        return;
    };
    let Some(cluster) = redis_support::address(redis_support::CLUSTER) else {
        return;
    };
    if module().is_none() {
        return;
    }
    let port = port_of(&url);
    assert!(cli(port, &["module", "list"]).contains("invite-limiter"));
    // On the cluster, a send whose keys share a slot runs on the node serving it.
    let node = port_of(cluster.split(',').next().unwrap());
    let tag = format!("{{m{}}}", std::process::id());
    let out = std::process::Command::new("redis-cli")
        .args([
            "-c",
            "-p",
            &node.to_string(),
            "IL.SEND",
            &format!("{tag}:1"),
            &format!("{tag}:2"),
            "1",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("sent"),
        "{out:?}"
    );
}

#[test]
fn an_email_names_its_owner_in_a_plain_key() {
    let Some(so) = module() else { return };
    let _servers = server(&so, 6445, &[]);
    let mut con = connect(6445);
    let add = |con: &mut redis::Connection, m: u64| {
        run(
            con,
            &words(&format!(
                "IL.EMAIL {} {{il:@a@x.io}} {m} ADD A@x.io",
                key(m)
            )),
        )
    };
    assert_eq!(add(&mut con, 1).unwrap(), Value::Okay);
    assert_eq!(cli(6445, &["get", "{il:@a@x.io}"]).trim(), "1");
    let taken = add(&mut con, 2).unwrap();
    assert_eq!(
        format!("{taken:?}"),
        format!(
            "{:?}",
            Value::Array(vec![
                Value::BulkString(b"taken".to_vec()),
                Value::BulkString(b"1".to_vec())
            ])
        )
    );
    // A send naming the email, with the owner a gateway read from that key, counts
    // as a known recipient: the invite setting `email_or_contacts` admits it.
    run(
        &mut con,
        &words("IL.SET {il:1} 1 SETTING email_or_contacts"),
    )
    .unwrap();
    let denied = run(&mut con, &words("IL.SEND {il:3} {il:1} 3 1")).unwrap();
    assert!(
        format!("{denied:?}").contains("recipient_not_accepting"),
        "{denied:?}"
    );
    let sent = run(
        &mut con,
        &words("IL.SEND {il:3} {il:1} 3 1 EMAIL a@x.io OWNER 1"),
    )
    .unwrap();
    assert!(format!("{sent:?}").contains("sent"), "{sent:?}");
    let del = run(
        &mut con,
        &words("IL.EMAIL {il:1} {il:@a@x.io} 1 DEL a@x.io"),
    )
    .unwrap();
    assert_eq!(del, Value::Okay);
    assert_eq!(cli(6445, &["exists", "{il:@a@x.io}"]).trim(), "0");
    run(&mut con, &words("SET {il:@b@x.io} nobody")).unwrap();
    let err = run(
        &mut con,
        &words("IL.EMAIL {il:1} {il:@b@x.io} 1 ADD b@x.io"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("member id"), "{err}");
}

#[test]
fn a_key_expires_by_the_instant_its_command_was_decided_at() {
    let Some(so) = module() else { return };
    let _servers = server(&so, 6449, &[]);
    let mut con = connect(6449);
    // A caller's clock years before the server's: the key lives as long as the
    // invitation it holds (180 days), not as if that time had passed.
    run(
        &mut con,
        &words(&format!("IL.SEND {} {} 1 2 AT {T0}", key(1), key(2))),
    )
    .unwrap();
    let ttl: i64 = cli(6449, &["ttl", &key(1)]).trim().parse().unwrap();
    assert!(ttl > 179 * 86_400, "ttl {ttl} s");
}
