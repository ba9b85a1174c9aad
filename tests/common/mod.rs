//! Helpers shared by the integration tests.

use invite_limiter::{Engine, ManualClock, Policy, SpamPolicy, Timestamp};

/// The instant every test clock starts at.
pub(crate) const T0: u64 = 1_700_000_000_000;

/// An engine on a manual clock reading [`T0`].
pub(crate) fn engine_with(policy: Policy) -> (Engine, ManualClock) {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let engine = Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .build()
        .expect("valid policy");
    (engine, clock)
}

/// The default policy with every spam signal off.
#[allow(dead_code)] // not every test crate judges without spam signals
pub(crate) fn quiet_policy() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}
