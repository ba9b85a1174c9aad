//! The rules, apart from any state: the precedence of every rule over one send
//! (`precedence`), what a recipient's facts admit (`recipient`), the spam signals
//! (`spam`) and shadow mode (`shadow`); and [`Rules`], the policy in force with
//! what is derived from it, which every operation of the state machine reads.

pub(crate) mod precedence;
pub(crate) mod recipient;
pub(crate) mod shadow;
pub(crate) mod spam;
pub(crate) mod window;

use std::sync::Arc;

use crate::policy::Policy;
use crate::rules::shadow::Shadow;
use crate::rules::spam::Keywords;

/// Policy durations in milliseconds, computed once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spans {
    pub(crate) day: u64,
    pub(crate) week: u64,
    pub(crate) note: u64,
    pub(crate) idem: u64,
    pub(crate) ttl: u64,
    pub(crate) cooldown: u64,
}

impl Spans {
    pub(crate) fn new(policy: &Policy) -> Self {
        use crate::time::millis;
        Spans {
            day: millis(crate::policy::DAILY_WINDOW),
            week: millis(crate::policy::WEEKLY_WINDOW),
            note: millis(crate::policy::NOTE_WINDOW),
            idem: millis(crate::policy::IDEMPOTENCY_WINDOW),
            ttl: millis(policy.pending_ttl),
            cooldown: millis(policy.reinvite_cooldown),
        }
    }
}

/// The policy with what is derived from it, and the rules in shadow mode.
#[derive(Debug)]
pub(crate) struct Rules {
    pub(crate) policy: Arc<Policy>,
    pub(crate) spans: Spans,
    pub(crate) keywords: Keywords,
    pub(crate) shadow: Shadow,
    /// Whether these rules were set on the running engine (or by replaying such a
    /// change), rather than given to the builder.
    pub(crate) live: bool,
}

impl Rules {
    /// The rules of a policy that has been validated.
    pub(crate) fn new(policy: Arc<Policy>, shadow: Shadow, live: bool) -> Arc<Self> {
        Arc::new(Rules {
            spans: Spans::new(&policy),
            keywords: Keywords::new(&policy.spam.keywords),
            policy,
            shadow,
            live,
        })
    }
}
