//! Throughput and p99 latency over time, as a hand-written SVG (no plotting crate).

use std::fmt::Write;

use crate::report::TimelinePoint;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const PANEL_H: f64 = 220.0;
const TOP: f64 = 60.0;
const GAP: f64 = 70.0;

/// A round step that cuts `0..max` into at most about five parts.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Panel<'a> {
    top: f64,
    label: &'a str,
    color: &'a str,
    values: Vec<(f64, f64)>,
}

fn draw(out: &mut String, p: &Panel<'_>, t_max: f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let y_top = p.values.iter().map(|v| v.1).fold(0.0, f64::max);
    let y_step = nice_step(y_top);
    let y_max = ((y_top / y_step).ceil() * y_step).max(y_step);
    let x_step = nice_step(t_max);
    let x = |t: f64| LEFT + t / t_max * plot_w;
    let y = |v: f64| p.top + PANEL_H - v / y_max * PANEL_H;
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{}" width="{plot_w}" height="{PANEL_H}" fill="#fbfbfb" stroke="#999"/>"##,
        p.top
    );
    let mut v = 0.0;
    while v <= y_max + y_step / 2.0 {
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0,
            short(v)
        );
        v += y_step;
    }
    let mut t = 0.0;
    while t <= t_max + x_step / 2.0 {
        let xx = x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text>"##,
            p.top + PANEL_H,
            p.top + PANEL_H + 5.0,
            p.top + PANEL_H + 19.0,
            trim(t)
        );
        t += x_step;
    }
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="{:.1}" font-size="14" font-weight="bold">{}</text>"##,
        p.top - 8.0,
        escape(p.label)
    );
    let points: Vec<String> = p
        .values
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
        .collect();
    let _ = writeln!(
        out,
        r##"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"##,
        p.color,
        points.join(" ")
    );
}

/// The SVG document for a run's timeline.
pub fn svg(timeline: &[TimelinePoint], title: &str) -> String {
    let height = TOP + 2.0 * PANEL_H + GAP + 65.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">"##
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="{}" y="26" text-anchor="middle" font-size="16">{}</text>"##,
        WIDTH / 2.0,
        escape(title)
    );
    let t_max = timeline.iter().map(|p| p.t_s).fold(0.0, f64::max).max(1e-3);
    let panels = [
        Panel {
            top: TOP + 10.0,
            label: "throughput (engine calls per second)",
            color: "#1f77b4",
            values: timeline.iter().map(|p| (p.t_s, p.ops_per_sec)).collect(),
        },
        Panel {
            top: TOP + 10.0 + PANEL_H + GAP,
            label: "p99 latency (µs)",
            color: "#d62728",
            values: timeline
                .iter()
                .map(|p| (p.t_s, p.p99_ns as f64 / 1e3))
                .collect(),
        },
    ];
    for p in &panels {
        draw(&mut out, p, t_max);
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{:.1}" text-anchor="middle" font-size="12">seconds since the start of the run</text>"##,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        height - 10.0
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_panels_and_survives_no_points() {
        let points: Vec<TimelinePoint> = (1..=4)
            .map(|i| TimelinePoint {
                t_s: i as f64 * 0.25,
                ops_per_sec: 1e6 + i as f64,
                p99_ns: 2_000 * i,
            })
            .collect();
        let svg = svg(&points, "a <title>");
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a &lt;title&gt;"));
        assert!(svg.trim_end().ends_with("</svg>"));
        let empty = super::svg(&[], "empty");
        assert!(empty.contains("</svg>"));
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(10.0), 2.0);
    }
}
