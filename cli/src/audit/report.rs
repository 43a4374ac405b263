//! `cordon audit report BUNDLE --html OUT`: turns audit log entries into one self-contained
//! HTML page, so an oversight officer sees patterns (who queries whom, when, how much, what
//! was refused) without reading entries one by one.
//!
//! The page loads nothing and runs nothing: CSS is inline, charts are inline SVG with
//! `<title>` tooltips, and a Content-Security-Policy forbids scripts as a second line of
//! defence. Every string taken from an entry is HTML-escaped. The output depends only on the
//! entries and the options (no clock, no hash-map order): the same input gives the same bytes.
//!
//! It deliberately does not verify the log (the caller does, and says what it verified in
//! [`ReportOptions::verified`]), read files, or judge entries: it counts and lists them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use cordon_protocol::audit::entry::{Entry, EntryKind};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Weekday};

/// What the report needs besides the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// When the report was generated, Unix seconds (shown; this module reads no clock).
    pub generated_at: u64,
    /// One line stating what was verified, shown in the header.
    pub verified: String,
    /// Local hours considered odd, from `.0` (included) to `.1` (excluded), wrapping past
    /// midnight; hours are taken modulo 24 and equal hours mean no odd hours.
    pub odd_hours: (u8, u8),
    /// The agency's local time, minutes east of UTC (clamped to ±23:59), used for odd hours,
    /// per-day grouping and the times shown in tables.
    pub utc_offset_minutes: i32,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            generated_at: 0,
            verified: "nothing was verified".into(),
            odd_hours: (22, 6),
            utc_offset_minutes: 0,
        }
    }
}

/// Partners drawn in their own colour (colour-blind safe, light enough to print); the rest
/// share [`OTHER_COLOUR`], since more distinct colours stop being distinguishable.
const PALETTE: [&str; 9] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f",
];
const OTHER_COLOUR: &str = "#bab0ac";
/// Longest listing shown in one table; the rest is counted, not printed.
const MAX_ROWS: usize = 500;
/// Cases listed in "Top cases"; bars in the investigator chart.
const TOP: usize = 25;
/// Above this many days the activity charts group by week, above [`WEEKS_UP_TO`] by month.
const DAYS_UP_TO: i32 = 92;
const WEEKS_UP_TO: i32 = 731;
/// Above this many days (20 years: a bad clock, surely) the charts group by year.
const MONTHS_UP_TO: i32 = 7305;

const CSS: &str = "body{font-family:system-ui,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;\
margin:1.5em auto;max-width:1000px;padding:0 1em;color:#222;background:#fff;line-height:1.4}\
h1{font-size:1.5em;margin-bottom:.3em}h2{font-size:1.2em;border-bottom:1px solid #bbb;margin-top:1.8em}\
table{border-collapse:collapse;margin:.5em 0;font-size:.88em}\
th,td{border:1px solid #999;padding:.15em .45em;text-align:left;vertical-align:top}\
th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}\
td{overflow-wrap:anywhere}\
.alert{border:3px solid #c00;background:#fff3f3;padding:.3em 1em;margin:1em 0}\
.alert h2{color:#a00;border:none;margin-top:.4em}\
.note{color:#555;font-size:.9em}.empty{font-style:italic}\
svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#333}\
.legend span{margin-right:1.2em;white-space:nowrap}nav a{margin-right:.8em}\
@media print{body{margin:0;max-width:none}nav{display:none}tr,svg{break-inside:avoid}\
*{print-color-adjust:exact;-webkit-print-color-adjust:exact}}";

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($($t:tt)*) => {{ let _ = write!($($t)*); }};
}

/// Escapes text for HTML element content and double- or single-quoted attributes. Control
/// characters (other than tab and newline) are replaced: HTML does not allow them.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escaped, cut to `max` characters (chart labels; the full text is in the tables).
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return escape(s);
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    escape(&(cut + "…"))
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// Converts entry times to UTC and to the agency's local time.
struct Clock {
    offset_s: i64,
    label: String,
    odd: (u8, u8),
}

impl Clock {
    fn new(o: &ReportOptions) -> Clock {
        let m = o.utc_offset_minutes.clamp(-(23 * 60 + 59), 23 * 60 + 59);
        let sign = if m < 0 { '-' } else { '+' };
        let a = m.unsigned_abs();
        Clock {
            offset_s: i64::from(m) * 60,
            label: format!("{sign}{:02}:{:02}", a / 60, a % 60),
            odd: (o.odd_hours.0 % 24, o.odd_hours.1 % 24),
        }
    }

    /// Wall-clock time at `offset` seconds east of UTC; `None` beyond years 1..9999.
    fn at(t: u64, offset: i64) -> Option<PrimitiveDateTime> {
        let s = i64::try_from(t).ok()?.checked_add(offset)?;
        let d = OffsetDateTime::from_unix_timestamp(s).ok()?;
        Some(PrimitiveDateTime::new(d.date(), d.time()))
    }

    fn local(&self, t: u64) -> Option<PrimitiveDateTime> {
        Clock::at(t, self.offset_s)
    }

    fn iso_utc(&self, t: u64) -> String {
        Clock::at(t, 0).map_or_else(|| out_of_range(t), |d| fmt_dt(d, 'T') + "Z")
    }

    fn iso_local(&self, t: u64) -> String {
        self.local(t)
            .map_or_else(|| out_of_range(t), |d| fmt_dt(d, 'T') + &self.label)
    }

    /// Local time for tables; the header says which offset.
    fn cell(&self, t: u64) -> String {
        self.local(t)
            .map_or_else(|| out_of_range(t), |d| fmt_dt(d, ' '))
    }

    /// Why `t` is at an odd hour (local night, Saturday, Sunday), if it is.
    fn odd(&self, t: u64) -> Option<String> {
        let d = self.local(t)?;
        let (h, (a, b)) = (d.hour(), self.odd);
        let night = match a.cmp(&b) {
            std::cmp::Ordering::Less => h >= a && h < b,
            std::cmp::Ordering::Greater => h >= a || h < b,
            std::cmp::Ordering::Equal => false,
        };
        let day = match d.weekday() {
            Weekday::Saturday => Some("Saturday"),
            Weekday::Sunday => Some("Sunday"),
            _ => None,
        };
        match (day, night) {
            (Some(day), true) => Some(format!("{day}, night")),
            (Some(day), false) => Some(day.to_string()),
            (None, true) => Some("night".into()),
            (None, false) => None,
        }
    }
}

fn out_of_range(t: u64) -> String {
    format!("{t} (out of range)")
}

fn fmt_dt(d: PrimitiveDateTime, sep: char) -> String {
    format!(
        "{}{sep}{:02}:{:02}:{:02}",
        fmt_date(d.date()),
        d.hour(),
        d.minute(),
        d.second()
    )
}

fn fmt_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The width of one bar of the activity charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Day,
    Week,
    Month,
    Year,
}

impl Step {
    fn pick(first: Date, last: Date) -> Step {
        let span = last.to_julian_day() - first.to_julian_day() + 1;
        if span <= DAYS_UP_TO {
            Step::Day
        } else if span <= WEEKS_UP_TO {
            Step::Week
        } else if span <= MONTHS_UP_TO {
            Step::Month
        } else {
            Step::Year
        }
    }

    /// First day of the bar holding `d` (weeks start on Monday, ISO 8601).
    fn start(self, d: Date) -> Date {
        match self {
            Step::Day => d,
            Step::Week => {
                let back = i32::from(d.weekday().number_days_from_monday());
                Date::from_julian_day(d.to_julian_day() - back).unwrap_or(d)
            }
            Step::Month => Date::from_calendar_date(d.year(), d.month(), 1).unwrap_or(d),
            Step::Year => Date::from_calendar_date(d.year(), Month::January, 1).unwrap_or(d),
        }
    }

    fn next(self, d: Date) -> Option<Date> {
        match self {
            Step::Day => d.next_day(),
            Step::Week => Date::from_julian_day(d.to_julian_day() + 7).ok(),
            Step::Month => match d.month() {
                Month::December => Date::from_calendar_date(d.year() + 1, Month::January, 1),
                m => Date::from_calendar_date(d.year(), m.next(), 1),
            }
            .ok(),
            Step::Year => Date::from_calendar_date(d.year() + 1, Month::January, 1).ok(),
        }
    }

    fn label(self, d: Date) -> String {
        match self {
            Step::Day => fmt_date(d),
            Step::Week => format!("week of {}", fmt_date(d)),
            Step::Month => format!("{:04}-{:02}", d.year(), u8::from(d.month())),
            Step::Year => format!("{:04}", d.year()),
        }
    }

    fn tick(self, d: Date) -> String {
        match self {
            Step::Month | Step::Year => self.label(d),
            _ => fmt_date(d),
        }
    }
}

/// Totals over a group of exchanges (one investigator, one case).
#[derive(Default)]
struct Agg<'a> {
    /// Query (its `query_id`, else the entry's position) → items asked; an investigator's
    /// query goes to several partners with the same items, so items count once per query.
    items_by_query: BTreeMap<String, u64>,
    exchanges: u64,
    hits: u64,
    partners: BTreeSet<&'a str>,
    cases: BTreeSet<&'a str>,
    people: BTreeSet<&'a str>,
    purposes: BTreeSet<&'a str>,
    first: Option<u64>,
    last: Option<u64>,
}

impl<'a> Agg<'a> {
    fn add_sent(&mut self, i: usize, e: &'a Entry) {
        let key = e.query_id.clone().unwrap_or_else(|| format!("#{i}"));
        let items = self.items_by_query.entry(key).or_insert(0);
        *items = (*items).max(e.items.unwrap_or(0));
        self.exchanges += 1;
        self.partners
            .insert(e.partner.as_deref().unwrap_or("(none)"));
        self.cases.insert(e.case_ref.as_deref().unwrap_or("(none)"));
        self.people.insert(&e.actor.name);
        if let Some(p) = &e.purpose {
            self.purposes.insert(p);
        }
        self.first = Some(self.first.map_or(e.time, |f| f.min(e.time)));
        self.last = Some(self.last.map_or(e.time, |l| l.max(e.time)));
    }

    fn queries(&self) -> u64 {
        self.items_by_query.len() as u64
    }

    fn items(&self) -> u64 {
        self.items_by_query
            .values()
            .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// At most three purposes (a case's purposes are usually one sentence repeated).
fn first_few(set: &BTreeSet<&str>) -> String {
    let mut s: Vec<String> = set.iter().take(3).map(|p| short(p, 120)).collect();
    if set.len() > 3 {
        s.push(format!("(+{} more)", set.len() - 3));
    }
    s.join("; ")
}

fn join(set: &BTreeSet<&str>) -> String {
    let v: Vec<String> = set.iter().map(|s| escape(s)).collect();
    v.join(", ")
}

/// A table cell: text (escaped here), HTML (escaped by the caller) or a number.
enum Cell<'a> {
    T(&'a str),
    H(String),
    N(u64),
}
use Cell::{H, N, T};

/// Opens a table; `cols` are the column headers, separated by `|`.
fn table(out: &mut String, id: &str, cols: &str) {
    w!(out, "<table id=\"{id}\"><tr>");
    for c in cols.split('|') {
        w!(out, "<th>{c}</th>");
    }
    out.push_str("</tr>\n");
}

fn row(out: &mut String, cells: &[Cell]) {
    out.push_str("<tr>");
    for c in cells {
        match c {
            T(s) => w!(out, "<td>{}</td>", escape(s)),
            H(h) => w!(out, "<td>{h}</td>"),
            N(n) => w!(out, "<td class=\"n\">{n}</td>"),
        }
    }
    out.push_str("</tr>\n");
}

/// Closes a listing cut at [`MAX_ROWS`], saying how much was left out.
fn end_table(out: &mut String, n: usize) {
    out.push_str("</table>\n");
    if n > MAX_ROWS {
        let more = n - MAX_ROWS;
        w!(
            out,
            "<p class=\"note\">{more} more not shown (first {MAX_ROWS} listed).</p>\n"
        );
    }
}

fn open_section(out: &mut String, id: &str, title: &str, note: &str) {
    w!(out, "<section id=\"{id}\"><h2>{title}</h2>\n");
    if !note.is_empty() {
        w!(out, "<p class=\"note\">{note}</p>\n");
    }
}

const NONE: &str = "<p class=\"empty\">None recorded.</p>\n";

/// Renders the report page.
pub fn render_html(node: &str, entries: &[Entry], opts: &ReportOptions) -> String {
    let clock = Clock::new(opts);
    let mut out = String::with_capacity(64 * 1024 + entries.len() * 200);
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Audit report: {}</title>\n<style>{CSS}</style></head>\n<body>\n",
        escape(node)
    );
    header(&mut out, node, entries, opts, &clock);
    if entries.is_empty() {
        out.push_str("<p class=\"empty\">There are no entries in this log.</p>\n</body></html>\n");
        return out;
    }
    let all: Vec<(usize, &Entry)> = entries.iter().enumerate().collect();
    let of = |kinds: &[EntryKind]| -> Vec<(usize, &Entry)> {
        all.iter()
            .filter(|(_, e)| kinds.contains(&e.kind))
            .copied()
            .collect()
    };
    let alerts = of(&[EntryKind::PartnerInconsistent]);
    if !alerts.is_empty() {
        let (n, s) = (alerts.len(), if alerts.len() == 1 { "" } else { "s" });
        let title = format!("Alerts: {n} inconsistent partner log{s}");
        out.push_str("<div class=\"alert\">");
        open_section(
            &mut out,
            "alerts",
            &title,
            "A partner showed a checkpoint that contradicts one it \
signed before: its log was rewritten or forked. Investigate before trusting its receipts.",
        );
        event_table(&mut out, "alert-table", &clock, &alerts);
        out.push_str("</section></div>\n");
    }
    out.push_str("<nav><a href=\"#activity\">Activity</a><a href=\"#investigators\">Investigators</a>\
<a href=\"#refusals\">Refusals</a><a href=\"#budget\">Budget</a><a href=\"#odd-hours\">Odd hours</a>\
<a href=\"#cases\">Cases</a></nav>\n");

    let sent = of(&[EntryKind::QuerySent]);
    let received = of(&[EntryKind::QueryAnswered, EntryKind::QueryRefused]);
    activity(&mut out, &clock, &sent, &received);
    investigators(&mut out, entries, &sent);

    open_section(&mut out, "refusals", "Refusals and failures", "");
    let refused = of(&[
        EntryKind::QueryRefused,
        EntryKind::QueryFailed,
        EntryKind::ImportRefused,
    ]);
    if refused.is_empty() {
        out.push_str(NONE);
    } else {
        reason_summary(&mut out, &refused);
        event_table(&mut out, "refusal-table", &clock, &refused);
    }
    out.push_str("</section>\n");

    open_section(
        &mut out,
        "budget",
        "Queries over budget",
        "Entries whose reason is a budget \
refusal (<code>budget_exceeded</code> or mentioning a budget).",
    );
    let budget: Vec<(usize, &Entry)> = all
        .iter()
        .filter(|(_, e)| opt(&e.reason).to_lowercase().contains("budget"))
        .copied()
        .collect();
    if budget.is_empty() {
        out.push_str(NONE);
    } else {
        event_table(&mut out, "budget-table", &clock, &budget);
    }
    out.push_str("</section>\n");

    odd_hours(&mut out, &clock, &sent);
    top_cases(&mut out, &clock, entries, &sent);
    out.push_str("</body></html>\n");
    out
}

fn header(out: &mut String, node: &str, entries: &[Entry], opts: &ReportOptions, clock: &Clock) {
    let name = escape(node);
    w!(
        out,
        "<header><h1>Audit report: {name}</h1>\n<table id=\"summary\">\n"
    );
    let mut kv = |k: &str, v: String| w!(out, "<tr><th>{k}</th><td>{v}</td></tr>\n");
    kv("Generated", clock.iso_utc(opts.generated_at));
    kv("Verified", escape(&opts.verified));
    let first = entries.iter().map(|e| e.time).min();
    let last = entries.iter().map(|e| e.time).max();
    if let (Some(f), Some(l)) = (first, last) {
        let (f_utc, l_utc, f_loc, l_loc) = (
            clock.iso_utc(f),
            clock.iso_utc(l),
            clock.iso_local(f),
            clock.iso_local(l),
        );
        kv("Period (UTC)", format!("{f_utc} to {l_utc}"));
        kv("Period (local)", format!("{f_loc} to {l_loc}"));
    }
    let zone = &clock.label;
    kv(
        "Local time",
        format!("UTC{zone}: tables, days and odd hours use it"),
    );
    kv("Entries", entries.len().to_string());
    let foreign = entries.iter().filter(|e| e.node != node).count();
    if foreign > 0 {
        let n = format!("{foreign} entries (their <code>node</code> differs)");
        kv("Written by another node", n);
    }
    out.push_str("</table>\n");
    let mut by_kind: BTreeMap<EntryKind, u64> = BTreeMap::new();
    for e in entries {
        *by_kind.entry(e.kind).or_insert(0) += 1;
    }
    if !by_kind.is_empty() {
        table(out, "kinds", "Entry kind|Count");
        for (k, n) in &by_kind {
            row(out, &[T(k.as_str()), N(*n)]);
        }
        out.push_str("</table>\n");
    }
    out.push_str("</header>\n");
}

/// Time, kind, partner, actor, collection, case and reason (or detail) of each entry.
fn event_table(out: &mut String, id: &str, clock: &Clock, rows: &[(usize, &Entry)]) {
    let cols = "#|Time (local)|Kind|Partner|Actor|Collection|Case|Reason / detail";
    table(out, id, cols);
    for (i, e) in rows.iter().take(MAX_ROWS) {
        let why: Vec<&str> = [&e.reason, &e.detail]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .collect();
        let actor = format!("{} ({})", e.actor.name, e.actor.role);
        let (time, kind) = (clock.cell(e.time), e.kind.as_str());
        let (partner, coll, case) = (opt(&e.partner), opt(&e.collection), opt(&e.case_ref));
        row(
            out,
            &[
                N(*i as u64),
                T(&time),
                T(kind),
                T(partner),
                T(&actor),
                T(coll),
                T(case),
                T(&why.join(" — ")),
            ],
        );
    }
    end_table(out, rows.len());
}

/// Counts by kind, partner and reason code (the reason's first word), to show patterns.
fn reason_summary(out: &mut String, rows: &[(usize, &Entry)]) {
    let mut counts: BTreeMap<(EntryKind, &str, String), u64> = BTreeMap::new();
    for (_, e) in rows {
        let r = opt(&e.reason).trim();
        let code = r
            .split(|c: char| c == ':' || c.is_whitespace())
            .next()
            .unwrap_or("");
        let code: String = code.chars().take(40).collect();
        *counts.entry((e.kind, opt(&e.partner), code)).or_insert(0) += 1;
    }
    table(out, "refusal-summary", "Kind|Partner|Reason code|Count");
    for ((k, p, c), n) in &counts {
        row(out, &[T(k.as_str()), T(p), T(c), N(*n)]);
    }
    out.push_str("</table>\n");
}

fn activity(
    out: &mut String,
    clock: &Clock,
    sent: &[(usize, &Entry)],
    received: &[(usize, &Entry)],
) {
    open_section(out, "activity", "Queries per day and partner", "");
    let dates: Vec<Date> = sent
        .iter()
        .chain(received)
        .filter_map(|(_, e)| clock.local(e.time).map(|d| d.date()))
        .collect();
    let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max()) else {
        out.push_str("<p class=\"empty\">No queries sent or received.</p></section>\n");
        return;
    };
    let step = Step::pick(*first, *last);
    let mut buckets = vec![step.start(*first)];
    while let Some(n) = buckets.last().and_then(|b| step.next(*b)) {
        if n > *last {
            break;
        }
        buckets.push(n);
    }
    let span = last.to_julian_day() - first.to_julian_day() + 1;
    let how = match step {
        Step::Day if span == 1 => "1 day, one bar per day".to_string(),
        Step::Day => format!("{span} days, one bar per day"),
        Step::Week => format!(
            "The period spans {span} days: grouped by week (Monday to Sunday), one bar per week"
        ),
        Step::Month => {
            format!("The period spans {span} days: grouped by calendar month, one bar per month")
        }
        Step::Year => format!(
            "The period spans {span} days: grouped by calendar year (check the entry times)"
        ),
    };
    let zone = &clock.label;
    w!(out, "<p class=\"note\">{how}; local time UTC{zone}.</p>\n");
    let index: BTreeMap<Date, usize> = buckets.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let count = |rows: &[(usize, &Entry)]| {
        let mut by_partner: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (_, e) in rows {
            let bucket = clock
                .local(e.time)
                .and_then(|d| index.get(&step.start(d.date())));
            let p = e.partner.clone().unwrap_or_else(|| "(no partner)".into());
            let v = by_partner
                .entry(p)
                .or_insert_with(|| vec![0; buckets.len()]);
            if let Some(c) = bucket.and_then(|i| v.get_mut(*i)) {
                *c += 1;
            }
        }
        by_partner
    };
    out.push_str("<h3>Sent by this node's investigators (<code>query_sent</code>, one per partner asked)</h3>\n");
    stacked_chart(out, "chart-sent", step, &buckets, count(sent));
    out.push_str("<h3>Received from partners (<code>query_answered</code> and <code>query_refused</code>)</h3>\n");
    stacked_chart(out, "chart-received", step, &buckets, count(received));
    out.push_str("</section>\n");
}

/// Groups `query_sent` entries by `key` and adds the hits of their exchanges; busiest first.
fn group<'a>(
    entries: &'a [Entry],
    sent: &[(usize, &'a Entry)],
    key: fn(&Entry) -> &str,
) -> Vec<(&'a str, Agg<'a>)> {
    let mut by: BTreeMap<&str, Agg> = BTreeMap::new();
    for (i, e) in sent {
        by.entry(key(e)).or_default().add_sent(*i, e);
    }
    for (e, hits) in hits_by_owner(entries) {
        if let Some(a) = by.get_mut(key(e)) {
            a.hits += hits;
        }
    }
    let mut rows: Vec<(&str, Agg)> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.queries().cmp(&a.1.queries()).then(a.0.cmp(b.0)));
    rows
}

fn investigators(out: &mut String, entries: &[Entry], sent: &[(usize, &Entry)]) {
    open_section(out, "investigators", "Queries per investigator", "A query is one investigator \
command, sent to one or more partners (exchanges). Items count once per query; hits are summed over partners.");
    let rows = group(entries, sent, |e| e.actor.name.as_str());
    if rows.is_empty() {
        out.push_str(NONE);
        out.push_str("</section>\n");
        return;
    }
    let max = rows.first().map_or(1, |r| r.1.queries()).max(1);
    let h = 18 * rows.len().min(TOP) + 8;
    w!(out, "<svg id=\"chart-investigators\" viewBox=\"0 0 960 {h}\" width=\"960\" height=\"{h}\" role=\"img\">\n");
    for (i, (name, a)) in rows.iter().take(TOP).enumerate() {
        let (y, q) = (4 + 18 * i, a.queries());
        let len = 600.0 * q as f64 / max as f64;
        let (full, cut, ty, tx, c) = (
            escape(name),
            short(name, 30),
            y + 11,
            204.0 + len,
            PALETTE[0],
        );
        w!(out, "<g class=\"hbar\"><title>{full}: {q}</title><text x=\"196\" y=\"{ty}\" text-anchor=\"end\">{cut}</text>");
        w!(
            out,
            "<rect x=\"200\" y=\"{y}\" width=\"{len:.1}\" height=\"14\" fill=\"{c}\"/>"
        );
        w!(out, "<text x=\"{tx:.1}\" y=\"{ty}\">{q}</text></g>\n");
    }
    out.push_str("</svg>\n");
    if rows.len() > TOP {
        let n = rows.len();
        w!(out, "<p class=\"note\">The chart shows the {TOP} busiest of {n}; the table lists all.</p>\n");
    }
    let cols = "Investigator|Queries|Exchanges|Partners asked|Items|Hits|Cases";
    table(out, "investigator-table", cols);
    for (name, a) in &rows {
        let partners = a.partners.len() as u64;
        row(
            out,
            &[
                T(name),
                N(a.queries()),
                N(a.exchanges),
                N(partners),
                N(a.items()),
                N(a.hits),
                N(a.cases.len() as u64),
            ],
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// Hits of each `query_completed`, attributed to the `query_sent` entry of the same exchange
/// (else of the same query, else the completed entry itself), which names the investigator
/// and the case.
fn hits_by_owner(entries: &[Entry]) -> Vec<(&Entry, u64)> {
    let mut by_exchange: BTreeMap<&str, &Entry> = BTreeMap::new();
    let mut by_query: BTreeMap<&str, &Entry> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == EntryKind::QuerySent) {
        if let Some(x) = &e.exchange_id {
            by_exchange.entry(x).or_insert(e);
        }
        if let Some(q) = &e.query_id {
            by_query.entry(q).or_insert(e);
        }
    }
    let done = entries
        .iter()
        .filter(|e| e.kind == EntryKind::QueryCompleted);
    done.map(|c| {
        let sent = c.exchange_id.as_deref().and_then(|x| by_exchange.get(x));
        let sent = sent.or_else(|| c.query_id.as_deref().and_then(|q| by_query.get(q)));
        (sent.copied().unwrap_or(c), c.hits.unwrap_or(0))
    })
    .collect()
}

fn odd_hours(out: &mut String, clock: &Clock, sent: &[(usize, &Entry)]) {
    let (a, b) = clock.odd;
    let note = format!("Queries sent between {a:02}:00 and {b:02}:00 local time (UTC{}), or on a Saturday or Sunday.", clock.label);
    open_section(out, "odd-hours", "Queries at odd hours", &note);
    let rows: Vec<(usize, &Entry, String)> = sent
        .iter()
        .filter_map(|(i, e)| clock.odd(e.time).map(|why| (*i, *e, why)))
        .collect();
    if rows.is_empty() {
        out.push_str(NONE);
    } else {
        let cols = "#|Time (local)|When|Investigator|Case|Partner|Items|Purpose";
        table(out, "odd-table", cols);
        for (i, e, why) in rows.iter().take(MAX_ROWS) {
            let items = e.items.map_or(T(""), N);
            let (case, partner) = (opt(&e.case_ref), opt(&e.partner));
            row(
                out,
                &[
                    N(*i as u64),
                    T(&clock.cell(e.time)),
                    T(why),
                    T(&e.actor.name),
                    T(case),
                    T(partner),
                    items,
                    H(short(opt(&e.purpose), 120)),
                ],
            );
        }
        end_table(out, rows.len());
    }
    out.push_str("</section>\n");
}

fn top_cases(out: &mut String, clock: &Clock, entries: &[Entry], sent: &[(usize, &Entry)]) {
    let rows = group(entries, sent, |e| e.case_ref.as_deref().unwrap_or("(none)"));
    let (n, shown) = (rows.len(), rows.len().min(TOP));
    let note = format!("The {shown} cases with the most queries, of {n}.");
    open_section(out, "cases", "Top cases", &note);
    if rows.is_empty() {
        out.push_str(NONE);
        out.push_str("</section>\n");
        return;
    }
    let cols =
        "Case|Queries|Investigators|Partners|Items|Hits|First (local)|Last (local)|Purposes stated";
    table(out, "case-table", cols);
    for (case, a) in rows.iter().take(TOP) {
        let time = |t: Option<u64>| t.map(|t| clock.cell(t)).unwrap_or_default();
        let (first, last) = (time(a.first), time(a.last));
        let (people, partners) = (join(&a.people), join(&a.partners));
        row(
            out,
            &[
                T(case),
                N(a.queries()),
                H(people),
                H(partners),
                N(a.items()),
                N(a.hits),
                T(&first),
                T(&last),
                H(first_few(&a.purposes)),
            ],
        );
    }
    out.push_str("</table>\n</section>\n");
}

mod svg;
use svg::stacked_chart;

#[cfg(test)]
mod tests;
