//! An HTTP gateway in front of the limiter: axum, the crate's tower layer, Prometheus.
//!
//! ```text
//! cargo run --release --example gateway --features http,tower -- --listen 127.0.0.1:8080
//! cargo run --release --example gateway --features http,tower,redis -- \
//!     --listen 127.0.0.1:8080 --redis redis://127.0.0.1:6379/
//! ```
//!
//! - `POST /invitations` `{"sender": u64, "recipient": u64, "note": string?, "email":
//!   string?, "idempotency_key": string?}`: 201 with the invitation, or the denial as
//!   `application/problem+json` (429, 403, 409, 422, 503). The idempotency key is
//!   hashed to the engine's `u64` with 64-bit FNV-1a, the same on every gateway.
//! - `GET /members/{id}/capacity`, `GET /diagnose?sender=&recipient=`.
//! - `GET /healthz` (200 when healthy, else 503), `GET /metrics` (Prometheus text).
//! - Administration, for demonstrations and tests: `PUT /members/{id}/status`
//!   `{"status": "active"|"banned"|"restricted", "until_ms": u64?}`,
//!   `PUT /members/{id}/invite-setting` `{"setting": "everyone"|"email_or_contacts"|
//!   "contacts_only"|"network_only"|"following_only"|"nobody"}`, `POST /connections`
//!   `{"a": u64, "b": u64}`.
//!
//! The first line on standard output is `listening on http://ADDR` (the real port
//! when `--listen` asks for port 0).
//!
//! The example trusts its caller: it has no authentication, so anyone who reaches it
//! may read any member's capacity and diagnosis (which tell a recipient's settings and
//! status) and use the administration routes. A real gateway takes the sender from
//! its own authentication and keeps administration apart.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use invite_limiter::http::{rate_limit_headers, Extracted, InviteLayer, PROBLEM_JSON};
use invite_limiter::{
    Capacity, Clock, Engine, Health, InviteRequest, Limiter, MemberId, Sent, SystemClock,
    Timestamp, WindowCapacity,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{json, Value};

mod admin;
use admin::{connect, set_setting, set_status};

/// Largest request body read.
const MAX_BODY: usize = 64 * 1024;

struct Args {
    listen: SocketAddr,
    redis: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut redis = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                listen = Some(v.parse().map_err(|e| format!("--listen {v}: {e}"))?);
            }
            "--redis" => redis = Some(value("--redis")?),
            "-h" | "--help" => return Err("usage: gateway --listen ADDR:PORT [--redis URL]".into()),
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(Args {
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        redis,
    })
}

/// An engine the gateway can serve: any [`Limiter`] that reports its health.
trait Backend: Limiter + std::fmt::Debug + 'static {
    fn health(&self) -> impl Future<Output = Health> + Send;
}

impl Backend for Engine {
    fn health(&self) -> impl Future<Output = Health> + Send {
        std::future::ready(Engine::health(self))
    }
}

#[cfg(feature = "redis")]
impl Backend for invite_limiter::redis::RedisEngine {
    fn health(&self) -> impl Future<Output = Health> + Send {
        invite_limiter::redis::RedisEngine::health(self)
    }
}

struct App<L> {
    limiter: Arc<L>,
    prometheus: PrometheusHandle,
}

impl<L> Clone for App<L> {
    fn clone(&self) -> Self {
        App {
            limiter: Arc::clone(&self.limiter),
            prometheus: self.prometheus.clone(),
        }
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("gateway: {msg}");
            std::process::exit(2);
        }
    };
    // The recorder goes in before any engine is built, so the engine's metrics reach it.
    let prometheus = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(e) => fail(&format!("cannot install the Prometheus recorder: {e}")),
    };
    // The recorder keeps histogram samples until upkeep folds them in.
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => fail(&format!("cannot listen on {}: {e}", args.listen)),
    };
    let router = match args.redis {
        Some(url) => redis_router(&url, prometheus).await,
        None => {
            let engine = Arc::new(
                Engine::builder()
                    .build()
                    .expect("the default policy is valid"),
            );
            // The sweeper runs as long as the process does.
            std::mem::forget(engine.start_sweeper(Duration::from_secs(1)));
            router(engine, prometheus)
        }
    };
    let addr = listener.local_addr().map_or(args.listen, |a| a);
    println!("listening on http://{addr}");
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    {
        fail(&format!("server error: {e}"));
    }
}

#[cfg(feature = "redis")]
async fn redis_router(url: &str, prometheus: PrometheusHandle) -> Router {
    use invite_limiter::redis::{RedisEngine, RedisTarget};
    match RedisEngine::builder(RedisTarget::parse(url))
        .connect()
        .await
    {
        Ok(engine) => router(Arc::new(engine), prometheus),
        Err(e) => fail(&format!("cannot connect to Redis at {url}: {e}")),
    }
}

#[cfg(not(feature = "redis"))]
async fn redis_router(_url: &str, _prometheus: PrometheusHandle) -> Router {
    fail("--redis needs the `redis` feature: run with --features http,tower,redis")
}

fn fail(msg: &str) -> ! {
    eprintln!("gateway: {msg}");
    std::process::exit(1)
}

fn router<L: Backend>(limiter: Arc<L>, prometheus: PrometheusHandle) -> Router {
    let app = App {
        limiter: Arc::clone(&limiter),
        prometheus,
    };
    let limited = InviteLayer::new(limiter, extract_invite);
    Router::new()
        .route("/invitations", post(created).layer(limited))
        .route("/members/{id}/capacity", get(capacity::<L>))
        .route("/members/{id}/status", put(set_status::<L>))
        .route("/members/{id}/invite-setting", put(set_setting::<L>))
        .route("/connections", post(connect::<L>))
        .route("/diagnose", get(diagnose::<L>))
        .route("/healthz", get(healthz::<L>))
        .route("/metrics", get(metrics::<L>))
        .with_state(app)
}

/// A JSON response.
fn reply(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 400 problem document for a request the gateway cannot read.
fn bad_request(detail: &str) -> Response<Body> {
    let body =
        json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail});
    let mut resp = reply(StatusCode::BAD_REQUEST, &body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

/// 64-bit FNV-1a: a stable hash, so every gateway maps a key to the same `u64`.
fn idempotency_key(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn read_json(body: Body) -> Result<Value, Response<Body>> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| bad_request(&format!("cannot read the body: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request(&format!("invalid JSON: {e}")))
}

/// A member id field; the error is the 400's detail.
fn member(v: &Value, field: &str) -> Result<MemberId, String> {
    v.get(field)
        .and_then(Value::as_u64)
        .map(MemberId)
        .ok_or_else(|| format!("`{field}` must be an unsigned integer"))
}

fn opt_str<'a>(v: &'a Value, field: &str) -> Result<Option<&'a str>, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{field}` must be a string")),
    }
}

fn invite_request(v: &Value) -> Result<InviteRequest, String> {
    let mut invite = InviteRequest::new(member(v, "sender")?, member(v, "recipient")?);
    if let Some(note) = opt_str(v, "note")? {
        invite = invite.note(note);
    }
    if let Some(email) = opt_str(v, "email")? {
        invite = invite.recipient_email(email);
    }
    if let Some(key) = opt_str(v, "idempotency_key")? {
        invite = invite.idempotency_key(idempotency_key(key));
    }
    Ok(invite)
}

/// The layer's extractor: the JSON body as an invitation request.
async fn extract_invite(req: Request<Body>) -> Extracted<Body, Body> {
    let (parts, body) = req.into_parts();
    let v = read_json(body).await?;
    let invite = invite_request(&v).map_err(|e| bad_request(&e))?;
    Ok((Request::from_parts(parts, Body::empty()), invite))
}

/// Reached only by allowed sends; the layer adds the rate-limit headers.
async fn created(Extension(sent): Extension<Sent>) -> Response<Body> {
    let body = json!({"id": sent.id().to_string(), "expires_at": sent.expires_at().to_string()});
    reply(StatusCode::CREATED, &body)
}

fn window_json(w: &WindowCapacity) -> Value {
    let at = |t: Option<Timestamp>| t.map(|t| t.to_string());
    json!({"used": w.used, "limit": w.limit, "next_slot_at": at(w.next_slot_at),
           "available_at": at(w.available_at)})
}

fn capacity_json(c: &Capacity) -> Value {
    json!({
        "daily": window_json(&c.daily),
        "weekly": window_json(&c.weekly),
        "notes": {"used": c.notes.used, "limit": c.notes.limit,
                  "next_slot_at": c.notes.next_slot_at.map(|t| t.to_string())},
        "pending_sent": c.pending_sent,
        "tier": format!("{:?}", c.tier),
        "status": format!("{:?}", c.status),
    })
}

fn unavailable(what: impl std::fmt::Display) -> Response<Body> {
    let body = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                      "detail": what.to_string()});
    let mut resp = reply(StatusCode::SERVICE_UNAVAILABLE, &body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

async fn capacity<L: Backend>(State(app): State<App<L>>, Path(id): Path<u64>) -> Response<Body> {
    match app.limiter.capacity(MemberId(id)).await {
        Ok(c) => {
            let mut resp = reply(StatusCode::OK, &capacity_json(&c));
            rate_limit_headers(&c, SystemClock.now(), resp.headers_mut());
            resp
        }
        Err(outage) => unavailable(outage),
    }
}

async fn diagnose<L: Backend>(
    State(app): State<App<L>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response<Body> {
    let id = |name: &str| {
        q.get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .map(MemberId)
    };
    let (Some(sender), Some(recipient)) = (id("sender"), id("recipient")) else {
        return bad_request("`sender` and `recipient` must be unsigned integers");
    };
    let req = InviteRequest::new(sender, recipient);
    let d = app.limiter.diagnose_request(&req).await;
    let blockers: Vec<Value> = d
        .blockers()
        .iter()
        .map(|b| {
            json!({"code": b.reason().code(), "detail": b.reason().to_string(),
                   "remedy": b.remedy(), "retry_at": b.retry_at().map(|t| t.to_string())})
        })
        .collect();
    reply(
        StatusCode::OK,
        &json!({"clear": d.is_clear(), "blockers": blockers}),
    )
}

async fn healthz<L: Backend>(State(app): State<App<L>>) -> Response<Body> {
    let health = app.limiter.health().await;
    let status = if health.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut resp = Response::new(Body::from(health.to_json()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn metrics<L: Backend>(State(app): State<App<L>>) -> Response<Body> {
    let mut resp = Response::new(Body::from(app.prometheus.render()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}
