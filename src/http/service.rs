//! The service the invitation layer wraps around an inner one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::http::{Request, Response};
use tower_service::Service;

use super::layer::Extracted;
use super::{denied_response, rate_limit_headers};
use crate::limiter::Limiter;
use crate::outcome::DenyReason;
use crate::time::Clock;

/// The service made by [`InviteLayer`](super::InviteLayer).
pub struct InviteService<S, L, F> {
    pub(super) inner: S,
    pub(super) limiter: Arc<L>,
    pub(super) extract: F,
    pub(super) clock: Arc<dyn Clock>,
}

impl<S: fmt::Debug, L: fmt::Debug, F> fmt::Debug for InviteService<S, L, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteService")
            .field("inner", &self.inner)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl<S: Clone, L, F: Clone> Clone for InviteService<S, L, F> {
    fn clone(&self) -> Self {
        InviteService {
            inner: self.inner.clone(),
            limiter: Arc::clone(&self.limiter),
            extract: self.extract.clone(),
            clock: Arc::clone(&self.clock),
        }
    }
}

/// The response future of [`InviteService`]: boxed, as it awaits the engine's futures
/// and then the inner service's.
pub struct ResponseFuture<B, E> {
    inner: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>,
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<S, L, F, Fut, ReqB, ResB> Service<Request<ReqB>> for InviteService<S, L, F>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    L: Limiter + 'static,
    F: Fn(Request<ReqB>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Extracted<ReqB, ResB>> + Send + 'static,
    ReqB: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // The inner service was made ready by `poll_ready`: take that one, leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = Arc::clone(&self.limiter);
        let clock = Arc::clone(&self.clock);
        let extracted = (self.extract)(req);
        ResponseFuture {
            inner: Box::pin(async move {
                let (mut req, invite) = match extracted.await {
                    Ok(pair) => pair,
                    Err(rejection) => return Ok(rejection),
                };
                let sender = invite.sender();
                let decision = limiter.send(invite).await;
                // A backend that could not decide would not tell the capacity either:
                // asking would only add a second wait.
                let capacity = match &decision {
                    Err(d) if matches!(d.reason(), DenyReason::Unavailable { .. }) => None,
                    _ => limiter.capacity(sender).await.ok(),
                };
                let now = clock.now();
                match decision {
                    Ok(sent) => {
                        req.extensions_mut().insert(sent);
                        let mut resp = inner.call(req).await?;
                        if let Some(cap) = &capacity {
                            rate_limit_headers(cap, now, resp.headers_mut());
                        }
                        Ok(resp)
                    }
                    Err(denied) => Ok(denied_response(&denied, capacity.as_ref(), now)),
                }
            }),
        }
    }
}
