//! Unit tests of the policy and its validation.

use super::*;

#[test]
fn default_policy_is_valid() {
    assert_eq!(Policy::default().validate(), Ok(()));
    let off = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    assert_eq!(off.validate(), Ok(()));
    assert!(!off.spam.is_enabled());
}

#[test]
fn policy_has_exactly_the_contracts_fields() {
    // Built field by field, with no `..`: a new field would break this on purpose.
    let policy = Policy {
        free: TierLimits {
            daily: 30,
            weekly: 300,
            notes_per_30d: Some(5),
            max_note_chars: 200,
        },
        premium: TierLimits::premium(),
        max_pending_per_pair: 3,
        pending_ttl: 180 * DAY,
        reinvite_cooldown: 21 * DAY,
        spam: SpamPolicy::default(),
    };
    assert_eq!(policy, Policy::default());
}

#[test]
fn impossible_policies_name_their_field() {
    type Breaker = fn(&mut Policy);
    let cases: Vec<(Breaker, &str)> = vec![
        (|p| p.free.daily = 0, "free.daily"),
        (|p| p.premium.weekly = 0, "premium.weekly"),
        (|p| p.free.daily = 301, "free.daily"),
        (|p| p.max_pending_per_pair = 0, "max_pending_per_pair"),
        (|p| p.pending_ttl = Duration::ZERO, "pending_ttl"),
        (|p| p.premium.max_note_chars = 0, "premium.max_note_chars"),
        (
            |p| {
                p.spam.burst = Some(RateRule {
                    max: 1,
                    per: Duration::ZERO,
                })
            },
            "spam.burst",
        ),
        (|p| p.spam.keywords.push("  ".into()), "spam.keywords"),
    ];
    for (break_it, field) in cases {
        let mut policy = Policy::default();
        break_it(&mut policy);
        let err = policy.validate().unwrap_err();
        assert_eq!(err.field(), field);
        assert!(err.to_string().contains(field), "{err}");
    }
}
