//! Tests of the HTML report.

use super::*;
use cordon_protocol::audit::entry::Actor;

const NODE: &str = "th.rtp";
const INV: [&str; 3] = ["alice", "bob", "carol"];
const PARTNERS: [&str; 3] = ["jp.npa", "au.afp", "sg.spf"];
const DAY: u64 = 86_400;
const H: u64 = 3_600;

/// Monday 2025-11-17 00:00 UTC.
fn monday() -> u64 {
    let t = time::macros::datetime!(2025-11-17 0:00 UTC);
    assert_eq!(t.weekday(), Weekday::Monday);
    t.unix_timestamp() as u64
}

fn person(name: &str) -> Actor {
    Actor {
        name: name.into(),
        role: "investigator".into(),
        fingerprint: "ab".into(),
    }
}

/// Expected per-investigator row, kept while generating (independent of the renderer).
#[derive(Default, Debug)]
struct Want {
    queries: u64,
    exchanges: u64,
    partners: BTreeSet<String>,
    items: u64,
    hits: u64,
    cases: BTreeSet<String>,
}

struct Log {
    v: Vec<Entry>,
    want: BTreeMap<String, Want>,
    odd: BTreeSet<usize>,
    q: u64,
}

impl Log {
    /// One query by `inv` to the first `n` partners; `odd` says whether it is at an odd hour.
    #[allow(clippy::too_many_arguments)]
    fn query(
        &mut self,
        t: u64,
        inv: &str,
        case: &str,
        purpose: &str,
        n: usize,
        items: u64,
        odd: bool,
    ) {
        let q = self.q;
        self.q += 1;
        let w = self.want.entry(inv.into()).or_default();
        w.queries += 1;
        w.items += items;
        w.cases.insert(case.into());
        for (pi, p) in PARTNERS.iter().take(n).enumerate() {
            let mut e = Entry::new(t, EntryKind::QuerySent, NODE, person(inv));
            e.partner = Some(p.to_string());
            e.query_id = Some(format!("q{q}"));
            e.exchange_id = Some(format!("q{q}-{pi}"));
            e.items = Some(items);
            e.case_ref = Some(case.into());
            e.purpose = Some(purpose.into());
            if odd {
                self.odd.insert(self.v.len());
            }
            self.v.push(e.clone());
            w.exchanges += 1;
            w.partners.insert(p.to_string());
            e.time += 2;
            e.purpose = None;
            if pi == 2 && q.is_multiple_of(3) {
                e.kind = EntryKind::QueryFailed;
                e.reason = Some("refused: the policy does not share this collection".into());
            } else {
                // The completed entry's actor is the node: hits must follow the exchange.
                e.kind = EntryKind::QueryCompleted;
                e.actor = Actor::node(NODE);
                e.hits = Some((q + pi as u64) % 3);
                w.hits += (q + pi as u64) % 3;
            }
            self.v.push(e);
        }
    }
}

fn synthetic() -> Log {
    let base = monday();
    let mut log = Log {
        v: vec![],
        want: BTreeMap::new(),
        odd: BTreeSet::new(),
        q: 0,
    };
    log.v.push(Entry::new(
        base + 8 * H,
        EntryKind::NodeStarted,
        NODE,
        Actor::node(NODE),
    ));
    for day in 0..7u64 {
        if day == 2 {
            continue; // Wednesday: nothing sent, the chart must still show the day.
        }
        for slot in 0..4u64 {
            let inv = INV[((day + slot) % 3) as usize];
            let t = base + day * DAY + (9 + 2 * slot) * H;
            let case = format!("CASE-{}", (day * 4 + slot) % 5);
            let n = if slot % 2 == 0 { 3 } else { 2 };
            log.query(t, inv, &case, "robbery series", n, 10 + slot, day >= 5);
        }
    }
    // Tuesday 23:30 and Thursday 05:59 are odd; Friday 06:00 and Monday 21:59 are not.
    log.query(
        base + DAY + 23 * H + 30 * 60,
        "alice",
        "CASE-9",
        "night work",
        1,
        7,
        true,
    );
    log.query(
        base + 3 * DAY + 5 * H + 59 * 60,
        "bob",
        "CASE-9",
        "night work",
        2,
        3,
        true,
    );
    log.query(
        base + 4 * DAY + 6 * H,
        "carol",
        "CASE-1",
        "morning",
        1,
        5,
        false,
    );
    log.query(
        base + 21 * H + 59 * 60,
        "carol",
        "CASE-1",
        "evening",
        1,
        5,
        false,
    );
    log.query(
        base + 4 * DAY + 10 * H,
        "dave <b>",
        "<script>x</script>",
        "<script>alert(1)</script>",
        1,
        1,
        false,
    );
    // Holder side: partners' queries answered every day, one refused over budget.
    for day in 0..7u64 {
        for (pi, p) in PARTNERS.iter().enumerate() {
            for k in 0..((day as usize + pi) % 3 + 1) {
                let t = base + day * DAY + 12 * H + k as u64 * 60;
                let mut e = Entry::new(
                    t,
                    EntryKind::QueryAnswered,
                    NODE,
                    Actor {
                        name: p.to_string(),
                        role: "partner".into(),
                        fingerprint: String::new(),
                    },
                );
                e.partner = Some(p.to_string());
                e.items = Some(20);
                log.v.push(e);
            }
        }
    }
    let mut e = Entry::new(
        base + 4 * DAY + 14 * H,
        EntryKind::QueryRefused,
        NODE,
        Actor {
            name: "au.afp".into(),
            role: "partner".into(),
            fingerprint: String::new(),
        },
    );
    e.partner = Some("au.afp".into());
    e.collection = Some("phones".into());
    e.reason = Some("budget_exceeded: daily budget of 1000 items used".into());
    log.v.push(e);
    let mut e = Entry::new(
        base + 3 * DAY + 8 * H,
        EntryKind::ImportRefused,
        NODE,
        person("olga"),
    );
    e.collection = Some("phones".into());
    e.reason = Some("invalid_rows: 3 rows are not phone numbers".into());
    log.v.push(e);
    let mut e = Entry::new(
        base + 5 * DAY + 2 * H,
        EntryKind::PartnerInconsistent,
        NODE,
        Actor::node(NODE),
    );
    e.partner = Some("sg.spf".into());
    e.detail = Some("checkpoint 812 does not extend checkpoint 790".into());
    log.v.push(e);
    log
}

fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

fn svg<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    &html[start..start + html[start..].find("</svg>").unwrap()]
}

fn opts() -> ReportOptions {
    ReportOptions {
        generated_at: monday() + 30 * DAY,
        verified: "root verified against 2 cosigners".into(),
        ..Default::default()
    }
}

#[test]
fn escape_known_answers() {
    assert_eq!(
        escape("<script>a&b</script>"),
        "&lt;script&gt;a&amp;b&lt;/script&gt;"
    );
    assert_eq!(escape("\"x\" 'y'"), "&quot;x&quot; &#39;y&#39;");
    assert_eq!(escape("é\u{0}\n"), "é\u{FFFD}\n");
    assert_eq!(short("abcdef", 4), "abc…");
    assert_eq!(short("<<<<<", 5), "&lt;&lt;&lt;&lt;&lt;");
}

#[test]
fn synthetic_log_renders_the_right_numbers() {
    let log = synthetic();
    assert!((150..=260).contains(&log.v.len()), "{}", log.v.len());
    let html = render_html(NODE, &log.v, &opts());
    assert_eq!(html, render_html(NODE, &log.v, &opts()), "deterministic");
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("http://") && !lower.contains("https://") && !lower.contains("<script")
    );
    assert!(
        html.contains("&lt;script&gt;x&lt;/script&gt;"),
        "case escaped"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "purpose escaped"
    );
    assert!(html.contains("dave &lt;b&gt;"));
    // Header.
    assert!(html.contains("root verified against 2 cosigners"));
    assert!(html.contains("2025-11-17T08:00:00Z to "));
    assert!(html.contains("<tr><td>partner_inconsistent</td><td class=\"n\">1</td></tr>"));
    // Alerts come first, before the activity charts.
    let alerts = section(&html, "alerts");
    assert!(alerts.contains("checkpoint 812 does not extend checkpoint 790"));
    assert!(html.find("id=\"alerts\"").unwrap() < html.find("id=\"activity\"").unwrap());
    // Per investigator: every column, from the generator's own bookkeeping.
    let inv = section(&html, "investigators");
    let mut total = 0;
    for (name, w) in &log.want {
        let row = format!(
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(name), w.queries, w.exchanges, w.partners.len(), w.items, w.hits, w.cases.len()
        );
        assert!(inv.contains(&row), "missing {row}");
        assert!(svg(&html, "chart-investigators").contains(&format!(
            "<title>{}: {}</title>",
            escape(name),
            w.queries
        )));
        total += w.queries;
    }
    assert_eq!(total, 24 + 5);
    assert_eq!(log.want["alice"].queries, 9 + 1); // 9 by day, 1 at night
                                                  // Odd hours: exactly the weekend and night entries, by position.
    let odd = section(&html, "odd-hours");
    let listed: BTreeSet<usize> = odd
        .split("<tr><td class=\"n\">")
        .skip(1)
        .map(|r| r[..r.find('<').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(listed, log.odd);
    assert!(odd.contains("2025-11-18 23:30:00</td><td>night</td><td>alice</td>"));
    assert!(odd.contains("<td>Sunday</td>"));
    // One bar group per day, Monday to Sunday, including the empty Wednesday.
    for id in ["chart-sent", "chart-received"] {
        let s = svg(&html, id);
        assert_eq!(s.matches("<g class=\"bar\"").count(), 7, "{id}");
        assert!(s.contains("data-bucket=\"2025-11-19\""));
    }
    assert!(svg(&html, "chart-sent").contains(
        "<g class=\"bar\" data-bucket=\"2025-11-19\"><title>2025-11-19: 0 queries</title></g>"
    ));
    // Refusals, budget, cases.
    let refusals = section(&html, "refusals");
    assert!(refusals.contains("invalid_rows: 3 rows are not phone numbers"));
    assert_eq!(
        refusals.matches("<td>query_failed</td>").count(),
        1 + log
            .v
            .iter()
            .filter(|e| e.kind == EntryKind::QueryFailed)
            .count()
    );
    let budget = section(&html, "budget");
    assert!(budget.contains("budget_exceeded: daily budget") && !budget.contains("None recorded"));
    let cases = section(&html, "cases");
    assert!(cases.contains("<tr><td>CASE-9</td><td class=\"n\">2</td><td>alice, bob</td>"));
}

#[test]
fn local_time_moves_odd_hours_and_days() {
    let base = monday();
    let clock = Clock::new(&ReportOptions {
        utc_offset_minutes: 7 * 60,
        ..Default::default()
    });
    assert_eq!(clock.odd(base + 16 * H + 30 * 60).as_deref(), Some("night")); // 23:30 local
    assert_eq!(clock.odd(base + 23 * H + 30 * 60), None); // Tuesday 06:30 local
    assert_eq!(
        clock.odd(base + 4 * DAY + 20 * H).as_deref(),
        Some("Saturday, night")
    );
    assert_eq!(clock.iso_local(base), "2025-11-17T07:00:00+07:00");
    let west = Clock::new(&ReportOptions {
        utc_offset_minutes: -(3 * 60 + 30),
        odd_hours: (0, 5),
        ..Default::default()
    });
    assert_eq!(west.iso_local(base), "2025-11-16T20:30:00-03:30");
    assert_eq!(west.odd(base + 6 * H).as_deref(), Some("night")); // 02:30 local
    assert_eq!(west.odd(base + 9 * H), None);
    let never = Clock::new(&ReportOptions {
        odd_hours: (22, 22),
        ..Default::default()
    });
    assert_eq!(never.odd(base + 23 * H), None);
    // Sunday 20:00 UTC is Monday 03:00 at +07:00: one more day in the chart.
    let mut v = spread(7, 1);
    v.push(v[6].clone());
    v[7].time = base + 6 * DAY + 20 * H;
    let bars = |off| {
        let o = ReportOptions {
            utc_offset_minutes: off,
            ..Default::default()
        };
        let html = render_html(NODE, &v, &o);
        let s = svg(&html, "chart-sent");
        (
            s.matches("<g class=\"bar\"").count(),
            s.contains("data-bucket=\"2025-11-24\""),
        )
    };
    assert_eq!(bars(0), (7, false));
    assert_eq!(bars(7 * 60), (8, true));
    let html = render_html(
        NODE,
        &v,
        &ReportOptions {
            utc_offset_minutes: 420,
            ..Default::default()
        },
    );
    assert!(html.contains("UTC+07:00"));
}

fn spread(days: u64, partners: usize) -> Vec<Entry> {
    (0..days)
        .map(|d| {
            let mut e = Entry::new(
                monday() + d * DAY + 10 * H,
                EntryKind::QuerySent,
                NODE,
                person("alice"),
            );
            e.partner = Some(format!("p{:02}", d as usize % partners));
            e
        })
        .collect()
}

#[test]
fn long_and_short_periods_are_grouped() {
    let one = render_html(NODE, &spread(1, 1), &opts());
    assert_eq!(
        svg(&one, "chart-sent").matches("<g class=\"bar\"").count(),
        1
    );
    assert!(one.contains("1 day, one bar per day;"));
    assert!(
        section(&one, "activity").contains("None recorded"),
        "nothing received"
    );
    let long = render_html(NODE, &spread(400, 12), &opts());
    // 400 days from a Monday: 57 full weeks and one more day.
    assert_eq!(
        svg(&long, "chart-sent").matches("<g class=\"bar\"").count(),
        58
    );
    assert!(long.contains("grouped by week"));
    assert!(
        long.contains("4 other partners (132)"),
        "12 partners: 8 own colours and the rest"
    );
    let years = render_html(NODE, &spread(1000, 2), &opts());
    assert!(years.contains("grouped by calendar month"));
    assert_eq!(
        svg(&years, "chart-sent")
            .matches("<g class=\"bar\"")
            .count(),
        34
    ); // 2025-11 to 2028-08 (day 999 is 2028-08-12)
}

#[test]
fn empty_and_extreme_inputs() {
    let html = render_html(NODE, &[], &ReportOptions::default());
    assert!(html.contains("There are no entries in this log."));
    assert!(!html.contains("<svg") && html.ends_with("</body></html>\n"));
    let mut v = spread(2, 1);
    for t in [0, u64::MAX, i64::MAX as u64, 253_402_300_799] {
        let mut e = Entry::new(t, EntryKind::QuerySent, "other", person("<x>"));
        e.reason = Some("budget".into());
        v.push(e);
    }
    for off in [i32::MIN, i32::MAX, 0] {
        let html = render_html(
            "<n>",
            &v,
            &ReportOptions {
                utc_offset_minutes: off,
                odd_hours: (255, 3),
                ..Default::default()
            },
        );
        assert!(html.contains("(out of range)") && html.contains("grouped by calendar year"));
        assert!(!html.contains("<x>") && !html.contains("<n>"));
        assert!(html.contains("Written by another node"));
    }
}
