//! Changing the rules on a running engine.
//!
//! Every shard holds a reference to the rules in force, read under its lock. A change
//! takes every shard lock (in ascending order, as everywhere), replaces each shard's
//! reference and the engine's own, and journals the change, all before releasing any
//! lock: so every decision runs wholly under the old rules or wholly under the new
//! ones, and the journal records the change between the decisions made before it and
//! those made after, which makes its replay reproduce them.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::memory::engine::Engine;
use crate::persist::journal::Op;
use crate::policy::{ConfigError, Policy};
use crate::rules::shadow::Shadow;
use crate::rules::Rules;

impl Engine {
    /// The rules in force now (a consistent pair of policy and shadow set).
    pub(crate) fn rules(&self) -> Arc<Rules> {
        Arc::clone(&self.rules.lock())
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.rules.lock().policy)
    }

    /// The rules in shadow mode.
    pub fn shadow(&self) -> Shadow {
        self.rules.lock().shadow
    }

    /// Replaces the policy on the running engine, atomically: every decision runs
    /// wholly under the old policy or wholly under the new one. Counts are kept: a
    /// send counts in its windows whatever the limits, so a lower limit may deny at
    /// once and a higher one admits at once; see `docs/policy.md` for the rest.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field when the policy cannot work; the policy in
    /// force then stays.
    pub fn set_policy(&self, policy: Policy) -> Result<(), ConfigError> {
        policy.validate()?;
        self.install_rules(Some(Arc::new(policy)), None, None);
        Ok(())
    }

    /// Puts `shadow`'s rules in shadow mode and enforces every other rule, atomically
    /// as [`Engine::set_policy`].
    pub fn set_shadow(&self, shadow: Shadow) {
        self.install_rules(None, Some(shadow), None);
    }

    /// Journals the rules in force as the first record of a journal that starts
    /// after a snapshot, when they were set at run time: the snapshot does not hold
    /// them, and opening the directory must decide under them again. The caller holds
    /// every shard lock (the checkpoint's cut).
    pub(crate) fn log_rules_at_cut(&self) {
        let rules = self.rules();
        if rules.live {
            let now = self.time.now();
            let _ticket = self.log_op(now, || {
                Op::SetPolicy(Box::new((*rules.policy).clone()), rules.shadow)
            });
        }
    }

    /// Installs new rules under every shard lock and journals them; `None` keeps the
    /// policy or the shadow set in force (read under the locks, so two changes made
    /// at once never undo each other). `at` is the instant when replaying (journaled
    /// only when `None`).
    pub(crate) fn install_rules(
        &self,
        policy: Option<Arc<Policy>>,
        shadow: Option<Shadow>,
        at: Option<u64>,
    ) {
        // The engine's own reference is a leaf lock, taken after the shards' (it is
        // read under a shard lock elsewhere).
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.0.write()).collect();
        let mut canonical = self.rules.lock();
        let shadow = shadow.unwrap_or(canonical.shadow);
        let rules = match policy {
            Some(policy) => Rules::new(policy, shadow, true),
            None if canonical.shadow == shadow => return,
            // Shares the compiled keywords; only the shadow set differs.
            None => Arc::new(Rules {
                policy: Arc::clone(&canonical.policy),
                spans: canonical.spans,
                keywords: canonical.keywords.clone(),
                shadow,
                live: true,
            }),
        };
        for g in &mut guards {
            g.rules = Arc::clone(&rules);
        }
        self.strangers
            .store(rules.policy.spam.strangers.is_some(), Ordering::Release);
        let now = match at {
            Some(t) => t,
            None => self.time.now(),
        };
        let ticket = match at {
            Some(_) => 0,
            None => {
                let changed_policy = !Arc::ptr_eq(&rules.policy, &canonical.policy);
                self.log_op(now, || {
                    if changed_policy {
                        Op::SetPolicy(Box::new((*rules.policy).clone()), shadow)
                    } else {
                        Op::SetShadow(shadow)
                    }
                })
            }
        };
        *canonical = rules;
        drop(canonical);
        drop(guards);
        // A policy change returns no journal failure; `journal_error()` reports it.
        let _ = self.wait_logged(ticket);
    }
}
