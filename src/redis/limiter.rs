//! The engine behind the [`Limiter`](crate::limiter::Limiter) trait.

use super::RedisEngine;
use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::email::EmailError;
use crate::ids::{InviteId, MemberId};
use crate::outage::Outage;
use crate::outcome::{Denied, InviteError, Sent};
use crate::report::{Capacity, Diagnosis};
use crate::request::InviteRequest;
use std::future::Future;

impl crate::limiter::Limiter for RedisEngine {
    fn send(&self, req: InviteRequest) -> impl Future<Output = Result<Sent, Denied>> + Send {
        RedisEngine::send(self, req)
    }

    fn accept(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::accept(self, id)
    }

    fn decline(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::decline(self, id)
    }

    fn withdraw(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::withdraw(self, id)
    }

    fn report_unknown(&self, id: InviteId) -> impl Future<Output = Result<(), InviteError>> + Send {
        RedisEngine::report_unknown(self, id)
    }

    fn pending_between(
        &self,
        sender: MemberId,
        recipient: MemberId,
    ) -> impl Future<Output = Result<u32, Outage>> + Send {
        RedisEngine::pending_between(self, sender, recipient)
    }

    fn capacity(&self, m: MemberId) -> impl Future<Output = Result<Capacity, Outage>> + Send {
        RedisEngine::capacity(self, m)
    }

    fn diagnose_request<'a>(
        &'a self,
        req: &'a InviteRequest,
    ) -> impl Future<Output = Diagnosis> + Send + 'a {
        RedisEngine::diagnose_request(self, req)
    }

    fn set_tier(&self, m: MemberId, tier: Tier) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::set_tier(self, m, tier)
    }

    fn set_status(
        &self,
        m: MemberId,
        status: AccountStatus,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::set_status(self, m, status)
    }

    fn set_invite_setting(
        &self,
        m: MemberId,
        setting: InviteSetting,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::set_invite_setting(self, m, setting)
    }

    fn connect(&self, a: MemberId, b: MemberId) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::connect(self, a, b)
    }

    fn disconnect(
        &self,
        a: MemberId,
        b: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::disconnect(self, a, b)
    }

    fn follow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::follow(self, follower, followee)
    }

    fn unfollow(
        &self,
        follower: MemberId,
        followee: MemberId,
    ) -> impl Future<Output = Result<(), Outage>> + Send {
        RedisEngine::unfollow(self, follower, followee)
    }

    fn are_connected(
        &self,
        a: MemberId,
        b: MemberId,
    ) -> impl Future<Output = Result<bool, Outage>> + Send {
        RedisEngine::are_connected(self, a, b)
    }

    fn register_email(
        &self,
        m: MemberId,
        email: &str,
    ) -> impl Future<Output = Result<(), EmailError>> + Send {
        RedisEngine::register_email(self, m, email)
    }

    fn unregister_email(
        &self,
        m: MemberId,
        email: &str,
    ) -> impl Future<Output = Result<(), EmailError>> + Send {
        RedisEngine::unregister_email(self, m, email)
    }

    fn import_contacts(
        &self,
        owner: MemberId,
        emails: Vec<String>,
    ) -> impl Future<Output = Result<(), EmailError>> + Send {
        RedisEngine::import_contacts(self, owner, emails)
    }
}
