//! `cordon status`: the node's collections, partners and audit log, and for operators and
//! supervisors its activity since it started (the figures `/metrics` serves).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use cordon_node::client::ControlClient;
use cordon_node::control::StatusReply;
use cordon_node::metrics::Operations;
use cordon_node::profile::Profile;

use crate::epoch::fmt_age;
use crate::output::table;

#[derive(Args)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn status(a: StatusArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let profile = Profile::locate(profile.as_deref())?;
    let rt = crate::runtime()?;
    let s = rt.block_on(async {
        let client = ControlClient::connect(&profile).await?;
        let r = client.status().await;
        client.close().await;
        anyhow::Ok(r?)
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    print!("{}", render(&s, now));
    for a in s.audit.alerts.iter().chain(&s.audit.warnings) {
        eprintln!("{a}");
    }
    Ok(if !s.audit.alerts.is_empty() {
        // An alert is something a person must act on: scripts see it too.
        ExitCode::from(crate::EXIT_ALERT)
    } else {
        ExitCode::SUCCESS
    })
}

/// `a, b, c`, or `none`.
fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// The status for a person, as of `now` (Unix seconds).
fn render(s: &StatusReply, now: u64) -> String {
    let mut out = format!("Node `{}` · you are `{}` ({})\n", s.node, s.user, s.role);
    out.push_str(&format!("Partners: {}\n", list_or_none(&s.partners)));
    if s.collections.is_empty() {
        out.push_str("No collections yet; import one with `cordon data import`.\n");
    } else {
        let rows: Vec<Vec<String>> = s
            .collections
            .iter()
            .map(|c| {
                vec![
                    c.name.to_string(),
                    c.kind.to_string(),
                    c.records.to_string(),
                    c.epoch.map_or("-".into(), |e| e.to_string()),
                    c.delta.to_string(),
                    match c.epoch_built_at {
                        Some(t) if t > 0 => fmt_age(now.saturating_sub(t)),
                        _ => "-".into(),
                    },
                    match c.next_rotation {
                        Some(t) if t > now => format!("in {}", fmt_age(t - now)),
                        Some(_) => "due".into(),
                        None => "-".into(),
                    },
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "COLLECTION",
                "KIND",
                "RECORDS",
                "EPOCH",
                "DELTA",
                "EPOCH AGE",
                "NEXT ROTATION",
            ],
            &rows,
        ));
    }
    let au = &s.audit;
    out.push_str(&format!(
        "Audit log: {} entries · log key {}\n",
        au.entries, au.log_key
    ));
    for (p, size) in &au.partners {
        if *size > 0 {
            out.push_str(&format!(
                "  {p}: its log verified and cosigned up to {size} entries\n"
            ));
        }
    }
    if let Some(ops) = &s.operations {
        out.push_str(&render_operations(ops, &s.partners, now));
    }
    out
}

/// Activity per partner, refusals, budgets left and handshake failures.
fn render_operations(ops: &Operations, partners: &[String], now: u64) -> String {
    let mut out = format!(
        "\nSince the node started {} ago",
        fmt_age(now.saturating_sub(ops.started_at))
    );
    match &ops.metrics_address {
        Some(a) => out.push_str(&format!(" (metrics at http://{a}/metrics):\n")),
        None => out.push_str(":\n"),
    }
    // Per partner: [answered in, refused in, answered out, failed out].
    let mut per: BTreeMap<&str, [u64; 4]> = partners.iter().map(|p| (p.as_str(), [0; 4])).collect();
    for c in &ops.queries_in {
        let row = per.entry(&c.partner).or_default();
        row[if c.outcome == "answered" { 0 } else { 1 }] += c.count;
    }
    for c in &ops.queries_out {
        let row = per.entry(&c.partner).or_default();
        row[if c.outcome == "answered" { 2 } else { 3 }] += c.count;
    }
    if per.is_empty() {
        out.push_str("  no partners, no queries\n");
    } else {
        let rows: Vec<Vec<String>> = per
            .iter()
            .map(|(p, n)| {
                let mut r = vec![p.to_string()];
                r.extend(n.iter().map(u64::to_string));
                r
            })
            .collect();
        out.push_str(&table(
            &[
                "PARTNER",
                "QUERIES IN: ANSWERED",
                "REFUSED",
                "QUERIES OUT: ANSWERED",
                "FAILED",
            ],
            &rows,
        ));
    }
    let refusals = |direction: &str| -> Vec<String> {
        ops.refusals
            .iter()
            .filter(|r| r.direction == direction && r.count > 0)
            .map(|r| format!("{} {} ×{}", r.partner, r.reason, r.count))
            .collect()
    };
    for (dir, what) in [
        ("in", "Refused by this node"),
        ("out", "Refused by partners"),
    ] {
        let r = refusals(dir);
        if !r.is_empty() {
            out.push_str(&format!("{what}: {}\n", r.join(", ")));
        }
    }
    if ops.budgets.is_empty() {
        out.push_str("Budgets: no collection is shared with any partner\n");
    } else {
        let rows: Vec<Vec<String>> = ops
            .budgets
            .iter()
            .map(|b| {
                vec![
                    b.partner.clone(),
                    b.collection.to_string(),
                    b.left.to_string(),
                    b.daily_items.to_string(),
                ]
            })
            .collect();
        out.push_str("Budgets left today (UTC):\n");
        out.push_str(&table(&["PARTNER", "COLLECTION", "LEFT", "PER DAY"], &rows));
    }
    let failures: Vec<String> = ops
        .handshake_failures
        .iter()
        .filter(|f| f.count > 0)
        .map(|f| format!("{} ×{}", f.reason, f.count))
        .collect();
    out.push_str(&format!(
        "Handshake failures: {}\n",
        list_or_none(&failures)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_node::metrics::{BudgetLeft, PartnerCount, ReasonCount, RefusalCount};

    #[test]
    fn operations_for_a_person() {
        let ops = Operations {
            started_at: 1_000,
            metrics_address: Some("127.0.0.1:9464".into()),
            queries_in: vec![
                PartnerCount {
                    partner: "jp".into(),
                    outcome: "answered".into(),
                    count: 5,
                },
                PartnerCount {
                    partner: "jp".into(),
                    outcome: "refused".into(),
                    count: 2,
                },
            ],
            queries_out: vec![PartnerCount {
                partner: "us".into(),
                outcome: "timeout".into(),
                count: 1,
            }],
            refusals: vec![RefusalCount {
                direction: "in".into(),
                partner: "jp".into(),
                reason: "budget_exhausted".into(),
                count: 2,
            }],
            budgets: vec![BudgetLeft {
                partner: "jp".into(),
                collection: cordon_protocol::collection::CollectionName::parse("phones").unwrap(),
                left: 7,
                daily_items: 50,
            }],
            epoch_ages: vec![],
            handshake_failures: vec![ReasonCount {
                reason: "tls_unknown_ca".into(),
                count: 3,
            }],
        };
        let text = render_operations(&ops, &["jp".into(), "us".into()], 1_000 + 3_720);
        assert!(text.contains("started 1h 2m ago"), "{text}");
        assert!(text.contains("http://127.0.0.1:9464/metrics"), "{text}");
        let jp = text.lines().find(|l| l.starts_with("jp ")).unwrap();
        let jp: Vec<&str> = jp.split_whitespace().collect();
        assert_eq!(jp, ["jp", "5", "2", "0", "0"]);
        let us: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("us "))
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(us, ["us", "0", "0", "0", "1"]);
        assert!(
            text.contains("Refused by this node: jp budget_exhausted ×2"),
            "{text}"
        );
        assert!(!text.contains("Refused by partners"), "{text}");
        assert!(
            text.contains("Handshake failures: tls_unknown_ca ×3"),
            "{text}"
        );
        assert!(text
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["jp", "phones", "7", "50"]));
    }
}
