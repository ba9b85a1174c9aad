//! Sending and asking: the decision script, diagnosis and capacity.

use super::conn::Failure;
use super::keys::email_owner;
use super::live;
use super::live::Live;
use super::replies::{Rule, ScriptReply};
use super::stats::Count;
use super::{FailureMode, RedisEngine, UNRECORDED};
use crate::email::normalize;
use crate::ids::{InviteId, MemberId};
use crate::outage::Outage;
use crate::outcome::{Denied, DenyReason, Sent};
use crate::policy::{RateRule, SpamPolicy};
use crate::report::{Blocker, Capacity, Diagnosis};
use crate::request::InviteRequest;
use crate::rules::precedence::Verdicts;
use crate::rules::spam::note_fingerprint;
use crate::time::{millis, Timestamp};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The spam rules as script arguments 19 to 33 (see `engine.lua`).
pub(super) fn spam_args(p: &SpamPolicy) -> Vec<String> {
    let rule = |r: Option<RateRule>| match r {
        Some(r) => [r.max.to_string(), millis(r.per).to_string()],
        None => ["-1".to_string(), "0".to_string()],
    };
    let mut out = vec![if p.is_enabled() { "1" } else { "0" }.to_string()];
    for r in [p.burst, p.strangers, p.template, p.reports] {
        out.extend(rule(r));
    }
    match p.ignored {
        Some(i) => out.extend([
            i.max_percent.to_string(),
            i.min_resolved.to_string(),
            millis(i.per).to_string(),
        ]),
        None => out.extend(["-1".to_string(), "0".to_string(), "0".to_string()]),
    }
    out.push(millis(p.cooldown).to_string());
    out.push(millis(p.strike_memory).to_string());
    let ladder: Vec<String> = p
        .restriction_ladder
        .iter()
        .map(|d| millis(*d).to_string())
        .collect();
    out.push(ladder.join(","));
    out
}

pub(super) fn fold(rules: &[Rule]) -> Option<Denied> {
    let mut v = Verdicts::default();
    for r in rules {
        v.add(r.reason, r.at);
    }
    v.into_denied()
}

impl RedisEngine {
    /// Judges `req` with every rule; `commit` records it when nothing denies.
    pub(super) async fn judge(
        &self,
        req: &InviteRequest,
        commit: bool,
    ) -> Result<(ScriptReply, Arc<Live>), Failure> {
        let mut live = self.fresh_live().await?;
        // On a standalone server the script refuses to decide under a policy other
        // than the stored one; read it and decide again (a few times at most, should
        // changes follow each other that fast).
        for _ in 0..3 {
            match self.judge_under(req, commit, &live).await? {
                ScriptReply::Stale => live = self.reload().await?,
                reply => return Ok((reply, live)),
            }
        }
        Err(Failure {
            cause: Outage::Refused,
            wait: Duration::from_millis(10),
        })
    }

    /// [`RedisEngine::judge`] under the rules `live`.
    pub(super) async fn judge_under(
        &self,
        req: &InviteRequest,
        commit: bool,
        live: &Live,
    ) -> Result<ScriptReply, Failure> {
        let (s, r) = (req.sender().0, req.recipient().0);
        // A standalone server lets the script read the recipient's keys as well: one
        // round trip and exact facts. A cluster keeps them on another slot.
        let inline = self.inner.standalone;
        let (mut outside, stranger) = if inline {
            (Vec::new(), false)
        } else {
            self.recipient_rules(req, live.policy.spam.strangers.is_some())
                .await?
        };
        if s == r {
            outside.push(Rule::new(DenyReason::SelfInvite, None));
        }
        let note = req.judged_note(&live.policy);
        let chars = note.map_or(0, |n| n.chars().count());
        let flag = |on: bool| if on { "1" } else { "0" }.to_string();
        let email = req.email().and_then(|e| normalize(e).ok());
        let spam = &live.policy.spam;
        let fingerprint = match (note, spam.template) {
            (Some(n), Some(_)) => format!("{:x}", note_fingerprint(n)),
            _ => String::new(),
        };
        let args = [
            r.to_string(),
            req.key().map_or(String::new(), |k| k.to_string()),
            flag(note.is_some()),
            chars.to_string(),
            flag(!outside.is_empty()),
            flag(stranger),
            flag(note.is_some_and(|n| live.keywords.matches(n))),
            fingerprint,
            flag(inline),
            s.to_string(),
            email.clone().unwrap_or_default(),
            live.version.to_string(),
        ];
        let more_keys = if inline {
            let (rk, sk) = (self.keys(r), self.keys(s));
            let owner = match &email {
                Some(e) => email_owner(&self.inner.prefix, e),
                None => rk.key("h"),
            };
            vec![
                rk.key("h"),
                rk.key("f"),
                rk.key("e"),
                rk.key("c"),
                rk.key("em"),
                sk.key("em"),
                sk.key("e"),
                owner,
                live::policy_key(&self.inner.prefix),
            ]
        } else {
            Vec::new()
        };
        let mode = if commit { "send" } else { "diag" };
        let mut reply = self.script_with(live, s, &more_keys, mode, &args).await?;
        if let ScriptReply::Rules { rules, .. } = &mut reply {
            for rule in rules.iter_mut() {
                rule.complete(req);
            }
            rules.extend(outside);
            rules.sort_by_key(|r| r.reason.rank());
        }
        Ok(reply)
    }

    /// The `Sent` for invitation `seq`, sent at `at` under `live`, with the rules in
    /// shadow mode that would have denied it.
    pub(super) fn sent(
        &self,
        live: &Live,
        sender: u64,
        seq: u64,
        at: u64,
        shadowed: &[Rule],
    ) -> Sent {
        let mut tally = crate::rules::shadow::ShadowTally::default();
        for r in shadowed {
            if let Some(rule) = crate::ShadowRule::of(&r.reason) {
                tally.add(rule, r.at);
            }
        }
        Sent {
            shadow_retry: tally.retry(),
            shadowed: tally.rules,
            id: InviteId::new(MemberId(sender), seq),
            expires_at: Timestamp::from_millis(at) + live.policy.pending_ttl,
        }
    }

    /// Decides a send and, when allowed, commits it: one round trip to the sender's
    /// slot (plus a read of the recipient's facts when they are not cached).
    ///
    /// # Errors
    /// [`Denied`] with the first rule that denies and the instant all of them clear;
    /// [`DenyReason::Unavailable`] when Redis cannot answer (see [`FailureMode`]).
    #[must_use = "a denied invitation must not be delivered; act on the outcome"]
    pub async fn send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        #[cfg(feature = "metrics")]
        let started = self.inner.metrics.start();
        #[cfg(feature = "tracing")]
        let span = crate::trace::decision_span(&req);
        #[cfg(feature = "tracing")]
        let result = tracing::Instrument::instrument(self.decide_send(req), span.clone()).await;
        #[cfg(not(feature = "tracing"))]
        let result = self.decide_send(req).await;
        #[cfg(feature = "metrics")]
        self.inner.metrics.decided(started, &result, false);
        #[cfg(feature = "tracing")]
        crate::trace::record_decision(&span, &result);
        result
    }

    pub(super) async fn decide_send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        let s = req.sender().0;
        // A burst signal counts every attempt, so with it on every attempt must reach
        // Redis; a keyed request must get its first decision back.
        let burst_on = self.live().policy.spam.burst.is_some();
        let cacheable = req.key().is_none() && s != req.recipient().0 && !burst_on;
        if let (true, Some(near)) = (cacheable, &self.inner.near) {
            if let Some(d) = near.get(s, self.local_now()) {
                self.inner.stats.bump(Count::NearCacheHit);
                #[cfg(feature = "metrics")]
                self.inner.redis_metrics.near_cache_hit();
                return Err(d);
            }
        }
        if self.inner.module {
            return self.module_decision(&req, cacheable).await;
        }
        match self.judge(&req, true).await {
            Ok((ScriptReply::Sent { seq, at, shadowed }, live)) => {
                Ok(self.sent(&live, s, seq, at, &shadowed))
            }
            Ok((ScriptReply::Rules { rules, now }, _)) => {
                if let (true, Some(near)) = (cacheable, &self.inner.near) {
                    let wide: Vec<Rule> = rules
                        .iter()
                        .filter(|r| r.reason.holds_for_every_recipient())
                        .copied()
                        .collect();
                    if let Some(d) = fold(&wide) {
                        near.put(s, d, now);
                    }
                }
                // An empty list here means the script saw a rule outside it deny.
                Err(fold(&rules).unwrap_or_else(|| {
                    self.unavailable(Failure {
                        cause: Outage::BadData,
                        wait: Duration::ZERO,
                    })
                }))
            }
            Ok(_) => Err(self.unavailable(Failure {
                cause: Outage::BadData,
                wait: Duration::ZERO,
            })),
            Err(f) if self.inner.failure == FailureMode::Open && f.cause != Outage::BadData => {
                let n = self.inner.unrecorded.fetch_add(1, Ordering::Relaxed);
                Ok(self.sent(&self.live(), s, UNRECORDED | n, self.local_now(), &[]))
            }
            Err(f) => Err(self.unavailable(f)),
        }
    }

    /// Every rule that would deny `req` now, in precedence order; changes nothing
    /// and is not an attempt. When Redis cannot answer, the one blocker says so.
    pub async fn diagnose_request(&self, req: &InviteRequest) -> Diagnosis {
        if self.inner.module {
            let blockers = match self.module_diagnose(req).await {
                Ok(b) => b,
                Err(f) => vec![self.outage_blocker(f)],
            };
            return Diagnosis { blockers };
        }
        let blockers = match self.judge(req, false).await {
            Ok((ScriptReply::Rules { rules, .. }, _)) => rules
                .into_iter()
                .map(|r| Blocker {
                    reason: r.reason,
                    retry_at: r.at.map(Timestamp::from_millis),
                })
                .collect(),
            Ok(_) => vec![self.outage_blocker(Failure {
                cause: Outage::BadData,
                wait: Duration::ZERO,
            })],
            Err(f) => vec![self.outage_blocker(f)],
        };
        Diagnosis { blockers }
    }

    pub(super) fn outage_blocker(&self, f: Failure) -> Blocker {
        let d = self.unavailable(f);
        Blocker {
            reason: d.reason,
            retry_at: d.retry_at,
        }
    }

    /// [`RedisEngine::diagnose_request`] for a bare request.
    pub async fn diagnose(&self, sender: MemberId, recipient: MemberId) -> Diagnosis {
        self.diagnose_request(&InviteRequest::new(sender, recipient))
            .await
    }

    /// What the member may still send, and why.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn capacity(&self, m: MemberId) -> Result<Capacity, Outage> {
        if self.inner.module {
            return self.module_capacity(m).await.map_err(|f| f.cause);
        }
        match self.script(m.0, "capacity", &[]).await {
            Ok(ScriptReply::Capacity(raw)) => raw.into_capacity(),
            Ok(_) => Err(Outage::BadData),
            Err(f) => Err(f.cause),
        }
    }
}
