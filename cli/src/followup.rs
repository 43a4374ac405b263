//! `cordon followup`: ask a partner for the records behind hits, review partners' requests,
//! see the answers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};

use cordon_node::client;
use cordon_node::followup::{FollowupCommand, FollowupReply, HeldSummary, HeldView, SentView};
use cordon_node::profile::Profile;

use crate::output::table;

#[derive(Subcommand)]
pub enum FollowupCmd {
    /// Investigator: ask a partner for the records behind hits (its supervisor decides).
    Request(RequestArgs),
    /// Supervisor: partners' requests on this agency's records, pending first.
    List(JsonArg),
    /// Supervisor: one request, with the records it hit and all their fields.
    Show {
        /// Request identifier (or its first characters)
        id: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Supervisor: release fields of the hit records (only fields marked releasable at import).
    Approve {
        /// Request identifier (or its first characters)
        id: String,
        /// Fields to release, comma-separated [default: every releasable field]
        #[arg(long, value_delimiter = ',')]
        fields: Option<Vec<String>>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Supervisor: refuse a request; the requesting agency sees the reason.
    Deny {
        /// Request identifier (or its first characters)
        id: String,
        /// Why (required)
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Requests this node sent, with the partners' answers (fetched for those still open).
    Status {
        /// One request (identifier or its first characters) [default: all]
        id: Option<String>,
        #[command(flatten)]
        json: JsonArg,
    },
}

#[derive(Args)]
pub struct JsonArg {
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RequestArgs {
    /// The partner holding the records
    #[arg(long)]
    partner: String,
    /// Hit reference as `cordon query` printed it (collection:epoch:tag); repeat for several
    #[arg(long = "hit", value_name = "REFERENCE", required = true)]
    hits: Vec<String>,
    /// Case reference this request serves (required; logged by both nodes)
    #[arg(long = "case", value_name = "CASE-ID")]
    case_ref: String,
    /// Why the records are needed (required; logged by both nodes, read by the partner's supervisor)
    #[arg(long)]
    purpose: String,
    #[command(flatten)]
    json: JsonArg,
}

pub fn run(c: FollowupCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (cmd, json) = match c {
        FollowupCmd::Request(a) => {
            if a.case_ref.trim().is_empty() {
                bail!("--case is empty; give the case reference this follow-up serves");
            }
            if a.purpose.trim().is_empty() {
                bail!("--purpose is empty; state why the records are needed");
            }
            for h in &a.hits {
                h.parse::<cordon_protocol::followup::HitReference>()
                    .map_err(anyhow::Error::msg)?;
            }
            (
                FollowupCommand::Request {
                    partner: a.partner,
                    references: a.hits,
                    case_ref: a.case_ref,
                    purpose: a.purpose,
                },
                a.json.json,
            )
        }
        FollowupCmd::List(j) => (FollowupCommand::List, j.json),
        FollowupCmd::Show { id, json } => (FollowupCommand::Show { id }, json.json),
        FollowupCmd::Approve { id, fields, json } => {
            (FollowupCommand::Approve { id, fields }, json.json)
        }
        FollowupCmd::Deny { id, reason, json } => {
            if reason.trim().is_empty() {
                bail!("--reason is empty; say why the request is denied (the requesting agency sees it)");
            }
            (FollowupCommand::Deny { id, reason }, json.json)
        }
        FollowupCmd::Status { id, json } => (FollowupCommand::Status { id }, json.json),
    };
    let profile = Profile::locate(profile.as_deref())?;
    let rt = crate::runtime()?;
    let reply = rt.block_on(client::followup_once(&profile, cmd))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render(&reply));
    Ok(ExitCode::SUCCESS)
}

/// The reply for people.
pub fn render(r: &FollowupReply) -> String {
    match r {
        FollowupReply::Requested(s) => format!(
            "Follow-up request {} sent to {}: {} reference(s) resolved to {} of its records; awaiting its supervisor.\nSee the answer with `cordon followup status {}`.\n",
            s.id,
            s.partner,
            s.references.len(),
            s.records,
            &s.id[..8.min(s.id.len())]
        ),
        FollowupReply::List(list) => render_list(list),
        FollowupReply::Show(v) => render_held(v),
        FollowupReply::Status(list) => {
            if list.is_empty() {
                return "No follow-up requests sent from this node.\n".into();
            }
            list.iter().map(render_sent).collect::<Vec<_>>().join("\n")
        }
        other => format!("{other:?}\n"),
    }
}

fn when(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

fn render_list(list: &[HeldSummary]) -> String {
    if list.is_empty() {
        return "No follow-up requests from partners.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|h| {
            vec![
                h.id[..12.min(h.id.len())].to_string(),
                h.state.clone(),
                h.partner.clone(),
                format!("{} (epoch {})", h.collection, h.epoch),
                format!("{} / {}", h.references, h.records),
                h.case_ref.clone(),
                when(h.received_at),
            ]
        })
        .collect();
    let pending = list.iter().filter(|h| h.state == "pending").count();
    format!(
        "{}{pending} pending. Review one with `cordon followup show ID`.\n",
        table(
            &[
                "ID",
                "STATE",
                "FROM",
                "COLLECTION",
                "REFS / RECORDS",
                "CASE",
                "RECEIVED"
            ],
            &rows
        )
    )
}

fn render_held(v: &HeldView) -> String {
    let s = &v.summary;
    let mut out = format!(
        "Follow-up request {}\n  from:      {} (investigator {})\n  case:      {}\n  purpose:   {}\n  received:  {}\n  state:     {}\n",
        s.id,
        s.partner,
        s.requested_by,
        s.case_ref,
        s.purpose,
        when(s.received_at),
        s.state
    );
    if let Some(d) = &v.decision {
        out.push_str(&format!(
            "  decided:   {} by {} at {}\n",
            d.decision,
            d.by,
            when(d.at)
        ));
        if !d.fields.is_empty() {
            out.push_str(&format!("  released:  {}\n", d.fields.join(", ")));
        }
        if let Some(r) = &d.reason {
            out.push_str(&format!("  reason:    {r}\n"));
        }
    }
    out.push_str(&format!(
        "\nRecords hit in `{}` ({} reference(s), {} record(s)); * marks releasable fields:\n",
        s.collection, s.references, s.records
    ));
    for r in &v.references {
        out.push_str(&format!("  {}\n", r.reference));
        for rec in &r.records {
            out.push_str(&format!(
                "    record {}{}\n",
                rec.value,
                if rec.deleted { " (deleted since)" } else { "" }
            ));
            if rec.fields.is_empty() {
                out.push_str("      (no fields)\n");
            }
            for f in &rec.fields {
                out.push_str(&format!(
                    "      {} {}: {}\n",
                    if f.releasable { "*" } else { " " },
                    f.name,
                    f.value
                ));
            }
        }
    }
    if s.state == "pending" {
        out.push_str(&format!(
            "\nDecide with `cordon followup approve {id} [--fields a,b]` or `cordon followup deny {id} --reason TEXT`.\n",
            id = &s.id[..12.min(s.id.len())]
        ));
    }
    out
}

fn render_sent(s: &SentView) -> String {
    let mut out = format!(
        "Follow-up request {} to {} ({} epoch {}), case {}, sent {} by {}: {}\n",
        s.id,
        s.partner,
        s.collection,
        s.epoch,
        s.case_ref,
        when(s.sent_at),
        s.requested_by,
        s.state.to_uppercase()
    );
    match s.state.as_str() {
        "approved" => {
            for (reference, records) in &s.released {
                out.push_str(&format!("  {reference}\n"));
                for (i, rec) in records.iter().enumerate() {
                    let fields: Vec<String> = rec.iter().map(|(n, v)| format!("{n}={v}")).collect();
                    out.push_str(&format!(
                        "    record {}: {}\n",
                        i + 1,
                        if fields.is_empty() {
                            "(no fields released)".to_string()
                        } else {
                            fields.join(", ")
                        }
                    ));
                }
            }
        }
        "denied" | "refused" => {
            out.push_str(&format!(
                "  reason: {}\n",
                s.reason.as_deref().unwrap_or("(none given)")
            ));
        }
        "pending" => out.push_str(&format!(
            "  awaiting {}'s supervisor ({} reference(s), {} record(s))\n",
            s.partner,
            s.references.len(),
            s.records
        )),
        _ => out.push_str(&format!("  {} no longer knows this request\n", s.partner)),
    }
    out
}
