//! Servers with the Redis module loaded, started by a test itself (ports
//! 6440-6449), and raw `IL.*` commands to them.

use redis::Value;

use super::servers::{root, start_empty, Servers};

pub(crate) const T0: u64 = 1_700_000_000_000;

/// The module file, or `None` when the suite runs without it.
pub(crate) fn module() -> Option<String> {
    super::address("INVITE_LIMITER_REDIS_MODULE")
}

/// An empty server on `port` with the module loaded, stopped when dropped.
pub(crate) fn server(so: &str, port: u16, extra: &[&str]) -> Servers {
    let dir = root().join(format!("module-{port}"));
    let servers = Servers::start_in(dir.clone());
    start(so, &dir, port, extra);
    servers
}

pub(crate) fn start(so: &str, dir: &std::path::Path, port: u16, extra: &[&str]) {
    let mut args = vec!["--loadmodule", so, "--enable-debug-command", "local"];
    args.extend_from_slice(extra);
    start_empty(dir, port, &args);
}

pub(crate) fn connect(port: u16) -> redis::Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    client.get_connection().unwrap()
}

pub(crate) fn run(con: &mut redis::Connection, args: &[String]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a.as_str());
    }
    cmd.query(con)
}

/// The port of a `redis://host:port/` address.
pub(crate) fn port_of(url: &str) -> u16 {
    let port = url.trim_end_matches('/').rsplit(':').next().unwrap();
    port.parse().unwrap()
}

pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(' ').map(str::to_owned).collect()
}

pub(crate) fn key(m: u64) -> String {
    format!("{{il:{m}}}")
}
