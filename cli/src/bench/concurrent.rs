//! `cordon bench --partners P`: one holder `jp` answering P partner agencies at once.
//!
//! Every querier is a real agency (its own CA and node process, mutual partner entries with
//! `jp`), and its investigator asks `jp` continuously: the next query goes out as soon as the
//! last one is answered. Each querier's first query fetches `jp`'s filter; those are reported
//! apart and the measured window starts when all of them are done. Every query holds distinct
//! items (half planted among `jp`'s records) and every answer's hits are checked.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::*;

/// The load modes' arguments (`--partners`, `--scaling`).
#[derive(Args)]
pub struct LoadArgs {
    /// Instead of the latency bench: P partner agencies query the holder at once, each
    /// continuously for --duration (`--partners` alone: 8)
    #[arg(long, value_name = "P", num_args = 0..=1, default_missing_value = "8")]
    pub(super) partners: Option<usize>,
    /// Seconds every partner keeps querying, with --partners or --scaling
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub(super) duration: u64,
    /// Run the scaling series (an import and epoch build for each of --records-steps, a
    /// concurrent run for each of --partners-steps) and draw its charts into --chart-dir
    #[arg(long, conflicts_with = "partners")]
    pub(super) scaling: bool,
    /// With --scaling: holder sizes to import and build, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = vec![100_000u64, 300_000, 1_000_000], value_name = "N[,N2...]")]
    pub(super) records_steps: Vec<u64>,
    /// With --scaling: numbers of partners querying at once, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 2, 4, 8], value_name = "P[,P2...]")]
    pub(super) partners_steps: Vec<usize>,
    /// With --scaling: folder for the two SVG charts and the JSON of the points (created if
    /// missing), e.g. `bench` beside BENCHMARKS.md
    #[arg(long, value_name = "DIR")]
    pub(super) chart_dir: Option<PathBuf>,
}

/// Most querier agencies a run starts (each is a node process on this machine).
const MAX_PARTNERS: usize = 64;

/// The daily budget of jp's grants during a load run, so that the budget (which the run does
/// not measure) can never end it; the busiest partner's use is reported against the default.
const LOAD_DAILY_ITEMS: u64 = 1_000_000_000;

/// A querier that meets this many control-connection errors in a row stops (its node or the
/// connection is gone; every further query would fail the same way).
const MAX_ERRORS_IN_A_ROW: u32 = 5;

/// One concurrent run.
#[derive(Clone, Copy)]
pub(super) struct LoadSpec {
    pub(super) partners: usize,
    pub(super) duration: Duration,
    pub(super) records: u64,
    pub(super) items: usize,
    pub(super) kind: BenchKind,
}

impl LoadSpec {
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if self.partners == 0 || self.partners > MAX_PARTNERS {
            bail!(
                "{} partners: a load run needs 1 to {MAX_PARTNERS} (each is a node process on this machine)",
                self.partners
            );
        }
        if self.duration.is_zero() {
            bail!("--duration must be at least 1 second");
        }
        check_holder(self.records, self.items, self.kind)
    }
}

/// The holder can plant half of a query of `items` among `records`, and the generator has
/// values enough for the misses.
pub(super) fn check_holder(records: u64, items: usize, kind: BenchKind) -> anyhow::Result<()> {
    if items == 0 {
        bail!("--query-items must be at least 1");
    }
    if records == 0 || (items / 2) as u64 > records {
        bail!(
            "--records {records} is too small to plant {} hits in a query of {items} items",
            items / 2
        );
    }
    if records.saturating_add(items as u64 * 1000) >= kind.capacity() {
        bail!(
            "--records {records} leaves too few of the {} distinct `{}` values the generator makes for the queries",
            kind.capacity(),
            kind.name()
        );
    }
    Ok(())
}

/// What one querier saw.
#[derive(Default)]
struct QuerierLog {
    /// The first query (filter fetch): latency and how the filter came.
    first: Option<(f64, String)>,
    /// Latencies of the answered queries in the window, seconds.
    latencies: Vec<f64>,
    /// Holder-side elapsed time of each answered query, as the querier node reports it.
    node_ms: Vec<f64>,
    /// Failed queries by code, with the first message of each.
    failures: BTreeMap<String, (u64, String)>,
    /// Items this querier had evaluated by jp (the first query included).
    items_used: u64,
}

impl QuerierLog {
    fn fail(&mut self, code: String, message: String) {
        let e = self.failures.entry(code).or_insert((0, message));
        e.0 += 1;
    }
}

/// CPU seconds so far of a set of processes.
fn cpu_of(pids: &[u32], ticks: f64) -> f64 {
    pids.iter()
        .map(|p| cpu_seconds(*p, ticks).unwrap_or(0.0))
        .sum()
}

/// One concurrent run's figures.
#[derive(Clone, serde::Serialize)]
pub(super) struct LoadResult {
    pub(super) partners: usize,
    pub(super) records: u64,
    pub(super) query_items: usize,
    pub(super) build_s: f64,
    pub(super) import_s: f64,
    /// First queries (filter fetched), excluded from every figure below.
    pub(super) first_query_s: Vec<f64>,
    pub(super) first_query_filters: Vec<String>,
    /// The measured window: from the end of the first queries until the last querier stopped.
    pub(super) window_s: f64,
    pub(super) queries: u64,
    pub(super) queries_per_partner: Vec<u64>,
    /// Refusals and errors by code: `refused:<code>`, `timeout`, `wrong_hits`, `control`, …
    pub(super) failures: BTreeMap<String, u64>,
    pub(super) failure_examples: BTreeMap<String, String>,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) max_ms: f64,
    pub(super) node_p50_ms: f64,
    pub(super) node_p99_ms: f64,
    pub(super) items_per_s: f64,
    pub(super) cores: usize,
    /// CPU seconds in the window: the holder, all querier nodes, this process (the querier
    /// nodes' CLI clients), and every other process on the machine.
    pub(super) cpu_s_holder: f64,
    pub(super) cpu_s_queriers: f64,
    pub(super) cpu_s_clients: f64,
    pub(super) cpu_s_others: f64,
    pub(super) holder_vmhwm_bytes: Option<u64>,
    pub(super) querier_vmhwm_max_bytes: Option<u64>,
    pub(super) daily_items_granted: u64,
    pub(super) busiest_partner_items: u64,
}

impl LoadResult {
    pub(super) fn errors(&self) -> u64 {
        self.failures.values().sum()
    }
    /// A CPU figure as a share of all cores over the window.
    pub(super) fn share(&self, cpu_s: f64) -> f64 {
        cpu_s / (self.window_s * self.cores as f64)
    }
}

/// The `p`-th percentile (0–100) by nearest rank: the smallest value with at least p % of the
/// values at or below it. NaN for no values.
pub(super) fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut s = values.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// Raises the daily budget of every grant in `config` to `items` (the grants `partner add`
/// writes carry [`cordon_node::policy::DEFAULT_DAILY_ITEMS`]).
fn raise_budgets(config: &Path, grants: usize, items: u64) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let from = format!(
        "daily_items = {}\n",
        cordon_node::policy::DEFAULT_DAILY_ITEMS
    );
    if text.matches(&from).count() != grants {
        bail!(
            "{} does not hold the {grants} default grants the bench expects (`{}`)",
            config.display(),
            from.trim()
        );
    }
    let text = text.replace(&from, &format!("daily_items = {items}\n"));
    std::fs::write(config, &text).with_context(|| format!("cannot write {}", config.display()))?;
    Config::load(config)?;
    Ok(())
}

/// Sets up the federation under `dir`, imports the records, runs the load and stops the nodes.
pub(super) async fn run_load(spec: &LoadSpec, dir: &Path) -> anyhow::Result<LoadResult> {
    spec.check()?;
    let querier_names: Vec<String> = (1..=spec.partners).map(|i| format!("q{i}")).collect();
    let mut names = vec!["jp"];
    names.extend(querier_names.iter().map(String::as_str));
    let t_fed = Instant::now();
    let agencies = LocalFederation::create(dir, &names, Some("TH"))?.into_agencies();
    let jp = agency(&agencies, "jp")?;
    // Before the node starts, which reads its configuration once.
    raise_budgets(&jp.config_path, spec.partners, LOAD_DAILY_ITEMS)?;
    let mut nodes = spawn_all(dir, &agencies)?;
    let ops = connect_when_up(&mut nodes, &Profile::load(&jp.operator)?).await?;
    progress!(
        "{} nodes up in {:.1} s; importing {} `{}` records into jp...",
        names.len(),
        t_fed.elapsed().as_secs_f64(),
        spec.records,
        spec.kind.name()
    );
    let imported = import_records(&ops, spec.kind, spec.records).await?;
    ops.close().await;
    progress!(
        "imported in {:.2} s, epoch built in {:.2} s",
        imported.import_s,
        imported.reply.epoch_seconds
    );
    let mut clients = Vec::new();
    for q in &querier_names {
        let profile = Profile::load(&agency(&agencies, q)?.investigator)?;
        clients.push((q.clone(), connect_when_up(&mut nodes, &profile).await?));
    }
    let jp_pid = nodes.pid("jp").context("jp not running")?;
    let querier_pids: Vec<u32> = querier_names.iter().filter_map(|q| nodes.pid(q)).collect();
    let ticks = clock_ticks();

    // The window opens when every querier has its filter: the barrier holds the queriers and
    // this task, which reads the CPU counters as it passes.
    let barrier = Arc::new(tokio::sync::Barrier::new(spec.partners + 1));
    let next_query = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (name, client) in clients {
        let (barrier, next_query, spec) = (barrier.clone(), next_query.clone(), *spec);
        tasks.spawn(async move {
            let log = querier(&client, &spec, &barrier, &next_query).await;
            client.close().await;
            (name, log)
        });
    }
    progress!(
        "{} partners: first queries (filter fetch), then {} s of continuous {}-item queries...",
        spec.partners,
        spec.duration.as_secs(),
        spec.items
    );
    barrier.wait().await;
    let me = std::process::id();
    let c0 = (
        cpu_of(&[jp_pid], ticks),
        cpu_of(&querier_pids, ticks),
        cpu_of(&[me], ticks),
        machine_busy_seconds(ticks).unwrap_or(f64::NAN),
    );
    let t0 = Instant::now();
    let mut logs = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (name, log) = r.context("a querier task failed")?;
        logs.insert(name, log);
    }
    let window_s = t0.elapsed().as_secs_f64();
    let c1 = (
        cpu_of(&[jp_pid], ticks),
        cpu_of(&querier_pids, ticks),
        cpu_of(&[me], ticks),
        machine_busy_seconds(ticks).unwrap_or(f64::NAN),
    );
    nodes.check_alive()?;
    let holder_vmhwm_bytes = memory(jp_pid).0;
    let querier_vmhwm_max_bytes = querier_pids.iter().filter_map(|p| memory(*p).0).max();
    nodes.stop_all();

    let mut failures = BTreeMap::new();
    let mut failure_examples = BTreeMap::new();
    let (mut latencies, mut node_ms, mut first_s, mut first_filters, mut per_partner) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut busiest = 0;
    for log in logs.into_values() {
        for (code, (n, msg)) in log.failures {
            *failures.entry(code.clone()).or_insert(0) += n;
            failure_examples.entry(code).or_insert(msg);
        }
        if let Some((s, f)) = log.first {
            first_s.push(s);
            first_filters.push(f);
        }
        per_partner.push(log.latencies.len() as u64);
        latencies.extend(log.latencies);
        node_ms.extend(log.node_ms);
        busiest = busiest.max(log.items_used);
    }
    let queries = latencies.len() as u64;
    let (holder, queriers, clients) = (c1.0 - c0.0, c1.1 - c0.1, c1.2 - c0.2);
    Ok(LoadResult {
        partners: spec.partners,
        records: spec.records,
        query_items: spec.items,
        build_s: imported.reply.epoch_seconds,
        import_s: imported.import_s,
        first_query_s: first_s,
        first_query_filters: first_filters,
        window_s,
        queries,
        queries_per_partner: per_partner,
        failures,
        failure_examples,
        p50_ms: percentile(&latencies, 50.0) * 1e3,
        p99_ms: percentile(&latencies, 99.0) * 1e3,
        max_ms: percentile(&latencies, 100.0) * 1e3,
        node_p50_ms: percentile(&node_ms, 50.0),
        node_p99_ms: percentile(&node_ms, 99.0),
        items_per_s: (queries * spec.items as u64) as f64 / window_s,
        cores: cores(),
        cpu_s_holder: holder,
        cpu_s_queriers: queriers,
        cpu_s_clients: clients,
        cpu_s_others: ((c1.3 - c0.3) - holder - queriers - clients).max(0.0),
        holder_vmhwm_bytes,
        querier_vmhwm_max_bytes,
        daily_items_granted: LOAD_DAILY_ITEMS,
        busiest_partner_items: busiest,
    })
}

/// One querier: its first query, the barrier, then queries back to back until the window
/// closes (the query in flight then still counts).
async fn querier(
    client: &ControlClient,
    spec: &LoadSpec,
    barrier: &tokio::sync::Barrier,
    next_query: &AtomicU64,
) -> QuerierLog {
    let mut log = QuerierLog::default();
    let first = one_query(client, spec, next_query, &mut log).await;
    log.first = first.map(|(s, _, filter)| (s, filter));
    barrier.wait().await;
    let deadline = Instant::now() + spec.duration;
    let mut errors_in_a_row = 0;
    while Instant::now() < deadline && errors_in_a_row < MAX_ERRORS_IN_A_ROW {
        match one_query(client, spec, next_query, &mut log).await {
            Some((s, ms, _)) => {
                log.latencies.push(s);
                log.node_ms.push(ms);
                errors_in_a_row = 0;
            }
            None => errors_in_a_row += 1,
        }
    }
    log
}

/// Sends the next query of the run and checks its answer: the latency, the holder-side
/// milliseconds and how the filter came, or `None` with the failure logged.
async fn one_query(
    client: &ControlClient,
    spec: &LoadSpec,
    next_query: &AtomicU64,
    log: &mut QuerierLog,
) -> Option<(f64, f64, String)> {
    let g = next_query.fetch_add(1, Ordering::Relaxed);
    let (items, expect) = load_query(spec, g);
    let req = query_request(&items, &["jp"]);
    let t = Instant::now();
    let reply = match client.query(req).await {
        Ok(r) => r,
        Err(e) => {
            log.fail("control".into(), e.to_string());
            return None;
        }
    };
    let wall = t.elapsed().as_secs_f64();
    match reply.partners.iter().find(|p| p.partner == "jp") {
        None => log.fail("no_answer".into(), "the reply has no answer from jp".into()),
        Some(p) => match &p.outcome {
            PartnerOutcome::Answered { hits, filter, .. } => {
                log.items_used += spec.items as u64;
                if hits_are(hits, &expect) {
                    return Some((wall, p.elapsed_ms as f64, filter.clone()));
                }
                log.fail(
                    "wrong_hits".into(),
                    format!(
                        "jp gave {} hits for a query of {} items, {} were planted",
                        hits.len(),
                        items.len(),
                        expect.len()
                    ),
                );
            }
            PartnerOutcome::Failed { code, message } => log.fail(code.to_string(), message.clone()),
        },
    }
    None
}

/// Query number `g` of a run: its planted half shifted by `g` (distinct from the other queries
/// until the collection has been cycled through), its misses new values never asked before.
fn load_query(spec: &LoadSpec, g: u64) -> (Vec<(u64, String)>, BTreeSet<u64>) {
    let hits = (spec.items / 2).max(1) as u64;
    let spacing = (spec.records / hits).max(1);
    let m = spec.items as u64 + 1;
    // Misses start past the records and wrap within what the generator can make.
    let room = (spec.kind.capacity() - spec.records - 2 * m) / m;
    let miss_base = spec.records + 1 + (g % room) * m;
    make_query(spec.kind, spec.records, spec.items, miss_base, g % spacing)
}

/// `cordon bench --partners P` or `--scaling`.
pub(super) fn run(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    let items = match a.query_items().as_slice() {
        [m] => *m,
        _ => bail!("--partners and --scaling take one query size (--query-items M), not a list"),
    };
    if a.load.scaling {
        return super::chart::run_scaling(a, items);
    }
    if a.write.is_some() {
        bail!("--write FILE is for --scaling; --partners prints its results");
    }
    let spec = LoadSpec {
        partners: a.load.partners.unwrap_or(8),
        duration: Duration::from_secs(a.load.duration),
        records: a.records(),
        items,
        kind: a.kind,
    };
    spec.check()?;
    let names: Vec<String> = std::iter::once("jp".to_string())
        .chain((1..=spec.partners).map(|i| format!("q{i}")))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_tmp, dir) = work_dir(&a.keep, &names)?;
    let cpu = cpu_model();
    progress!(
        "machine: {cpu}, {} cores, load average {}",
        cores(),
        loadavg()
    );
    progress!("folders and node logs in {}", dir.display());
    let rt = crate::runtime()?;
    let r = rt.block_on(run_load(&spec, &dir))?;
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        v["cpu"] = json!(cpu);
        v["loadavg_end"] = json!(loadavg());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_load(&r, &cpu);
    }
    Ok(if r.errors() == 0 && r.queries > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn mib(b: Option<u64>) -> String {
    b.map(|b| format!("{:.0} MiB", b as f64 / (1 << 20) as f64))
        .unwrap_or_else(|| "n/a".into())
}

fn print_load(r: &LoadResult, cpu: &str) {
    println!(
        "Cordon bench: {} partners query one holder at once, every node its own process, QUIC + mutual TLS on loopback",
        r.partners
    );
    println!(
        "machine        {cpu}, {} cores (load average {} at end)",
        r.cores,
        loadavg()
    );
    println!(
        "holder jp      {} records; epoch built in {:.2} s (import {:.2} s); grants raised to {} items/day per partner",
        r.records, r.build_s, r.import_s, r.daily_items_granted
    );
    let (flo, fhi) = min_max(&r.first_query_s);
    let full = r
        .first_query_filters
        .iter()
        .filter(|f| *f == "full")
        .count();
    let errors = if r.failures.is_empty() {
        "none".to_string()
    } else {
        r.failures
            .iter()
            .map(|(c, n)| format!("{c} ×{n} (e.g. {})", r.failure_examples[c]))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (qlo, qhi) = r
        .queries_per_partner
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &q| (lo.min(q), hi.max(q)));
    let rows = vec![
        vec![
            "first queries (excluded)".into(),
            format!(
                "{} of {}: {flo:.3}–{fhi:.3} s, filter fetched in full by {full}",
                r.first_query_s.len(),
                r.partners
            ),
        ],
        vec![
            "window".into(),
            format!(
                "{:.1} s, {}-item queries back to back",
                r.window_s, r.query_items
            ),
        ],
        vec![
            "queries answered".into(),
            format!(
                "{} ({qlo}–{qhi} per partner), hits checked",
                r.queries
            ),
        ],
        vec!["refusals and errors".into(), errors],
        vec![
            "latency, end to end".into(),
            format!(
                "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                r.p50_ms, r.p99_ms, r.max_ms
            ),
        ],
        vec![
            "querier node's time".into(),
            format!("p50 {:.0} ms, p99 {:.0} ms", r.node_p50_ms, r.node_p99_ms),
        ],
        vec![
            "items answered by jp".into(),
            format!("{:.0} items/s", r.items_per_s),
        ],
        vec![
            "CPU in the window".into(),
            format!(
                "holder jp {:.1} CPU-s ({:.0} %), {} querier nodes {:.1} CPU-s ({:.0} %), CLI clients (this process) {:.1} CPU-s ({:.0} %), other processes {:.1} CPU-s ({:.0} %) of {} cores",
                r.cpu_s_holder,
                100.0 * r.share(r.cpu_s_holder),
                r.partners,
                r.cpu_s_queriers,
                100.0 * r.share(r.cpu_s_queriers),
                r.cpu_s_clients,
                100.0 * r.share(r.cpu_s_clients),
                r.cpu_s_others,
                100.0 * r.share(r.cpu_s_others),
                r.cores
            ),
        ],
        vec![
            "peak memory (VmHWM)".into(),
            format!(
                "holder {}; largest querier {}",
                mib(r.holder_vmhwm_bytes),
                mib(r.querier_vmhwm_max_bytes)
            ),
        ],
        vec![
            "budget".into(),
            format!(
                "busiest partner had {} items evaluated ({:.0} % of the default {} a day)",
                r.busiest_partner_items,
                100.0 * r.busiest_partner_items as f64
                    / cordon_node::policy::DEFAULT_DAILY_ITEMS as f64,
                cordon_node::policy::DEFAULT_DAILY_ITEMS
            ),
        ],
    ];
    println!("{}", crate::output::table(&["", "value"], &rows));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        let few = [0.3, 0.1, 0.2];
        assert_eq!(percentile(&few, 50.0), 0.2);
        assert_eq!(percentile(&few, 99.0), 0.3);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn load_queries_are_distinct_and_half_planted() {
        let spec = LoadSpec {
            partners: 2,
            duration: Duration::from_secs(1),
            records: 2000,
            items: 100,
            kind: BenchKind::Email,
        };
        let mut seen = std::collections::HashSet::new();
        // 2000 records, 50 planted per query: 40 queries before a planted item repeats.
        for g in 0..40 {
            let (items, expect) = load_query(&spec, g);
            assert_eq!((items.len(), expect.len()), (100, 50));
            for (_, v) in items {
                assert!(seen.insert(v), "query {g} repeats an item");
            }
        }
    }
}
