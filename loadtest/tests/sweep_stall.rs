//! `sweep-stall` end to end on a small population: every due invitation is swept and
//! both phases time some sends.

use std::process::Command;

#[test]
fn sweep_stall_sweeps_everything_due_and_times_both_phases() {
    let dir = std::env::temp_dir().join(format!("sweep-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_invite-loadtest"))
        .args([
            "sweep-stall",
            "--due",
            "20000",
            "--duration",
            "0.2",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("send p99 during the sweep / without"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["due_invitations"], 20_000);
    assert_eq!(report["expired_by_sweep"], 20_000, "{report}");
    assert!(report["without_sweep"]["sends"].as_u64().unwrap() > 0);
    assert!(report["during_sweep"]["sends"].as_u64().unwrap() > 0);
    assert!(report["p99_ratio"].as_f64().unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}
