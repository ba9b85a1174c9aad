//! Policies loaded from configuration files (the `serde` feature).
#![cfg(feature = "serde")]

use invite_limiter::{Engine, Policy, SpamPolicy};

#[test]
fn a_partial_config_fills_the_rest_with_defaults() {
    let policy: Policy =
        serde_json::from_str(r#"{ "max_pending_per_pair": 5, "spam": { "burst": null } }"#)
            .expect("a partial policy parses");
    assert_eq!(policy.max_pending_per_pair, 5);
    assert_eq!(policy.spam.burst, None);
    assert_eq!(policy.spam.template, SpamPolicy::default().template);
    assert_eq!(policy.free, Policy::default().free);
    assert!(Engine::builder().policy(policy).build().is_ok());
}

#[test]
fn a_full_policy_round_trips_and_a_bad_one_is_refused_by_the_builder() {
    let json = serde_json::to_string(&Policy::default()).expect("serialises");
    let back: Policy = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, Policy::default());
    let mut zero: Policy = serde_json::from_str(&json).expect("parses");
    zero.free.daily = 0;
    let err = Engine::builder().policy(zero).build().unwrap_err();
    assert_eq!(err.field(), "free.daily");
}
