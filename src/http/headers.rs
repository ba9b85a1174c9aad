//! `Retry-After`, and the rate-limit fields of draft-ietf-httpapi-ratelimit-headers-11.

use std::fmt::Write;
use std::time::Duration;

use ::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::outcome::Denied;
use crate::policy::{DAILY_WINDOW, NOTE_WINDOW, WEEKLY_WINDOW};
use crate::report::Capacity;
use crate::time::Timestamp;

/// `RateLimit-Policy`: the quota policies that apply to the member.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`: what is left of each policy now.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Whole seconds from `now` until the denial's `retry_at`, rounded up (0 when it is
/// already past); `None` when the denial has no `retry_at`.
pub fn retry_after_secs(denied: &Denied, now: Timestamp) -> Option<u64> {
    denied
        .retry_at()
        .map(|at| ceil_secs(at.saturating_since(now)))
}

fn ceil_secs(d: Duration) -> u64 {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ms.div_ceil(1000)
}

/// One quota policy: its name, quota, window, what is left, and when a unit returns.
struct Item {
    name: &'static str,
    quota: u32,
    window: Duration,
    remaining: u32,
    reset: Option<Timestamp>,
}

fn items(cap: &Capacity) -> impl Iterator<Item = Item> {
    let window = |name, w: &crate::report::WindowCapacity, window| Item {
        name,
        quota: w.limit,
        window,
        remaining: w.limit.saturating_sub(w.used),
        // A full window reopens when a send fits again; otherwise the oldest counted
        // send is the next unit to come back.
        reset: w.available_at.or(w.next_slot_at),
    };
    let notes = cap.notes.limit.map(|limit| Item {
        name: "notes",
        quota: limit,
        window: NOTE_WINDOW,
        remaining: limit.saturating_sub(cap.notes.used),
        reset: cap.notes.next_slot_at,
    });
    [
        Some(window("daily", &cap.daily, DAILY_WINDOW)),
        Some(window("weekly", &cap.weekly, WEEKLY_WINDOW)),
        notes,
    ]
    .into_iter()
    .flatten()
}

/// Sets `RateLimit-Policy` and `RateLimit` from the member's capacity as of `now`:
///
/// ```text
/// RateLimit-Policy: "daily";q=30;w=86400, "weekly";q=300;w=604800, "notes";q=5;w=2592000
/// RateLimit: "daily";r=12;t=3600, "weekly";r=282;t=3600, "notes";r=5
/// ```
///
/// `q` is the quota and `w` the window in seconds; `r` is what remains now and `t`
/// the seconds (rounded up) until a unit returns, left out when none is counted. The
/// note quota is listed only when the tier has one.
pub fn rate_limit_headers(cap: &Capacity, now: Timestamp, headers: &mut HeaderMap) {
    let mut policy = String::with_capacity(96);
    let mut left = String::with_capacity(80);
    for (i, item) in items(cap).enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        // Writing to a String cannot fail.
        let _ = write!(
            policy,
            "{sep}\"{}\";q={};w={}",
            item.name,
            item.quota,
            item.window.as_secs()
        );
        let _ = write!(left, "{sep}\"{}\";r={}", item.name, item.remaining);
        if let Some(at) = item.reset {
            let _ = write!(left, ";t={}", ceil_secs(at.saturating_since(now)));
        }
    }
    // Only names, digits and separators: always a valid header value.
    if let Ok(v) = HeaderValue::from_str(&policy) {
        headers.insert(RATELIMIT_POLICY, v);
    }
    if let Ok(v) = HeaderValue::from_str(&left) {
        headers.insert(RATELIMIT, v);
    }
}
