//! `cordon bench --compare`: Cordon and OpenMined PSI on the same data, in the same run, on the
//! same machine.
//!
//! For each holder size N the bench writes one holder set (the generated values 0..N, one per
//! line) and one query set per query size (half planted among the holder's records, as in the
//! plain bench) into `<work>/compare/data/`. Cordon imports the same generated values through
//! its operator's control channel; OpenMined's driver (openmined.py, run with the Python of a
//! virtual environment holding `openmined-psi`) reads the files. Then, `--runs` times over:
//!
//! - Cordon, with fresh nodes and a fresh import: epoch build (`ImportReply.epoch_seconds`) and
//!   import total; each query end to end (CLI → th → jp → th → CLI over QUIC with mutual TLS),
//!   first with the filter fetched, then `--repeats` times with it cached; bytes on the wire; the
//!   holder's VmHWM.
//! - OpenMined, once with a Bloom filter set-up and once with GCS, each in its own Python
//!   process: `CreateSetupMessage` time and the process's peak memory right after it; each query
//!   as `CreateRequest` + `ProcessRequest` + `GetIntersection` (set-up excluded); set-up,
//!   request and response sizes. OpenMined re-sends its set-up with every query, so a repeat
//!   query costs set-up + request + response bytes.
//!
//! False-positive rate: OpenMined's `fpr` is for a whole query (per lookup `fpr /
//! num_client_inputs`); Cordon's filter rate is per lookup (1e-9 by default). The set-up is made
//! for the largest query size with `fpr = rate × largest`, so both have the same rate per
//! lookup, and a smaller query against it has that rate too.
//!
//! Both systems must return the same intersection for every query of every run (Cordon's hit
//! lines, OpenMined's indices + 1); the bench fails otherwise. Figures are medians over the runs
//! (min–max alongside).

use super::compare_report::Report;
use super::openmined::{self, OmRun, Structure};
use super::*;

#[derive(Args)]
#[command(next_help_heading = "Side by side with OpenMined PSI (--compare)")]
pub struct CompareArgs {
    /// Also run OpenMined PSI (installed from PyPI into a Python virtual environment) on the same
    /// data in the same run, and print both side by side with their ratios. OpenMined's
    /// whole-query false-positive rate is set to Cordon's per-lookup rate times the query size
    #[arg(long)]
    pub(super) compare: bool,
    /// Repetitions of the whole comparison (fresh nodes and imports each time); the figures are
    /// their medians
    #[arg(long, default_value_t = 3, value_name = "R", requires = "compare")]
    runs: usize,
    /// Python virtual environment holding openmined-psi; created, and the package installed with
    /// pip, if missing [default: $XDG_CACHE_HOME/cordon/openmined-venv, else
    /// ~/.cache/cordon/openmined-venv]
    #[arg(long, value_name = "DIR", requires = "compare")]
    venv: Option<PathBuf>,
    /// Python 3 that creates the virtual environment when it is missing
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "python3",
        requires = "compare"
    )]
    python: PathBuf,
}

/// One query set, shared by both systems.
pub(super) struct QuerySet {
    pub(super) items: Vec<(u64, String)>,
    pub(super) expect: BTreeSet<u64>,
    pub(super) file: PathBuf,
}

/// One holder size's data files.
pub(super) struct HolderSet {
    pub(super) n: u64,
    pub(super) file: PathBuf,
    pub(super) queries: Vec<QuerySet>,
}

/// Cordon's side of one run for one holder size.
pub(super) struct CordonRun {
    pub(super) fp_rate: f64,
    pub(super) filter: FilterSize,
    pub(super) build_s: f64,
    pub(super) import_s: f64,
    /// CPU seconds of the holder node during the import.
    pub(super) import_cpu_s: f64,
    pub(super) hwm: Option<u64>,
    pub(super) sizes: Vec<SizeResult>,
}

/// Every run of one holder size.
pub(super) struct SizeRuns {
    pub(super) n: u64,
    pub(super) cordon: Vec<CordonRun>,
    /// OpenMined's runs, Bloom filter then GCS.
    pub(super) om: [Vec<OmRun>; 2],
}

pub(super) fn run(a: &BenchArgs, records: &[u64]) -> anyhow::Result<ExitCode> {
    let c = &a.compare;
    if c.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if let Some(w) = &a.write {
        let parent = w.parent().filter(|p| !p.as_os_str().is_empty());
        if w.is_dir() || parent.is_some_and(|p| !p.is_dir()) {
            bail!(
                "--write {} is not a file in an existing folder; name a Markdown file such as BENCHMARKS.md",
                w.display()
            );
        }
    }
    let venv = match &c.venv {
        Some(v) => v.clone(),
        None => openmined::default_venv()?,
    };
    let (_tmp, root) = work_dir(&a.keep, &["compare"])?;
    let dir = root.join("compare");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // OpenMined first: a missing Python or PyPI fails before minutes of Cordon work.
    let om = openmined::prepare(&c.python, &venv, &dir)?;
    progress!(
        "OpenMined PSI {} (Python {}) from {}",
        om.version,
        om.python_version,
        om.venv.display()
    );
    progress!(
        "machine: {}, {} cores, load average {}; work folder {}",
        cpu_model(),
        cores(),
        loadavg(),
        dir.display()
    );
    let ticks = clock_ticks();
    let rates = crypto_rates(ticks);
    progress!(
        "crypto, one thread: hash-to-group {:.0}/CPU-s, k·P {:.0}/CPU-s",
        rates.hash_cpu,
        rates.mul_cpu
    );

    let data = dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let holders = records
        .iter()
        .map(|&n| write_sets(a, &data, n))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let rt = crate::runtime()?;
    let mut all: Vec<SizeRuns> = records
        .iter()
        .map(|&n| SizeRuns {
            n,
            cordon: Vec::new(),
            om: [Vec::new(), Vec::new()],
        })
        .collect();
    for r in 1..=c.runs {
        for (h, runs) in holders.iter().zip(all.iter_mut()) {
            let n = h.n;
            progress!("run {r} of {}, {n} records: Cordon", c.runs);
            let run_dir = dir.join(format!("run{r}-{n}"));
            let cordon = rt.block_on(cordon_once(a, &run_dir, h, ticks))?;
            let query_files: Vec<PathBuf> = h.queries.iter().map(|q| q.file.clone()).collect();
            for (i, s) in Structure::BOTH.into_iter().enumerate() {
                progress!(
                    "run {r} of {}, {n} records: {} set-up and queries...",
                    c.runs,
                    s.label()
                );
                let o = om.run(s, &h.file, &query_files, cordon.fp_rate)?;
                check_same(h, &cordon, &o, s)?;
                progress!(
                    "  set-up {:.2} s ({} B, peak memory {} MiB); queries {}",
                    o.setup_s,
                    o.setup_bytes,
                    o.maxrss_bytes >> 20,
                    o.queries
                        .iter()
                        .map(|q| format!("{} items {:.3} s", q.items, q.total_s))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                runs.om[i].push(o);
            }
            runs.cordon.push(cordon);
        }
    }

    let report = Report::new(a, &all, &rates, &om, c.runs);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.text());
    }
    if let Some(w) = &a.write {
        report.write_markdown(w)?;
        progress!("wrote the comparison into {}", w.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the holder set of `n` records and the query sets (one per query size) into `data`.
fn write_sets(a: &BenchArgs, data: &Path, n: u64) -> anyhow::Result<HolderSet> {
    use std::io::{BufWriter, Write};
    let write = |path: &Path, values: &mut dyn Iterator<Item = String>| -> anyhow::Result<()> {
        let err = || format!("cannot write {}", path.display());
        let mut w = BufWriter::new(File::create(path).with_context(err)?);
        for v in values {
            writeln!(w, "{v}").with_context(err)?;
        }
        w.flush().with_context(err)
    };
    let file = data.join(format!("holder-{n}.txt"));
    write(&file, &mut (0..n).map(|i| a.kind.value(i)))?;
    // The same query sets as the plain bench: misses drawn after the records.
    let mut miss_base = n + 1_000;
    let mut queries = Vec::new();
    for &m in &a.query_items() {
        let (items, expect) = make_query(a.kind, n, m, miss_base, 0);
        miss_base += m as u64 + 1;
        let qfile = data.join(format!("query-{n}-{m}.txt"));
        write(&qfile, &mut items.iter().map(|(_, v)| v.clone()))?;
        queries.push(QuerySet {
            items,
            expect,
            file: qfile,
        });
    }
    Ok(HolderSet { n, file, queries })
}

/// Cordon's side of one run: fresh nodes, the import, and every query size.
async fn cordon_once(
    a: &BenchArgs,
    dir: &Path,
    h: &HolderSet,
    ticks: f64,
) -> anyhow::Result<CordonRun> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pair = start_pair(dir, ticks).await?;
    let mut nodes = pair.nodes;
    let imported = import_generated(&pair.jp_ops, &pair.probe, a.kind, h.n).await?;
    pair.jp_ops.close().await;
    let mut sizes = Vec::new();
    for q in &h.queries {
        let s = query_series(
            &pair.investigator,
            &pair.probe,
            h.n,
            &q.items,
            &q.expect,
            a.repeats,
        )
        .await?;
        sizes.push(s);
        nodes.check_alive()?;
    }
    pair.investigator.close().await;
    let (hwm, _) = memory(pair.jp_pid);
    nodes.stop_all();
    Ok(CordonRun {
        fp_rate: pair.fp_rate,
        filter: FilterSize::new(h.n, pair.fp_rate)?,
        build_s: imported.reply.epoch_seconds,
        import_s: imported.import_s,
        import_cpu_s: imported.cpu_s,
        hwm,
        sizes,
    })
}

/// Fails unless OpenMined found exactly the lines Cordon found, for every query.
fn check_same(h: &HolderSet, c: &CordonRun, o: &OmRun, s: Structure) -> anyhow::Result<()> {
    if o.records != h.n || o.queries.len() != h.queries.len() {
        bail!(
            "{} read {} records and {} queries, but {} records and {} queries were written",
            s.label(),
            o.records,
            o.queries.len(),
            h.n,
            h.queries.len()
        );
    }
    for ((q, cs), oq) in h.queries.iter().zip(&c.sizes).zip(&o.queries) {
        let om_lines: BTreeSet<u64> = oq.hits.iter().map(|i| i + 1).collect();
        for (name, lines) in [
            ("first", &cs.first.hit_lines),
            ("repeat", &cs.repeats[0].hit_lines),
        ] {
            if lines != &om_lines {
                let only = lines
                    .symmetric_difference(&om_lines)
                    .next()
                    .copied()
                    .unwrap_or(0);
                bail!(
                    "Cordon ({name} query) and {} disagree on the {}-item query against {} records: {} against {} hits; line {only} of {} is a hit for only one of them",
                    s.label(),
                    q.items.len(),
                    h.n,
                    lines.len(),
                    om_lines.len(),
                    q.file.display()
                );
            }
        }
    }
    Ok(())
}
