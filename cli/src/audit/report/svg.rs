//! The inline SVG bar charts of the report.

use super::*;

/// One bar group per bucket, stacked by partner, with axes and a legend.
pub(super) fn stacked_chart(
    out: &mut String,
    id: &str,
    step: Step,
    buckets: &[Date],
    by_partner: BTreeMap<String, Vec<u64>>,
) {
    if by_partner.is_empty() {
        out.push_str(NONE);
        return;
    }
    // Busiest partners first, ties by name; beyond the palette they share one colour.
    let mut series: Vec<(String, Vec<u64>)> = by_partner.into_iter().collect();
    series.sort_by_key(|(p, v)| (std::cmp::Reverse(v.iter().sum::<u64>()), p.clone()));
    let merged = series.len() > PALETTE.len();
    if merged {
        let rest = series.split_off(PALETTE.len() - 1);
        let mut sum = vec![0u64; buckets.len()];
        for (_, v) in &rest {
            sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
        series.push((format!("{} other partners", rest.len()), sum));
    }
    let colour = |i: usize| match PALETTE.get(i) {
        Some(c) if !(merged && i + 1 == PALETTE.len()) => *c,
        _ => OTHER_COLOUR,
    };
    let at = |v: &Vec<u64>, b: usize| v.get(b).copied().unwrap_or(0);
    let totals: Vec<u64> = (0..buckets.len())
        .map(|b| series.iter().map(|(_, v)| at(v, b)).sum())
        .collect();
    let (tick, top) = nice_axis(totals.iter().copied().max().unwrap_or(0));
    // Plot area: x from LEFT to LEFT + PW, y from TOP_Y (axis top) to BASE (zero).
    const W: f64 = 960.0;
    const LEFT: f64 = 56.0;
    const PW: f64 = W - LEFT - 8.0;
    const TOP_Y: f64 = 10.0;
    const BASE: f64 = 240.0;
    let slot = PW / buckets.len().max(1) as f64;
    let bar = (slot * 0.8).clamp(0.5, 60.0);
    let scale = (BASE - TOP_Y) / top as f64;
    w!(
        out,
        "<svg id=\"{id}\" viewBox=\"0 0 {W} 280\" width=\"{W}\" height=\"280\" role=\"img\">\n"
    );
    for y in (0..=top).step_by(usize::try_from(tick).unwrap_or(1).max(1)) {
        let (py, right, lx) = (BASE - y as f64 * scale, LEFT + PW, LEFT - 4.0);
        w!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{right}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#ddd\"/>"
        );
        w!(
            out,
            "<text x=\"{lx}\" y=\"{:.1}\" text-anchor=\"end\">{y}</text>\n",
            py + 4.0
        );
    }
    for (b, d) in buckets.iter().enumerate() {
        let parts: Vec<String> = series
            .iter()
            .filter(|(_, v)| at(v, b) > 0)
            .map(|(p, v)| format!("{}: {}", escape(p), at(v, b)))
            .collect();
        let total = at(&totals, b);
        let noun = if total == 1 { "query" } else { "queries" };
        let sep = if parts.is_empty() { "" } else { " — " };
        let (key, label, parts) = (fmt_date(*d), step.label(*d), parts.join(", "));
        w!(out, "<g class=\"bar\" data-bucket=\"{key}\"><title>{label}: {total} {noun}{sep}{parts}</title>");
        let (x, mut y) = (LEFT + b as f64 * slot + (slot - bar) / 2.0, BASE);
        for (i, (_, v)) in series.iter().enumerate().filter(|(_, (_, v))| at(v, b) > 0) {
            let h = at(v, b) as f64 * scale;
            y -= h;
            let c = colour(i);
            w!(out, "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{c}\"/>");
        }
        out.push_str("</g>\n");
    }
    // At most about 12 x labels, so they do not overlap.
    let every = buckets.len().div_ceil(12).max(1);
    for (b, d) in buckets.iter().enumerate().step_by(every) {
        let (x, y, label) = (LEFT + (b as f64 + 0.5) * slot, BASE + 14.0, step.tick(*d));
        w!(
            out,
            "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\">{label}</text>\n"
        );
    }
    let noun = match step {
        Step::Day => "day",
        Step::Week => "week (starting Monday)",
        Step::Month => "month",
        Step::Year => "year",
    };
    let (right, mid) = (LEFT + PW, LEFT + PW / 2.0);
    w!(
        out,
        "<path d=\"M{LEFT} {TOP_Y}V{BASE}H{right}\" fill=\"none\" stroke=\"#666\"/>\n"
    );
    w!(
        out,
        "<text x=\"{mid}\" y=\"274\" text-anchor=\"middle\">{noun} (local time)</text>\n"
    );
    w!(out, "<text x=\"14\" y=\"125\" text-anchor=\"middle\" transform=\"rotate(-90 14 125)\">queries</text>\n</svg>\n");
    out.push_str("<p class=\"legend\">");
    for (i, (p, v)) in series.iter().enumerate() {
        let (c, name, n) = (colour(i), escape(p), v.iter().sum::<u64>());
        w!(out, "<span><svg width=\"12\" height=\"12\"><rect width=\"12\" height=\"12\" fill=\"{c}\"/></svg> {name} ({n})</span>");
    }
    out.push_str("</p>\n");
}

/// A tick step of 1, 2 or 5 × 10ⁿ giving about five ticks, and the axis top (a multiple).
pub(super) fn nice_axis(max: u64) -> (u64, u64) {
    let raw = max.div_ceil(5).max(1);
    let mut mag = 1u64;
    while mag.saturating_mul(10) <= raw {
        mag = mag.saturating_mul(10);
    }
    let tick = [1, 2, 5, 10]
        .iter()
        .map(|m| mag.saturating_mul(*m))
        .find(|t| *t >= raw)
        .unwrap_or(raw);
    (tick, max.div_ceil(tick).max(1).saturating_mul(tick))
}
