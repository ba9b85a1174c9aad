//! A short `run` on a small population, its report read back as JSON.

use std::process::Command;

use serde_json::Value;

#[test]
fn a_short_run_reports_every_section_as_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args([
            "run",
            "--members",
            "10000",
            "--duration",
            "1",
            "--threads",
            "2",
            "--json",
            "-",
            "--no-progress",
        ])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("decisions of"),
        "text report on stderr: {stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    for key in [
        "config",
        "setup",
        "run",
        "operations",
        "all",
        "sends",
        "decisions",
        "memory",
        "sweeper",
        "timeline",
    ] {
        assert!(report.get(key).is_some(), "missing `{key}`");
    }
    assert_eq!(report["config"]["members"], 10_000);
    assert!(report["decisions"]["Sent"].as_u64().unwrap_or(0) > 0);
    let ops = report["operations"].as_array().expect("operations list");
    let send = ops
        .iter()
        .find(|o| o["op"] == "send")
        .expect("bare sends ran");
    assert!(send["count"].as_u64().unwrap_or(0) > 0);
    for key in ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"] {
        assert!(
            send["latency"][key].as_u64().is_some(),
            "missing latency `{key}`"
        );
    }
    assert!(
        report["sends"]["p99_ns"].as_u64().unwrap_or(0)
            >= report["sends"]["p50_ns"].as_u64().unwrap_or(0)
    );
    for key in [
        "bytes_per_member",
        "bytes_per_pending_invitation",
        "bytes_per_in_window_send",
    ] {
        assert!(report["memory"][key].is_number(), "missing memory `{key}`");
    }
    assert!(
        report["memory"]["pending_invitations"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert!(report["sweeper"]["passes"].as_u64().is_some());
    assert!(report["run"]["simulated_hours"].as_f64().unwrap_or(0.0) > 0.5);
}

#[test]
fn a_counted_run_with_a_plot_and_bad_flags() {
    let dir = std::env::temp_dir().join(format!("invite-loadtest-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plot = dir.join("run.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args([
            "--members",
            "2000",
            "--ops",
            "20000",
            "--threads",
            "1",
            "--no-progress",
        ])
        .arg("--plot")
        .arg(&plot)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
    let _ = std::fs::remove_dir_all(&dir);

    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args(["--members", "1000", "--mix", "send=1,fly=2"])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fly") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
