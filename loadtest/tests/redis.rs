//! The Redis backend end to end: a short `run --backend` and a very short `redis-bench`
//! on the server named by `INVITE_LIMITER_REDIS_URL` (and, when set, a short run on the
//! cluster named by `INVITE_LIMITER_REDIS_CLUSTER`). Without an address the tests print
//! "skipped" and pass, unless `INVITE_LIMITER_REQUIRE_REDIS` is set.

use std::process::Command;

use serde_json::Value;

const REQUIRE: &str = "INVITE_LIMITER_REQUIRE_REDIS";

/// The address in `var`, or `None` (after printing "skipped") when it is not set.
fn address(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "{var} is not set but {REQUIRE} is"
            );
            println!("skipped: {var} is not set");
            None
        }
    }
}

fn loadtest(args: &[&str]) -> (Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(args)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let json = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    (json, stderr)
}

fn check_run(url: &str, spam: bool) {
    let mut args = vec![
        "run",
        "--backend",
        url,
        "--members",
        "2000",
        "--duration",
        "1",
        "--threads",
        "8",
        "--connections",
        "2",
        // Other tests share the machine: a generous deadline keeps this about the
        // tool, not about the machine's load.
        "--deadline-ms",
        "5000",
        "--json",
        "-",
        "--no-progress",
    ];
    if spam {
        args.push("--spam");
    }
    let (report, stderr) = loadtest(&args);
    assert!(
        stderr.contains("on redis"),
        "the report names the backend: {stderr}"
    );
    let config = &report["config"];
    assert!(config["backend"]
        .as_str()
        .unwrap_or("")
        .starts_with("redis"));
    assert_eq!(config["connections"], 2);
    assert_eq!(config["spam_signals"], spam);
    assert!(config["redis_prefix"].as_str().is_some());
    let decisions = &report["decisions"];
    let sent = decisions["Sent"].as_u64().unwrap_or(0);
    assert!(sent > 0, "some sends allowed: {stderr}");
    // A busy machine may push a few calls past the engine's deadline; not many.
    let unavailable = decisions["Unavailable"].as_u64().unwrap_or(0);
    assert!(unavailable * 20 <= sent, "Redis answered: {stderr}");
    assert!(report["memory"].is_null() && report["sweeper"].is_null());
    assert!(report["setup"]["pending_invitations"].as_u64().unwrap_or(0) > 0);
    let ops = report["operations"].as_array().expect("operations list");
    for op in ["send", "accept", "capacity", "diagnose"] {
        let o = ops.iter().find(|o| o["op"] == op).expect(op);
        assert!(o["count"].as_u64().unwrap_or(0) > 0, "{op} ran");
        assert!(o["latency"]["p99_ns"].as_u64().unwrap_or(0) > 0);
    }
    let notes = report["notes"].as_array().expect("notes");
    assert!(notes
        .iter()
        .any(|n| n.as_str().unwrap_or("").contains("deleted the run's")));
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap_or("").starts_with("decided by ")),
        "a note says which code decided: {notes:?}"
    );
}

#[test]
fn a_short_run_on_redis() {
    if let Some(url) = address("INVITE_LIMITER_REDIS_URL") {
        check_run(&url, false);
    }
}

#[test]
fn a_short_run_on_a_redis_cluster() {
    if let Some(urls) = address("INVITE_LIMITER_REDIS_CLUSTER") {
        check_run(&urls, true);
    }
}

#[test]
fn a_very_short_redis_bench() {
    let Some(url) = address("INVITE_LIMITER_REDIS_URL") else {
        return;
    };
    let (report, stderr) = loadtest(&[
        "redis-bench",
        "--backend",
        &url,
        "--duration",
        "0.2",
        "--connections",
        "1,2",
        "--senders",
        "300",
        "--memory-senders",
        "50",
        "--json",
        "-",
    ]);
    assert!(
        stderr.contains("every row comes from this one run"),
        "{stderr}"
    );
    assert_eq!(report["same_run"], true);
    let cases = report["cases"].as_array().expect("cases");
    // The module cases run when the server has the Redis module loaded.
    let module = report["module_case"] == "(f) and (g) ran";
    let module_case = report["module_case"].as_str().unwrap_or("");
    assert!(
        module || (module_case.starts_with("skipped: ") && stderr.contains("are skipped")),
        "{module_case}: {stderr}"
    );
    assert_eq!(cases.len(), if module { 14 } else { 10 }, "{cases:?}");
    let mut names = vec![
        "engine_send",
        "sliding_log",
        "memory_engine",
        "near_cache_off",
        "near_cache_on",
    ];
    if module {
        names.extend(["module_send", "engine_module_send"]);
    }
    for case in names {
        let rows: Vec<&Value> = cases.iter().filter(|c| c["case"] == case).collect();
        assert_eq!(rows.len(), 2, "{case} at 1 and 2 connections");
        for row in rows {
            assert!(row["decisions"].as_u64().unwrap_or(0) > 0, "{case}: {row}");
            assert!(row["allowed"].as_u64().unwrap_or(0) > 0, "{case}: {row}");
            assert!(row["p99_ns"].as_u64().unwrap_or(0) >= row["p50_ns"].as_u64().unwrap_or(0));
            let unavailable = row["unavailable"].as_u64().unwrap_or(u64::MAX);
            let decisions = row["decisions"].as_u64().unwrap_or(0);
            assert!(unavailable * 20 <= decisions, "{case}: {row}");
        }
    }
    let near = report["near_cache"].as_array().expect("near_cache");
    assert_eq!(near.len(), 2);
    assert!(near[0]["over_limit_senders"].as_u64().unwrap_or(0) > 0);
    // The memory step: 50 senders x 5 invitations on each path, all declined.
    let memory = &report["memory"];
    let mut paths = vec![&memory["script"]];
    if module {
        paths.push(&memory["module"]);
        let row = cases
            .iter()
            .find(|c| c["case"] == "module_send")
            .expect("(f)");
        assert!(
            row["server"]["module_calls"].as_u64().unwrap_or(0) > 0,
            "{row}"
        );
        assert!(
            row["server_us_per_decision"].as_f64().unwrap_or(0.0) > 0.0,
            "{row}"
        );
    } else {
        assert!(memory["module"].is_null(), "{memory}");
    }
    for path in paths {
        assert_eq!(path["sent"], 250, "{memory}");
        assert_eq!(path["declined"], 250, "{memory}");
        assert!(path["keys_pending"].as_u64().unwrap_or(0) > 0, "{memory}");
    }
    assert!(stderr.contains("Redis memory, 50 senders x 5"), "{stderr}");
}

#[test]
fn redis_flags_need_a_redis_backend() {
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(["run", "--connections", "4", "--members", "100"])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("need a Redis --backend") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// On a cluster with the module, case (g) runs (the engine's one-key sends with the
/// recipient's cached facts) and the raw two-key case (f) says why it cannot.
#[test]
fn a_very_short_redis_bench_on_a_cluster() {
    let Some(urls) = address("INVITE_LIMITER_REDIS_CLUSTER") else {
        return;
    };
    let (report, stderr) = loadtest(&[
        "redis-bench",
        "--backend",
        &urls,
        "--duration",
        "0.2",
        "--connections",
        "2",
        "--senders",
        "50",
        "--json",
        "-",
    ]);
    let module_case = report["module_case"].as_str().unwrap_or("");
    let cases = report["cases"].as_array().expect("cases");
    let named = |name: &str| cases.iter().filter(|c| c["case"] == name).count();
    assert_eq!(named("module_send"), 0, "{cases:?}");
    if module_case.starts_with("skipped: ") {
        assert!(stderr.contains("are skipped"), "{stderr}");
        return;
    }
    assert!(module_case.starts_with("(f) skipped: "), "{module_case}");
    let row = cases
        .iter()
        .find(|c| c["case"] == "engine_module_send")
        .expect("(g)");
    assert!(row["allowed"].as_u64().unwrap_or(0) > 0, "{row}");
    let calls = row["server"]["module_calls"].as_u64().unwrap_or(0);
    let decisions = row["decisions"].as_u64().unwrap_or(0);
    // One command a decision, and an IL.GET now and then as the facts cache fills.
    assert!(calls >= decisions && calls < 2 * decisions, "{row}");
}
