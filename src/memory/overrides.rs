//! Limits of one member in place of their tier's (say, a recruiter seat).

use crate::ids::MemberId;
use crate::memory::engine::Engine;
use crate::persist::journal::Op;
use crate::policy::{ConfigError, TierLimits};

impl Engine {
    /// Gives `m` limits of their own in place of their tier's (`Some`), or returns
    /// them to their tier's (`None`). Like a tier change, it takes effect at once and
    /// keeps the counts. The override stays through tier changes and policy changes,
    /// and is kept in snapshots and the journal; [`Engine::capacity`] reports it.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field (`limits.daily`, …) for limits a tier could
    /// not have; the member's limits then stay as they were.
    pub fn set_limits_override(
        &self,
        m: MemberId,
        limits: Option<TierLimits>,
    ) -> Result<(), ConfigError> {
        self.apply(Op::SetLimits(m, limits), None).config()
    }

    /// The member's own limits, if they have an override.
    pub fn limits_override(&self, m: MemberId) -> Option<TierLimits> {
        self.read(m, |r| {
            r.extra
                .as_deref()
                .and_then(|e| e.limits.as_deref().cloned())
        })
    }

    /// [`Engine::set_limits_override`] at `at` when replaying (else now, journaled).
    pub(super) fn set_limits_at(
        &self,
        m: MemberId,
        limits: Option<TierLimits>,
        at: Option<u64>,
    ) -> Result<(), ConfigError> {
        if let Some(l) = &limits {
            l.validate_as("limits")?;
        }
        let op = || Op::SetLimits(m, limits.clone());
        let boxed = limits.clone().map(Box::new);
        self.update(m, at, op, |r| {
            if boxed.is_some() || r.extra.is_some() {
                r.extra_mut().limits = boxed;
            }
        });
        Ok(())
    }
}
