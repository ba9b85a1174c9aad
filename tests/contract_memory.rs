//! The shared behaviour suite against the in-memory engine, with the suite's small
//! member caps.

mod contract;

use invite_limiter::{Engine, ManualClock, Policy};

async fn make(policy: Policy, clock: ManualClock, _name: &str) -> Option<Engine> {
    Some(
        Engine::builder()
            .policy(policy)
            .clock(clock)
            .limits(contract::limits())
            .build()
            .expect("valid policy"),
    )
}

contract_tests!(make);
