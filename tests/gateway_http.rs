//! The gateway example end to end: the real binary, started on a loopback port and
//! driven over HTTP/1.1: an allowed send, every denial status with its headers and
//! problem body, health, metrics, and (with Redis) an outage answered with 503.
//!
//! The binary is the one `cargo test` builds beside this test
//! (`target/<profile>/examples/gateway`); the client is a few lines over a
//! `TcpStream`, so the test needs no HTTP client crate.

#[cfg(feature = "redis")]
mod redis_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The example binary built with this test.
fn gateway_binary() -> PathBuf {
    // target/<profile>/deps/gateway_http-<hash> -> target/<profile>/examples/gateway
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --example gateway --features http,tower` \
         (a plain `cargo test` builds it)",
        bin.display()
    );
    bin
}

/// A running gateway, stopped when dropped.
struct Gateway {
    child: Child,
    addr: String,
}

impl Gateway {
    fn start(extra: &[&str]) -> Gateway {
        let mut child = Command::new(gateway_binary())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the gateway starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the gateway prints its address");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Gateway { child, addr }
    }

    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("a whole response");
        Reply::parse(&raw)
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, Some(body))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn parse(raw: &str) -> Reply {
        let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
            "the gateway sends sized bodies"
        );
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn invite(sender: u64, recipient: u64, extra: &str) -> String {
    format!("{{\"sender\":{sender},\"recipient\":{recipient}{extra}}}")
}

/// A denial: its status, its problem body, and the headers every denial carries.
fn assert_denied(r: &Reply, status: u16, code: &str, retry_after: bool) -> Value {
    assert_eq!(r.status, status, "{code}: {r:?}");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.header("retry-after").is_some(),
        retry_after,
        "{code}: {r:?}"
    );
    let p = r.json();
    assert_eq!(p["status"], status);
    assert_eq!(p["code"], code);
    for field in ["type", "title", "detail", "remedy"] {
        assert!(
            p[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {p}"
        );
    }
    assert_eq!(p["retry_at"].is_string(), retry_after, "{p}");
    p
}

fn assert_rate_limited_headers(r: &Reply) {
    let policy = r.header("ratelimit-policy").expect("RateLimit-Policy");
    assert!(
        policy.starts_with("\"daily\";q=30;w=86400, \"weekly\";q=300;w=604800"),
        "{policy}"
    );
    let left = r.header("ratelimit").expect("RateLimit");
    assert!(left.starts_with("\"daily\";r="), "{left}");
}

#[test]
fn an_allowed_send_and_every_denial_over_http() {
    let gw = Gateway::start(&[]);

    let ok = gw.post("/invitations", &invite(1, 2, ""));
    assert_eq!(ok.status, 201, "{ok:?}");
    assert_eq!(
        ok.header("ratelimit"),
        Some("\"daily\";r=29;t=86400, \"weekly\";r=299;t=604800, \"notes\";r=5")
    );
    assert_rate_limited_headers(&ok);
    assert!(ok.json()["id"].as_str().is_some_and(|id| !id.is_empty()));

    // 429: the pair cap (3 pending), with Retry-After until the first one expires.
    for _ in 0..3 {
        assert_eq!(gw.post("/invitations", &invite(10, 11, "")).status, 201);
    }
    let capped = gw.post("/invitations", &invite(10, 11, ""));
    assert_denied(&capped, 429, "pair_pending_limit", true);
    assert_rate_limited_headers(&capped);
    let secs: u64 = capped.header("retry-after").unwrap().parse().unwrap();
    assert!((180 * 86_400 - 60..=180 * 86_400).contains(&secs), "{secs}");

    // 429: a spam phrase in the note.
    let spam = gw.post("/invitations", &invite(12, 13, ",\"note\":\"Buy now!\""));
    assert_denied(&spam, 429, "spam_suspected", true);

    // 422: a note over the Free tier's 200 characters.
    let long = format!(",\"note\":\"{}\"", "x".repeat(201));
    assert_denied(
        &gw.post("/invitations", &invite(14, 15, &long)),
        422,
        "note_too_long",
        false,
    );

    // 409: self-invite, already connected, and an idempotency key reused elsewhere.
    assert_denied(
        &gw.post("/invitations", &invite(16, 16, "")),
        409,
        "self_invite",
        false,
    );
    assert_eq!(gw.post("/connections", "{\"a\":17,\"b\":18}").status, 204);
    assert_denied(
        &gw.post("/invitations", &invite(17, 18, "")),
        409,
        "already_connected",
        false,
    );
    let key = ",\"idempotency_key\":\"order-42\"";
    let first = gw.post("/invitations", &invite(19, 20, key));
    assert_eq!(first.status, 201);
    let again = gw.post("/invitations", &invite(19, 20, key));
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (201, first.json()["id"].clone())
    );
    assert_denied(
        &gw.post("/invitations", &invite(19, 21, key)),
        409,
        "idempotency_conflict",
        false,
    );

    // 403: a banned sender, a restricted one (with Retry-After), a closed recipient.
    let banned = gw.request("PUT", "/members/22/status", Some("{\"status\":\"banned\"}"));
    assert_eq!(banned.status, 204);
    assert_denied(
        &gw.post("/invitations", &invite(22, 23, "")),
        403,
        "sender_banned",
        false,
    );
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 3_600_000;
    let body = format!("{{\"status\":\"restricted\",\"until_ms\":{until}}}");
    assert_eq!(
        gw.request("PUT", "/members/24/status", Some(&body)).status,
        204
    );
    let restricted = gw.post("/invitations", &invite(24, 25, ""));
    assert_denied(&restricted, 403, "sender_restricted", true);
    let closed = gw.request(
        "PUT",
        "/members/27/invite-setting",
        Some("{\"setting\":\"nobody\"}"),
    );
    assert_eq!(closed.status, 204);
    let p = assert_denied(
        &gw.post("/invitations", &invite(26, 27, "")),
        403,
        "recipient_not_accepting",
        false,
    );
    assert!(
        !p.to_string().contains("27"),
        "the body names no member: {p}"
    );

    // A body the gateway cannot read never reaches the engine.
    assert_eq!(gw.post("/invitations", "{\"sender\":1}").status, 400);
    assert_eq!(gw.post("/invitations", "not json").status, 400);
    let huge = format!(
        "{{\"sender\":1,\"recipient\":2,\"note\":\"{}\"}}",
        "x".repeat(100_000)
    );
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for hostile in [
        huge.as_str(),
        nested.as_str(),
        "[]",
        "null",
        "\"sender\"",
        "{\"sender\":-1,\"recipient\":2}",
        "{\"sender\":1.5,\"recipient\":2}",
        "{\"sender\":18446744073709551616,\"recipient\":2}",
        "{\"sender\":\"1\",\"recipient\":2}",
        "{\"sender\":1,\"recipient\":2,\"note\":5}",
        "{\"sender\":1,\"recipient\":2,\"idempotency_key\":[]}",
    ] {
        let r = gw.post("/invitations", hostile);
        assert_eq!(r.status, 400, "{}", &hostile[..hostile.len().min(60)]);
    }

    // Capacity, diagnosis, health and metrics.
    let cap = gw.request("GET", "/members/10/capacity", None);
    assert_eq!(cap.status, 200);
    assert_eq!(cap.json()["pending_sent"], 3);
    assert_rate_limited_headers(&cap);
    let diag = gw.request("GET", "/diagnose?sender=10&recipient=11", None);
    assert_eq!(diag.json()["blockers"][0]["code"], "pair_pending_limit");
    let health = gw.request("GET", "/healthz", None);
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.json()["sweeper"]["running"], true);
    let metrics = gw.request("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("invite_limiter_decisions_total"),
        "{}",
        metrics.body
    );
}

#[cfg(feature = "redis")]
#[test]
fn a_redis_outage_is_a_503_with_retry_after() {
    // Needs a redis-server binary: runs where the Redis suite runs.
    if redis_support::address(redis_support::STANDALONE).is_none() {
        return;
    }
    let mut server = redis_support::OwnServer::start();
    let url = server.url();
    let gw = Gateway::start(&["--redis", &url]);
    let ok = gw.post("/invitations", &invite(1, 2, ""));
    assert_eq!(ok.status, 201, "{ok:?}");
    assert_rate_limited_headers(&ok);
    assert_eq!(
        gw.request("GET", "/healthz", None).json()["redis"]["reachable"],
        true
    );

    server.kill();
    let down = gw.post("/invitations", &invite(1, 3, ""));
    let p = assert_denied(&down, 503, "unavailable", true);
    assert!(p["detail"].as_str().unwrap().contains("no decision"), "{p}");
    assert!(
        down.header("ratelimit").is_none(),
        "no capacity without Redis"
    );
    let health = gw.request("GET", "/healthz", None);
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["redis"]["reachable"], false);
    assert!(health.json()["redis"]["last_error"].is_object());
}
