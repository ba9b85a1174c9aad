//! Servers a failover test starts and kills itself: a topology started by
//! `scripts/redis.sh` under one directory, stopped when dropped (also while a failed
//! test unwinds), and empty servers attached to it as an operator replaces a node.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::drive::{cli, wait_until};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/redis.sh")
}

/// Where the failover tests keep their servers.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/redis-failover")
}

/// The servers under `dir`.
pub(crate) struct Servers {
    pub(crate) dir: PathBuf,
}

impl Servers {
    /// Runs `redis.sh <kind> <base> <target>`, which puts its servers under `dir`,
    /// after stopping what a killed run may have left there.
    pub(crate) fn start(kind: &str, base: u16, target: &Path, dir: PathBuf) -> Servers {
        Servers::start_with(kind, base, target, dir, None)
    }

    /// As [`Servers::start`], every server loading the Redis module `module`.
    pub(crate) fn start_with(
        kind: &str,
        base: u16,
        target: &Path,
        dir: PathBuf,
        module: Option<&str>,
    ) -> Servers {
        stop(&dir);
        let status = Command::new("bash")
            .arg(script())
            .args([kind, &base.to_string()])
            .arg(target)
            .args(module)
            .stdout(Stdio::null())
            .status()
            .expect("bash runs");
        assert!(status.success(), "scripts/redis.sh {kind} {base} failed");
        Servers { dir }
    }

    /// An empty directory for servers a test starts itself, after stopping what
    /// a killed run may have left there.
    pub(crate) fn start_in(dir: PathBuf) -> Servers {
        stop(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a server directory");
        Servers { dir }
    }

    /// Sends `sig` to the server whose pid file is `pidfile` (under `dir`).
    pub(crate) fn signal(&self, pidfile: &str, sig: &str) {
        let pid = std::fs::read_to_string(self.dir.join(pidfile)).unwrap();
        let ok = Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill {sig} {pidfile}");
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        // No assertion here: this may run while a failed test unwinds.
        stop(&self.dir);
    }
}

fn stop(dir: &Path) {
    let _ = Command::new("bash")
        .arg(script())
        .arg("stop")
        .arg(dir)
        .stdout(Stdio::null())
        .status();
}

/// Starts an empty server on `port`, keeping its files in `dir`, with `extra`
/// arguments; returns once it answers.
pub(crate) fn start_empty(dir: &Path, port: u16, extra: &[&str]) {
    let status = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--daemonize", "yes", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--pidfile")
        .arg(dir.join(format!("redis-{port}.pid")))
        .arg("--logfile")
        .arg(dir.join(format!("redis-{port}.log")))
        .args([
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .status()
        .expect("redis-server runs");
    assert!(status.success(), "redis-server on {port}");
    wait_until(Duration::from_secs(10), "the new server answers", || {
        cli(port, &["ping"]).contains("PONG")
    });
}
