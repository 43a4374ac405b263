//! `cordon cert`: revoking one certificate (a person's, or a partner's node certificate) by
//! listing its SHA-256 fingerprint under `[[revoked]]` in node.toml (see
//! `cordon_node::revocation` for why a fingerprint list rather than CRLs).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use cordon_node::config::Config;
use cordon_node::pki;
use cordon_node::profile::Profile;
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

fn read_cert(path: &Path) -> anyhow::Result<(pki::CertInfo, [u8; 32])> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the certificate {}", path.display()))?;
    let (der, info) =
        pki::parse_cert_pem(&pem).with_context(|| format!("certificate {}", path.display()))?;
    Ok((info, pki::fingerprint(&der)))
}

/// The fingerprint of a certificate file, or None if it cannot be read (the check it serves is
/// advisory; a file that cannot be read is reported by whatever needs it).
fn file_fingerprint(path: &Path) -> Option<[u8; 32]> {
    read_cert(path).ok().map(|(_, fp)| fp)
}

/// Refuses revocations that cannot be what the operator meant: this node's own certificate or a
/// CA certificate (the list is checked against the peer's end-entity certificate only, so either
/// would do nothing), and the caller's own certificate (it would lock them out of this node's
/// control channel, `policy reload` included).
fn refuse_mistakes(cfg_path: &Path, fp: &[u8; 32], profile: Option<&Path>) -> anyhow::Result<()> {
    let cfg = Config::load(cfg_path)?;
    let hexfp = hex::encode(fp);
    let own = cfg.path(&cfg.tls.cert);
    if file_fingerprint(&own).as_ref() == Some(fp) {
        bail!(
            "{hexfp} is this node's own certificate ({}): a node never checks its own certificate, \
             so listing it changes nothing; if its key leaked, give this fingerprint to every \
             partner to revoke on their nodes",
            own.display()
        );
    }
    let cas = std::iter::once(("this node's CA", cfg.path(&cfg.tls.ca_cert))).chain(
        cfg.partners
            .iter()
            .map(|p| ("a partner's CA", cfg.path(&p.ca_cert))),
    );
    for (whose, path) in cas {
        if file_fingerprint(&path).as_ref() == Some(fp) {
            bail!(
                "{hexfp} is {whose} certificate ({}): [[revoked]] lists the certificates of people \
                 and partner nodes and is never checked against a CA; revoke the certificates it \
                 issued, or remove the partner from node.toml",
                path.display()
            );
        }
    }
    // No profile (or one that does not load) means no caller to protect.
    if let Ok(p) = Profile::locate(profile) {
        if p.node == cfg.node.name && file_fingerprint(&p.path(&p.cert)).as_ref() == Some(fp) {
            bail!(
                "{hexfp} is your own certificate (`{}`, {}): revoking it would lock you out of \
                 this node, `cordon policy reload` included; revoke it from another operator's \
                 profile",
                p.user,
                p.role
            );
        }
    }
    Ok(())
}

pub fn run(c: CertCmd, profile: Option<PathBuf>) -> anyhow::Result<ExitCode> {
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
            refuse_mistakes(&a.config, &fp, profile.as_deref())?;
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
