//! The pieces every bench mode shares: its work folder, the two-node federation (`th` queries,
//! `jp` holds) as child processes, the import of generated records into `jp`, and the filter's
//! exact size.

use cordon_node::control::ImportReply;

use super::*;

/// The work folder: `--keep DIR` (created if missing; refused if any of `taken` already exists
/// in it, so an earlier bench is never mixed in) or a temporary folder removed when the
/// returned guard drops.
pub(super) fn work_dir(
    keep: &Option<PathBuf>,
    taken: &[&str],
) -> anyhow::Result<(Option<tempfile::TempDir>, PathBuf)> {
    match keep {
        Some(d) => {
            if let Some(t) = taken.iter().find(|t| d.join(t).exists()) {
                bail!(
                    "{} already holds an earlier bench ({t} exists in it); choose another --keep or delete it",
                    d.display()
                );
            }
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            Ok((None, d.clone()))
        }
        None => {
            let t = tempfile::Builder::new().prefix("cordon-bench-").tempdir()?;
            let p = t.path().to_path_buf();
            Ok((Some(t), p))
        }
    }
}

/// Two running nodes and the clients the bench drives them with.
pub(super) struct Pair {
    pub(super) nodes: Nodes,
    /// `jp`'s operator (imports).
    pub(super) jp_ops: ControlClient,
    /// `th`'s investigator (queries).
    pub(super) investigator: ControlClient,
    pub(super) probe: CpuProbe,
    pub(super) th_pid: u32,
    pub(super) jp_pid: u32,
    /// `jp`'s configured false-positive rate per lookup.
    pub(super) fp_rate: f64,
    /// Seconds the investigator's control connection took.
    pub(super) connect_s: f64,
    /// `jp`'s VmHWM before anything was imported.
    pub(super) jp_hwm_idle: Option<u64>,
}

/// Creates the agencies `th` and `jp` in `dir` and starts both nodes.
pub(super) async fn start_pair(dir: &Path, ticks: f64) -> anyhow::Result<Pair> {
    let t_fed = Instant::now();
    let agencies = LocalFederation::create(dir, &["th", "jp"], Some("TH"))?.into_agencies();
    let agency = |name: &str| {
        agencies
            .iter()
            .find(|g| g.name == name)
            .cloned()
            .with_context(|| format!("no agency {name}"))
    };
    let (th, jp) = (agency("th")?, agency("jp")?);
    let fp_rate = Config::load(&jp.config_path)?.epochs.fp_rate;
    let mut nodes = Nodes {
        children: Vec::new(),
    };
    nodes.children.push(spawn_node(dir, &th)?);
    nodes.children.push(spawn_node(dir, &jp)?);
    let jp_ops = connect_when_up(&mut nodes, &Profile::load(&jp.operator)?).await?;
    let th_profile = Profile::load(&th.investigator)?;
    let t_conn = Instant::now();
    let investigator = connect_when_up(&mut nodes, &th_profile).await?;
    let connect_s = t_conn.elapsed().as_secs_f64();
    let jp_pid = nodes.pid("jp").context("jp not running")?;
    let th_pid = nodes.pid("th").context("th not running")?;
    progress!(
        "nodes th (pid {th_pid}) and jp (pid {jp_pid}) up in {:.1} s",
        t_fed.elapsed().as_secs_f64()
    );
    let (jp_hwm_idle, _) = memory(jp_pid);
    Ok(Pair {
        nodes,
        jp_ops,
        investigator,
        probe: CpuProbe {
            pids: [th_pid, jp_pid],
            ticks,
        },
        th_pid,
        jp_pid,
        fp_rate,
        connect_s,
        jp_hwm_idle,
    })
}

/// An import of generated records and what it cost.
pub(super) struct Imported {
    pub(super) reply: ImportReply,
    /// Wall time from opening the import to the committed reply.
    pub(super) import_s: f64,
    /// Wall time until the last row was sent.
    pub(super) stream_s: f64,
    /// CPU seconds of the holder node during the import.
    pub(super) cpu_s: f64,
    /// CPU seconds other processes used meanwhile.
    pub(super) others_s: f64,
}

/// Streams the generated values `kind.value(0..n)` (lines 1..=n) into `jp`'s bench collection,
/// generated batch by batch and sent in frames, and checks that they became a fresh epoch of
/// exactly `n` records.
pub(super) async fn import_generated(
    ops: &ControlClient,
    probe: &CpuProbe,
    kind: BenchKind,
    n: u64,
) -> anyhow::Result<Imported> {
    progress!(
        "importing {n} `{}` records into jp (frames of {IMPORT_ROWS_PER_FRAME} rows)...",
        kind.name()
    );
    let cpu0 = probe.read();
    let Streamed {
        reply,
        import_s,
        stream_s,
    } = import_records(ops, kind, n).await?;
    let cpu1 = probe.read();
    let cpu_s = cpu1[1] - cpu0[1];
    let others_s = CpuProbe::others(&cpu0, &cpu1);
    progress!(
        "imported in {import_s:.2} s (rows streamed in {stream_s:.2} s, holder CPU {cpu_s:.1} s, other processes {others_s:.1} CPU-s); epoch {} built in {:.2} s = {:.0} records/s",
        reply.epoch,
        reply.epoch_seconds,
        n as f64 / reply.epoch_seconds
    );
    Ok(Imported {
        reply,
        import_s,
        stream_s,
        cpu_s,
        others_s,
    })
}

/// The exact size of the holder's filter for `n` records at `fp_rate`: the same crate and
/// parameters as the holder's build (the bitmap size depends only on the record count and the
/// rate, not on the seed or the tags).
pub(super) struct FilterSize {
    pub(super) bytes: u64,
    pub(super) bits_per_record: f64,
    /// Bits per record of an optimal Bloom filter at the same rate: `-ln p / ln² 2`.
    pub(super) optimum_bits: f64,
}

impl FilterSize {
    pub(super) fn new(n: u64, fp_rate: f64) -> anyhow::Result<FilterSize> {
        let bitmap_bytes = EpochFilter::new(n, fp_rate, &[0; 32])
            .map_err(anyhow::Error::msg)?
            .params(n, fp_rate)
            .bitmap_bytes;
        let bytes = bitmap_bytes + FILTER_HEADER_LEN as u64;
        Ok(FilterSize {
            bytes,
            bits_per_record: bytes as f64 * 8.0 / n as f64,
            optimum_bits: -fp_rate.ln() / (2f64.ln() * 2f64.ln()),
        })
    }

    pub(super) fn ratio_to_optimum(&self) -> f64 {
        self.bits_per_record / self.optimum_bits
    }
}

/// One query size against `jp` (holding `n` records): a first query (which fetches the filter
/// if `th` has none cached yet), then `repeats` queries that must use the cached filter. Every
/// answer's hits must be exactly the planted lines `expect`.
pub(super) async fn query_series(
    investigator: &ControlClient,
    probe: &CpuProbe,
    n: u64,
    items: &[(u64, String)],
    expect: &BTreeSet<u64>,
    repeats: usize,
) -> anyhow::Result<SizeResult> {
    let m = items.len();
    progress!("query of {m} items ({} planted): first...", expect.len());
    let first = run_query(investigator, probe, items, expect).await?;
    progress!(
        "  first: {:.3} s (node {} ms), filter {}, {} B sent, {} B received",
        first.wall_s,
        first.elapsed_ms,
        first.filter,
        first.bytes_sent,
        first.bytes_received
    );
    if first.partner_records != n {
        bail!(
            "jp reported {} records, {n} were imported",
            first.partner_records
        );
    }
    let mut cached = Vec::new();
    for r in 0..repeats {
        let s = run_query(investigator, probe, items, expect).await?;
        if s.filter != "cached" {
            bail!(
                "repeat {} of the {m}-item query got filter `{}`, expected `cached`",
                r + 1,
                s.filter
            );
        }
        progress!(
            "  repeat {}: {:.3} s (node {} ms), {} B, CPU th {:.2} s + jp {:.2} s, others {:.2} s",
            r + 1,
            s.wall_s,
            s.elapsed_ms,
            s.bytes(),
            s.cpu_th,
            s.cpu_jp,
            s.cpu_others
        );
        cached.push(s);
    }
    Ok(SizeResult {
        items: m,
        planted: expect.len(),
        first,
        repeats: cached,
    })
}
