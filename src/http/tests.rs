use ::http::header::{CONTENT_TYPE, RETRY_AFTER};
use ::http::{HeaderMap, Response, StatusCode};

use super::*;
use crate::account::{AccountStatus, Tier};
use crate::codes::fixtures::every_reason;
use crate::outage::Outage;
use crate::report::{NoteCapacity, WindowCapacity};

const NOW: u64 = 1_700_000_000_000;

fn at(ms_after_now: u64) -> Timestamp {
    Timestamp::from_millis(NOW + ms_after_now)
}

fn denied(reason: DenyReason, retry_at: Option<Timestamp>) -> Denied {
    Denied { reason, retry_at }
}

fn expected_status(reason: &DenyReason) -> u16 {
    match reason.code() {
        "unavailable" => 503,
        "idempotency_conflict" | "self_invite" | "already_connected" => 409,
        "sender_banned"
        | "sender_restricted"
        | "recipient_unavailable"
        | "recipient_not_accepting" => 403,
        "note_too_long" => 422,
        "pair_pending_limit" | "reinvite_cooldown" | "daily_limit" | "weekly_limit"
        | "note_quota" | "spam_suspected" => 429,
        other => panic!("no expected status for {other}"),
    }
}

#[test]
fn every_reason_maps_to_its_status_headers_and_body() {
    for reason in every_reason() {
        let retry_at = (!reason.needs_action()).then(|| at(1_500));
        let d = denied(reason, retry_at);
        let resp: Response<String> = denied_response(&d, None, Timestamp::from_millis(NOW));
        let code = reason.code();
        assert_eq!(resp.status().as_u16(), expected_status(&reason), "{code}");
        assert_eq!(resp.headers()[CONTENT_TYPE], PROBLEM_JSON, "{code}");
        match retry_at {
            Some(_) => assert_eq!(resp.headers()[RETRY_AFTER], "2", "{code}"),
            None => assert!(resp.headers().get(RETRY_AFTER).is_none(), "{code}"),
        }
        let body: serde_json::Value = serde_json::from_str(resp.body()).expect("valid JSON");
        assert_eq!(body["status"], expected_status(&reason), "{code}");
        assert_eq!(body["code"], code);
        assert_eq!(body["remedy"], reason.remedy());
        if !matches!(reason, DenyReason::IdempotencyConflict { .. }) {
            assert_eq!(body["detail"], reason.to_string());
        }
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{code}"
        );
        assert!(
            body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("https://")),
            "{code}"
        );
        match retry_at {
            Some(t) => assert_eq!(body["retry_at"], t.to_string()),
            None => assert!(body["retry_at"].is_null(), "{code}"),
        }
        let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys.len(),
            7,
            "{code}: only the documented members: {keys:?}"
        );
    }
}

#[test]
fn the_body_names_no_recipient() {
    // The recipient's id and setting stay out of the structured members; only the
    // reason's own sentence is there.
    let d = denied(DenyReason::RecipientUnavailable, None);
    let body = problem_json(&d);
    assert!(!body.contains("banned"), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["detail"], "the recipient is unavailable");
}

#[test]
fn an_idempotency_conflict_names_no_member() {
    let d = denied(
        DenyReason::IdempotencyConflict {
            key: 77,
            first_recipient: crate::MemberId(424_242),
        },
        None,
    );
    let body = problem_json(&d);
    assert!(!body.contains("424242"), "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["detail"],
        "the idempotency key was already used to invite another recipient"
    );
}

#[test]
fn a_retry_past_year_9999_is_still_rfc_3339() {
    let far = Timestamp::from_millis(i64::MAX as u64);
    let d = denied(DenyReason::SenderRestricted { until: Some(far) }, Some(far));
    let v: serde_json::Value = serde_json::from_str(&problem_json(&d)).unwrap();
    assert_eq!(v["retry_at"], "9999-12-31T23:59:59.999Z");
    let last = Timestamp::from_millis(253_402_300_799_999);
    let d = denied(
        DenyReason::SenderRestricted { until: Some(last) },
        Some(last),
    );
    let v: serde_json::Value = serde_json::from_str(&problem_json(&d)).unwrap();
    assert_eq!(v["retry_at"], "9999-12-31T23:59:59.999Z");
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    let now = Timestamp::from_millis(NOW);
    let secs = |ms| retry_after_secs(&denied(DenyReason::SelfInvite, Some(at(ms))), now);
    assert_eq!(secs(0), Some(0));
    assert_eq!(secs(1), Some(1));
    assert_eq!(secs(1_000), Some(1));
    assert_eq!(secs(1_001), Some(2));
    assert_eq!(secs(86_400_000), Some(86_400));
    // An instant already past asks for no wait, not a negative one.
    let past = denied(
        DenyReason::SelfInvite,
        Some(Timestamp::from_millis(NOW - 5)),
    );
    assert_eq!(retry_after_secs(&past, now), Some(0));
    assert_eq!(
        retry_after_secs(&denied(DenyReason::SelfInvite, None), now),
        None
    );
}

#[test]
fn unavailable_with_a_retry_instant_is_503_with_retry_after() {
    let d = denied(
        DenyReason::Unavailable {
            cause: Outage::Connection,
        },
        Some(at(250)),
    );
    let resp: Response<String> = denied_response(&d, None, Timestamp::from_millis(NOW));
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[RETRY_AFTER], "1");
}

fn capacity(notes: Option<u32>) -> Capacity {
    Capacity {
        daily: WindowCapacity {
            used: 18,
            limit: 30,
            next_slot_at: Some(at(3_599_001)),
            available_at: None,
        },
        weekly: WindowCapacity {
            used: 0,
            limit: 300,
            next_slot_at: None,
            available_at: None,
        },
        notes: NoteCapacity {
            used: 5,
            limit: notes,
            next_slot_at: Some(at(10_000)),
        },
        pending_sent: 0,
        tier: Tier::Free,
        status: AccountStatus::Active,
    }
}

#[test]
fn rate_limit_headers_follow_the_draft_syntax() {
    let mut h = HeaderMap::new();
    rate_limit_headers(&capacity(Some(5)), Timestamp::from_millis(NOW), &mut h);
    assert_eq!(
        h[RATELIMIT_POLICY],
        "\"daily\";q=30;w=86400, \"weekly\";q=300;w=604800, \"notes\";q=5;w=2592000"
    );
    assert_eq!(
        h[RATELIMIT],
        "\"daily\";r=12;t=3600, \"weekly\";r=300, \"notes\";r=0;t=10"
    );

    // Unlimited notes: no note policy.
    let mut h = HeaderMap::new();
    rate_limit_headers(&capacity(None), Timestamp::from_millis(NOW), &mut h);
    assert_eq!(
        h[RATELIMIT_POLICY],
        "\"daily\";q=30;w=86400, \"weekly\";q=300;w=604800"
    );
}

#[test]
fn a_full_window_resets_when_a_send_fits_again() {
    let mut cap = capacity(None);
    cap.daily = WindowCapacity {
        used: 30,
        limit: 30,
        next_slot_at: Some(at(1_000)),
        available_at: Some(at(7_200_000)),
    };
    let mut h = HeaderMap::new();
    rate_limit_headers(&cap, Timestamp::from_millis(NOW), &mut h);
    assert_eq!(h[RATELIMIT], "\"daily\";r=0;t=7200, \"weekly\";r=300");
}

#[test]
fn a_denied_response_carries_the_rate_limit_headers() {
    let d = denied(
        DenyReason::DailyLimit {
            used: 30,
            limit: 30,
        },
        Some(at(3_600_000)),
    );
    let resp: Response<String> =
        denied_response(&d, Some(&capacity(None)), Timestamp::from_millis(NOW));
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()[RETRY_AFTER], "3600");
    assert!(resp.headers().contains_key(RATELIMIT_POLICY));
    assert!(resp.headers().contains_key(RATELIMIT));
}
