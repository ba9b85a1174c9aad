//! One interface over every engine, so a gateway switches backend in one line.

use std::future::Future;

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::email::EmailError;
use crate::ids::{InviteId, MemberId};
use crate::memory::engine::Engine;
use crate::outage::Outage;
use crate::outcome::{Denied, InviteError, Sent};
use crate::report::{Capacity, Diagnosis};
use crate::request::InviteRequest;

/// The contract every engine honours: the in-memory [`Engine`] and, with the `redis`
/// feature, the Redis engine shared by a fleet of gateways.
///
/// Methods are async so that an engine on shared state never blocks an executor; the
/// in-memory engine's futures do their work when first polled and finish then (with
/// a journal in `SyncEachDecision` mode, that poll waits for the disk's sync). Calls that
/// cannot fail on the in-memory engine return `Result<_, Outage>` here, because a
/// shared backend can be unreachable.
///
/// ```
/// use invite_limiter::{Engine, InviteRequest, Limiter, MemberId};
/// use std::future::Future;
/// use std::task::{Context, Poll, Waker};
///
/// async fn invite<L: Limiter>(limiter: &L) -> bool {
///     limiter.send(InviteRequest::new(MemberId(1), MemberId(2))).await.is_ok()
/// }
///
/// let engine = Engine::builder().build().unwrap();
/// // Any executor drives the futures; the in-memory engine's finish when first polled.
/// let mut fut = std::pin::pin!(invite(&engine));
/// let sent = match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
///     Poll::Ready(sent) => sent,
///     Poll::Pending => unreachable!("the in-memory engine never waits"),
/// };
/// assert!(sent);
/// ```
pub trait Limiter: Send + Sync {
    /// Decides a send and, when allowed, commits it atomically for the sender.
    fn send(&self, req: InviteRequest) -> impl Future<Output = Result<Sent, Denied>> + Send;
    /// The recipient accepts: the members connect and invitations between them end.
    fn accept(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send;
    /// The recipient declines.
    fn decline(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send;
    /// The sender withdraws; the re-invite cooldown starts.
    fn withdraw(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send;
    /// The recipient says "I don't know this person".
    fn report_unknown(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send;
    /// Invitations pending from `sender` to `recipient` now.
    fn pending_between(
        &self,
        sender: MemberId,
        recipient: MemberId,
    ) -> impl Future<Output = Result<u32, Outage>> + Send;
    /// What the member may still send, and why.
    fn capacity(&self, m: MemberId) -> impl Future<Output = Result<Capacity, Outage>> + Send;
    /// Every rule that would deny this request now; changes nothing. An unreachable
    /// backend is reported as a blocker.
    fn diagnose_request<'a>(
        &'a self,
        req: &'a InviteRequest,
    ) -> impl Future<Output = Diagnosis> + Send + 'a;
    /// Sets the member's tier.
    fn set_tier(&self, m: MemberId, tier: Tier) -> impl Future<Output = Result<(), Outage>> + Send;
    /// Sets the member's account status.
    fn set_status(
        &self,
        m: MemberId,
        status: AccountStatus,
    ) -> impl Future<Output = Result<(), Outage>> + Send;
    /// Sets whom the member accepts invitations from.
    fn set_invite_setting(
        &self,
        m: MemberId,
        setting: InviteSetting,
    ) -> impl Future<Output = Result<(), Outage>> + Send;
    /// Connects two members.
    fn connect(&self, a: MemberId, b: MemberId) -> impl Future<Output = Result<(), Outage>> + Send;
    /// Disconnects two members.
    fn disconnect(
        &self,
        a: MemberId,
        b: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send;
    /// `follower` follows `followee`.
    fn follow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send;
    /// `follower` stops following `followee`.
    fn unfollow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send;
    /// Whether two members are connected.
    fn are_connected(
        &self,
        a: MemberId,
        b: MemberId,
    ) -> impl Future<Output = Result<bool, Outage>> + Send;
    /// Registers `email` as the member's own address.
    fn register_email(
        &self,
        m: MemberId,
        email: &str,
    ) -> impl Future<Output = Result<(), EmailError>> + Send;
    /// Removes `email` from the member's own addresses.
    fn unregister_email(
        &self,
        m: MemberId,
        email: &str,
    ) -> impl Future<Output = Result<(), EmailError>> + Send;
    /// Replaces the owner's imported contact list.
    fn import_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> impl Future<Output = Result<(), EmailError>> + Send;
}

impl Limiter for Engine {
    async fn send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        Engine::send(self, req)
    }

    async fn accept(&self, id: InviteId) -> Result<(), InviteError> {
        Engine::accept(self, id)
    }

    async fn decline(&self, id: InviteId) -> Result<(), InviteError> {
        Engine::decline(self, id)
    }

    async fn withdraw(&self, id: InviteId) -> Result<(), InviteError> {
        Engine::withdraw(self, id)
    }

    async fn report_unknown(&self, id: InviteId) -> Result<(), InviteError> {
        Engine::report_unknown(self, id)
    }

    async fn pending_between(&self, sender: MemberId, recipient: MemberId) -> Result<u32, Outage> {
        Ok(Engine::pending_between(self, sender, recipient))
    }

    async fn capacity(&self, m: MemberId) -> Result<Capacity, Outage> {
        Ok(Engine::capacity(self, m))
    }

    async fn diagnose_request<'a>(&'a self, req: &'a InviteRequest) -> Diagnosis {
        Engine::diagnose_request(self, req)
    }

    async fn set_tier(&self, m: MemberId, tier: Tier) -> Result<(), Outage> {
        Engine::set_tier(self, m, tier);
        Ok(())
    }

    async fn set_status(&self, m: MemberId, status: AccountStatus) -> Result<(), Outage> {
        Engine::set_status(self, m, status);
        Ok(())
    }

    async fn set_invite_setting(&self, m: MemberId, setting: InviteSetting) -> Result<(), Outage> {
        Engine::set_invite_setting(self, m, setting);
        Ok(())
    }

    async fn connect(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        Engine::connect(self, a, b);
        Ok(())
    }

    async fn disconnect(&self, a: MemberId, b: MemberId) -> Result<(), Outage> {
        Engine::disconnect(self, a, b);
        Ok(())
    }

    async fn follow(&self, follower: MemberId, followee: MemberId) -> Result<(), Outage> {
        Engine::follow(self, follower, followee);
        Ok(())
    }

    async fn unfollow(&self, follower: MemberId, followee: MemberId) -> Result<(), Outage> {
        Engine::unfollow(self, follower, followee);
        Ok(())
    }

    async fn are_connected(&self, a: MemberId, b: MemberId) -> Result<bool, Outage> {
        Ok(Engine::are_connected(self, a, b))
    }

    async fn register_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        Engine::register_email(self, m, email)
    }

    async fn unregister_email(&self, m: MemberId, email: &str) -> Result<(), EmailError> {
        Engine::unregister_email(self, m, email)
    }

    async fn import_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> Result<(), EmailError> {
        Engine::import_contacts(self, owner, emails)
    }
}
