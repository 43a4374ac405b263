//! `cordon query`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use cordon_node::client::ControlClient;
use cordon_node::control::{PartnerOutcome, QueryReply, QueryRequest};
use cordon_node::profile::Profile;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::QueryMode;

use crate::input::{self, InputArgs, ReadArgs};
use crate::output::{ms, table};

#[derive(Args)]
pub struct QueryArgs {
    /// Collection to ask partners about (e.g. `phones`)
    #[arg(long)]
    collection: String,
    /// File of items to ask about: CSV, JSON Lines, or one per line; persons as CSV with a header row or JSON Lines (see `data import`)
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Case reference this query serves (required; logged by every node involved)
    #[arg(long = "case", value_name = "CASE-ID")]
    case_ref: String,
    /// Why these items are queried (required; logged by every node involved)
    #[arg(long)]
    purpose: String,
    /// Partners to ask: comma-separated names, or `all`
    #[arg(long, default_value = "all", value_delimiter = ',')]
    partners: Vec<String>,
    /// Kind of the items [default: the kind of your node's collection of that name, else the partners']
    #[arg(long)]
    kind: Option<String>,
    #[command(flatten)]
    read: ReadArgs,
    /// What to learn: `match` (which of your items each partner holds) or `count` (only how many; not for persons)
    #[arg(long, default_value = "match", value_name = "MODE")]
    mode: QueryMode,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input: InputArgs,
}

pub fn query(a: QueryArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    if a.case_ref.trim().is_empty() {
        bail!("--case is empty; give the case reference this query serves");
    }
    if a.purpose.trim().is_empty() {
        bail!("--purpose is empty; state why these items are queried");
    }
    let profile = Profile::locate(profile.as_deref())?;
    let given_person =
        a.kind.as_deref().map(|k| k.parse::<Kind>()).transpose()? == Some(Kind::Person);
    // The file is read before anything is sent, so that a bad file fails without a node.
    let mut items = input::read_all(&a.file, &a.input, given_person)?;
    if items.is_empty() {
        bail!("{} holds no items to ask about; put one identifier per line (or choose a column with --column)", a.file.display());
    }
    let rt = crate::runtime()?;
    let client = rt.block_on(ControlClient::connect(&profile))?;
    // Person files hold records, not single values. Without --kind, the node's own collection
    // of that name says whether they are persons; failing that, the file's field names.
    let mut kind = a.kind.clone();
    if kind.is_none() {
        let status = rt.block_on(client.status())?;
        let local = status
            .collections
            .iter()
            .find(|c| c.name.as_str() == a.collection);
        let persons = match local {
            Some(c) => c.kind == Kind::Person.as_str(),
            None => input::looks_like_persons(&a.file, &a.input),
        };
        if persons {
            items = input::read_all(&a.file, &a.input, true)?;
            kind = Some(Kind::Person.as_str().to_string());
        }
    }
    let partners = if a.partners.iter().any(|p| p == "all") {
        Vec::new()
    } else {
        a.partners.clone()
    };
    let req = QueryRequest {
        collection: a.collection.clone(),
        kind,
        read: a.read.to_control(),
        items: items.clone(),
        case_ref: a.case_ref.clone(),
        purpose: a.purpose.clone(),
        partners,
        mode: a.mode,
    };
    let reply = rt.block_on(async {
        let r = client.query(req).await;
        client.close().await;
        anyhow::Ok(r?)
    })?;
    if a.json {
        let mut v = json_reply(&reply, &items);
        v["mode"] = serde_json::Value::String(a.mode.to_string());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&reply, &items));
    }
    let failed = reply
        .partners
        .iter()
        .any(|p| matches!(p.outcome, PartnerOutcome::Failed { .. }));
    Ok(if failed {
        ExitCode::from(crate::EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// The reply with each hit's item value added from the local file (the partner never sees it).
pub fn json_reply(r: &QueryReply, items: &[(u64, String)]) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(parts) = v.get_mut("partners").and_then(|p| p.as_array_mut()) {
        for p in parts {
            if let Some(hits) = p
                .pointer_mut("/outcome/answered/hits")
                .and_then(|h| h.as_array_mut())
            {
                for h in hits {
                    let idx = h.get("index").and_then(|i| i.as_u64()).unwrap_or(u64::MAX) as usize;
                    if let Some((_, item)) = items.get(idx) {
                        h["item"] = serde_json::Value::String(item.clone());
                    }
                }
            }
        }
    }
    v
}

/// A readable report: one row per partner, then the hits.
pub fn render(r: &QueryReply, items: &[(u64, String)]) -> String {
    let mut out = format!(
        "Query {} · collection `{}` ({}) · {} items\n\n",
        r.query_id, r.collection, r.kind, r.items
    );
    let rows: Vec<Vec<String>> = r
        .partners
        .iter()
        .map(|p| match &p.outcome {
            PartnerOutcome::Answered {
                epoch,
                matches,
                filter,
                bytes_sent,
                bytes_received,
                partner_records,
                count,
                ..
            } => vec![
                p.partner.clone(),
                "answered".into(),
                count.unwrap_or(matches.len() as u64).to_string(),
                format!(
                    "{epoch} ({partner_records} {})",
                    if r.kind == Kind::Person.as_str() {
                        "keys"
                    } else {
                        "records"
                    }
                ),
                filter.clone(),
                format!(
                    "{} / {}",
                    human_bytes(*bytes_sent),
                    human_bytes(*bytes_received)
                ),
                ms(p.elapsed_ms),
            ],
            PartnerOutcome::Failed { code, .. } => vec![
                p.partner.clone(),
                format!("FAILED ({code})"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                ms(p.elapsed_ms),
            ],
        })
        .collect();
    out.push_str(&table(
        &[
            "PARTNER",
            "STATUS",
            "HITS",
            "EPOCH",
            "FILTER",
            "SENT / RECEIVED",
            "TIME",
        ],
        &rows,
    ));
    for p in &r.partners {
        if let PartnerOutcome::Failed { message, .. } = &p.outcome {
            out.push_str(&format!("  {}: {message}\n", p.partner));
        }
    }
    // Count mode: how many, per partner; there is no item to list.
    let counts: Vec<(&str, u64)> = r
        .partners
        .iter()
        .filter_map(|p| match &p.outcome {
            PartnerOutcome::Answered { count: Some(c), .. } => Some((p.partner.as_str(), *c)),
            _ => None,
        })
        .collect();
    if !counts.is_empty() {
        out.push('\n');
        for (partner, c) in counts {
            out.push_str(&format!("{partner} holds {c} of your {} items\n", r.items));
        }
        out.push_str("(count mode: which items they hold is not revealed, to you or to them)\n");
        return out;
    }
    let person = r.kind == Kind::Person.as_str();
    let mut hit_rows = Vec::new();
    for p in &r.partners {
        if let PartnerOutcome::Answered { hits, matches, .. } = &p.outcome {
            for m in matches {
                let item = items
                    .get(m.index as usize)
                    .map(|(_, v)| display_item(person, v))
                    .unwrap_or_default();
                // The first hit of the strongest class: what a follow-up would cite.
                let reference = hits
                    .iter()
                    .filter(|h| h.index == m.index)
                    .find(|h| h.class.as_deref().unwrap_or("exact") == m.strength)
                    .map(|h| h.reference.clone())
                    .unwrap_or_default();
                let mut row = vec![m.line.to_string(), item, p.partner.clone()];
                if person {
                    row.push(m.strength.to_string());
                    row.push(
                        m.classes
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
                row.push(reference);
                hit_rows.push(row);
            }
        }
    }
    out.push('\n');
    if hit_rows.is_empty() {
        out.push_str("No hits.\n");
    } else {
        hit_rows.sort_by(|a, b| {
            a[0].parse::<u64>()
                .unwrap_or(0)
                .cmp(&b[0].parse::<u64>().unwrap_or(0))
                .then(a[2].cmp(&b[2]))
        });
        out.push_str(&format!("Hits ({}):\n", hit_rows.len()));
        let header: &[&str] = if person {
            &[
                "LINE",
                "PERSON",
                "HELD BY",
                "STRENGTH",
                "KEYS THAT HIT",
                "HIT REFERENCE",
            ]
        } else {
            &["LINE", "ITEM", "HELD BY", "HIT REFERENCE"]
        };
        out.push_str(&table(header, &hit_rows));
        out.push_str("To ask the holder for its records: `cordon followup request --partner P --hit REFERENCE --case ... --purpose ...`.\n");
        if person {
            out.push_str(
                "Strength, strongest first: document > name+dob > fuzzy-name+dob > fuzzy-name+year+nationality.\n",
            );
        }
    }
    out
}

/// An item as shown in a report: a person as its name and date of birth.
fn display_item(person: bool, raw: &str) -> String {
    if !person {
        return raw.to_string();
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
        return raw.chars().take(40).collect();
    };
    let name = v
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("(no name)");
    match v.get("dob").and_then(|d| d.as_str()) {
        Some(d) => format!("{name} ({d})"),
        None => name.to_string(),
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 10 << 20 => format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 10 << 10 => format!("{:.0} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
