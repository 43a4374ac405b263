//! `cordon policy reload`, `cordon partner status` and `cordon user revoke`: changing and
//! reading who may do what on a running node.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};

use cordon_node::client::ControlClient;
use cordon_node::control::{ControlRequest, ControlResponse};
use cordon_node::profile::Profile;

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Re-read node.toml and apply its [[grant]] sections now (as SIGHUP does); operators only.
    Reload,
}

#[derive(Args)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The user's name (as given to `cordon user add`)
    name: String,
    /// Why the certificate is revoked (logged)
    #[arg(long)]
    reason: String,
}

/// Sends one request to the node of `profile`.
fn call(profile: Option<&Path>, req: ControlRequest) -> anyhow::Result<ControlResponse> {
    let profile = Profile::locate(profile)?;
    let rt = crate::runtime()?;
    rt.block_on(async {
        let client = ControlClient::connect(&profile).await?;
        let r = client.call(&req).await;
        client.close().await;
        anyhow::Ok(r?)
    })
}

pub fn policy(c: PolicyCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match c {
        PolicyCmd::Reload => {
            let ControlResponse::PolicyReloaded(r) =
                call(profile.as_deref(), ControlRequest::PolicyReload)?
            else {
                bail!("the node gave an unexpected answer to a policy reload");
            };
            if r.changed {
                println!("Policy reloaded and logged; grants now in force:");
            } else {
                println!(
                    "The grants and revoked certificates are unchanged; nothing was applied. Grants in force:"
                );
            }
            if r.grants.is_empty() {
                println!("  none: nothing is shared with any partner");
            }
            for g in &r.grants {
                println!("  {g}");
            }
            match r.revoked {
                0 => {}
                1 => println!("1 certificate is revoked ([[revoked]])."),
                n => println!("{n} certificates are revoked ([[revoked]])."),
            }
            if !r.restart_needed.is_empty() {
                println!(
                    "Changes to {} take effect only after a restart (`cordon node run`).",
                    r.restart_needed.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fmt_n(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn partner_status(a: StatusArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let ControlResponse::PartnerStatus(r) =
        call(profile.as_deref(), ControlRequest::PartnerStatus)?
    else {
        bail!("the node gave an unexpected answer to a partner status request");
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if r.partners.is_empty() {
        println!("No partners yet; add one with `cordon partner add`.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for p in &r.partners {
        for c in &p.collections {
            let held = if c.held { "" } else { " (not held)" };
            if !c.shared {
                rows.push(vec![
                    p.partner.clone(),
                    format!("{}{held}", c.collection),
                    "not shared".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
                continue;
            }
            rows.push(vec![
                p.partner.clone(),
                format!("{}{held}", c.collection),
                c.modes.join("+"),
                format!("{} of {}", fmt_n(c.used_today), fmt_n(c.daily_items)),
                fmt_n(c.daily_items.saturating_sub(c.used_today)),
                fmt_n(c.max_per_query),
                if c.followup { "yes" } else { "no" }.into(),
            ]);
        }
        if p.collections.is_empty() {
            rows.push(vec![
                p.partner.clone(),
                "-".into(),
                "nothing shared".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    print!(
        "{}",
        crate::output::table(
            &[
                "PARTNER",
                "COLLECTION",
                "MODES",
                "USED TODAY",
                "LEFT",
                "PER QUERY",
                "FOLLOW-UPS"
            ],
            &rows
        )
    );
    println!(
        "Budgets count evaluated items per UTC day; they open again in {}h{:02}m.",
        r.resets_in / 3600,
        r.resets_in % 3600 / 60
    );
    Ok(ExitCode::SUCCESS)
}

pub fn revoke(a: RevokeArgs, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let ControlResponse::UserRevoked { name } = call(
        profile.as_deref(),
        ControlRequest::UserRevoke {
            name: a.name,
            reason: a.reason,
        },
    )?
    else {
        bail!("the node gave an unexpected answer to a revocation");
    };
    println!("Revoked `{name}`: the node refuses their every request from now on (logged).");
    Ok(ExitCode::SUCCESS)
}
