//! Changing a member's tier, status, invite setting and own limits.

use super::live::RolloutError;
use super::watch;
use super::RedisEngine;
use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::codes;
use crate::ids::MemberId;
use crate::outage::Outage;
use crate::policy::TierLimits;

impl RedisEngine {
    pub(super) async fn set_fields(&self, m: u64, fields: &[(&str, String)]) -> Result<(), Outage> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.keys(m).key("h"));
        for (k, v) in fields {
            cmd.arg(*k).arg(v);
        }
        self.change_hash(m, cmd).await
    }

    /// Runs `cmd`, a change of the member's hash, then drops what this engine's
    /// caches hold about the member and tells every gateway to do the same (see
    /// [`RedisEngine::member_changed`]).
    pub(super) async fn change_hash(&self, m: u64, cmd: redis::Cmd) -> Result<(), Outage> {
        let r = self
            .write_cmd::<i64>(cmd)
            .await
            .map(|_| ())
            .map_err(|f| f.cause);
        self.member_changed(m, r.is_ok()).await;
        r
    }

    /// After a change of the member's facts (tier, status, setting, own limits) was
    /// tried: drops what this engine's caches hold about the member and, when the
    /// change was `made`, tells every gateway to do the same (best effort: their time
    /// to live bounds it otherwise).
    pub(super) async fn member_changed(&self, m: u64, made: bool) {
        self.inner.forget(m);
        if made {
            let mut notice = redis::cmd("PUBLISH");
            notice
                .arg(watch::channel(&self.inner.prefix))
                .arg(m.to_string());
            let _ = self.cmd::<i64>(notice).await;
        }
    }

    /// Removes one field of the member's hash and tells every gateway.
    pub(super) async fn clear_field(&self, m: u64, field: &str) -> Result<(), Outage> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.keys(m).key("h")).arg(field);
        self.change_hash(m, cmd).await
    }

    /// `IL.SET` of one of the member's facts on the module.
    async fn module_set_fact(&self, m: u64, args: &[String]) -> Result<(), Outage> {
        self.module_set_facts(m, "IL.SET", args)
            .await
            .map_err(|f| f.cause)
    }

    /// Sets the member's tier; limits change at once, counts are kept.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_tier(&self, m: MemberId, tier: Tier) -> Result<(), Outage> {
        if self.inner.module {
            let args = ["TIER".into(), codes::names::tier_name(tier).into()];
            return self.module_set_fact(m.0, &args).await;
        }
        let code = codes::digit(codes::tier_code(tier));
        self.set_fields(m.0, &[("tier", code.into())]).await
    }

    /// Sets the member's account status. A restriction's `until` is kept exactly up
    /// to `i64::MAX` milliseconds; a later one is stored (and reported) as that.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_status(&self, m: MemberId, status: AccountStatus) -> Result<(), Outage> {
        if self.inner.module {
            let mut args = vec![
                "STATUS".to_string(),
                codes::names::status_name(status).into(),
            ];
            if let AccountStatus::Restricted { until: Some(t) } = status {
                args.extend(["UNTIL".to_string(), t.as_millis().to_string()]);
            }
            return self.module_set_fact(m.0, &args).await;
        }
        let (kind, until) = codes::status_code(status);
        let until = until.map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX));
        let st = codes::digit(kind);
        self.set_fields(m.0, &[("st", st.into()), ("until", until.to_string())])
            .await
    }

    /// Sets whom the member accepts invitations from.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_invite_setting(
        &self,
        m: MemberId,
        setting: InviteSetting,
    ) -> Result<(), Outage> {
        if self.inner.module {
            let args = ["SETTING".into(), codes::names::setting_name(setting).into()];
            return self.module_set_fact(m.0, &args).await;
        }
        let code = codes::digit(codes::setting_code(setting));
        self.set_fields(m.0, &[("set", code.into())]).await
    }

    /// Whether two members are connected.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn are_connected(&self, a: MemberId, b: MemberId) -> Result<bool, Outage> {
        if self.inner.module {
            let n = self.module_count(a.0, "IL.CONNECTED", b.0).await;
            return n.map(|n| n == 1).map_err(|f| f.cause);
        }
        self.is_member(self.keys(a.0).key("c"), b.0.to_string())
            .await
            .map_err(|f| f.cause)
    }

    /// Gives `m` limits of their own in place of their tier's (`Some`), or returns
    /// them to their tier's (`None`); exact at once on every gateway.
    ///
    /// # Errors
    /// [`RolloutError::Config`] naming the field for limits a tier could not have;
    /// [`RolloutError::Outage`] when Redis cannot answer.
    pub async fn set_limits_override(
        &self,
        m: MemberId,
        limits: Option<TierLimits>,
    ) -> Result<(), RolloutError> {
        if self.inner.module {
            let args: Vec<String> = match &limits {
                Some(l) => {
                    l.validate_as("limits")?;
                    let notes = l.notes_per_30d.map_or("-".into(), |n| n.to_string());
                    let (d, w, c) = (l.daily, l.weekly, l.max_note_chars);
                    vec![
                        "SET".into(),
                        d.to_string(),
                        w.to_string(),
                        notes,
                        c.to_string(),
                    ]
                }
                None => vec!["CLEAR".into()],
            };
            return Ok(self
                .module_set_facts(m.0, "IL.LIMITS", &args)
                .await
                .map_err(|f| f.cause)?);
        }
        match limits {
            Some(l) => {
                l.validate_as("limits")?;
                self.set_fields(m.0, &[("lim", codes::limits_text(&l))])
                    .await?;
            }
            None => self.clear_field(m.0, "lim").await?,
        }
        Ok(())
    }

    /// The member's own limits, if they have an override.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer or holds something else there.
    pub async fn limits_override(&self, m: MemberId) -> Result<Option<TierLimits>, Outage> {
        if self.inner.module {
            return self.module_limits(m).await.map_err(|f| f.cause);
        }
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.keys(m.0).key("h")).arg("lim");
        let v: Option<String> = self.cmd(cmd).await.map_err(|f| f.cause)?;
        v.map(|v| codes::limits_from_text(&v).ok_or(Outage::BadData))
            .transpose()
    }
}
