//! The report as text for a terminal.

use std::fmt::Write;

use crate::report::{Latency, Report};

/// A latency in the unit that reads best.
pub fn ns(v: u64) -> String {
    match v {
        0..=999 => format!("{v} ns"),
        1_000..=9_999 => format!("{:.2} µs", v as f64 / 1e3),
        10_000..=999_999 => format!("{:.1} µs", v as f64 / 1e3),
        _ => format!("{:.2} ms", v as f64 / 1e6),
    }
}

/// A count with thousands separators.
pub fn count(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(v: Option<u64>) -> String {
    v.map_or_else(
        || "n/a".into(),
        |b| format!("{:.1} MiB", b as f64 / 1048576.0),
    )
}

fn row(out: &mut String, name: &str, n: u64, rate: f64, l: &Latency) {
    let _ = writeln!(
        out,
        "  {name:<10} {:>12} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        count(n),
        count(rate.round() as u64),
        ns(l.p50_ns),
        ns(l.p90_ns),
        ns(l.p99_ns),
        ns(l.p999_ns),
        ns(l.max_ns),
    );
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let c = &r.config;
    let _ = writeln!(
        out,
        "invite-loadtest {} on {}: {} members ({:.0}% Premium), sender Zipf {}, {} {}, seed {}",
        r.version,
        c.backend,
        count(c.members),
        c.premium_share * 100.0,
        c.zipf,
        c.threads,
        if c.connections.is_some() {
            "tasks"
        } else {
            "threads"
        },
        c.seed
    );
    if let (Some(n), Some(prefix)) = (c.connections, &c.redis_prefix) {
        let _ = writeln!(out, "redis: {n} connection(s), key prefix `{prefix}`");
    }
    let catchup = match &r.setup.catchup_sweep {
        Some(s) => format!(
            "catch-up sweep {:.0} ms, {} expired, member records {} -> {}",
            s.millis,
            count(s.expired as u64),
            count(s.member_records_before as u64),
            count(s.member_records_after as u64),
        ),
        None => "no catch-up sweep".into(),
    };
    let _ = writeln!(
        out,
        "setup: {:.1} s — {} pending invitations (ages spanning the TTL), {} recent sends; {catchup}",
        r.setup.seconds,
        count(r.setup.pending_invitations),
        count(r.setup.in_window_sends),
    );
    let _ = writeln!(
        out,
        "run: {:.2} s wall = {:.1} h simulated (x{}), {} engine calls = {} calls/s, spam signals {}",
        r.run.wall_seconds,
        r.run.simulated_hours,
        c.time_factor,
        count(r.run.calls),
        count(r.run.throughput_per_sec.round() as u64),
        if c.spam_signals { "on" } else { "off" },
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<10} {:>12} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "operation", "count", "ops/s", "p50", "p90", "p99", "p99.9", "max"
    );
    for op in &r.operations {
        row(&mut out, op.op, op.count, op.ops_per_sec, &op.latency);
    }
    let secs = r.run.wall_seconds.max(1e-9);
    row(
        &mut out,
        "all sends",
        r.sends.count,
        r.sends.count as f64 / secs,
        &r.sends,
    );
    row(
        &mut out,
        "all",
        r.all.count,
        r.all.count as f64 / secs,
        &r.all,
    );

    let total: u64 = r.decisions.values().sum();
    let mut decisions: Vec<(&&str, &u64)> = r.decisions.iter().collect();
    decisions.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "\ndecisions of {} sends:", count(total));
    for (name, n) in decisions {
        let share = *n as f64 * 100.0 / total.max(1) as f64;
        let _ = writeln!(out, "  {name:<22} {:>12} {share:>6.2}%", count(*n));
    }
    let lifecycle: Vec<String> = r
        .operations
        .iter()
        .filter(|o| matches!(o.op, "accept" | "decline" | "withdraw" | "report"))
        .map(|o| {
            let parts: Vec<String> = o
                .outcomes
                .iter()
                .map(|(k, v)| format!("{k} {}", count(*v)))
                .collect();
            format!("{}: {}", o.op, parts.join(", "))
        })
        .collect();
    if !lifecycle.is_empty() {
        let _ = writeln!(out, "answers: {}", lifecycle.join("; "));
    }

    if let Some(m) = &r.memory {
        let _ = writeln!(
            out,
            "\nmemory (RSS from /proc/self/statm, page {} B): start {}, engine built {}, \
             +members {}, +pending {}, +recent {}, end {}",
            m.phases.page_size,
            bytes(m.phases.rss_start),
            bytes(m.phases.rss_engine_built),
            bytes(m.phases.rss_after_members),
            bytes(m.phases.rss_after_pending),
            bytes(m.phases.rss_after_recent),
            bytes(m.rss_end),
        );
        let _ = writeln!(
            out,
            "  {:.1} B per idle member record ({} records), {:.1} B per pending invitation, \
             {:.1} B per in-window send (answered); {} member records at the end",
            m.phases.bytes_per_member,
            count(m.phases.member_records),
            m.phases.bytes_per_pending_invitation,
            m.phases.bytes_per_in_window_send,
            count(m.member_records_end as u64),
        );
    }
    if let Some(s) = &r.sweeper {
        let _ = writeln!(
            out,
            "sweeper: every {} ms, {} passes, {} invitations expired during the run",
            s.interval_ms,
            count(s.passes),
            count(s.expired),
        );
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if let Some(b) = &r.baseline {
        let _ = writeln!(
            out,
            "\nbaseline {} on the same stream: {} calls in {:.2} s = {} calls/s, {} allowed, {} denied",
            b.name,
            count(b.calls),
            b.wall_seconds,
            count(b.throughput_per_sec.round() as u64),
            count(b.allowed),
            count(b.denied),
        );
        let _ = writeln!(
            out,
            "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "p50", "p90", "p99", "p99.9", "max"
        );
        for (name, l) in [("governor", &b.latency), ("ours: send", &b.ours)] {
            let _ = writeln!(
                out,
                "  {name:<10} {:>9} {:>9} {:>9} {:>9} {:>9}",
                ns(l.p50_ns),
                ns(l.p90_ns),
                ns(l.p99_ns),
                ns(l.p999_ns),
                ns(l.max_ns)
            );
        }
        let _ = writeln!(out, "  p99 ours / governor = {:.2}", b.p99_ratio);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(100), "100");
        assert_eq!(ns(950), "950 ns");
        assert_eq!(ns(1_234), "1.23 µs");
        assert_eq!(ns(12_345), "12.3 µs");
        assert_eq!(ns(12_345_678), "12.35 ms");
    }
}
