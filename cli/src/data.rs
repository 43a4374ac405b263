//! `cordon data import` and `cordon ident normalize` (`cordon data delete` is in `epoch.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use cordon_node::client::ControlClient;
use cordon_node::client::ImportSession;
use cordon_node::control::{ImportHeader, ImportRow};
use cordon_node::profile::Profile;
use cordon_protocol::ident::{self, Kind};

use crate::input::{self, InputArgs, ReadArgs};

#[derive(Subcommand)]
pub enum DataCmd {
    /// Import identifiers from a file into a collection (created on first import).
    Import(ImportArgs),
    /// Delete the listed identifiers from a collection (operators); the key is rotated in the
    /// same step. Values not held are reported by line.
    Delete(crate::epoch::DeleteArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// Collection to import into (lower-case, e.g. `phones`)
    #[arg(long)]
    collection: String,
    /// Identifier kind of every row: phone, email, iban, bank-account, ewallet, crypto, ip, domain, url, imei, passport, national-id, person, text (see `spec/IDENTIFIERS.md`)
    #[arg(long)]
    kind: String,
    #[command(flatten)]
    read: ReadArgs,
    /// Import the valid rows even if some are invalid (they are listed) [default: nothing is imported if any row is invalid]
    #[arg(long, alias = "skip-bad")]
    skip_invalid: bool,
    #[command(flatten)]
    input: InputArgs,
    /// Fields a supervisor may release in answer to a partner's follow-up request, comma-separated; each must be a column of the file besides the identifier (the other columns are kept, never released) [default: none]
    #[arg(long, value_delimiter = ',', value_name = "FIELD,...")]
    releasable: Vec<String>,
    /// The file: CSV, JSON Lines, or one value per line; for `--kind person`, CSV with a header row or JSON Lines with the fields name, aliases, dob, sex, nationality, passport, national_id, reference
    file: PathBuf,
}

/// Most bytes of raw values per import frame (well inside the frame limit).
const FRAME_BUDGET: usize = 1 << 20;

/// Sends rows: plain ones as before, rows with fields in the frame that carries them.
async fn send(session: &mut ImportSession, rows: Vec<ImportRow>) -> anyhow::Result<()> {
    if rows.iter().all(|r| r.fields.is_empty()) {
        session
            .send(rows.into_iter().map(|r| (r.line, r.value)).collect())
            .await?;
    } else {
        session.send_records(rows).await?;
    }
    Ok(())
}

pub fn run(c: DataCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match c {
        DataCmd::Import(a) => import(a, profile),
        DataCmd::Delete(a) => crate::epoch::delete(a, profile),
    }
}

fn import(a: ImportArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let kind: Kind = a.kind.parse()?;
    let profile = Profile::locate(profile.as_deref())?;
    let rows = input::open(&a.file, &a.input, kind == Kind::Person)?;
    let releasable: Vec<String> = a
        .releasable
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    for f in &releasable {
        if !rows.columns.contains(f) {
            bail!(
                "--releasable names `{f}`, which is not a field of {}; its fields besides the identifier are: {}",
                a.file.display(),
                if rows.columns.is_empty() {
                    "none (give a CSV file with a header row, or JSON Lines objects)".to_string()
                } else {
                    rows.columns.join(", ")
                }
            );
        }
    }
    let columns = rows.columns.clone();
    let rt = crate::runtime()?;
    let reply = rt.block_on(async {
        let client = ControlClient::connect(&profile).await?;
        let header = ImportHeader {
            collection: a.collection.clone(),
            kind: kind.as_str().to_string(),
            read: a.read.to_control(),
            skip_invalid: a.skip_invalid,
            source: a.file.display().to_string(),
            releasable: releasable.clone(),
        };
        let mut session = client.import(header).await?;
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("sending");
        bar.enable_steady_tick(Duration::from_millis(120));
        let mut batch = Vec::new();
        let mut bytes = 0;
        for row in rows.records() {
            // A file that cannot be read to the end is not imported at all: dropping the
            // session resets the stream and the node discards what it received.
            let row = row?;
            bytes += row.value.len()
                + 16
                + row
                    .fields
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 8)
                    .sum::<usize>();
            batch.push(ImportRow {
                line: row.line,
                value: row.value,
                fields: row.fields,
            });
            if batch.len() >= cordon_node::client::IMPORT_ROWS_PER_FRAME || bytes >= FRAME_BUDGET {
                bar.inc(batch.len() as u64);
                send(&mut session, std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
        }
        bar.inc(batch.len() as u64);
        if !batch.is_empty() {
            send(&mut session, batch).await?;
        }
        bar.set_message("stored; building epoch");
        let reply = session.finish().await;
        bar.finish_and_clear();
        client.close().await;
        anyhow::Ok(reply?)
    })?;
    if reply.rejected_count > 0 {
        eprintln!(
            "{} of {} rows are not valid `{}` identifiers:",
            reply.rejected_count,
            reply.rows,
            kind.as_str()
        );
        for (line, reason) in &reply.rejected {
            eprintln!("  line {line}: {reason}");
        }
        let listed = reply.rejected.len() as u64;
        if reply.rejected_count > listed {
            eprintln!(
                "  … and {} more (the first {listed} are listed)",
                reply.rejected_count - listed
            );
        }
        if !a.skip_invalid {
            bail!(
                "nothing was imported from {}; fix those rows, or pass --skip-invalid to import the {} valid ones",
                a.file.display(),
                reply.rows - reply.rejected_count
            );
        }
    }
    if reply.rows == 0 {
        bail!("{} holds no values; nothing was imported", a.file.display());
    }
    println!(
        "Imported {} new records into `{}` ({} already present, {} skipped); {} records in all.",
        reply.added, a.collection, reply.duplicates, reply.rejected_count, reply.records
    );
    if !columns.is_empty() {
        println!(
            "Fields kept with the records: {} (releasable on follow-up: {}).",
            columns.join(", "),
            if releasable.is_empty() {
                "none; mark some with --releasable".to_string()
            } else {
                releasable.join(", ")
            }
        );
    }
    println!(
        "Epoch {} {} in {:.2} s.",
        reply.epoch,
        if reply.rebuilt {
            "built"
        } else {
            "extended with a delta"
        },
        reply.epoch_seconds
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum IdentCmd {
    /// Print the canonical form of each value (or why it is invalid); exit 1 if any is invalid.
    Normalize {
        /// Identifier kind: phone, email, iban, bank-account, ewallet, crypto, ip, domain, url, imei, passport, national-id, person, text
        #[arg(long)]
        kind: String,
        #[command(flatten)]
        read: ReadArgs,
        /// Also print the OPRF items each value gives: for a person, its match keys and their classes
        #[arg(long)]
        keys: bool,
        /// One JSON object per value
        #[arg(long)]
        json: bool,
        /// Values (for `person`: a JSON object such as '{"name":"Somchai Jaidee","dob":"1985-03-02"}')
        #[arg(required = true)]
        values: Vec<String>,
    },
}

pub fn ident(c: IdentCmd) -> anyhow::Result<ExitCode> {
    let IdentCmd::Normalize {
        kind,
        read,
        keys,
        json,
        values,
    } = c;
    let kind: Kind = kind.parse()?;
    let opts = read.to_control().to_ident(None);
    let mut bad = 0;
    for v in &values {
        match ident::canonicalize(kind, v, &opts) {
            Ok(c) => {
                let items = oprf_items(&c)?;
                if json {
                    let mut o = serde_json::json!({"input": v, "kind": kind.as_str(), "canonical": c.value()});
                    if keys {
                        o["keys"] = serde_json::Value::Array(
                            items
                                .iter()
                                .map(|(class, input)| {
                                    serde_json::json!({"class": class, "oprf_input": String::from_utf8_lossy(input)})
                                })
                                .collect(),
                        );
                    }
                    println!("{o}");
                } else {
                    println!("{}", c.value());
                    if keys {
                        for (class, input) in &items {
                            println!("  {class:<28} {}", String::from_utf8_lossy(input));
                        }
                    }
                }
            }
            Err(e) => {
                bad += 1;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"input": v, "kind": kind.as_str(), "error": e.to_string()})
                    );
                } else {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    Ok(if bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The OPRF items of a canonical value with their class: `exact` for an identifier, the match
/// keys for a person.
fn oprf_items(c: &ident::Canonical) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    if c.kind() != Kind::Person {
        return Ok(vec![("exact", c.oprf_input())]);
    }
    Ok(cordon_protocol::person::match_keys(c.value())?
        .into_iter()
        .map(|k| (k.class.as_str(), k.input))
        .collect())
}
