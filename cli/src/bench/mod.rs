//! `cordon bench`: epoch build and query latency of a real two-node federation on loopback.
//!
//! Two agencies are created with [`LocalFederation`] (real folders, certificates, partner
//! entries, profiles) and each node runs as its own child process (`cordon node run`), so the
//! holder's peak memory can be read from `/proc/<pid>/status` and nothing is shared in-process.
//! The holder `jp` imports `--records` synthetic identifiers through its operator's control
//! channel (streamed in frames, generated batch by batch); `th`'s investigator then asks `jp`
//! about queries of each size: the first query fetches `jp`'s filter, the repeats use the cached
//! one. Half of every query is planted among `jp`'s records; the hits must be exactly those.
//!
//! Progress goes to stderr; the results to stdout (a table, or one JSON object with `--json`).
//!
//! `--partners P` (concurrent.rs) has P querier agencies query one holder at once instead;
//! `--scaling` (chart.rs) runs a series of builds and concurrent runs and draws their charts.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::json;

use cordon_node::client::{ControlClient, IMPORT_ROWS_PER_FRAME};
use cordon_node::control::{ImportHeader, PartnerOutcome, QueryReply, QueryRequest};
use cordon_node::local::{Agency, LocalFederation};
use cordon_node::profile::Profile;
use cordon_node::Config;
use cordon_protocol::filter::{EpochFilter, FILTER_HEADER_LEN};
use cordon_protocol::ident::{self, Kind, Options};

/// Collection name used at the holder.
const COLLECTION: &str = "bench";

#[derive(Args)]
pub struct BenchArgs {
    /// Records in the holder's collection; with --compare, one or more holder sizes,
    /// comma-separated [default: 1000000; with --compare: 100000,1000000; with --partners or
    /// --scaling: 100000]
    #[arg(long, value_delimiter = ',', value_name = "N[,N2...]")]
    records: Option<Vec<u64>>,
    /// Query sizes (items per query), comma-separated [default: 1000,10000; with --partners or
    /// --scaling: one size, 1000]
    #[arg(long, value_delimiter = ',', value_name = "M[,M2...]")]
    query_items: Option<Vec<usize>>,
    /// Repeated (filter-cached) queries per size
    #[arg(long, default_value_t = 5, value_name = "R")]
    repeats: usize,
    /// Identifier kind of the bench collection. `email` is cheap to canonicalise; `phone` goes
    /// through libphonenumber metadata (the OPRF cost per record is the same)
    #[arg(long, value_enum, default_value_t = BenchKind::Email)]
    kind: BenchKind,
    /// Print one JSON object instead of tables
    #[arg(long)]
    json: bool,
    /// Keep the agencies' folders and node logs here (created if missing; must not already hold
    /// a federation) [default: a temporary folder, removed at the end]
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    #[command(flatten)]
    load: concurrent::LoadArgs,
    #[command(flatten)]
    compare: compare::CompareArgs,
    /// With --scaling or --compare: insert (or replace) the mode's marked section of this
    /// Markdown file, e.g. BENCHMARKS.md
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
}

impl BenchArgs {
    /// Whether a load mode (`--partners` or `--scaling`) runs instead of the latency bench.
    fn load_mode(&self) -> bool {
        self.load.partners.is_some() || self.load.scaling
    }
    /// The one holder size of the latency bench and the load modes (checked by `run`).
    fn records(&self) -> u64 {
        let default = if self.load_mode() { 100_000 } else { 1_000_000 };
        self.records
            .as_ref()
            .and_then(|r| r.first().copied())
            .unwrap_or(default)
    }
    fn query_items(&self) -> Vec<usize> {
        let default = if self.load_mode() {
            vec![1000]
        } else {
            vec![1000, 10_000]
        };
        self.query_items.clone().unwrap_or(default)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchKind {
    Email,
    Phone,
}

impl BenchKind {
    fn name(self) -> &'static str {
        match self {
            BenchKind::Email => "email",
            BenchKind::Phone => "phone",
        }
    }
    fn kind(self) -> Kind {
        match self {
            BenchKind::Email => Kind::Email,
            BenchKind::Phone => Kind::Phone,
        }
    }
    fn value(self, i: u64) -> String {
        match self {
            BenchKind::Email => email_value(i),
            BenchKind::Phone => phone_value(i),
        }
    }
    /// Most distinct values [`BenchKind::value`] produces.
    fn capacity(self) -> u64 {
        match self {
            BenchKind::Email => 1 << 40,
            BenchKind::Phone => THAI_MOBILE.len() as u64 * 10_000_000,
        }
    }
}

/// Logs progress on stderr (stdout holds only the results).
macro_rules! progress {
    ($($t:tt)*) => { eprintln!("[bench] {}", format!($($t)*)) };
}

mod chart;
mod compare;
mod compare_report;
mod concurrent;
mod data;
mod openmined;
mod pair;
mod probe;
mod procs;
mod section;
mod setup;

use data::*;
use pair::*;
use probe::*;
use procs::*;
use setup::*;

/// One query's measurement.

#[derive(Clone)]
struct Sample {
    wall_s: f64,
    /// CPU seconds used by the querier node (th) and the holder node (jp) during the query.
    cpu_th: f64,
    cpu_jp: f64,
    /// CPU seconds other processes on the machine used meanwhile.
    cpu_others: f64,
    elapsed_ms: u64,
    filter: String,
    bytes_sent: u64,
    bytes_received: u64,
    hits: usize,
    /// The query lines that hit.
    hit_lines: BTreeSet<u64>,
    partner_records: u64,
}

impl Sample {
    fn bytes(&self) -> u64 {
        self.bytes_sent + self.bytes_received
    }
    fn json(&self, items: usize) -> serde_json::Value {
        json!({
            "s": self.wall_s,
            "cpu_s_querier": self.cpu_th,
            "cpu_s_holder": self.cpu_jp,
            "cpu_s_other_processes": self.cpu_others,
            "elapsed_ms": self.elapsed_ms,
            "filter": self.filter,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "bytes_per_item": self.bytes() as f64 / items as f64,
            "hits": self.hits,
        })
    }
}

/// The query of `m` items: even positions planted among the holder's records (spread over
/// the whole collection, shifted by `plant_offset`), the rest new. Returns the items and the
/// lines expected to hit.
fn make_query(
    kind: BenchKind,
    records: u64,
    m: usize,
    miss_base: u64,
    plant_offset: u64,
) -> (Vec<(u64, String)>, BTreeSet<u64>) {
    let hits = (m / 2) as u64;
    let mut items = Vec::with_capacity(m);
    let mut expect = BTreeSet::new();
    let mut misses = 0u64;
    for pos in 0..m as u64 {
        let line = pos + 1;
        let value = if pos % 2 == 0 && pos / 2 < hits {
            expect.insert(line);
            kind.value((plant_offset + (pos / 2) * records / hits.max(1)) % records)
        } else {
            misses += 1;
            kind.value(miss_base + misses)
        };
        items.push((line, value));
    }
    (items, expect)
}

async fn run_query(
    client: &ControlClient,
    probe: &CpuProbe,
    items: &[(u64, String)],
    expect: &BTreeSet<u64>,
) -> anyhow::Result<Sample> {
    let req = query_request(items, &[]);
    let c0 = probe.read();
    let t = Instant::now();
    let r: QueryReply = client.query(req).await?;
    let wall_s = t.elapsed().as_secs_f64();
    let c1 = probe.read();
    let p = r
        .partners
        .iter()
        .find(|p| p.partner == "jp")
        .context("the reply has no answer from jp")?;
    match &p.outcome {
        PartnerOutcome::Answered {
            partner_records,
            hits,
            filter,
            bytes_sent,
            bytes_received,
            ..
        } => {
            if !hits_are(hits, expect) {
                bail!(
                    "jp gave {} hits for a query of {} items, {} were planted (hits differ from the planted lines)",
                    hits.len(),
                    items.len(),
                    expect.len()
                );
            }
            Ok(Sample {
                wall_s,
                cpu_th: c1[0] - c0[0],
                cpu_jp: c1[1] - c0[1],
                cpu_others: CpuProbe::others(&c0, &c1),
                elapsed_ms: p.elapsed_ms,
                filter: filter.clone(),
                bytes_sent: *bytes_sent,
                bytes_received: *bytes_received,
                hits: hits.len(),
                hit_lines: hits.iter().map(|h| h.line).collect(),
                partner_records: *partner_records,
            })
        }
        PartnerOutcome::Failed { code, message } => {
            bail!(
                "jp failed the query of {} items ({code}): {message}",
                items.len()
            )
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

struct SizeResult {
    items: usize,
    planted: usize,
    first: Sample,
    repeats: Vec<Sample>,
}

impl SizeResult {
    fn walls(&self) -> Vec<f64> {
        self.repeats.iter().map(|s| s.wall_s).collect()
    }
    fn elapsed(&self) -> Vec<f64> {
        self.repeats.iter().map(|s| s.elapsed_ms as f64).collect()
    }
    fn cpu(&self) -> (f64, f64, f64) {
        let th: Vec<f64> = self.repeats.iter().map(|s| s.cpu_th).collect();
        let jp: Vec<f64> = self.repeats.iter().map(|s| s.cpu_jp).collect();
        let o: Vec<f64> = self.repeats.iter().map(|s| s.cpu_others).collect();
        (median(&th), median(&jp), median(&o))
    }
    fn cached_bytes(&self) -> Vec<f64> {
        self.repeats.iter().map(|s| s.bytes() as f64).collect()
    }
}

/// Checks the arguments; returns the holder sizes to measure.
fn check_args(a: &BenchArgs) -> anyhow::Result<Vec<u64>> {
    if a.load_mode() && a.compare.compare {
        bail!("--compare cannot be combined with --partners or --scaling; run them one at a time");
    }
    if a.write.is_some() && !a.load.scaling && !a.compare.compare {
        bail!("--write FILE is for --scaling and --compare: the other modes print their results");
    }
    let records = match &a.records {
        Some(r) => r.clone(),
        None if a.compare.compare => vec![100_000, 1_000_000],
        None => vec![a.records()],
    };
    if records.is_empty() || records.contains(&0) {
        bail!("--records needs one or more counts of at least 1 record");
    }
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let query_items = a.query_items();
    if query_items.is_empty() || query_items.contains(&0) {
        bail!("--query-items needs one or more sizes of at least 1 item");
    }
    let largest = *query_items.iter().max().unwrap_or(&1);
    // Misses are drawn after the records (see `bench`): n + 1000, then m + 1 per query size.
    let misses: u64 = 1_000 + query_items.iter().map(|&m| m as u64 + 1).sum::<u64>();
    for &n in &records {
        if (largest / 2) as u64 > n {
            bail!(
                "--records {n} is too small to plant {} hits in a query of {largest} items",
                largest / 2
            );
        }
        if n.saturating_add(misses) >= a.kind.capacity() {
            bail!(
                "--records {n} is more than the {} distinct `{}` values the generator makes",
                a.kind.capacity(),
                a.kind.name()
            );
        }
    }
    Ok(records)
}

pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let records = check_args(&a)?;
    if a.compare.compare {
        return compare::run(&a, &records);
    }
    let &[n] = records.as_slice() else {
        bail!(
            "--records takes one count without --compare ({} given)",
            records.len()
        );
    };
    if a.load_mode() {
        return concurrent::run(&a);
    }
    let (_tmp, dir) = work_dir(&a.keep, &["th", "jp"])?;
    let rt = crate::runtime()?;
    rt.block_on(bench(&a, n, &dir))
}

async fn bench(a: &BenchArgs, records: u64, dir: &Path) -> anyhow::Result<ExitCode> {
    let cpu = cpu_model();
    let ncores = cores();
    let load_start = loadavg();
    progress!("machine: {cpu}, {ncores} cores, load average {load_start}");
    progress!("folders and node logs in {}", dir.display());

    // Canonicalisation cost per row of both kinds, single-threaded, in this process.
    let canon_phone = canon_cost(BenchKind::Phone, 20_000)?;
    let canon_email = canon_cost(BenchKind::Email, 20_000)?;
    progress!(
        "canonicalisation, one core: phone {:.2} µs/row, email {:.2} µs/row",
        canon_phone * 1e6,
        canon_email * 1e6
    );

    let ticks = clock_ticks();
    let rates = crypto_rates(ticks);
    progress!(
        "crypto, one thread: hash-to-group {:.0}/CPU-s ({:.0}/s wall), k·P {:.0}/CPU-s ({:.0}/s wall)",
        rates.hash_cpu,
        rates.hash_wall,
        rates.mul_cpu,
        rates.mul_wall
    );
    // What one build costs in those two operations, per record, on one core.
    let ceiling_cpu_per_record = 1.0 / rates.hash_cpu + 1.0 / rates.mul_cpu;

    let Pair {
        mut nodes,
        jp_ops,
        investigator,
        probe,
        th_pid,
        jp_pid,
        fp_rate,
        connect_s,
        jp_hwm_idle,
    } = start_pair(dir, ticks).await?;

    let n = records;
    let Imported {
        reply,
        import_s,
        stream_s,
        cpu_s: import_cpu_s,
        others_s: import_others_s,
    } = import_generated(&jp_ops, &probe, a.kind, n).await?;
    jp_ops.close().await;
    let build_s = reply.epoch_seconds;
    let records_per_s = n as f64 / build_s;
    let (jp_hwm_import, jp_rss_import) = memory(jp_pid);

    let filter = FilterSize::new(n, fp_rate)?;
    let (filter_bytes, filter_bits_per_record, optimum_bits) =
        (filter.bytes, filter.bits_per_record, filter.optimum_bits);

    // Queries.
    let mut results = Vec::new();
    let mut miss_base = n + 1_000;
    for &m in &a.query_items() {
        let (items, expect) = make_query(a.kind, n, m, miss_base, 0);
        miss_base += m as u64 + 1;
        results.push(query_series(&investigator, &probe, n, &items, &expect, a.repeats).await?);
        nodes.check_alive()?;
    }
    investigator.close().await;
    let (jp_hwm, jp_rss) = memory(jp_pid);
    let (th_hwm, _) = memory(th_pid);
    let load_end = loadavg();
    nodes.stop_all();

    // The filter as measured on the wire: the full fetch minus a cached query of the same size.
    let measured_filter_wire = results
        .iter()
        .find(|r| r.first.filter == "full")
        .map(|r| r.first.bytes() as i64 - median(&r.cached_bytes()) as i64);

    let largest = results
        .iter()
        .max_by_key(|r| r.items)
        .context("no query sizes")?;
    let query_s = median(&largest.walls());

    if a.json {
        let sizes: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                let w = r.walls();
                let (lo, hi) = min_max(&w);
                let e = r.elapsed();
                let (elo, ehi) = min_max(&e);
                let b = r.cached_bytes();
                let (cth, cjp, coth) = r.cpu();
                json!({
                    "items": r.items,
                    "planted_hits": r.planted,
                    "first": r.first.json(r.items),
                    "cached": {
                        "median_s": median(&w),
                        "min_s": lo,
                        "max_s": hi,
                        "all_s": w,
                        "elapsed_ms_median": median(&e),
                        "elapsed_ms_min": elo,
                        "elapsed_ms_max": ehi,
                        "bytes_median": median(&b),
                        "bytes_per_item": median(&b) / r.items as f64,
                        "bytes_sent": r.repeats[0].bytes_sent,
                        "bytes_received": r.repeats[0].bytes_received,
                        "items_per_s": r.items as f64 / median(&w),
                        "cpu_s_querier_median": cth,
                        "cpu_s_holder_median": cjp,
                        "cpu_s_other_processes_median": coth,
                    },
                })
            })
            .collect();
        let out = json!({
            "cpu": cpu,
            "cores": ncores,
            "loadavg_start": load_start,
            "loadavg_end": load_end,
            "kind": a.kind.name(),
            "records": n,
            "repeats": a.repeats,
            "canonicalise_s_per_row": { "phone": canon_phone, "email": canon_email },
            "crypto_per_core": {
                "hash_to_group_per_cpu_s": rates.hash_cpu,
                "hash_to_group_per_wall_s": rates.hash_wall,
                "scalar_mul_per_cpu_s": rates.mul_cpu,
                "scalar_mul_per_wall_s": rates.mul_wall,
                "build_cpu_s_per_record_crypto_only": ceiling_cpu_per_record,
            },
            "build_ceiling_s_all_cores": ceiling_cpu_per_record * n as f64 / ncores as f64,
            "import_cpu_s_per_record": import_cpu_s / n as f64,
            "import_s": import_s,
            "import_cpu_s_holder": import_cpu_s,
            "import_cpu_s_other_processes": import_others_s,
            "stream_s": stream_s,
            "build_s": build_s,
            "records_per_s": records_per_s,
            "epoch": reply.epoch,
            "query_s": query_s,
            "query_items": largest.items,
            "control_connect_s": connect_s,
            "fp_rate": fp_rate,
            "filter_bytes": filter_bytes,
            "filter_bytes_measured_on_wire": measured_filter_wire,
            "filter_bits_per_record": filter_bits_per_record,
            "filter_bytes_per_record": filter_bytes as f64 / n as f64,
            "bloom_optimum_bits_per_record": optimum_bits,
            "filter_ratio_to_optimum": filter_bits_per_record / optimum_bits,
            "holder_vmhwm_bytes": jp_hwm,
            "holder_vmhwm_before_import_bytes": jp_hwm_idle,
            "holder_vmhwm_after_import_bytes": jp_hwm_import,
            "holder_vmrss_after_import_bytes": jp_rss_import,
            "holder_vmrss_end_bytes": jp_rss,
            "querier_vmhwm_bytes": th_hwm,
            "sizes": sizes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }

    let mib = |b: Option<u64>| {
        b.map(|b| format!("{:.0} MiB", b as f64 / (1 << 20) as f64))
            .unwrap_or_else(|| "n/a".into())
    };
    println!("Cordon bench: two nodes (th queries jp) as separate processes, QUIC + mutual TLS on loopback");
    println!("machine        {cpu}, {ncores} cores (load average {load_start} at start, {load_end} at end)");
    println!(
        "collection     {n} `{}` records at jp; fp rate {fp_rate:e}; {} repeats per size",
        a.kind.name(),
        a.repeats
    );
    println!(
        "canonicalise   phone {:.2} µs/row, email {:.2} µs/row (one core, in the CLI process)",
        canon_phone * 1e6,
        canon_email * 1e6
    );
    println!(
        "crypto         one thread: hash-to-group {:.0}/CPU-s, k·P {:.0}/CPU-s; build ceiling {:.1} µs CPU/record = {:.1} s for {n} records on {ncores} cores",
        rates.hash_cpu,
        rates.mul_cpu,
        ceiling_cpu_per_record * 1e6,
        ceiling_cpu_per_record * n as f64 / ncores as f64
    );
    println!();
    println!(
        "{}",
        crate::output::table(
            &["holder (jp)", "value"],
            &[
                vec!["epoch build".into(), format!("{build_s:.2} s  ({records_per_s:.0} records/s)")],
                vec!["import total".into(), format!("{import_s:.2} s  (rows streamed in {stream_s:.2} s; CPU: holder {import_cpu_s:.1} s, other processes {import_others_s:.1} s)")],
                vec![
                    "filter".into(),
                    format!(
                        "{filter_bytes} B = {:.2} B/record = {filter_bits_per_record:.2} bits/record; Bloom optimum {optimum_bits:.2} bits/record; ratio {:.3}",
                        filter_bytes as f64 / n as f64,
                        filter_bits_per_record / optimum_bits
                    ),
                ],
                vec![
                    "filter on the wire".into(),
                    measured_filter_wire
                        .map(|b| format!("{b} B (full fetch minus cached query, framing included)"))
                        .unwrap_or_else(|| "n/a".into()),
                ],
                vec![
                    "peak memory (VmHWM)".into(),
                    format!(
                        "{} (idle {}, after import {}); querier th {}",
                        mib(jp_hwm),
                        mib(jp_hwm_idle),
                        mib(jp_hwm_import),
                        mib(th_hwm)
                    ),
                ],
            ],
        )
    );
    let mut rows = Vec::new();
    for r in &results {
        let w = r.walls();
        let (lo, hi) = min_max(&w);
        let e = r.elapsed();
        let b = r.cached_bytes();
        let (cth, cjp, coth) = r.cpu();
        rows.push(vec![
            r.items.to_string(),
            format!("{}/{}", r.first.hits, r.planted),
            format!("{:.3} s ({})", r.first.wall_s, r.first.filter),
            format!("{} B", r.first.bytes()),
            format!("{:.3} s", median(&w)),
            format!("{lo:.3}–{hi:.3} s"),
            format!("{:.0} ms", median(&e)),
            format!("{cth:.2} + {cjp:.2} s"),
            format!("{coth:.2} s"),
            format!("{:.0}", r.items as f64 / median(&w)),
            format!("{:.1}", median(&b) / r.items as f64),
        ]);
    }
    println!(
        "{}",
        crate::output::table(
            &[
                "items",
                "hits",
                "first query",
                "first bytes",
                "cached median",
                "cached min–max",
                "node ms",
                "CPU th + jp",
                "CPU others",
                "items/s",
                "B/item cached",
            ],
            &rows,
        )
    );
    println!(
        "query_s (median cached latency, {} items): {query_s:.3} s; control connect {connect_s:.3} s",
        largest.items
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_distinct_and_canonical() {
        for kind in [BenchKind::Email, BenchKind::Phone] {
            let mut seen = std::collections::HashSet::new();
            let opts = Options::with_region("TH");
            for i in 0..50_000u64 {
                let v = kind.value(i);
                let c = ident::canonicalize(kind.kind(), &v, &opts).unwrap();
                assert_eq!(c.value(), v);
                assert!(seen.insert(v));
            }
        }
    }

    #[test]
    fn queries_plant_half() {
        let (items, expect) = make_query(BenchKind::Email, 1000, 11, 2000, 0);
        assert_eq!(items.len(), 11);
        assert_eq!(expect.len(), 5);
        let (_, expect) = make_query(BenchKind::Email, 1000, 10_000, 2000, 0);
        assert_eq!(expect.len(), 5000);
    }
}
