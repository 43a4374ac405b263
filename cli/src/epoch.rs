//! `cordon epoch rotate` and `cordon data delete`: an operator changing what partners can find.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};

use cordon_node::client::ControlClient;
use cordon_node::control::ImportHeader;
use cordon_node::profile::Profile;
use cordon_protocol::ident::Kind;

use crate::input::{self, InputArgs, ReadArgs};

#[derive(Subcommand)]
pub enum EpochCmd {
    /// Rotate a collection's key now (operators): a new epoch, a new filter over the same
    /// records; partners fetch the whole new filter on their next query, and the old epoch is
    /// refused from then on. Keys also rotate on their own: every `rotate_every` of the
    /// collection's [[collection]] section in node.toml [default: no scheduled rotation], after
    /// every deletion and expiry, and when imports outgrow the filter.
    Rotate {
        /// The collection (e.g. `phones`)
        collection: String,
    },
}

pub fn run(c: EpochCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let EpochCmd::Rotate { collection } = c;
    let profile = Profile::locate(profile.as_deref())?;
    let rt = crate::runtime()?;
    let r = rt.block_on(async {
        let client = ControlClient::connect(&profile).await?;
        let r = client.rotate(&collection).await;
        client.close().await;
        anyhow::Ok(r?)
    })?;
    println!(
        "Rotated the key of `{}`: epoch {} replaced by epoch {} ({} records, {:.2} s).",
        r.collection, r.old_epoch, r.new_epoch, r.records, r.seconds
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct DeleteArgs {
    /// Collection to delete from
    #[arg(long)]
    collection: String,
    /// Identifier kind of the values [default: the collection's kind]
    #[arg(long)]
    kind: Option<String>,
    #[command(flatten)]
    read: ReadArgs,
    /// Delete the valid values even if some rows are invalid (they are listed) [default: nothing is deleted if any row is invalid]
    #[arg(long)]
    skip_invalid: bool,
    #[command(flatten)]
    input: InputArgs,
    /// The values to delete, read as `cordon data import` reads a file. Each is canonicalised
    /// first, so any spelling of a held value finds it. Deleting anything rotates the key in
    /// the same step, so partners can no longer find the deleted values in any filter.
    file: PathBuf,
}

/// Rows per frame, and bytes of raw values per frame (as for an import).
const FRAME_ROWS: usize = cordon_node::client::IMPORT_ROWS_PER_FRAME;
const FRAME_BUDGET: usize = 1 << 20;

/// Most lines of values not found printed (the count is always given).
const MAX_PRINTED_LINES: usize = 50;

pub fn delete(a: DeleteArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let profile = Profile::locate(profile.as_deref())?;
    let rt = crate::runtime()?;
    let reply = rt.block_on(async {
        let client = ControlClient::connect(&profile).await?;
        let r = async {
            let kind: Kind = match &a.kind {
                Some(k) => k.parse()?,
                None => {
                    let s = client.status().await?;
                    let Some(c) = s
                        .collections
                        .iter()
                        .find(|c| c.name.as_str() == a.collection)
                    else {
                        bail!(
                            "node `{}` holds no collection named `{}`; `cordon status` lists them",
                            s.node,
                            a.collection
                        );
                    };
                    c.kind.parse()?
                }
            };
            let rows = input::open(&a.file, &a.input, kind == Kind::Person)?;
            let header = ImportHeader {
                collection: a.collection.clone(),
                kind: kind.as_str().to_string(),
                read: a.read.to_control(),
                skip_invalid: a.skip_invalid,
                source: a.file.display().to_string(),
                releasable: Vec::new(),
            };
            let mut session = client.delete(header).await?;
            let (mut batch, mut bytes) = (Vec::new(), 0);
            for row in rows {
                // A file that cannot be read to the end deletes nothing: dropping the session
                // resets the stream and the node discards what it received.
                let (line, value) = row?;
                bytes += value.len() + 16;
                batch.push((line, value));
                if batch.len() >= FRAME_ROWS || bytes >= FRAME_BUDGET {
                    session.send(std::mem::take(&mut batch)).await?;
                    bytes = 0;
                }
            }
            if !batch.is_empty() {
                session.send(batch).await?;
            }
            anyhow::Ok(session.finish_deletion().await?)
        }
        .await;
        client.close().await;
        r
    })?;
    if reply.rejected_count > 0 {
        eprintln!(
            "{} of {} rows are not valid identifiers:",
            reply.rejected_count, reply.rows
        );
        for (line, reason) in &reply.rejected {
            eprintln!("  line {line}: {reason}");
        }
        if !a.skip_invalid {
            bail!(
                "nothing was deleted from `{}`; fix those rows, or pass --skip-invalid to delete the valid ones",
                a.collection
            );
        }
    }
    if reply.rows == 0 {
        bail!("{} holds no values; nothing was deleted", a.file.display());
    }
    println!(
        "Deleted {} of {} listed values from `{}`; {} records left.",
        reply.deleted,
        reply.rows - reply.rejected_count,
        a.collection,
        reply.records
    );
    if reply.not_found_count > 0 {
        let lines: Vec<String> = reply
            .not_found
            .iter()
            .take(MAX_PRINTED_LINES)
            .map(u64::to_string)
            .collect();
        let more = reply.not_found_count - lines.len() as u64;
        println!(
            "{} listed values are not held (lines {}{}).",
            reply.not_found_count,
            lines.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        );
    }
    if reply.deleted > 0 {
        println!(
            "The key was rotated: epoch {} is in force, and partners' older filters are refused.",
            reply.epoch
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration as people read it: `3d 4h`, `5h 12m`, `40s`.
pub fn fmt_age(secs: u64) -> String {
    let d = Duration::from_secs(secs).as_secs();
    let (days, hours, mins) = (d / 86400, d % 86400 / 3600, d % 3600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{d}s")
    }
}
