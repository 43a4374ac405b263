//! `cordon cert`: revoking one certificate (a person's, or a partner's node certificate) by
//! listing its SHA-256 fingerprint under `[[revoked]]` in node.toml (see
//! `cordon_node::revocation` for why a fingerprint list rather than CRLs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use cordon_node::pki;
use cordon_node::revocation;

#[derive(Subcommand)]
pub enum CertCmd {
    /// Refuse one certificate at the TLS handshake from now on: adds it to [[revoked]] in
    /// node.toml; `cordon policy reload` (or SIGHUP, or a restart) applies it to the running node.
    Revoke(RevokeArgs),
    /// Print a certificate's SHA-256 fingerprint (what [[revoked]] lists).
    Fingerprint {
        /// The certificate (PEM file)
        #[arg(value_name = "FILE")]
        cert: PathBuf,
    },
}

#[derive(Args)]
pub struct RevokeArgs {
    /// This node's configuration (node.toml)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The certificate to revoke (PEM file: a user's cert, or a partner's node.pem)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "fingerprint",
        required_unless_present = "fingerprint"
    )]
    cert: Option<PathBuf>,
    /// Its SHA-256 fingerprint instead (64 hex digits, colons allowed), e.g. as a partner reported it
    #[arg(long, value_name = "HEX")]
    fingerprint: Option<String>,
    /// Why it is revoked (kept in node.toml and logged on reload)
    #[arg(long)]
    reason: String,
}

fn read_cert(path: &PathBuf) -> anyhow::Result<(pki::CertInfo, [u8; 32])> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the certificate {}", path.display()))?;
    let (der, info) =
        pki::parse_cert_pem(&pem).with_context(|| format!("certificate {}", path.display()))?;
    Ok((info, pki::fingerprint(&der)))
}

pub fn run(c: CertCmd) -> anyhow::Result<ExitCode> {
    match c {
        CertCmd::Fingerprint { cert } => {
            let (_, fp) = read_cert(&cert)?;
            println!("{}", hex::encode(fp));
        }
        CertCmd::Revoke(a) => {
            let (fp, about) = match (&a.cert, &a.fingerprint) {
                (Some(path), _) => {
                    let (info, fp) = read_cert(path)?;
                    let about = format!(
                        "CN {:?}, OU {:?}, issued by {:?}",
                        info.subject_cn,
                        info.ou.unwrap_or_default(),
                        info.issuer_cn.unwrap_or_default()
                    );
                    (fp, Some(about))
                }
                (None, Some(hex)) => match revocation::parse_fingerprint(hex) {
                    Ok(fp) => (fp, None),
                    Err(m) => bail!("--fingerprint {hex:?}: {m}"),
                },
                (None, None) => bail!("pass --cert FILE or --fingerprint HEX"),
            };
            let added = revocation::revoke_in_config(&a.config, &fp, &a.reason, about.as_deref())?;
            let fp = hex::encode(fp);
            if added {
                println!("Revoked certificate {fp} in {}.", a.config.display());
                println!("Apply it to the running node: `cordon policy reload` (or SIGHUP).");
            } else {
                println!(
                    "Certificate {fp} is already revoked in {}; nothing changed.",
                    a.config.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
