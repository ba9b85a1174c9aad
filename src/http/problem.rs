//! A denial as an RFC 9457 problem document.

use std::fmt::Write;

use crate::json::push_str;
use crate::outcome::{Denied, DenyReason};
use crate::time::Timestamp;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where a problem type is described: the reason's entry in the crate's docs.
const TYPE_BASE: &str =
    "https://docs.rs/invite-limiter/latest/invite_limiter/enum.DenyReason.html#variant.";

/// The reason's variant name (the anchor of its docs) and a short title that is the
/// same for every occurrence of the type, as RFC 9457 asks.
fn kind(reason: &DenyReason) -> (&'static str, &'static str) {
    match reason {
        DenyReason::Unavailable { .. } => ("Unavailable", "The limiter could not decide"),
        DenyReason::IdempotencyConflict { .. } => (
            "IdempotencyConflict",
            "Idempotency key already used for another recipient",
        ),
        DenyReason::SelfInvite => ("SelfInvite", "Cannot invite yourself"),
        DenyReason::SenderBanned => ("SenderBanned", "Sender is banned"),
        DenyReason::SenderRestricted { .. } => ("SenderRestricted", "Sender is restricted"),
        DenyReason::RecipientUnavailable => ("RecipientUnavailable", "Recipient unavailable"),
        DenyReason::AlreadyConnected => ("AlreadyConnected", "Already connected"),
        DenyReason::RecipientNotAccepting { .. } => (
            "RecipientNotAccepting",
            "Recipient does not accept this invitation",
        ),
        DenyReason::PairPendingLimit { .. } => (
            "PairPendingLimit",
            "Too many pending invitations to this recipient",
        ),
        DenyReason::ReinviteCooldown { .. } => ("ReinviteCooldown", "Re-invite cooldown"),
        DenyReason::DailyLimit { .. } => ("DailyLimit", "Daily invitation limit reached"),
        DenyReason::WeeklyLimit { .. } => ("WeeklyLimit", "Weekly invitation limit reached"),
        DenyReason::NoteQuota { .. } => ("NoteQuota", "Monthly note quota used up"),
        DenyReason::NoteTooLong { .. } => ("NoteTooLong", "Note too long"),
        DenyReason::SpamSuspected { .. } => ("SpamSuspected", "Activity looks like spam"),
    }
}

/// The denial as an `application/problem+json` document (RFC 9457):
///
/// ```json
/// {"type":"https://docs.rs/…/enum.DenyReason.html#variant.DailyLimit",
///  "title":"Daily invitation limit reached","status":429,
///  "detail":"30 of 30 invitations in the last 24 hours are used",
///  "code":"daily_limit","remedy":"pace your invitations …",
///  "retry_at":"2023-11-15T22:13:20.000Z"}
/// ```
///
/// `detail` is the reason's own sentence (for an idempotency conflict, without the
/// first recipient's id) and `code` its [`DenyReason::code`];
/// `retry_at` is `null` when only an action clears the denial, and at most
/// `9999-12-31T23:59:59.999Z` (the last instant RFC 3339 can write).
pub fn problem_json(denied: &Denied) -> String {
    let reason = denied.reason();
    let (variant, title) = kind(reason);
    let mut out = String::with_capacity(320);
    out.push_str("{\"type\":");
    push_str(&mut out, &format!("{TYPE_BASE}{variant}"));
    out.push_str(",\"title\":");
    push_str(&mut out, title);
    let _ = write!(out, ",\"status\":{}", super::status(reason).as_u16());
    out.push_str(",\"detail\":");
    match reason {
        // The reason's own sentence names the first recipient: a member id, which
        // the body never carries.
        DenyReason::IdempotencyConflict { .. } => push_str(
            &mut out,
            "the idempotency key was already used to invite another recipient",
        ),
        _ => push_str(&mut out, &reason.to_string()),
    }
    out.push_str(",\"code\":");
    push_str(&mut out, reason.code());
    out.push_str(",\"remedy\":");
    push_str(&mut out, reason.remedy());
    out.push_str(",\"retry_at\":");
    match denied.retry_at() {
        Some(at) => push_str(&mut out, &rfc3339(at)),
        None => out.push_str("null"),
    }
    out.push('}');
    out
}

/// The last instant RFC 3339 can write (its years have four digits).
const LAST_RFC3339_MS: u64 = 253_402_300_799_999;

/// `at` in RFC 3339; an instant past year 9999 (a restriction that never lifts) as
/// the last one it can write.
fn rfc3339(at: Timestamp) -> String {
    Timestamp::from_millis(at.as_millis().min(LAST_RFC3339_MS)).to_string()
}
