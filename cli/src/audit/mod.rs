//! `cordon audit …`: the auditor's tools. `export`, `prove` and `consistency` read the log of
//! the running node (auditor or supervisor certificate); `verify`, `show`, `verify-proof`,
//! `reconcile` and `report` work offline on files, trusting nothing but the keys given.

pub(crate) mod reconcile;
mod report;
mod show;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use cordon_node::client::ControlClient;
use cordon_node::profile::Profile;
use cordon_node::Config;
use cordon_protocol::audit::bundle::{self, Bundle, BundleKeys};
use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::merkle::verify_consistency;
use cordon_protocol::audit::note::{open_note, KeyType, VerifierKey};
use cordon_protocol::audit::proof::TlogProof;

pub use show::ShowArgs;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Export the node's log (all of it, or a time range) to a bundle file
    Export(ExportArgs),
    /// Verify a bundle offline: tree, checkpoint signature, receipts, cosignatures
    Verify(VerifyArgs),
    /// List entries of a bundle or of the running node, with filters
    Show(ShowArgs),
    /// Write a C2SP tlog-proof that one entry is in the node's log
    Prove(ProveArgs),
    /// Check a tlog-proof offline against an entry file and the log key
    VerifyProof(VerifyProofArgs),
    /// Fetch and check a consistency proof between two checkpoints of the node's log
    Consistency(ConsistencyArgs),
    /// Pair the exchanges in two nodes' bundles and list those that disagree
    Reconcile(ReconcileArgs),
    /// Write a one-page HTML report of a bundle for an oversight officer
    Report(ReportArgs),
    /// Print the node's log verifier key (C2SP vkey) from its configuration
    Key(KeyArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// Bundle file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Only entries at or after this time (2026-11-22, 2026-11-22T08:00:00Z or Unix seconds)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only entries before this time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The bundle
    bundle: PathBuf,
    /// The node's log key: C2SP vkey text (`NAME+ID+KEY`) or a file holding it
    #[arg(long, value_name = "VKEY")]
    key: String,
    /// Pin a partner's receipt or cosigning key (vkey or file) instead of the bundle's copy; repeatable
    #[arg(long = "partner-key", value_name = "VKEY")]
    partner_keys: Vec<String>,
}

#[derive(Args)]
pub struct ProveArgs {
    /// Index of the entry (as `audit show` lists it)
    index: u64,
    /// Proof file to write (C2SP tlog-proof)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also write the entry's exact bytes here [default: OUT with `.entry` appended]
    #[arg(long, value_name = "FILE")]
    entry_out: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyProofArgs {
    /// The tlog-proof file
    proof: PathBuf,
    /// The node's log key: vkey text or a file holding it
    #[arg(long, value_name = "VKEY")]
    key: String,
    /// The entry's exact bytes (as `audit prove` wrote them)
    #[arg(long, value_name = "FILE")]
    entry: PathBuf,
}

#[derive(Args)]
pub struct ConsistencyArgs {
    /// The older checkpoint (signed note file)
    old: PathBuf,
    /// The newer checkpoint (signed note file) [default: the node's latest]
    new: Option<PathBuf>,
    /// The node's log key [default: the one the node reports]
    #[arg(long, value_name = "VKEY")]
    key: Option<String>,
}

#[derive(Args)]
pub struct ReconcileArgs {
    /// One node's bundle
    a: PathBuf,
    /// The other node's bundle
    b: PathBuf,
    /// Print the differences as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The bundle
    bundle: PathBuf,
    /// HTML file to write
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    /// Verify the bundle with this log key first and say so in the report (vkey or file)
    #[arg(long, value_name = "VKEY")]
    key: Option<String>,
    /// The agency's offset from UTC for days and odd hours, e.g. +07:00
    #[arg(long, default_value = "+00:00", allow_hyphen_values = true)]
    utc_offset: String,
}

#[derive(Args)]
pub struct KeyArgs {
    /// The node's configuration (node.toml)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

pub fn run(c: AuditCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match c {
        AuditCmd::Export(a) => export(a, profile),
        AuditCmd::Verify(a) => verify(a),
        AuditCmd::Show(a) => show::run(a, profile),
        AuditCmd::Prove(a) => prove(a, profile),
        AuditCmd::VerifyProof(a) => verify_proof(a),
        AuditCmd::Consistency(a) => consistency(a, profile),
        AuditCmd::Reconcile(a) => reconcile_cmd(a),
        AuditCmd::Report(a) => report_cmd(a),
        AuditCmd::Key(a) => key(a),
    }
}

/// Parses `2026-11-22`, `2026-11-22T08:00:00Z` (any RFC 3339 offset) or Unix seconds.
pub fn parse_time(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return u64::try_from(t.unix_timestamp()).context("times before 1970 are not in any log");
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &fmt) {
        return u64::try_from(d.midnight().assume_utc().unix_timestamp())
            .context("times before 1970 are not in any log");
    }
    bail!("time {s:?} is not a date (2026-11-22), an RFC 3339 time (2026-11-22T08:00:00Z) or Unix seconds")
}

/// A time for people: `2026-11-22 08:00:00Z`.
pub fn fmt_time(t: u64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    i64::try_from(t)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| t.to_string())
}

/// Reads a vkey given as text or as a file holding it.
pub fn read_key(s: &str, what: &str) -> anyhow::Result<VerifierKey> {
    let text = if Path::new(s).is_file() {
        std::fs::read_to_string(s).with_context(|| format!("cannot read {what} file {s}"))?
    } else {
        s.to_string()
    };
    VerifierKey::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!("{what} {:?} is not a C2SP verifier key ({e}); pass NAME+ID+KEY as `cordon audit key` prints it, or a file holding it", text.trim())
    })
}

pub fn read_bundle(path: &Path) -> anyhow::Result<Bundle> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read bundle {}", path.display()))?;
    Bundle::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

async fn connect(profile: Option<PathBuf>) -> anyhow::Result<ControlClient> {
    let profile = Profile::locate(profile.as_deref())?;
    Ok(ControlClient::connect(&profile).await?)
}

fn export(a: ExportArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let since = a.since.as_deref().map(parse_time).transpose()?;
    let until = a.until.as_deref().map(parse_time).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            bail!(
                "--since {} is not before --until {}; give an earlier --since",
                fmt_time(s),
                fmt_time(u)
            );
        }
    }
    let rt = crate::runtime()?;
    let bytes = rt.block_on(async {
        let client = connect(profile).await?;
        let r = client.audit_export(since, until).await;
        client.close().await;
        anyhow::Ok(r?)
    })?;
    let b =
        Bundle::parse(&bytes).map_err(|e| anyhow::anyhow!("the node sent a bad bundle: {e}"))?;
    std::fs::write(&a.out, &bytes).with_context(|| format!("cannot write {}", a.out.display()))?;
    println!(
        "Wrote {} entries (#{}..#{}) of the log of `{}` to {}.",
        b.header.count,
        b.header.first,
        (b.header.first + b.header.count).saturating_sub(1),
        b.header.node,
        a.out.display()
    );
    println!(
        "Verify it with: cordon audit verify {} --key '{}'",
        a.out.display(),
        b.header.keys.log
    );
    Ok(ExitCode::SUCCESS)
}

fn pinned(keys: &[String]) -> anyhow::Result<BundleKeys> {
    let mut p = BundleKeys::default();
    for k in keys {
        let v = read_key(k, "--partner-key")?;
        let map = match v.key_type() {
            KeyType::Ed25519 => &mut p.receipts,
            KeyType::CosignatureV1 => &mut p.witnesses,
        };
        map.insert(v.name().to_string(), v.to_string());
    }
    Ok(p)
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let key = read_key(&a.key, "--key")?;
    let b = read_bundle(&a.bundle)?;
    let pins = pinned(&a.partner_keys)?;
    match bundle::verify(&b, &key, &pins) {
        Ok(r) => {
            println!("OK: {} verifies with log key {}.", a.bundle.display(), key);
            let end = r.first + r.count;
            println!(
                "  entries #{}..#{} ({}) of a log of {}{}",
                r.first,
                end.saturating_sub(1),
                r.count,
                r.log_size,
                if b.header.since.is_some() || b.header.until.is_some() {
                    format!(
                        " (a time range: {} to {}; a range proves its entries are in the log, not that none are missing at its edges)",
                        b.header.since.map_or("the start".into(), fmt_time),
                        b.header.until.map_or("the end".into(), fmt_time)
                    )
                } else {
                    " (the whole log)".to_string()
                }
            );
            if let Some((t0, t1)) = r.span {
                println!("  from {} to {}", fmt_time(t0), fmt_time(t1));
            }
            let kinds: Vec<String> = r.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("  kinds: {}", kinds.join(", "));
            let pinned_note = if a.partner_keys.is_empty() {
                " (partners' keys as the bundle gives them; pin them with --partner-key)"
            } else {
                ""
            };
            println!("  receipts verified: {}{pinned_note}", r.receipts);
            for (p, size) in &r.cosigned_by {
                println!("  cosigned by {p} at size {size}, consistent with the latest checkpoint");
            }
            if r.cosigned_by.is_empty() {
                println!("  no partner has cosigned this log yet");
            }
            for p in &r.alerts {
                eprintln!("  ALERT: the node recorded that {p} presented inconsistent checkpoints (its evidence is in the bundle's `alerts`; confirm against {p}'s own export)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("FAILED: {}: {e}", a.bundle.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn prove(a: ProveArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let rt = crate::runtime()?;
    let (proof, entry) = rt.block_on(async {
        let client = connect(profile).await?;
        let r = client.audit_prove(a.index).await;
        client.close().await;
        anyhow::Ok(r?)
    })?;
    let entry_out = a.entry_out.unwrap_or_else(|| {
        let mut p = a.out.clone().into_os_string();
        p.push(".entry");
        PathBuf::from(p)
    });
    std::fs::write(&a.out, &proof).with_context(|| format!("cannot write {}", a.out.display()))?;
    std::fs::write(&entry_out, &entry)
        .with_context(|| format!("cannot write {}", entry_out.display()))?;
    println!(
        "Wrote the proof of entry #{} to {} and the entry to {}.",
        a.index,
        a.out.display(),
        entry_out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify_proof(a: VerifyProofArgs) -> anyhow::Result<ExitCode> {
    let key = read_key(&a.key, "--key")?;
    let text = std::fs::read_to_string(&a.proof)
        .with_context(|| format!("cannot read proof {}", a.proof.display()))?;
    let entry = std::fs::read(&a.entry)
        .with_context(|| format!("cannot read entry {}", a.entry.display()))?;
    let entry = entry.strip_suffix(b"\n").unwrap_or(&entry);
    let p = TlogProof::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", a.proof.display()))?;
    match p.verify(entry, &key) {
        Ok(c) => {
            println!(
                "OK: entry #{} is in the log {} of {} entries (root {}).",
                p.index,
                c.origin,
                c.size,
                hex::encode(c.root)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("FAILED: {}: {e}", a.proof.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn open_checkpoint(path: &Path, key: &VerifierKey) -> anyhow::Result<Checkpoint> {
    let note = std::fs::read(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    let (body, _) = open_note(&note, std::slice::from_ref(key))
        .map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", path.display()))?;
    Checkpoint::parse(&body).map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", path.display()))
}

fn consistency(a: ConsistencyArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let rt = crate::runtime()?;
    rt.block_on(async {
        let client = connect(profile).await?;
        let key = match &a.key {
            Some(k) => read_key(k, "--key")?,
            None => read_key(&client.status().await?.audit.log_key, "the node's log key")?,
        };
        let old = open_checkpoint(&a.old, &key)?;
        let new = a.new.as_deref().map(|p| open_checkpoint(p, &key)).transpose()?;
        let (note, proof) = client
            .audit_consistency(old.size, new.as_ref().map(|c| c.size))
            .await?;
        client.close().await;
        let (body, _) = open_note(note.as_bytes(), std::slice::from_ref(&key))
            .map_err(|e| anyhow::anyhow!("the node's checkpoint: {e}"))?;
        let latest = Checkpoint::parse(&body)?;
        if let Some(n) = &new {
            if n != &latest {
                eprintln!(
                    "FAILED: the node's checkpoint of size {} differs from {}: the node signed two different logs",
                    n.size,
                    a.new.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        let hashes = bundle::decode_hashes(&proof, "the node's consistency proof")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        match verify_consistency(old.size, latest.size, &hashes, &old.root, &latest.root) {
            Ok(()) => {
                println!(
                    "OK: the checkpoint of size {} is a prefix of the checkpoint of size {} (log {}).",
                    old.size, latest.size, latest.origin
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!(
                    "FAILED: the log of size {} is not an extension of the one of size {}: {e}; the node rewrote its history",
                    latest.size, old.size
                );
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

fn reconcile_cmd(a: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let ba = read_bundle(&a.a)?;
    let bb = read_bundle(&a.b)?;
    if ba.header.node == bb.header.node {
        bail!(
            "both bundles are of node `{}`; give the bundles of the two nodes to compare",
            ba.header.node
        );
    }
    let ea = ba
        .parsed_entries()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.a.display()))?;
    let eb = bb
        .parsed_entries()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.b.display()))?;
    let cutoff = ba.header.exported_at.min(bb.header.exported_at);
    let r = reconcile::reconcile((&ba.header.node, &ea), (&bb.header.node, &eb), cutoff);
    if a.json {
        let diffs: Vec<serde_json::Value> = r
            .differences
            .iter()
            .map(|d| {
                serde_json::json!({"exchange": d.exchange, "querier": d.querier, "holder": d.holder, "time": d.time, "problem": d.problem})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"compared": r.compared, "differences": diffs})
            )?
        );
    } else {
        println!(
            "{} exchanges between {} and {} compared (up to {}); {} differ.",
            r.compared,
            ba.header.node,
            bb.header.node,
            fmt_time(cutoff),
            r.differences.len()
        );
        if !r.differences.is_empty() {
            let rows: Vec<Vec<String>> = r
                .differences
                .iter()
                .map(|d| {
                    vec![
                        fmt_time(d.time),
                        d.exchange.clone(),
                        format!("{} -> {}", d.querier, d.holder),
                        d.problem.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::output::table(&["TIME", "EXCHANGE", "QUERIER -> HOLDER", "PROBLEM"], &rows)
            );
        }
    }
    Ok(if r.differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_offset(s: &str) -> anyhow::Result<i32> {
    let bad = || anyhow::anyhow!("--utc-offset {s:?} is not an offset like +07:00 or -05:00");
    let (sign, rest) = match s.trim().split_at_checked(1) {
        Some(("+", r)) => (1, r),
        Some(("-", r)) => (-1, r),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

fn report_cmd(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let b = read_bundle(&a.bundle)?;
    let verified = match &a.key {
        Some(k) => {
            let key = read_key(k, "--key")?;
            match bundle::verify(&b, &key, &BundleKeys::default()) {
                Ok(r) => format!(
                    "Verified with log key {key}: {} entries, {} receipts, cosigned by {}.",
                    r.count,
                    r.receipts,
                    if r.cosigned_by.is_empty() {
                        "no partner yet".to_string()
                    } else {
                        r.cosigned_by
                            .iter()
                            .map(|(p, _)| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
                Err(e) => bail!(
                    "{} does not verify, so no report was written: {e}",
                    a.bundle.display()
                ),
            }
        }
        None => "NOT VERIFIED: run `cordon audit verify` with the node's log key, or pass --key."
            .to_string(),
    };
    let entries = b
        .parsed_entries()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.bundle.display()))?;
    let opts = report::ReportOptions {
        generated_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        verified,
        utc_offset_minutes: parse_offset(&a.utc_offset)?,
        ..report::ReportOptions::default()
    };
    let html = report::render_html(&b.header.node, &entries, &opts);
    std::fs::write(&a.html, html).with_context(|| format!("cannot write {}", a.html.display()))?;
    println!(
        "Wrote the report of {} entries of `{}` to {}.",
        entries.len(),
        b.header.node,
        a.html.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn key(a: KeyArgs) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(&a.config)?;
    let kp = cordon_node::admin::load_signing_key(&cfg.path(&cfg.tls.log_key))?;
    let signer = cordon_protocol::audit::note::Signer::new(
        &cordon_node::audit::origin_of(&cfg.node.name),
        kp,
    )?;
    println!("{}", signer.verifier_key());
    Ok(ExitCode::SUCCESS)
}
