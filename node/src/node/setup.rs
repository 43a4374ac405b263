//! What a node loads before it can run: its own certificate, keys and CA, and each partner's CA,
//! pinned keys and client configuration. Every file is read and checked here, so that a wrong
//! one stops the start with one sentence naming it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use ring::signature::Ed25519KeyPair;
use rustls_pki_types::CertificateDer;

use cordon_protocol::audit::note::{KeyType, Signer, VerifierKey};

use crate::admin::{self, parse_signing_public_key};
use crate::audit::{self, PartnerLogKeys};
use crate::config::{Config, PartnerConfig};
use crate::error::{InternalError, NodeError};
use crate::pki;
use crate::revocation::Revocations;
use crate::tls::{self, TlsIdentity};

fn read(what: &'static str, path: &Path) -> Result<String, NodeError> {
    std::fs::read_to_string(path).map_err(|source| NodeError::io(what, path, source))
}

/// This node's certificate, keys and CA.
pub(super) struct Own {
    /// The node certificate and key (TLS, both directions).
    pub(super) identity: TlsIdentity,
    /// The agency CA certificate: users and this node are issued by it.
    pub(super) ca_der: CertificateDer<'static>,
    /// The descriptor signing key.
    pub(super) signing: Ed25519KeyPair,
    /// The same key, signing receipts as the node.
    pub(super) receipts: Signer,
    /// Signs the audit log's checkpoints.
    pub(super) log: Signer,
    /// Cosigns partners' checkpoints.
    pub(super) witness: Signer,
}

impl Own {
    /// Loads and checks this node's files.
    pub(super) fn load(config: &Config, now: u64) -> Result<Own, NodeError> {
        let ca_pem = read("CA certificate", &config.path(&config.tls.ca_cert))?;
        let (ca_der, _) = pki::parse_cert_pem(&ca_pem)?;
        let cert_path = config.path(&config.tls.cert);
        let cert_pem = read("node certificate", &cert_path)?;
        check_own_certificate(&cert_pem, &cert_path, &config.node.name, now)?;
        let identity =
            TlsIdentity::from_pem(&cert_pem, &read("node key", &config.path(&config.tls.key))?)?;
        let name = &config.node.name;
        let signer = |path: &Path, key_name: &str| -> Result<Signer, NodeError> {
            let kp = admin::load_signing_key(path)?;
            Signer::new(key_name, kp).map_err(|e| NodeError::setup(e.to_string()))
        };
        Ok(Own {
            identity,
            ca_der,
            signing: admin::load_signing_key(&config.path(&config.tls.signing_key))?,
            receipts: signer(&config.path(&config.tls.signing_key), name)?,
            log: signer(&config.path(&config.tls.log_key), &audit::origin_of(name))?,
            witness: signer(&config.path(&config.tls.witness_key), name)?,
        })
    }
}

/// Refuses to start with a node certificate that names another node or is outside its
/// validity period: partners would refuse every handshake, with a far less clear error.
fn check_own_certificate(pem: &str, path: &Path, name: &str, now: u64) -> Result<(), NodeError> {
    let (_, info) = pki::parse_cert_pem(pem)?;
    let refuse = |m: String| {
        Err(NodeError::setup(format!(
            "node certificate {}: {m}",
            path.display()
        )))
    };
    if info.subject_cn != name {
        return refuse(format!(
            "it is issued to `{}` but node.name is `{name}`; point tls.cert at this node's certificate",
            info.subject_cn
        ));
    }
    let now = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    if now > info.not_after {
        return refuse(format!(
            "it expired on {}; issue a new node certificate from the agency CA",
            info.not_after.date()
        ));
    }
    if now < info.not_before {
        return refuse(format!(
            "it is not valid before {}; check the system clock",
            info.not_before
        ));
    }
    Ok(())
}

/// Every partner as this node trusts and reaches it.
#[derive(Default)]
pub(super) struct Partners {
    /// Who may connect as a partner (name and CA).
    pub(super) trusted: Vec<tls::Partner>,
    /// How to reach each: client configuration and address.
    pub(super) clients: HashMap<String, (quinn::ClientConfig, String)>,
    /// Pinned descriptor keys.
    pub(super) descriptor_keys: HashMap<String, [u8; 32]>,
    /// Log, cosigning and receipt keys.
    pub(super) log_keys: BTreeMap<String, PartnerLogKeys>,
}

impl Partners {
    /// Loads every `[[partner]]` (files, keys) and builds its client configuration.
    pub(super) fn load(
        config: &Config,
        identity: &TlsIdentity,
        revocations: &Arc<Revocations>,
    ) -> Result<Partners, NodeError> {
        let mut out = Partners::default();
        for p in &config.partners {
            let pem = read("partner CA certificate", &config.path(&p.ca_cert))?;
            let (der, _) = pki::parse_cert_pem(&pem)?;
            let key = public(config, p, "signing_key", &p.signing_key)?;
            out.descriptor_keys.insert(p.name.clone(), key);
            out.log_keys
                .insert(p.name.clone(), log_keys(config, p, key)?);
            let client = tls::quinn_client_config(tls::partner_client_config_checked(
                identity,
                &der,
                revocations.clone(),
            )?)?;
            out.clients
                .insert(p.name.clone(), (client, p.address.clone()));
            out.trusted.push(tls::Partner {
                name: p.name.clone(),
                ca_cert: der,
            });
        }
        Ok(out)
    }
}

/// A partner's public key `field` of `node.toml`, decoded.
fn public(config: &Config, p: &PartnerConfig, field: &str, v: &str) -> Result<[u8; 32], NodeError> {
    parse_signing_public_key(v).map_err(|m| {
        NodeError::config(
            config.base_dir.join("node.toml"),
            format!("partner `{}`: key `{field}`: {m}", p.name),
        )
    })
}

/// A partner's log, cosigning and receipt (descriptor) keys.
fn log_keys(
    config: &Config,
    p: &PartnerConfig,
    descriptor: [u8; 32],
) -> Result<PartnerLogKeys, NodeError> {
    let vkey = |n: &str, t: KeyType, k: [u8; 32]| {
        VerifierKey::new(n, t, k).map_err(|e| {
            NodeError::config(
                config.base_dir.join("node.toml"),
                format!("partner `{}`: {e}", p.name),
            )
        })
    };
    Ok(PartnerLogKeys {
        log: vkey(
            &audit::origin_of(&p.name),
            KeyType::Ed25519,
            public(config, p, "log_key", &p.log_key)?,
        )?,
        witness: vkey(
            &p.name,
            KeyType::CosignatureV1,
            public(config, p, "witness_key", &p.witness_key)?,
        )?,
        receipt: vkey(&p.name, KeyType::Ed25519, descriptor)?,
    })
}

/// The secret QUIC derives stateless-reset tokens from, kept next to the database so that it
/// survives restarts: a partner still holding a connection to the previous process then
/// accepts the restarted node's reset at once, instead of waiting out the idle time-out.
pub(super) fn stateless_reset_key(db_path: &Path) -> Result<[u8; 32], NodeError> {
    let path = db_path.with_file_name("quic-reset.key");
    let io = |source| NodeError::io("QUIC reset key", path.clone(), source);
    match std::fs::read(&path) {
        Ok(b) if b.len() == 32 => {
            let mut k = [0u8; 32];
            k.copy_from_slice(&b);
            return Ok(k);
        }
        Ok(_) => {
            return Err(NodeError::setup(format!(
                "{} is not 32 bytes; delete it and the node makes a new one",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut k = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k)
        .map_err(|_| InternalError::Random)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut f, &k).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(k)
}
