//! The fleet's shared policy, shadow set and members' own limits.
//!
//! The policy and the shadow set in force live in one hash under the prefix
//! (`{prefix}:policy`: `v` a version raised by every change, `p` the policy's bytes,
//! `sh` the shadow set), written only by [`RedisEngine::set_policy`] and
//! [`RedisEngine::set_shadow`]. Until one of them has been called, each gateway
//! decides under its builder's policy. A change publishes a notice on the prefix's
//! change channel; a gateway that receives it reads the hash again before its next
//! decision. Notices can be lost (a subscription that drops), so each gateway also
//! reads the version again when it last did so `policy_refresh` ago or more (default
//! 1 s), before deciding: **no decision is made under a policy that had been replaced
//! for longer than `policy_refresh`** (plus the call's own round trip). When that read
//! fails, the decision is not made (the send is denied `Unavailable`). On a standalone
//! server the bound is exact: the engine script reads the policy hash with the
//! member's keys and refuses to decide under another version, and the gateway reads
//! the policy and decides again.
//!
//! A member's own limits are the `lim` field of their hash, which the engine script
//! reads with the rest of the member's facts, so they are exact at once everywhere.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;

use super::conn::Failure;
use super::{watch, RedisBuilder, RedisEngine, RedisSetupError};
use crate::outage::Outage;
use crate::policy::limits::MemberLimits;
use crate::policy::{ConfigError, Policy, TierLimits, IDEMPOTENCY_WINDOW, NOTE_WINDOW};
use crate::rules::shadow::Shadow;
use crate::rules::spam::Keywords;
use crate::time::millis;

/// Stores one field of the policy hash and raises its version; the other fields are
/// seeded from the caller's when absent, so the hash always holds both.
pub(super) const STORE: &str = "local v = redis.call('HINCRBY', KEYS[1], 'v', 1) \
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) \
    redis.call('HSETNX', KEYS[1], 'p', ARGV[3]) \
    redis.call('HSETNX', KEYS[1], 'sh', ARGV[4]) return v";

/// The notice payload that says the policy changed (member notices are ids).
const NOTICE: &str = "policy";

/// The rules a gateway decides under, with the script arguments they give.
#[derive(Debug)]
pub(super) struct Live {
    pub(super) policy: Arc<Policy>,
    pub(super) shadow: Shadow,
    /// Script arguments 3 to 34: spans, limits, spam rules and the shadow set.
    pub(super) common: Vec<String>,
    pub(super) keywords: Keywords,
    /// The stored version these came from (0: the builder's, none stored yet).
    pub(super) version: u64,
    /// The name the Redis module knows this policy by: made from what is registered
    /// under it (the policy, the member caps and the shadow set), so gateways that
    /// agree on all three share one, and any difference gets another.
    pub(super) module_name: String,
}

impl Live {
    pub(super) fn new(
        policy: Policy,
        shadow: Shadow,
        caps: MemberLimits,
        version: u64,
    ) -> Arc<Self> {
        Arc::new(Live {
            module_name: module_name(&policy, shadow, caps),
            common: common_args(&policy, shadow),
            keywords: Keywords::new(&policy.spam.keywords),
            policy: Arc::new(policy),
            shadow,
            version,
        })
    }
}

/// `p<length>-<crc32>-<fnv-1a 64>` of the policy's bytes, the shadow set and the
/// member caps: a collision needs two registrations agreeing on all three.
fn module_name(p: &Policy, shadow: Shadow, caps: MemberLimits) -> String {
    let mut bytes = crate::policy::codec::encode(p);
    bytes.push(shadow.bits());
    for cap in [
        caps.max_connections,
        caps.max_follows,
        caps.max_emails,
        caps.max_contacts,
    ] {
        bytes.extend_from_slice(&cap.to_le_bytes());
    }
    let fnv = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!(
        "p{}-{:08x}-{fnv:016x}",
        bytes.len(),
        crc32fast::hash(&bytes)
    )
}

fn common_args(p: &Policy, shadow: Shadow) -> Vec<String> {
    let span = |d: Duration| millis(d).to_string();
    // Pending invitations expire with their sender's activity keys only after the
    // feedback of their expiry has aged out of every window too.
    let longest_window = [
        crate::policy::WEEKLY_WINDOW,
        NOTE_WINDOW,
        p.reinvite_cooldown,
        IDEMPOTENCY_WINDOW,
        p.spam.strike_memory,
        p.spam.cooldown,
        p.spam.reports.map_or(Duration::ZERO, |r| r.per),
        p.spam.ignored.map_or(Duration::ZERO, |r| r.per),
        p.spam.burst.map_or(Duration::ZERO, |r| r.per),
        p.spam.strangers.map_or(Duration::ZERO, |r| r.per),
        p.spam.template.map_or(Duration::ZERO, |r| r.per),
    ]
    .into_iter()
    .max()
    .unwrap_or(NOTE_WINDOW);
    let idle = p.pending_ttl.saturating_add(longest_window);
    let mut common = vec![
        span(crate::policy::DAILY_WINDOW),
        span(crate::policy::WEEKLY_WINDOW),
        span(NOTE_WINDOW),
        span(p.pending_ttl),
        p.max_pending_per_pair.to_string(),
        span(p.reinvite_cooldown),
        span(IDEMPOTENCY_WINDOW),
        span(idle.saturating_add(Duration::from_secs(24 * 3600))),
    ];
    common.extend(limits_args(&p.free));
    common.extend(limits_args(&p.premium));
    common.extend(super::send::spam_args(&p.spam));
    common.push(shadow.bits().to_string());
    common
}

fn limits_args(t: &TierLimits) -> [String; 4] {
    [
        t.daily.to_string(),
        t.weekly.to_string(),
        t.notes_per_30d.map_or("-1".to_string(), |n| n.to_string()),
        t.max_note_chars.to_string(),
    ]
}

/// Why a policy or a member's limits could not be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RolloutError {
    /// The policy or limits cannot work; nothing was changed.
    Config(ConfigError),
    /// Redis could not answer; the change may or may not have been stored.
    Outage(Outage),
}

impl std::fmt::Display for RolloutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolloutError::Config(e) => e.fmt(f),
            RolloutError::Outage(o) => {
                write!(
                    f,
                    "the change could not be stored: {o}; read it back and retry"
                )
            }
        }
    }
}

impl std::error::Error for RolloutError {}

impl From<ConfigError> for RolloutError {
    fn from(e: ConfigError) -> Self {
        RolloutError::Config(e)
    }
}

impl From<Outage> for RolloutError {
    fn from(o: Outage) -> Self {
        RolloutError::Outage(o)
    }
}

impl RedisBuilder {
    /// The rules to run in shadow mode until a shadow set is stored for the fleet
    /// (default: none; see [`Shadow`]).
    pub fn shadow(mut self, shadow: Shadow) -> Self {
        self.shadow = shadow;
        self
    }

    /// The longest a gateway decides without reading the fleet's policy version again
    /// (default 1 s; zero reads it before every decision). See the module docs.
    pub fn policy_refresh(mut self, every: Duration) -> Self {
        self.policy_refresh = every;
        self
    }
}

pub(super) fn policy_key(prefix: &str) -> String {
    format!("{prefix}:policy")
}

fn bad_data() -> Failure {
    Failure {
        cause: Outage::BadData,
        wait: Duration::ZERO,
    }
}

impl RedisEngine {
    /// The rules this gateway decides under now, as last read.
    pub(super) fn live(&self) -> Arc<Live> {
        Arc::clone(&self.inner.live.read())
    }

    /// The policy in force (as this gateway last read it).
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.live().policy)
    }

    /// The rules in shadow mode (as this gateway last read them).
    pub fn shadow(&self) -> Shadow {
        self.live().shadow
    }

    /// Milliseconds since the engine started, plus one (so zero means "never").
    fn tick(&self) -> u64 {
        u64::try_from(self.inner.born.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// The rules to decide under: the last read, unless they were read
    /// `policy_refresh` ago or more, or a change notice arrived since.
    pub(super) async fn fresh_live(&self) -> Result<Arc<Live>, Failure> {
        let checked = self.inner.policy_checked.load(Ordering::Acquire);
        let refresh = u64::try_from(self.inner.policy_refresh.as_millis()).unwrap_or(u64::MAX);
        if checked != 0 && self.tick().saturating_sub(checked) < refresh {
            return Ok(self.live());
        }
        self.reload().await
    }

    /// Reads the stored version (and, when it changed, the policy) again.
    pub(super) async fn reload(&self) -> Result<Arc<Live>, Failure> {
        let started = self.tick();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(policy_key(&self.inner.prefix))
            .arg("v")
            .arg("p")
            .arg("sh");
        let (v, p, sh): (Option<u64>, Option<Vec<u8>>, Option<u8>) = self.cmd(cmd).await?;
        let version = v.unwrap_or(0);
        let current = self.live();
        let live = if version > current.version {
            let policy = match p {
                Some(bytes) => crate::policy::codec::decode(&bytes).map_err(|_| bad_data())?,
                None => (*current.policy).clone(),
            };
            policy.validate().map_err(|_| bad_data())?;
            super::setup::check_policy(&policy).map_err(|_| bad_data())?;
            let shadow = match sh {
                Some(bits) => Shadow::from_bits(bits).ok_or_else(bad_data)?,
                None => current.shadow,
            };
            let mut slot = self.inner.live.write();
            // A concurrent reload may have installed a newer version meanwhile.
            if version > slot.version {
                *slot = Live::new(policy, shadow, self.inner.limits, version);
                // Denials remembered under the old limits may no longer hold.
                if let Some(near) = &self.inner.near {
                    near.clear();
                }
            }
            Arc::clone(&slot)
        } else {
            current
        };
        self.inner
            .policy_checked
            .fetch_max(started, Ordering::AcqRel);
        Ok(live)
    }

    /// Stores `field` of the fleet's policy hash, reads it all back and tells every
    /// gateway.
    async fn store(&self, field: &str, value: Vec<u8>) -> Result<(), Outage> {
        let own = self.live();
        let script = Script::new(STORE);
        let mut inv = script.prepare_invoke();
        inv.key(policy_key(&self.inner.prefix))
            .arg(field)
            .arg(value.as_slice())
            .arg(crate::policy::codec::encode(&own.policy))
            .arg(own.shadow.bits());
        match self.inner.wait {
            // Strict mode: the stored policy is acknowledged once replicated.
            Some(w) => {
                let keys = [policy_key(&self.inner.prefix)];
                let args = [
                    field.as_bytes().to_vec(),
                    value,
                    crate::policy::codec::encode(&own.policy),
                    own.shadow.bits().to_string().into_bytes(),
                ];
                self.write_script::<u64, _>(w, STORE, script.get_hash(), &keys, &args)
                    .await
                    .map_err(|f| f.cause)?;
            }
            None => {
                let mut conn = self.conn();
                self.call(async move { inv.invoke_async::<u64>(&mut conn).await })
                    .await
                    .map_err(|f| f.cause)?;
            }
        }
        self.reload().await.map_err(|f| f.cause)?;
        let mut notice = redis::cmd("PUBLISH");
        notice.arg(watch::channel(&self.inner.prefix)).arg(NOTICE);
        let _ = self.cmd::<i64>(notice).await;
        Ok(())
    }

    /// Replaces the fleet's policy: stored under the prefix with a new version, in
    /// force on this gateway when this returns and on every other within its
    /// `policy_refresh` (normally at once, by a change notice). Counts are kept; see
    /// `docs/policy.md` for windows that change mid-way.
    ///
    /// # Errors
    /// [`RolloutError::Config`] for a policy that cannot work, or that the builder
    /// would refuse on Redis (a span past 100 years); nothing changes then.
    /// [`RolloutError::Outage`] when Redis cannot answer.
    pub async fn set_policy(&self, policy: Policy) -> Result<(), RolloutError> {
        policy.validate()?;
        // The builder's bounds on Redis: spans the script's numbers can carry.
        if let Err(RedisSetupError::Config(e)) = super::setup::check_policy(&policy) {
            return Err(e.into());
        }
        let bytes = crate::policy::codec::encode(&policy);
        self.store("p", bytes).await?;
        if self.inner.module {
            // The module knows a policy by name: this gateway's new one at once,
            // the others' when they first use it.
            let live = self.reload().await.map_err(|f| f.cause)?;
            self.register_rules(&live).await.map_err(|f| f.cause)?;
        }
        Ok(())
    }

    /// Puts `shadow`'s rules in shadow mode for the whole fleet, as
    /// [`RedisEngine::set_policy`] does with a policy.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn set_shadow(&self, shadow: Shadow) -> Result<(), Outage> {
        self.store("sh", shadow.bits().to_string().into_bytes())
            .await?;
        if self.inner.module {
            let live = self.reload().await.map_err(|f| f.cause)?;
            self.register_rules(&live).await.map_err(|f| f.cause)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{limits_from_text as parse_limits, limits_text as limits_field};

    #[test]
    fn member_limits_round_trip_as_the_script_reads_them() {
        for l in [TierLimits::free(), TierLimits::premium()] {
            assert_eq!(parse_limits(&limits_field(&l)), Some(l));
        }
        assert_eq!(parse_limits("1,2,3"), None);
        assert_eq!(parse_limits("1,2,-5,4"), None);
        assert_eq!(parse_limits("1,2,3,4,5"), None);
    }

    #[test]
    fn the_shadow_set_is_the_last_script_argument() {
        let shadow = Shadow::none().with(crate::ShadowRule::WeeklyLimit);
        let args = common_args(&Policy::default(), shadow);
        // Arguments 3 to 34 of the script.
        assert_eq!(args.len(), 32);
        assert_eq!(args.last().map(String::as_str), Some("8"));
    }
}
