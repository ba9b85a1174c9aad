//! Replays tests/data/trace.jsonl through the binary and checks every decision.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn trace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/trace.jsonl")
}

fn replay(extra: &[&str]) -> (Output, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .arg("replay")
        .arg("--input")
        .arg(trace())
        .args(extra)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect();
    (out, lines)
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    &v[key]
}

#[test]
fn continue_mode_reports_every_line_and_goes_on() {
    let (out, lines) = replay(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(lines.len(), 27, "one output line per input line");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(field(l, "line"), &Value::from(i as u64 + 1));
    }
    let result = |n: usize| {
        field(&lines[n - 1], "result")
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let reason = |n: usize| {
        field(&lines[n - 1], "reason")
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    assert_eq!(result(2), "sent");
    assert_eq!(field(&lines[1], "id"), "inv-1-60a24181e4000");
    assert_eq!(
        field(&lines[1], "expires_at"),
        1_700_000_000_000u64 + 180 * 86_400_000
    );
    assert_eq!(
        (result(3), reason(3)),
        ("denied".into(), "SelfInvite".into())
    );
    assert!(field(&lines[2], "retry_at").is_null());
    assert!(field(&lines[2], "message")
        .as_str()
        .is_some_and(|m| m.starts_with("invitation denied")));
    assert_eq!(result(4), "ok");
    assert_eq!(reason(5), "AlreadyConnected");
    // The idempotent retry returns the first send's id.
    assert_eq!(result(7), "sent");
    assert_eq!(field(&lines[6], "id"), field(&lines[5], "id"));
    assert_eq!(reason(8), "IdempotencyConflict");
    assert_eq!(field(&lines[7], "detail")["key"], 7);
    assert_eq!(result(9), "ok");
    assert_eq!(reason(10), "ReinviteCooldown");
    assert_eq!(
        field(&lines[9], "retry_at"),
        1_700_000_007_000u64 + 21 * 86_400_000
    );
    // A malformed line names itself and the replay goes on.
    assert_eq!(result(11), "malformed");
    assert!(field(&lines[10], "message")
        .as_str()
        .is_some_and(|m| m.contains("recipient")));
    assert!(stderr.contains("line 11:"), "{stderr}");
    assert_eq!(reason(13), "RecipientNotAccepting");
    assert_eq!(result(14), "blocked");
    assert_eq!(
        field(&lines[13], "blockers")[0]["reason"],
        "RecipientNotAccepting"
    );
    assert_eq!(
        (result(15), reason(15)),
        ("error".into(), "NoInvitation".into())
    );
    assert_eq!(result(16), "capacity");
    assert_eq!(field(&lines[15], "capacity")["daily"]["used"], 1);
    assert_eq!(reason(18), "SenderBanned");
    assert_eq!(
        (result(19), reason(19)),
        ("error".into(), "AlreadyEnded".into())
    );
    assert_eq!(result(20), "malformed");
    assert!(stderr.contains("line 20:"), "{stderr}");
    assert_eq!(result(21), "sent");
    assert_eq!(result(22), "ok");
    assert_eq!(result(23), "sent");
    assert_eq!(result(24), "malformed");
    assert!(stderr.contains("line 24:"), "{stderr}");
    assert_eq!(reason(25), "Expired");
    assert_eq!(result(26), "swept");
    assert_eq!(field(&lines[25], "expired"), 1);
    assert_eq!(reason(27), "NoteTooLong");
    assert_eq!(field(&lines[26], "detail")["chars"], 201);
}

#[test]
fn stop_mode_stops_at_the_first_malformed_line() {
    let (out, lines) = replay(&["--on-error", "stop"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a malformed line fails the replay");
    assert_eq!(
        lines.len(),
        11,
        "decisions up to and including the bad line"
    );
    assert_eq!(lines[10]["result"], "malformed");
    assert_eq!(lines[10]["line"], 11);
    assert!(stderr.contains("line 11:"), "{stderr}");
    assert!(!stderr.contains("line 20:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn output_file_and_missing_input_are_handled() {
    let dir = std::env::temp_dir().join(format!("invite-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("decisions.jsonl");
    let (out, lines) = replay(&["--output", path.to_str().expect("UTF-8 path")]);
    assert!(out.status.success());
    assert!(lines.is_empty(), "nothing on stdout with --output");
    let written = std::fs::read_to_string(&path).expect("output written");
    assert_eq!(written.lines().count(), 27);
    let _ = std::fs::remove_dir_all(&dir);

    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(["replay", "--input", "/nonexistent/trace.jsonl"])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the trace"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_policy_file_reproduces_a_daily_limit_with_its_retry_instant() {
    let dir = std::env::temp_dir().join(format!("invite-loadtest-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("limits.jsonl");
    let lines = [
        r#"{"at":1000,"op":"send","sender":1,"recipient":2}"#,
        r#"{"at":2000,"op":"send","sender":1,"recipient":3}"#,
        r#"{"at":3000,"op":"send","sender":1,"recipient":4}"#,
        r#"{"at":86401000,"op":"send","sender":1,"recipient":4}"#,
    ];
    std::fs::write(&input, lines.join("\n") + "\n").expect("trace written");
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy-small.json");
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(["replay", "--input"])
        .arg(&input)
        .arg("--policy")
        .arg(&policy)
        .output()
        .expect("the binary runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decisions: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(decisions.len(), 4);
    assert_eq!(decisions[2]["reason"], "DailyLimit");
    assert_eq!(decisions[2]["detail"]["limit"], 2);
    // The first send leaves the 24-hour window at 1000 + 24 h.
    assert_eq!(decisions[2]["retry_at"], 1000 + 86_400_000);
    assert_eq!(decisions[3]["result"], "sent");
}

#[test]
fn an_invalid_policy_file_is_an_error_not_a_panic() {
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(["replay", "--input"])
        .arg(trace())
        .arg("--policy")
        .arg(trace())
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policy") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn time_going_backwards_is_reported_and_the_end_of_time_is_enforced() {
    let dir = std::env::temp_dir().join(format!("invite-loadtest-time-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("time.jsonl");
    let lines = [
        r#"{"at":5000,"op":"send","sender":1,"recipient":2}"#,
        r#"{"at":1000,"op":"send","sender":1,"recipient":3}"#,
        r#"{"at":18446744073709551615,"op":"send","sender":1,"recipient":4}"#,
        r#"{"at":253402300799999,"op":"send","sender":1,"recipient":5}"#,
    ];
    std::fs::write(&input, lines.join("\n") + "\n").expect("trace written");
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(["replay", "--input"])
        .arg(&input)
        .output()
        .expect("the binary runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let d: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(d.len(), 4);
    assert!(d[0].get("clamped_to").is_none(), "{}", d[0]);
    // Acted at the latest instant seen: the invitation expires from 5000, not 1000.
    assert_eq!(
        (&d[1]["at"], &d[1]["clamped_to"]),
        (&Value::from(1000), &Value::from(5000))
    );
    assert_eq!(d[1]["expires_at"], 5000 + 180 * 86_400_000u64);
    assert_eq!(d[2]["result"], "malformed");
    let message = d[2]["message"].as_str().unwrap_or("");
    assert!(message.contains("9999-12-31T23:59:59.999Z"), "{message}");
    assert!(stderr.contains("line 3:"), "{stderr}");
    assert_eq!(d[3]["result"], "sent");
    assert_eq!(
        d[3]["expires_at"],
        253_402_300_799_999u64 + 180 * 86_400_000
    );
}
