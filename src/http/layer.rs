//! A tower layer that judges each request by an engine before the service sees it.

use std::sync::Arc;

use ::http::{Request, Response};
use tower_layer::Layer;

use super::service::InviteService;
use crate::request::InviteRequest;
use crate::time::{Clock, SystemClock};

/// What a request extractor returns: the request (rebuilt, if the extractor read its
/// body) with the invitation it asks for, or the response to answer it with at once
/// (a malformed body, say).
pub type Extracted<ReqB, ResB> = Result<(Request<ReqB>, InviteRequest), Response<ResB>>;

/// Limits invitation requests (feature `tower`): each request is turned into an
/// [`InviteRequest`] by a user function and sent through a [`Limiter`](crate::Limiter).
///
/// - Allowed: the request reaches the inner service with the [`Sent`](crate::Sent)
///   in its extensions, and the response gets the `RateLimit-Policy` and `RateLimit`
///   headers.
/// - Denied: the inner service is not called; the answer is
///   [`denied_response`](super::denied_response) with the same headers.
/// - Rejected by the extractor: its response, as it is.
///
/// The headers come from [`Limiter::capacity`](crate::Limiter::capacity) after the
/// decision (a second call to the engine; a failing call leaves them out). Nothing
/// blocks: the engine's futures are awaited on the caller's executor.
///
/// The extractor is async and owns the request, so it can read a body and put it back:
///
/// ```
/// use invite_limiter::http::{Extracted, InviteLayer};
/// use invite_limiter::{Engine, InviteRequest, MemberId};
/// use std::sync::Arc;
///
/// let engine = Arc::new(Engine::builder().build().unwrap());
/// // Sender and recipient from headers; anything missing is a 400.
/// let layer = InviteLayer::new(engine, |req: http::Request<String>| async move {
///     let id = |name: &str| {
///         req.headers().get(name)?.to_str().ok()?.parse::<u64>().ok().map(MemberId)
///     };
///     match (id("x-sender"), id("x-recipient")) {
///         (Some(s), Some(r)) => Ok((req, InviteRequest::new(s, r))),
///         _ => {
///             let mut resp = http::Response::new(String::from("missing ids"));
///             *resp.status_mut() = http::StatusCode::BAD_REQUEST;
///             Err(resp)
///         }
///     }
/// });
/// # let _ = layer;
/// # fn _types(_: Extracted<String, String>) {}
/// ```
pub struct InviteLayer<L, F> {
    limiter: Arc<L>,
    extract: F,
    clock: Arc<dyn Clock>,
}

impl<L: std::fmt::Debug, F> std::fmt::Debug for InviteLayer<L, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteLayer")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl<L, F: Clone> Clone for InviteLayer<L, F> {
    fn clone(&self) -> Self {
        InviteLayer {
            limiter: Arc::clone(&self.limiter),
            extract: self.extract.clone(),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<L, F> InviteLayer<L, F> {
    /// A layer that sends what `extract` makes of each request through `limiter`.
    pub fn new(limiter: Arc<L>, extract: F) -> Self {
        InviteLayer {
            limiter,
            extract,
            clock: Arc::new(SystemClock),
        }
    }

    /// The clock `Retry-After` and the `t` of `RateLimit` are counted from: give the
    /// engine's own clock (the default is the system's).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl<S, L, F: Clone> Layer<S> for InviteLayer<L, F> {
    type Service = InviteService<S, L, F>;

    fn layer(&self, inner: S) -> Self::Service {
        InviteService {
            inner,
            limiter: Arc::clone(&self.limiter),
            extract: self.extract.clone(),
            clock: Arc::clone(&self.clock),
        }
    }
}
