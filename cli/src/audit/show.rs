//! `cordon audit show`: entries of a bundle (or of the running node's log), filtered, as a
//! table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use cordon_protocol::audit::bundle::Bundle;
use cordon_protocol::audit::entry::{Entry, EntryKind};

use super::{connect, fmt_time, parse_time, read_bundle};

#[derive(Args)]
pub struct ShowArgs {
    /// A bundle file (from `audit export`); without it, use --node
    bundle: Option<PathBuf>,
    /// Read the running node's log instead of a bundle (auditor or supervisor certificate)
    #[arg(long, conflicts_with = "bundle")]
    node: bool,
    /// Only entries of this investigator (or other actor) name
    #[arg(long, value_name = "NAME")]
    investigator: Option<String>,
    /// Only entries of this case reference
    #[arg(long = "case", value_name = "CASE-ID")]
    case_ref: Option<String>,
    /// Only entries with this partner
    #[arg(long, value_name = "NODE")]
    partner: Option<String>,
    /// Only entries at or after this time (2026-11-22, RFC 3339, or Unix seconds)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only entries before this time
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only entries of these kinds, comma-separated (query_sent, query_answered, data_imported, ...)
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    kind: Vec<String>,
    /// Print JSON (one object per entry, with its index)
    #[arg(long)]
    json: bool,
}

/// The filters of `show`, applied to parsed entries.
pub struct Filter {
    investigator: Option<String>,
    case_ref: Option<String>,
    partner: Option<String>,
    since: Option<u64>,
    until: Option<u64>,
    kinds: Vec<EntryKind>,
}

impl Filter {
    fn keeps(&self, e: &Entry) -> bool {
        self.investigator
            .as_ref()
            .is_none_or(|i| &e.actor.name == i)
            && self
                .case_ref
                .as_ref()
                .is_none_or(|c| e.case_ref.as_ref() == Some(c))
            && self
                .partner
                .as_ref()
                .is_none_or(|p| e.partner.as_ref() == Some(p))
            && self.since.is_none_or(|s| e.time >= s)
            && self.until.is_none_or(|u| e.time < u)
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
    }
}

pub fn run(a: ShowArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let filter = Filter {
        investigator: a.investigator,
        case_ref: a.case_ref,
        partner: a.partner,
        since: a.since.as_deref().map(parse_time).transpose()?,
        until: a.until.as_deref().map(parse_time).transpose()?,
        kinds: a
            .kind
            .iter()
            .map(|k| k.parse::<EntryKind>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
    };
    let bundle = match (&a.bundle, a.node) {
        (Some(p), _) => read_bundle(p)?,
        (None, true) => {
            let rt = crate::runtime()?;
            let bytes = rt.block_on(async {
                let client = connect(profile).await?;
                let r = client.audit_export(filter.since, filter.until).await;
                client.close().await;
                anyhow::Ok(r?)
            })?;
            Bundle::parse(&bytes).map_err(|e| anyhow::anyhow!("the node sent a bad bundle: {e}"))?
        }
        (None, false) => bail!("give a bundle file, or --node to read the running node's log"),
    };
    let entries = bundle.parsed_entries()?;
    let first = bundle.header.first;
    let kept: Vec<(u64, &Entry)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (first + i as u64, e))
        .filter(|(_, e)| filter.keeps(e))
        .collect();
    if a.json {
        let v: Vec<serde_json::Value> = kept
            .iter()
            .map(|(i, e)| {
                let mut o = serde_json::to_value(e).unwrap_or_default();
                if let Some(m) = o.as_object_mut() {
                    m.insert("index".into(), (*i).into());
                }
                o
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = kept
        .iter()
        .map(|(i, e)| {
            let opt = |v: Option<u64>| v.map_or(String::new(), |n| n.to_string());
            vec![
                i.to_string(),
                fmt_time(e.time),
                e.kind.to_string(),
                format!("{} ({})", e.actor.name, e.actor.role),
                e.partner.clone().unwrap_or_default(),
                e.collection.clone().unwrap_or_default(),
                opt(e.items),
                opt(e.hits),
                e.case_ref.clone().unwrap_or_default(),
                e.reason
                    .clone()
                    .or_else(|| e.purpose.clone())
                    .or_else(|| e.detail.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::output::table(
            &[
                "#",
                "TIME",
                "KIND",
                "ACTOR",
                "PARTNER",
                "COLLECTION",
                "ITEMS",
                "HITS",
                "CASE",
                "PURPOSE / REASON / DETAIL"
            ],
            &rows
        )
    );
    println!(
        "{} of {} entries of `{}` shown.",
        kept.len(),
        entries.len(),
        bundle.header.node
    );
    Ok(ExitCode::SUCCESS)
}
