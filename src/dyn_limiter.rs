//! [`Limiter`] as a trait object, so a gateway picks its backend at run time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::email::EmailError;
use crate::ids::{InviteId, MemberId};
use crate::limiter::Limiter;
use crate::outage::Outage;
use crate::outcome::{Denied, InviteError, Sent};
use crate::report::{Capacity, Diagnosis};
use crate::request::InviteRequest;

/// The boxed future every [`DynLimiter`] method returns.
pub type LimiterFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Limiter`] in a form that can be a trait object: every method returns a boxed
/// future. Both engines implement it, and `Arc<dyn DynLimiter>` is a `Limiter`
/// again, so code written for `Limiter` — the tower layer, for one — takes a
/// backend chosen at run time. The box costs one allocation per call.
///
/// ```
/// use invite_limiter::{DynLimiter, Engine, InviteRequest, MemberId};
/// use std::sync::Arc;
/// use std::task::{Context, Poll, Waker};
///
/// let backend: Arc<dyn DynLimiter> = Arc::new(Engine::builder().build().unwrap());
/// let mut sent = backend.send(InviteRequest::new(MemberId(1), MemberId(2)));
/// let poll = sent.as_mut().poll(&mut Context::from_waker(Waker::noop()));
/// assert!(matches!(poll, Poll::Ready(Ok(_))));
/// ```
pub trait DynLimiter: Send + Sync {
    /// [`Limiter::send`].
    fn send(&self, req: InviteRequest) -> LimiterFuture<'_, Result<Sent, Denied>>;
    /// [`Limiter::accept`].
    fn accept(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>>;
    /// [`Limiter::decline`].
    fn decline(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>>;
    /// [`Limiter::withdraw`].
    fn withdraw(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>>;
    /// [`Limiter::report_unknown`].
    fn report_unknown(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>>;
    /// [`Limiter::pending_between`].
    fn pending_between(&self, s: MemberId, r: MemberId) -> LimiterFuture<'_, Result<u32, Outage>>;
    /// [`Limiter::capacity`].
    fn capacity(&self, m: MemberId) -> LimiterFuture<'_, Result<Capacity, Outage>>;
    /// [`Limiter::diagnose_request`].
    fn diagnose_request<'a>(&'a self, req: &'a InviteRequest) -> LimiterFuture<'a, Diagnosis>;
    /// [`Limiter::set_tier`].
    fn set_tier(&self, m: MemberId, tier: Tier) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::set_status`].
    fn set_status(&self, m: MemberId, s: AccountStatus) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::set_invite_setting`].
    fn set_invite_setting(
        &self,
        m: MemberId,
        setting: InviteSetting,
    ) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::connect`].
    fn connect(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::disconnect`].
    fn disconnect(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::follow`].
    fn follow(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::unfollow`].
    fn unfollow(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>>;
    /// [`Limiter::are_connected`].
    fn are_connected(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<bool, Outage>>;
    /// [`Limiter::register_email`].
    fn register_email<'a>(
        &'a self,
        m: MemberId,
        email: &'a str,
    ) -> LimiterFuture<'a, Result<(), EmailError>>;
    /// [`Limiter::unregister_email`].
    fn unregister_email<'a>(
        &'a self,
        m: MemberId,
        email: &'a str,
    ) -> LimiterFuture<'a, Result<(), EmailError>>;
    /// [`Limiter::import_contacts`].
    fn import_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> LimiterFuture<'_, Result<(), EmailError>>;
}

/// Implements [`DynLimiter`] for an engine by boxing its [`Limiter`] futures.
macro_rules! boxed_limiter {
    ($engine:ty) => {
        impl DynLimiter for $engine {
            fn send(&self, req: InviteRequest) -> LimiterFuture<'_, Result<Sent, Denied>> {
                Box::pin(Limiter::send(self, req))
            }
            fn accept(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>> {
                Box::pin(Limiter::accept(self, id))
            }
            fn decline(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>> {
                Box::pin(Limiter::decline(self, id))
            }
            fn withdraw(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>> {
                Box::pin(Limiter::withdraw(self, id))
            }
            fn report_unknown(&self, id: InviteId) -> LimiterFuture<'_, Result<(), InviteError>> {
                Box::pin(Limiter::report_unknown(self, id))
            }
            fn pending_between(
                &self,
                s: MemberId,
                r: MemberId,
            ) -> LimiterFuture<'_, Result<u32, Outage>> {
                Box::pin(Limiter::pending_between(self, s, r))
            }
            fn capacity(&self, m: MemberId) -> LimiterFuture<'_, Result<Capacity, Outage>> {
                Box::pin(Limiter::capacity(self, m))
            }
            fn diagnose_request<'a>(
                &'a self,
                req: &'a InviteRequest,
            ) -> LimiterFuture<'a, Diagnosis> {
                Box::pin(Limiter::diagnose_request(self, req))
            }
            fn set_tier(&self, m: MemberId, tier: Tier) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::set_tier(self, m, tier))
            }
            fn set_status(
                &self,
                m: MemberId,
                s: AccountStatus,
            ) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::set_status(self, m, s))
            }
            fn set_invite_setting(
                &self,
                m: MemberId,
                setting: InviteSetting,
            ) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::set_invite_setting(self, m, setting))
            }
            fn connect(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::connect(self, a, b))
            }
            fn disconnect(
                &self,
                a: MemberId,
                b: MemberId,
            ) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::disconnect(self, a, b))
            }
            fn follow(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::follow(self, a, b))
            }
            fn unfollow(&self, a: MemberId, b: MemberId) -> LimiterFuture<'_, Result<(), Outage>> {
                Box::pin(Limiter::unfollow(self, a, b))
            }
            fn are_connected(
                &self,
                a: MemberId,
                b: MemberId,
            ) -> LimiterFuture<'_, Result<bool, Outage>> {
                Box::pin(Limiter::are_connected(self, a, b))
            }
            fn register_email<'a>(
                &'a self,
                m: MemberId,
                email: &'a str,
            ) -> LimiterFuture<'a, Result<(), EmailError>> {
                Box::pin(Limiter::register_email(self, m, email))
            }
            fn unregister_email<'a>(
                &'a self,
                m: MemberId,
                email: &'a str,
            ) -> LimiterFuture<'a, Result<(), EmailError>> {
                Box::pin(Limiter::unregister_email(self, m, email))
            }
            fn import_contacts(
                &self,
                owner: MemberId,
                emails: Vec<String>,
            ) -> LimiterFuture<'_, Result<(), EmailError>> {
                Box::pin(Limiter::import_contacts(self, owner, emails))
            }
        }
    };
}

boxed_limiter!(crate::memory::engine::Engine);
#[cfg(feature = "redis")]
boxed_limiter!(crate::redis::RedisEngine);

impl Limiter for Arc<dyn DynLimiter> {
    async fn send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        (**self).send(req).await
    }
    async fn accept(&self, id: InviteId) -> Result<(), InviteError> {
        (**self).accept(id).await
    }
    async fn decline(&self, id: InviteId) -> Result<(), InviteError> {
        (**self).decline(id).await
    }
    async fn withdraw(&self, id: InviteId) -> Result<(), InviteError> {
        (**self).withdraw(id).await
    }
    async fn report_unknown(&self, id: InviteId) -> Result<(), InviteError> {
        (**self).report_unknown(id).await
    }
    async fn pending_between(&self, s: MemberId, r: MemberId) -> Result<u32, Outage> {
        (**self).pending_between(s, r).await
    }
    async fn capacity(&self, m: MemberId) -> Result<Capacity, Outage> {
        (**self).capacity(m).await
    }
    async fn diagnose_request<'a>(&'a self, req: &'a InviteRequest) -> Diagnosis {
        (**self).diagnose_request(req).await
    }
    async fn set_tier(&self, m: MemberId, tier: Tier) -> Result<(), Outage> {
        (**self).set_tier(m, tier).await
    }
    async fn set_status(&self, m: MemberId, status: AccountStatus) -> Result<(), Outage> {
        (**self).set_status(m, status).await
    }
    async fn set_invite_setting(&self, m: MemberId, setting: InviteSetting) -> Result<(), Outage> {
        (**self).set_invite_setting(m, setting).await
    }
    async fn connect(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        (**self).connect(a, b).await
    }
    async fn disconnect(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        (**self).disconnect(a, b).await
    }
    async fn follow(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        (**self).follow(a, b).await
    }
    async fn unfollow(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        (**self).unfollow(a, b).await
    }
    async fn are_connected(&self, a: MemberId, b: MemberId) -> Result<bool, Outage> {
        (**self).are_connected(a, b).await
    }
    async fn register_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        (**self).register_email(m, email).await
    }
    async fn unregister_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        (**self).unregister_email(m, email).await
    }
    async fn import_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> Result<(), EmailError> {
        (**self).import_contacts(owner, emails).await
    }
}
