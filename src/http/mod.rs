//! Denials and capacities as HTTP responses (feature `http`), in the `http` crate's types.
//!
//! A denial becomes a response whose status says what kind of refusal it is:
//!
//! | status | reasons | why |
//! |---|---|---|
//! | 429 Too Many Requests | daily, weekly, note quota, pair cap, re-invite cooldown, spam suspected | the sender sent too much or too fast; time clears it, so `Retry-After` says when |
//! | 403 Forbidden | sender banned or restricted, recipient banned or not accepting | the request is understood but this sender may not make it; repeating it changes nothing unless an account or a setting changes (a timed restriction still gets `Retry-After`) |
//! | 409 Conflict | self-invite, already connected, idempotency conflict | the request contradicts the current state of the resource: the members' relation, or an earlier request with the same key |
//! | 422 Unprocessable Content | note too long | the request is well-formed but its note breaks the tier's rule; the client must change it |
//! | 503 Service Unavailable | unavailable (a shared backend did not decide) | the limiter, not the sender, failed; `Retry-After` says when to try again |
//!
//! Every response, allowed or denied, can carry the member's windows as
//! `RateLimit-Policy` and `RateLimit` headers in the syntax of
//! draft-ietf-httpapi-ratelimit-headers-11 ([`rate_limit_headers`]). A denial's body is
//! `application/problem+json` (RFC 9457, [`problem_json`]): `type`, `title`, `status`,
//! `detail`, and the reason's `code`, `remedy` and `retry_at` (RFC 3339). The body
//! says no more about the recipient than the denial does: no member ids, no status,
//! nothing the sender could not learn from the refusal itself.
//!
//! ```
//! use invite_limiter::{http, Engine, InviteRequest, MemberId, ManualClock, Timestamp};
//!
//! let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
//! let engine = Engine::builder().clock(clock.clone()).build().unwrap();
//! let denied = engine.send(InviteRequest::new(MemberId(1), MemberId(1))).unwrap_err();
//! let capacity = engine.capacity(MemberId(1));
//! let resp: ::http::Response<String> = http::denied_response(&denied, Some(&capacity), clock.now());
//! assert_eq!(resp.status(), 409);
//! assert!(resp.body().contains("\"code\":\"self_invite\""));
//! # use invite_limiter::Clock;
//! ```

mod headers;
#[cfg(feature = "tower")]
mod layer;
#[cfg(all(test, feature = "tower"))]
mod layer_tests;
mod problem;
#[cfg(feature = "tower")]
mod service;
#[cfg(test)]
mod tests;

use ::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use ::http::{Response, StatusCode};

use crate::outcome::{Denied, DenyReason};
use crate::report::Capacity;
use crate::time::Timestamp;

pub use headers::{rate_limit_headers, retry_after_secs, RATELIMIT, RATELIMIT_POLICY};
#[cfg(feature = "tower")]
pub use layer::{Extracted, InviteLayer};
pub use problem::{problem_json, PROBLEM_JSON};
#[cfg(feature = "tower")]
pub use service::{InviteService, ResponseFuture};

/// The status a denial is answered with; see the [module docs](self) for why.
pub fn status(reason: &DenyReason) -> StatusCode {
    match reason {
        DenyReason::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        DenyReason::IdempotencyConflict { .. }
        | DenyReason::SelfInvite
        | DenyReason::AlreadyConnected => StatusCode::CONFLICT,
        DenyReason::SenderBanned
        | DenyReason::SenderRestricted { .. }
        | DenyReason::RecipientUnavailable
        | DenyReason::RecipientNotAccepting { .. } => StatusCode::FORBIDDEN,
        DenyReason::NoteTooLong { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DenyReason::PairPendingLimit { .. }
        | DenyReason::ReinviteCooldown { .. }
        | DenyReason::DailyLimit { .. }
        | DenyReason::WeeklyLimit { .. }
        | DenyReason::NoteQuota { .. }
        | DenyReason::SpamSuspected { .. } => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// The whole response to a denial, as of `now` (the engine's idea of now, against
/// which `Retry-After` is counted): its status, `Retry-After` when the denial has a
/// `retry_at`, the rate-limit headers when `capacity` is given, and the problem body.
///
/// The body type is anything built from a `String` (axum's `Body`, `Full<Bytes>`, …).
pub fn denied_response<B: From<String>>(
    denied: &Denied,
    capacity: Option<&Capacity>,
    now: Timestamp,
) -> Response<B> {
    let mut resp = Response::new(B::from(problem_json(denied)));
    *resp.status_mut() = status(denied.reason());
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    if let Some(secs) = retry_after_secs(denied, now) {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(cap) = capacity {
        rate_limit_headers(cap, now, headers);
    }
    resp
}
