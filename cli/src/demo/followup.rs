//! The demo's follow-up step, the second half of the Prüm two-step: a hit becomes a request for
//! the record behind it, which the holder's supervisor decides on; only fields marked
//! releasable at import can ever leave.

use std::path::Path;

use anyhow::bail;

use cordon_node::client;
use cordon_node::control::{PartnerOutcome, QueryReply};
use cordon_node::followup::{FollowupCommand, FollowupReply};
use cordon_node::local::LocalFederation;
use cordon_node::profile::Profile;

/// The fields jp may release from its phone records.
pub const RELEASABLE: [&str; 2] = ["case_no", "unit"];

/// The fields jp keeps with its `i`-th phone record: two releasable, one never released.
pub fn jp_fields(i: usize) -> Vec<(String, String)> {
    vec![
        ("case_no".into(), format!("JP-NPA-2026-{:05}", i + 1)),
        (
            "unit".into(),
            "Osaka Prefectural Police, Fraud Division".into(),
        ),
        ("source".into(), "protected informant".into()),
    ]
}

async fn call(profile: &Path, cmd: FollowupCommand) -> anyhow::Result<FollowupReply> {
    Ok(client::followup_once(&Profile::load(profile)?, cmd).await?)
}

/// Files a follow-up on th's first phone hit at jp, has jp's supervisor approve it, and checks
/// that th receives the releasable fields and nothing else.
pub async fn step(
    fed: &LocalFederation,
    phones: &QueryReply,
    case: &str,
    failures: &mut Vec<String>,
) -> anyhow::Result<()> {
    let th = fed.agency("th")?;
    let jp = fed.agency("jp")?;
    let hit = phones
        .partners
        .iter()
        .find(|p| p.partner == "jp")
        .and_then(|p| match &p.outcome {
            PartnerOutcome::Answered { hits, .. } => hits.first().cloned(),
            PartnerOutcome::Failed { .. } => None,
        });
    let Some(hit) = hit else {
        println!("  FAIL jp gave th no phone hit to follow up");
        failures.push("follow-up".into());
        return Ok(());
    };
    println!(
        "      th's investigator cites the hit on line {} of phones.txt (reference {}…) and asks jp for the record:",
        hit.line,
        &hit.reference[..hit.reference.len().min(24)]
    );
    let FollowupReply::Requested(sent) = call(
        &th.investigator,
        FollowupCommand::Request {
            partner: "jp".into(),
            references: vec![hit.reference.clone()],
            case_ref: case.into(),
            purpose: "Identify the subscriber behind a number seen in victim reports".into(),
        },
    )
    .await?
    else {
        bail!("unexpected answer to a follow-up request");
    };
    println!("\n      jp's supervisor sees it queued (jp now knows which of its records was hit, and nothing more):\n");
    let list = call(&jp.supervisor, FollowupCommand::List).await?;
    print!("{}", super::indent(&crate::followup::render(&list)));
    println!(
        "\n      ... and approves it: only the fields jp marked releasable at import can go.\n"
    );
    call(
        &jp.supervisor,
        FollowupCommand::Approve {
            id: sent.id.clone(),
            fields: None,
        },
    )
    .await?;
    let status = call(
        &th.investigator,
        FollowupCommand::Status {
            id: Some(sent.id.clone()),
        },
    )
    .await?;
    println!("      th's investigator collects the answer (`cordon followup status`):\n");
    print!("{}", super::indent(&crate::followup::render(&status)));
    let FollowupReply::Status(views) = status else {
        bail!("unexpected answer to a follow-up status");
    };
    let mut names: Vec<&str> = views
        .iter()
        .filter(|v| v.state == "approved")
        .flat_map(|v| v.released.iter())
        .flat_map(|(_, records)| records.iter())
        .flat_map(|fields| fields.iter().map(|(k, _)| k.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names == RELEASABLE {
        println!(
            "  ok   follow-up approved: th received case_no and unit, never the protected source"
        );
    } else {
        println!("  FAIL follow-up released {names:?}, expected {RELEASABLE:?}");
        failures.push("follow-up".into());
    }
    Ok(())
}
