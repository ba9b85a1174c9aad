//! Reading the Redis module's replies: words, numbers, instants, and the denials
//! and invitation errors they spell (as `codes::words` writes them).

use std::time::Duration;

use redis::Value;

use super::conn::Failure;
use crate::codes;
use crate::ids::InviteId;
use crate::outage::Outage;
use crate::outcome::InviteError;
use crate::time::Timestamp;

pub(super) fn bad() -> Failure {
    Failure {
        cause: Outage::BadData,
        wait: Duration::ZERO,
    }
}

/// The words of an array reply.
pub(super) fn items(v: &Value) -> Result<&[Value], Failure> {
    match v {
        Value::Array(items) => Ok(items),
        _ => Err(bad()),
    }
}

pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

pub(super) fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

pub(super) fn instant(v: &Value) -> Result<Option<Timestamp>, Failure> {
    match v {
        Value::Nil => Ok(None),
        other => number(other)
            .map(|t| Some(Timestamp::from_millis(t)))
            .ok_or_else(bad),
    }
}

/// A reason from its code and numbers, as `codes::words` writes them.
pub(super) fn reason(code: &Value, details: &[Value]) -> Result<crate::DenyReason, Failure> {
    let code = text(code).ok_or_else(bad)?;
    let details: Vec<u64> = details
        .iter()
        .map(number)
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    codes::words::reason_from_words(&code, &details).ok_or_else(bad)
}

/// The error an ended-invitation answer (`unknown`, `ended`, `expired at`, …) says.
pub(super) fn invite_error(id: InviteId, words: &[Value]) -> Result<InviteError, Failure> {
    let kind = words.first().and_then(text).ok_or_else(bad)?;
    Ok(match kind.as_str() {
        "unknown" => InviteError::Unknown(id),
        "ended" => InviteError::AlreadyEnded(id),
        "expired" => InviteError::Expired {
            id,
            at: words
                .get(1)
                .map(instant)
                .transpose()?
                .flatten()
                .ok_or_else(bad)?,
        },
        "too_soon" => InviteError::ReminderNotAllowed {
            id,
            next_at: words.get(1).map(instant).transpose()?.flatten(),
        },
        _ => return Err(bad()),
    })
}
