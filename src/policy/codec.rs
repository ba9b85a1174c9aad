//! A policy's bytes, for journal records and the shared store: every field, in
//! declaration order, with [`crate::codec`].

use std::time::Duration;

use crate::codec::{DecodeError, Reader, Writer};
use crate::policy::{IgnoredRule, Policy, RateRule, SpamPolicy, TierLimits};

fn duration(w: &mut Writer, d: Duration) {
    w.u64(d.as_secs());
    w.u32(d.subsec_nanos());
}

fn read_duration(r: &mut Reader<'_>) -> Result<Duration, DecodeError> {
    let secs = r.u64()?;
    let nanos = r.u32()?;
    if nanos >= 1_000_000_000 {
        return r.fail("a duration's nanoseconds out of range");
    }
    Ok(Duration::new(secs, nanos))
}

fn opt_u32(w: &mut Writer, v: Option<u32>) {
    w.bool(v.is_some());
    w.u32(v.unwrap_or(0));
}

fn read_opt_u32(r: &mut Reader<'_>) -> Result<Option<u32>, DecodeError> {
    let some = r.bool()?;
    let v = r.u32()?;
    Ok(some.then_some(v))
}

/// Writes one tier's (or one member's) limits.
pub(crate) fn limits(w: &mut Writer, l: &TierLimits) {
    w.u32(l.daily);
    w.u32(l.weekly);
    opt_u32(w, l.notes_per_30d);
    w.u32(l.max_note_chars);
}

/// Reads what [`limits`] wrote.
pub(crate) fn read_limits(r: &mut Reader<'_>) -> Result<TierLimits, DecodeError> {
    Ok(TierLimits {
        daily: r.u32()?,
        weekly: r.u32()?,
        notes_per_30d: read_opt_u32(r)?,
        max_note_chars: r.u32()?,
    })
}

fn rate(w: &mut Writer, rule: Option<RateRule>) {
    w.bool(rule.is_some());
    if let Some(rule) = rule {
        w.u32(rule.max);
        duration(w, rule.per);
    }
}

fn read_rate(r: &mut Reader<'_>) -> Result<Option<RateRule>, DecodeError> {
    if !r.bool()? {
        return Ok(None);
    }
    let max = r.u32()?;
    Ok(Some(RateRule {
        max,
        per: read_duration(r)?,
    }))
}

/// Writes a whole policy.
pub(crate) fn policy(w: &mut Writer, p: &Policy) {
    limits(w, &p.free);
    limits(w, &p.premium);
    w.u32(p.max_pending_per_pair);
    duration(w, p.pending_ttl);
    duration(w, p.reinvite_cooldown);
    let s = &p.spam;
    for rule in [s.burst, s.strangers, s.template, s.reports] {
        rate(w, rule);
    }
    w.bool(s.ignored.is_some());
    if let Some(i) = s.ignored {
        w.u32(i.max_percent);
        w.u32(i.min_resolved);
        duration(w, i.per);
    }
    w.len(s.keywords.len());
    s.keywords.iter().for_each(|k| w.str(k));
    duration(w, s.cooldown);
    w.len(s.restriction_ladder.len());
    s.restriction_ladder.iter().for_each(|d| duration(w, *d));
    duration(w, s.strike_memory);
}

/// Reads what [`policy`] wrote (not validated: the caller validates).
pub(crate) fn read_policy(r: &mut Reader<'_>) -> Result<Policy, DecodeError> {
    let free = read_limits(r)?;
    let premium = read_limits(r)?;
    let max_pending_per_pair = r.u32()?;
    let pending_ttl = read_duration(r)?;
    let reinvite_cooldown = read_duration(r)?;
    let burst = read_rate(r)?;
    let strangers = read_rate(r)?;
    let template = read_rate(r)?;
    let reports = read_rate(r)?;
    let ignored = if r.bool()? {
        let max_percent = r.u32()?;
        let min_resolved = r.u32()?;
        Some(IgnoredRule {
            max_percent,
            min_resolved,
            per: read_duration(r)?,
        })
    } else {
        None
    };
    let n = r.len(8)?;
    let mut keywords = Vec::with_capacity(n);
    for _ in 0..n {
        keywords.push(r.str()?);
    }
    let cooldown = read_duration(r)?;
    let n = r.len(12)?;
    let mut restriction_ladder = Vec::with_capacity(n);
    for _ in 0..n {
        restriction_ladder.push(read_duration(r)?);
    }
    let strike_memory = read_duration(r)?;
    Ok(Policy {
        free,
        premium,
        max_pending_per_pair,
        pending_ttl,
        reinvite_cooldown,
        spam: SpamPolicy {
            burst,
            strangers,
            template,
            keywords,
            reports,
            ignored,
            cooldown,
            restriction_ladder,
            strike_memory,
        },
    })
}

/// A policy's bytes.
#[cfg(any(test, feature = "redis", feature = "server"))]
pub(crate) fn encode(p: &Policy) -> Vec<u8> {
    let mut w = Writer::default();
    policy(&mut w, p);
    w.into_bytes()
}

/// The policy in `bytes`, which must be used whole.
#[cfg(any(test, feature = "redis", feature = "server"))]
pub(crate) fn decode(bytes: &[u8]) -> Result<Policy, DecodeError> {
    let mut r = Reader::new(bytes, 0);
    let p = read_policy(&mut r)?;
    if !r.is_done() {
        return r.fail("unexpected bytes after the policy");
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips() {
        let mut p = Policy::default();
        p.free.notes_per_30d = None;
        p.premium.notes_per_30d = Some(0);
        p.pending_ttl = Duration::new(5, 7);
        p.spam.strangers = None;
        p.spam.keywords.push("ünïcode".into());
        assert_eq!(decode(&encode(&p)).unwrap(), p);
        let bytes = encode(&p);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
