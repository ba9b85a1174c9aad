//! Administration endpoints, for demonstrations and tests: status, invite setting,
//! connections.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use invite_limiter::{AccountStatus, InviteSetting, MemberId, Timestamp};
use serde_json::Value;

use crate::{bad_request, member, read_json, unavailable, App, Backend};

pub(crate) async fn set_status<L: Backend>(
    State(app): State<App<L>>,
    Path(id): Path<u64>,
    body: Body,
) -> Response<Body> {
    let v = match read_json(body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let until = v
        .get("until_ms")
        .and_then(Value::as_u64)
        .map(Timestamp::from_millis);
    let status = match v.get("status").and_then(Value::as_str) {
        Some("active") => AccountStatus::Active,
        Some("banned") => AccountStatus::Banned,
        Some("restricted") => AccountStatus::Restricted { until },
        _ => return bad_request("`status` must be active, banned or restricted"),
    };
    match app.limiter.set_status(MemberId(id), status).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response_body(),
        Err(outage) => unavailable(outage),
    }
}

pub(crate) async fn set_setting<L: Backend>(
    State(app): State<App<L>>,
    Path(id): Path<u64>,
    body: Body,
) -> Response<Body> {
    let v = match read_json(body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let setting = match v.get("setting").and_then(Value::as_str) {
        Some("everyone") => InviteSetting::Everyone,
        Some("email_or_contacts") => InviteSetting::EmailOrContacts,
        Some("contacts_only") => InviteSetting::ContactsOnly,
        Some("network_only") => InviteSetting::NetworkOnly,
        Some("following_only") => InviteSetting::FollowingOnly,
        Some("nobody") => InviteSetting::Nobody,
        _ => return bad_request("`setting` is not an invite setting"),
    };
    match app.limiter.set_invite_setting(MemberId(id), setting).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response_body(),
        Err(outage) => unavailable(outage),
    }
}

pub(crate) async fn connect<L: Backend>(State(app): State<App<L>>, body: Body) -> Response<Body> {
    let v = match read_json(body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let (a, b) = match (member(&v, "a"), member(&v, "b")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return bad_request(&e),
    };
    match app.limiter.connect(a, b).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response_body(),
        Err(outage) => unavailable(outage),
    }
}

/// An empty response with a status.
pub(crate) trait EmptyResponse {
    fn into_response_body(self) -> Response<Body>;
}

impl EmptyResponse for StatusCode {
    fn into_response_body(self) -> Response<Body> {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = self;
        resp
    }
}
