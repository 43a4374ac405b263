//! The report of `cordon bench --compare`: one table (figure, Cordon, OpenMined with a Bloom
//! filter and with GCS, and the ratios), the issue's targets met or missed, and how close
//! Cordon comes to the group-arithmetic ceiling; as text, JSON, or a marked Markdown section.

use serde_json::Value;

use super::compare::SizeRuns;
use super::openmined::{OmRun, OpenMined, Structure};
use super::*;

/// The issue's targets, as ratios and sizes.
const SPEED_TARGET: f64 = 4.0;
const BYTES_PER_ITEM_TARGET: f64 = 80.0;
const FILTER_TARGET: f64 = 1.05;

#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Bytes,
    Mib,
}

/// One figure of the table: its values over the runs for Cordon and for OpenMined's two
/// set-ups (empty where a system has no such figure).
struct Row {
    figure: String,
    unit: Unit,
    /// Items to divide bytes by, shown as bytes per item.
    per_item: Option<usize>,
    cordon: Vec<f64>,
    om: [Vec<f64>; 2],
}

impl Row {
    /// OpenMined's better (lower) median of the two set-ups.
    fn om_best(&self) -> Option<f64> {
        self.om
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| median(v))
            .min_by(|a, b| a.total_cmp(b))
    }

    /// OpenMined ÷ Cordon: how many times faster (or smaller) Cordon is.
    fn om_over_cordon(&self) -> Option<f64> {
        let c = median(&self.cordon);
        self.om_best()
            .filter(|_| !self.cordon.is_empty() && c > 0.0)
            .map(|o| o / c)
    }

    fn cells(&self) -> Vec<String> {
        let ratio = self.om_over_cordon();
        vec![
            self.figure.clone(),
            cell(self.unit, &self.cordon, self.per_item),
            cell(self.unit, &self.om[0], self.per_item),
            cell(self.unit, &self.om[1], self.per_item),
            ratio.map(|r| format!("{r:.1}×")).unwrap_or_default(),
            ratio.map(|r| format!("{:.2}", 1.0 / r)).unwrap_or_default(),
        ]
    }

    fn json(&self) -> Value {
        let stat = |v: &[f64]| {
            if v.is_empty() {
                return Value::Null;
            }
            let (lo, hi) = min_max(v);
            json!({ "median": median(v), "min": lo, "max": hi, "all": v })
        };
        json!({
            "figure": self.figure,
            "unit": match self.unit { Unit::Seconds => "s", Unit::Bytes | Unit::Mib => "bytes" },
            "per_item": self.per_item,
            "cordon": stat(&self.cordon),
            "openmined_bloom": stat(&self.om[0]),
            "openmined_gcs": stat(&self.om[1]),
            "openmined_over_cordon": self.om_over_cordon(),
            "cordon_over_openmined": self.om_over_cordon().map(|r| 1.0 / r),
        })
    }
}

const HEADER: [&str; 6] = [
    "figure",
    "Cordon",
    "OpenMined (Bloom)",
    "OpenMined (GCS)",
    "OpenMined ÷ Cordon",
    "Cordon ÷ OpenMined",
];

fn number(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Seconds if v >= 10.0 => format!("{v:.1}"),
        Unit::Seconds if v >= 1.0 => format!("{v:.2}"),
        Unit::Seconds => format!("{v:.3}"),
        Unit::Bytes => thousands(v.round() as u64),
        Unit::Mib => format!("{:.0}", v / (1u64 << 20) as f64),
    }
}

/// `x` in scientific notation without trailing zeros: 1e-9, 1.5e-5.
fn sci(x: f64) -> String {
    let s = format!("{x:.3e}");
    match s.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => s,
    }
}

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The median with its unit, then the min–max over the runs when they differ.
fn cell(unit: Unit, v: &[f64], per_item: Option<usize>) -> String {
    if v.is_empty() {
        return "—".into();
    }
    let suffix = match unit {
        Unit::Seconds => " s",
        Unit::Bytes => " B",
        Unit::Mib => " MiB",
    };
    let med = median(v);
    let mut s = format!("{}{suffix}", number(unit, med));
    let (lo, hi) = min_max(v);
    let (lo, hi) = (number(unit, lo), number(unit, hi));
    if lo != hi {
        s.push_str(&format!(" ({lo}–{hi})"));
    }
    if let Some(m) = per_item {
        s.push_str(&format!(", {:.1} B/item", med / m as f64));
    }
    s
}

struct Target {
    what: String,
    measured: String,
    met: bool,
}

pub(super) struct Report {
    command: String,
    date: String,
    cpu: String,
    cores: usize,
    load_end: String,
    runs: usize,
    repeats: usize,
    kind: &'static str,
    records: Vec<u64>,
    query_items: Vec<usize>,
    om_version: String,
    python_version: String,
    fp_rate: f64,
    om_fpr: f64,
    om_inputs: u64,
    rows: Vec<Row>,
    targets: Vec<Target>,
    ceiling: Vec<String>,
    ceiling_json: Value,
    raw: Value,
}

/// The command line as typed, quoted where a shell would need it.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn today() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc()
        .format(&f)
        .unwrap_or_else(|_| "unknown date".into())
}

impl Report {
    pub(super) fn new(
        a: &BenchArgs,
        all: &[SizeRuns],
        rates: &CryptoRates,
        om: &OpenMined,
        runs: usize,
    ) -> Report {
        let ncores = cores();
        let first_om = all.iter().find_map(|s| s.om[0].first());
        let mut rows = Vec::new();
        let om_vals = |s: &SizeRuns, f: &dyn Fn(&OmRun) -> f64| -> [Vec<f64>; 2] {
            [0, 1].map(|i| s.om[i].iter().map(f).collect())
        };
        for s in all {
            let n = s.n;
            let nn = thousands(n);
            rows.push(Row {
                figure: format!("set-up, {nn} records"),
                unit: Unit::Seconds,
                per_item: None,
                cordon: s.cordon.iter().map(|c| c.build_s).collect(),
                om: om_vals(s, &|o| o.setup_s),
            });
            rows.push(Row {
                figure: format!("import total, {nn} records"),
                unit: Unit::Seconds,
                per_item: None,
                cordon: s.cordon.iter().map(|c| c.import_s).collect(),
                om: [Vec::new(), Vec::new()],
            });
            rows.push(Row {
                figure: format!("holder peak memory, {nn} records"),
                unit: Unit::Mib,
                per_item: None,
                cordon: s
                    .cordon
                    .iter()
                    .filter_map(|c| c.hwm.map(|b| b as f64))
                    .collect(),
                om: om_vals(s, &|o| o.maxrss_bytes as f64),
            });
            rows.push(Row {
                figure: format!("filter / set-up size, {nn} records"),
                unit: Unit::Bytes,
                per_item: None,
                cordon: s.cordon.iter().map(|c| c.filter.bytes as f64).collect(),
                om: om_vals(s, &|o| o.setup_bytes as f64),
            });
            for (qi, &m) in a.query_items().iter().enumerate() {
                rows.push(Row {
                    figure: format!("query, {} items, {nn} records", thousands(m as u64)),
                    unit: Unit::Seconds,
                    per_item: None,
                    cordon: s
                        .cordon
                        .iter()
                        .map(|c| median(&c.sizes[qi].walls()))
                        .collect(),
                    om: om_vals(s, &|o| o.queries[qi].total_s),
                });
            }
            let om_bytes = |qi: usize| {
                om_vals(s, &move |o: &OmRun| {
                    o.queries[qi].bytes_with_setup(o.setup_bytes) as f64
                })
            };
            rows.push(Row {
                figure: format!(
                    "bytes, first query, {} items, {nn} records",
                    thousands(a.query_items()[0] as u64)
                ),
                unit: Unit::Bytes,
                per_item: None,
                cordon: s
                    .cordon
                    .iter()
                    .map(|c| c.sizes[0].first.bytes() as f64)
                    .collect(),
                om: om_bytes(0),
            });
            for (qi, &m) in a.query_items().iter().enumerate() {
                rows.push(Row {
                    figure: format!(
                        "bytes, repeat query, {} items, {nn} records",
                        thousands(m as u64)
                    ),
                    unit: Unit::Bytes,
                    per_item: Some(m),
                    cordon: s
                        .cordon
                        .iter()
                        .map(|c| median(&c.sizes[qi].cached_bytes()))
                        .collect(),
                    om: om_bytes(qi),
                });
            }
        }
        let fp_rate = all
            .first()
            .and_then(|s| s.cordon.first())
            .map(|c| c.fp_rate)
            .unwrap_or(f64::NAN);
        let (targets, ceiling, ceiling_json) = targets_and_ceiling(a, all, rates, ncores);
        Report {
            command: command_line(),
            date: today(),
            cpu: cpu_model(),
            cores: ncores,
            load_end: loadavg(),
            runs,
            repeats: a.repeats,
            kind: a.kind.name(),
            records: all.iter().map(|s| s.n).collect(),
            query_items: a.query_items(),
            om_version: om.version.clone(),
            python_version: om.python_version.clone(),
            fp_rate,
            om_fpr: first_om.map(|o| o.fpr).unwrap_or(f64::NAN),
            om_inputs: first_om.map(|o| o.num_client_inputs).unwrap_or(0),
            rows,
            targets,
            ceiling,
            ceiling_json,
            raw: raw_json(a, all),
        }
    }

    /// The lines above the table, for text and Markdown alike.
    fn preamble(&self) -> Vec<String> {
        vec![
            format!(
                "Machine: {}, {} cores (load average at the end: {}). Date: {}.",
                self.cpu, self.cores, self.load_end, self.date
            ),
            format!(
                "Data: {} `{}` records at the holder; queries of {} items, half of each planted among the records; both systems read the same generated values.",
                self.records.iter().map(|&n| thousands(n)).collect::<Vec<_>>().join(" and "),
                self.kind,
                self.query_items.iter().map(|&m| thousands(m as u64)).collect::<Vec<_>>().join(" and "),
            ),
            format!(
                "Runs: {}; each run starts fresh nodes and imports anew; Cordon's query time in a run is the median of {} filter-cached repeats.",
                if self.runs == 1 { "one run".to_string() } else { format!("medians of {} runs (min–max in brackets)", self.runs) },
                self.repeats
            ),
            "Figures: *set-up* is Cordon's epoch build (`ImportReply.epoch_seconds`) against OpenMined's `CreateSetupMessage`; *import total* (Cordon only) adds streaming, canonicalising, storing and committing; *holder peak memory* is the Cordon holder node's VmHWM after the queries against the OpenMined process's `ru_maxrss` right after its set-up; *filter / set-up size* is what a querier downloads; *query* is Cordon end to end over QUIC with mutual TLS (CLI → th → jp → th → CLI, filter cached, both nodes on this machine) against OpenMined's three calls; *bytes* are all bytes between the two sides: Cordon's first query fetches the filter and its repeats use the cached one, while OpenMined sends its set-up with every query.".into(),
            format!(
                "OpenMined PSI {} (PyPI `openmined-psi`, Python {}), one process per set-up structure; its query is CreateRequest + ProcessRequest + GetIntersection in one process, set-up excluded. False-positive rate: Cordon's filter {} per lookup; OpenMined's rate is per query, so its set-up uses fpr = {} × {} items = {}, the same per lookup.",
                self.om_version, self.python_version, sci(self.fp_rate), sci(self.fp_rate), self.om_inputs, sci(self.om_fpr)
            ),
            "Ratios are against the better of OpenMined's two set-ups; OpenMined ÷ Cordon is how many times faster (or smaller) Cordon is. Both systems returned the same intersection for every query of every run.".into(),
        ]
    }

    fn target_lines(&self) -> Vec<String> {
        self.targets
            .iter()
            .map(|t| {
                format!(
                    "{}: {} — {}",
                    t.what,
                    t.measured,
                    if t.met { "met" } else { "missed" }
                )
            })
            .collect()
    }

    pub(super) fn text(&self) -> String {
        let mut s =
            String::from("Cordon and OpenMined PSI side by side (`cordon bench --compare`)\n");
        for l in self.preamble() {
            s.push_str(&l);
            s.push('\n');
        }
        s.push('\n');
        let rows: Vec<Vec<String>> = self.rows.iter().map(Row::cells).collect();
        s.push_str(&crate::output::table(&HEADER, &rows));
        s.push('\n');
        s.push_str(&self.conclusions("  ", ""));
        s
    }

    /// The targets and the ceiling as two lists: items start with `bullet`, headings are
    /// followed by `gap`.
    fn conclusions(&self, bullet: &str, gap: &str) -> String {
        let mut s = String::new();
        for (heading, lines) in [
            ("Targets (issue 6):", self.target_lines()),
            ("Group-arithmetic ceiling:", self.ceiling.clone()),
        ] {
            s.push_str(&format!("{heading}\n{gap}"));
            for l in lines {
                s.push_str(&format!("{bullet}{l}\n"));
            }
            s.push_str(gap);
        }
        s
    }

    pub(super) fn markdown(&self) -> String {
        let mut s = String::from("## Cordon and OpenMined PSI side by side\n\n");
        s.push_str(&format!(
            "Written by `cordon bench --compare`. Command: `{}`.\n\n",
            self.command
        ));
        for l in self.preamble() {
            s.push_str(&format!("- {l}\n"));
        }
        s.push('\n');
        s.push_str(&format!("| {} |\n", HEADER.join(" | ")));
        s.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
        for r in &self.rows {
            s.push_str(&format!("| {} |\n", r.cells().join(" | ")));
        }
        s.push('\n');
        s.push_str(&self.conclusions("- ", "\n"));
        s
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "command": self.command,
            "date": self.date,
            "cpu": self.cpu,
            "cores": self.cores,
            "loadavg_end": self.load_end,
            "runs": self.runs,
            "repeats": self.repeats,
            "kind": self.kind,
            "records": self.records,
            "query_items": self.query_items,
            "openmined_psi": self.om_version,
            "python": self.python_version,
            "fp_rate_per_lookup": self.fp_rate,
            "openmined_fpr_per_query": self.om_fpr,
            "openmined_num_client_inputs": self.om_inputs,
            "rows": self.rows.iter().map(Row::json).collect::<Vec<_>>(),
            "targets": self.targets.iter().map(|t| json!({
                "target": t.what, "measured": t.measured, "met": t.met,
            })).collect::<Vec<_>>(),
            "ceiling": self.ceiling_json,
            "runs_raw": self.raw,
        })
    }

    /// Replaces (or appends) the marked section of the Markdown file `path`.
    pub(super) fn write_markdown(&self, path: &Path) -> anyhow::Result<()> {
        let doc = match std::fs::read_to_string(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let new = super::section::replace_section(&doc, "compare", &self.markdown())
            .with_context(|| format!("cannot update {}", path.display()))?;
        std::fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The issue's targets, met or missed, and the ceiling lines (text and JSON).
fn targets_and_ceiling(
    a: &BenchArgs,
    all: &[SizeRuns],
    rates: &CryptoRates,
    ncores: usize,
) -> (Vec<Target>, Vec<String>, Value) {
    let mut targets = Vec::new();
    let om_best = |v: [Vec<f64>; 2]| {
        v.iter()
            .filter(|v| !v.is_empty())
            .map(|v| median(v))
            .fold(f64::INFINITY, f64::min)
    };
    // The issue's query target is for 10,000 items; else the largest size measured.
    let query_items = a.query_items();
    let qi = query_items
        .iter()
        .position(|&m| m == 10_000)
        .or_else(|| (0..query_items.len()).max_by_key(|&i| query_items[i]))
        .unwrap_or(0);
    let qm = query_items[qi];
    let per_core = 1.0 / (1.0 / rates.hash_cpu + 1.0 / rates.mul_cpu);
    let mut ceiling = vec![format!(
        "one-thread probe at the start: hash-to-group {:.0} and k·P {:.0} per CPU-second, so one hash-to-group + one k·P per record or item allows {per_core:.0} per second per core ({:.0} on {ncores} cores)",
        rates.hash_cpu,
        rates.mul_cpu,
        per_core * ncores as f64
    )];
    let mut cj = Vec::new();
    for s in all {
        let n = s.n;
        let build = median(&s.cordon.iter().map(|c| c.build_s).collect::<Vec<_>>());
        let om_setup = om_best([0, 1].map(|i| s.om[i].iter().map(|o| o.setup_s).collect()));
        let r = om_setup / build;
        targets.push(Target {
            what: format!(
                "epoch build of {} records at least {SPEED_TARGET}× faster than OpenMined's set-up",
                thousands(n)
            ),
            measured: format!("{r:.1}× ({build:.2} s against {om_setup:.2} s)"),
            met: r >= SPEED_TARGET,
        });
        let cq = median(
            &s.cordon
                .iter()
                .map(|c| median(&c.sizes[qi].walls()))
                .collect::<Vec<_>>(),
        );
        let oq = om_best([0, 1].map(|i| s.om[i].iter().map(|o| o.queries[qi].total_s).collect()));
        let r = oq / cq;
        targets.push(Target {
            what: format!(
                "query of {} items ({} records) at least {SPEED_TARGET}× faster than OpenMined's three calls",
                thousands(qm as u64),
                thousands(n)
            ),
            measured: format!("{r:.1}× ({cq:.3} s against {oq:.3} s)"),
            met: r >= SPEED_TARGET,
        });
        let build_core = n as f64 / build / ncores as f64;
        let om_rate = n as f64 / om_setup;
        let import_cpu = median(&s.cordon.iter().map(|c| c.import_cpu_s).collect::<Vec<_>>());
        ceiling.push(format!(
            "epoch build of {} records: {build_core:.0} records/s per core = {:.0} % of the ceiling; the holder spent {:.1} µs CPU per record on the whole import against {:.1} µs at the ceiling (OpenMined's set-up: {om_rate:.0} records/s, on one thread)",
            thousands(n),
            100.0 * build_core / per_core,
            import_cpu / n as f64 * 1e6,
            1e6 / per_core
        ));
        let mut qj = Vec::new();
        for (qi, &m) in a.query_items().iter().enumerate() {
            let wall = median(
                &s.cordon
                    .iter()
                    .map(|c| median(&c.sizes[qi].walls()))
                    .collect::<Vec<_>>(),
            );
            let cpu = median(
                &s.cordon
                    .iter()
                    .map(|c| {
                        let (th, jp, _) = c.sizes[qi].cpu();
                        th + jp
                    })
                    .collect::<Vec<_>>(),
            );
            let items_core = m as f64 / wall / ncores as f64;
            ceiling.push(format!(
                "query of {} items ({} records): {items_core:.0} items/s per core end to end = {:.0} % of the ceiling; both nodes spent {:.1} µs CPU per item against {:.1} µs for one hash-to-group + one k·P (the querier's blinding, the proof and its check, TLS and the audit log come on top)",
                thousands(m as u64),
                thousands(n),
                100.0 * items_core / per_core,
                cpu / m as f64 * 1e6,
                1e6 / per_core
            ));
            qj.push(json!({
                "items": m,
                "items_per_s_per_core": items_core,
                "fraction_of_ceiling": items_core / per_core,
                "cpu_s_per_item_both_nodes": cpu / m as f64,
            }));
        }
        cj.push(json!({
            "records": n,
            "build_records_per_s_per_core": build_core,
            "build_fraction_of_ceiling": build_core / per_core,
            "import_cpu_s_per_record_holder": import_cpu / n as f64,
            "openmined_setup_records_per_s": om_rate,
            "queries": qj,
        }));
    }
    // Bytes of a repeat query against the largest holder: slope and constant over the sizes.
    if let Some(s) = all.last() {
        let pts: Vec<(f64, f64)> = a
            .query_items()
            .iter()
            .enumerate()
            .map(|(qi, &m)| {
                let b = median(
                    &s.cordon
                        .iter()
                        .map(|c| median(&c.sizes[qi].cached_bytes()))
                        .collect::<Vec<_>>(),
                );
                (m as f64, b)
            })
            .collect();
        let lo = pts.iter().copied().min_by(|x, y| x.0.total_cmp(&y.0));
        let hi = pts.iter().copied().max_by(|x, y| x.0.total_cmp(&y.0));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let (slope, constant, how) = if hi.0 > lo.0 {
                let slope = (hi.1 - lo.1) / (hi.0 - lo.0);
                (slope, lo.1 - slope * lo.0, "between the query sizes")
            } else {
                (
                    lo.1 / lo.0,
                    0.0,
                    "one query size: the constant counted per item",
                )
            };
            targets.push(Target {
                what: format!(
                    "repeat query at most {BYTES_PER_ITEM_TARGET} bytes per item plus a constant"
                ),
                measured: format!("{slope:.1} B/item + {constant:.0} B ({how})"),
                met: slope <= BYTES_PER_ITEM_TARGET,
            });
        }
        if let Some(c) = s.cordon.first() {
            let f = &c.filter;
            targets.push(Target {
                what: format!(
                    "filter within {:.0} % of the Bloom optimum at {}",
                    (FILTER_TARGET - 1.0) * 100.0,
                    sci(c.fp_rate)
                ),
                measured: format!(
                    "{:.3} bits/record against {:.3}: ratio {:.4} ({} records)",
                    f.bits_per_record,
                    f.optimum_bits,
                    f.ratio_to_optimum(),
                    thousands(s.n)
                ),
                met: f.ratio_to_optimum() <= FILTER_TARGET,
            });
        }
    }
    let cjson = json!({
        "hash_to_group_per_cpu_s": rates.hash_cpu,
        "scalar_mul_per_cpu_s": rates.mul_cpu,
        "ceiling_per_s_per_core": per_core,
        "sizes": cj,
    });
    (targets, ceiling, cjson)
}

/// Every run's own figures.
fn raw_json(a: &BenchArgs, all: &[SizeRuns]) -> Value {
    let om_json = |o: &OmRun| {
        json!({
            "setup_s": o.setup_s,
            "setup_cpu_s": o.setup_cpu_s,
            "maxrss_bytes": o.maxrss_bytes,
            "setup_bytes": o.setup_bytes,
            "fpr": o.fpr,
            "queries": o.queries.iter().map(|q| json!({
                "items": q.items,
                "request_s": q.request_s,
                "process_s": q.process_s,
                "intersect_s": q.intersect_s,
                "total_s": q.total_s,
                "cpu_s": q.cpu_s,
                "request_bytes": q.request_bytes,
                "response_bytes": q.response_bytes,
                "hits": q.hits.len(),
            })).collect::<Vec<_>>(),
        })
    };
    all.iter()
        .map(|s| {
            let cordon: Vec<Value> = s
                .cordon
                .iter()
                .map(|c| {
                    json!({
                        "build_s": c.build_s,
                        "import_s": c.import_s,
                        "import_cpu_s_holder": c.import_cpu_s,
                        "holder_vmhwm_bytes": c.hwm,
                        "filter_bytes": c.filter.bytes,
                        "queries": c.sizes.iter().zip(a.query_items()).map(|(r, m)| {
                            let (th, jp, others) = r.cpu();
                            json!({
                                "items": m,
                                "hits": r.first.hits,
                                "first": r.first.json(m),
                                "cached_s": r.walls(),
                                "cached_bytes": r.cached_bytes(),
                                "cpu_s_querier_median": th,
                                "cpu_s_holder_median": jp,
                                "cpu_s_other_processes_median": others,
                            })
                        }).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut om = serde_json::Map::new();
            for (i, st) in Structure::BOTH.into_iter().enumerate() {
                om.insert(
                    st.arg().into(),
                    Value::Array(s.om[i].iter().map(om_json).collect()),
                );
            }
            json!({ "records": s.n, "cordon": cordon, "openmined": om })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_median_range_and_ratio() {
        assert_eq!(thousands(5_391_641), "5,391,641");
        assert_eq!(thousands(999), "999");
        assert_eq!(sci(1e-9), "1e-9");
        assert_eq!(sci(1e-9 * 10_000.0), "1e-5");
        assert_eq!(sci(2.5e-7), "2.5e-7");
        assert_eq!(
            cell(Unit::Seconds, &[22.06, 21.97, 24.7], None),
            "22.1 s (22.0–24.7)"
        );
        assert_eq!(
            cell(Unit::Bytes, &[640_216.0], Some(10_000)),
            "640,216 B, 64.0 B/item"
        );
        assert_eq!(cell(Unit::Seconds, &[], None), "—");
        let r = Row {
            figure: "x".into(),
            unit: Unit::Seconds,
            per_item: None,
            cordon: vec![2.0],
            om: [vec![10.0], vec![8.0]],
        };
        assert_eq!(r.om_over_cordon(), Some(4.0));
        assert_eq!(r.cells()[4..], ["4.0×".to_string(), "0.25".to_string()]);
    }
}
