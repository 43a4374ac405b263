//! `node.toml`: the node's configuration, read once at start.
//!
//! Relative paths are resolved against the folder holding `node.toml`, so a node folder can be
//! moved as a whole. Unknown keys are errors (a typo must not silently disable a setting), and
//! every error names the file, the line and the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::NodeError;

/// The whole `node.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node.
    pub node: NodeSection,
    /// Certificate and key files.
    pub tls: TlsSection,
    /// Epoch building.
    #[serde(default)]
    pub epochs: EpochSection,
    /// Limits and time-outs.
    #[serde(default)]
    pub limits: LimitSection,
    /// Identifier defaults.
    #[serde(default)]
    pub identifiers: IdentSection,
    /// Trusted partner agencies.
    #[serde(default, rename = "partner")]
    pub partners: Vec<PartnerConfig>,
    /// What is shared with whom (`crate::policy`); nothing without a grant.
    #[serde(default, rename = "grant")]
    pub grants: Vec<crate::policy::Grant>,
    /// Per-collection key rotation and retention (`crate::maintenance`).
    #[serde(default, rename = "collection")]
    pub collections: Vec<CollectionSettings>,
    /// `[[revoked]]`: certificates refused at the handshake although their CA is trusted
    /// (applied again by `cordon policy reload` and SIGHUP).
    #[serde(default, rename = "revoked")]
    pub revoked: Vec<crate::revocation::RevokedCert>,
    /// Folder of `node.toml`; not in the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this was loaded from (empty when parsed from text); policy reloads re-read it.
    #[serde(skip)]
    pub source: PathBuf,
}

/// `[node]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The node's name, as in its certificate (`th`, `jp.npa`).
    pub name: String,
    /// UDP address the QUIC endpoint listens on (partners and investigators).
    pub listen: SocketAddr,
    /// Address partners and local CLIs should use to reach this node (written into cards and
    /// profiles). Defaults to `listen`.
    #[serde(default)]
    pub public_address: Option<String>,
    /// Folder holding the database.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

fn default_log_key() -> PathBuf {
    PathBuf::from("log.key")
}

fn default_witness_key() -> PathBuf {
    PathBuf::from("witness.key")
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// `[tls]`: PEM files, relative to the config folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The agency CA certificate.
    pub ca_cert: PathBuf,
    /// The agency CA key (needed only by `cordon user add`; keep it offline if you can).
    pub ca_key: PathBuf,
    /// The node's certificate.
    pub cert: PathBuf,
    /// The node's private key.
    pub key: PathBuf,
    /// The node's Ed25519 signing key (PKCS#8 PEM) for epoch descriptors and receipts.
    pub signing_key: PathBuf,
    /// Ed25519 key (PKCS#8 PEM) that signs only this node's audit-log checkpoints.
    #[serde(default = "default_log_key")]
    pub log_key: PathBuf,
    /// Ed25519 key (PKCS#8 PEM) that signs only cosignatures of partners' checkpoints.
    #[serde(default = "default_witness_key")]
    pub witness_key: PathBuf,
}

/// `[epochs]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochSection {
    /// Target false-positive rate of each filter.
    #[serde(default = "default_fp_rate")]
    pub fp_rate: f64,
    /// How long a signed descriptor stays valid for queriers.
    #[serde(default = "default_validity", with = "humantime_serde")]
    pub descriptor_validity: Duration,
    /// Rebuild the epoch (new key, new filter) once the delta exceeds this fraction of the
    /// filter's records.
    #[serde(default = "default_rebuild_fraction")]
    pub rebuild_delta_fraction: f64,
}

fn default_fp_rate() -> f64 {
    1e-9
}
fn default_validity() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_rebuild_fraction() -> f64 {
    0.5
}

impl Default for EpochSection {
    fn default() -> Self {
        EpochSection {
            fp_rate: default_fp_rate(),
            descriptor_validity: default_validity(),
            rebuild_delta_fraction: default_rebuild_fraction(),
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSection {
    /// How long to wait for one partner's whole answer before reporting it as failed.
    #[serde(default = "default_query_timeout", with = "humantime_serde")]
    pub query_timeout: Duration,
    /// How long to wait for a QUIC handshake with a partner.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Most items in one query.
    #[serde(default = "default_max_items")]
    pub max_items_per_query: usize,
    /// How long in-flight requests may take to finish at shutdown.
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

fn default_query_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_max_items() -> usize {
    cordon_protocol::messages::MAX_ITEMS_PER_REQUEST
}
fn default_grace() -> Duration {
    Duration::from_secs(10)
}

impl Default for LimitSection {
    fn default() -> Self {
        LimitSection {
            query_timeout: default_query_timeout(),
            connect_timeout: default_connect_timeout(),
            max_items_per_query: default_max_items(),
            shutdown_grace: default_grace(),
        }
    }
}

/// `[identifiers]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentSection {
    /// ISO 3166 region for national-format phone numbers (`TH`).
    #[serde(default)]
    pub default_region: Option<String>,
}

/// One `[[partner]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// The partner node's name, as in its certificate.
    pub name: String,
    /// Its address (`host:port`).
    pub address: String,
    /// Its CA certificate (PEM file, relative to the config folder).
    pub ca_cert: PathBuf,
    /// Its Ed25519 descriptor-signing public key, base64 (32 bytes); it also signs receipts.
    pub signing_key: String,
    /// Its audit-log (checkpoint) public key, base64.
    pub log_key: String,
    /// Its cosigning public key, base64.
    pub witness_key: String,
}

/// One `[[collection]]`: when the collection's key is rotated and how long its records are
/// kept. It may name a collection that does not exist yet (it applies once one is imported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSettings {
    /// The collection's name.
    pub name: String,
    /// Rotate the key (a new epoch) once the current epoch is this old. None: only on demand,
    /// after deletions and expiry, and at the rebuild threshold.
    #[serde(default, with = "humantime_serde")]
    pub rotate_every: Option<Duration>,
    /// Expire (delete) records imported longer ago than this. None: kept until deleted.
    #[serde(default, with = "humantime_serde")]
    pub retain: Option<Duration>,
}

/// Turns a TOML error into one line: where, the offending line, and what is wrong.
pub fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim_end().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let line_no = text[..start].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} (`{line}`): {msg}")
        }
        None => msg,
    }
}

impl Config {
    /// Reads and checks `node.toml`.
    pub fn load(path: &Path) -> Result<Config, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| NodeError::Config {
            path: path.to_path_buf(),
            message: format!("cannot read it: {e}; check the path or run `cordon init`"),
        })?;
        let mut cfg = Config::parse(&text).map_err(|message| NodeError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.source = path.to_path_buf();
        Ok(cfg)
    }

    /// Parses and checks the text of a `node.toml`.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        for r in &self.revoked {
            crate::revocation::parse_fingerprint(&r.fingerprint)
                .map_err(|m| format!("[[revoked]] fingerprint {:?}: {m}", r.fingerprint))?;
        }
        if !(self.epochs.fp_rate > 0.0
            && self.epochs.fp_rate <= crate::partner_client::MAX_ACCEPTED_FP_RATE)
        {
            return Err(format!(
                "key `epochs.fp_rate` = {} is out of range; partners accept at most 1e-6, use e.g. 1e-9",
                self.epochs.fp_rate
            ));
        }
        if !(self.epochs.rebuild_delta_fraction > 0.0 && self.epochs.rebuild_delta_fraction <= 1.0)
        {
            return Err(format!(
                "key `epochs.rebuild_delta_fraction` = {} is out of range; use a fraction in (0, 1] such as 0.5",
                self.epochs.rebuild_delta_fraction
            ));
        }
        if self.limits.max_items_per_query == 0
            || self.limits.max_items_per_query > cordon_protocol::messages::MAX_ITEMS_PER_REQUEST
        {
            return Err(format!(
                "key `limits.max_items_per_query` = {} is out of range; use 1..={}",
                self.limits.max_items_per_query,
                cordon_protocol::messages::MAX_ITEMS_PER_REQUEST
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.partners {
            if p.name == self.node.name {
                return Err(format!(
                    "partner `{}` has this node's own name; remove that [[partner]] entry",
                    p.name
                ));
            }
            if !seen.insert(&p.name) {
                return Err(format!(
                    "partner `{}` appears twice; keep one [[partner]] entry per partner",
                    p.name
                ));
            }
        }
        let names: Vec<String> = self.partners.iter().map(|p| p.name.clone()).collect();
        crate::policy::check_grants(&self.grants, &names)?;
        let mut seen = std::collections::HashSet::new();
        for c in &self.collections {
            crate::import::validate_collection(&c.name)
                .map_err(|e| format!("[[collection]]: {e}"))?;
            if !seen.insert(&c.name) {
                return Err(format!(
                    "collection `{}` has two [[collection]] sections; keep one per collection",
                    c.name
                ));
            }
            for (key, d) in [("rotate_every", c.rotate_every), ("retain", c.retain)] {
                if d.is_some_and(|d| d < Duration::from_secs(60)) {
                    return Err(format!(
                        "collection `{}`: key `{key}` is under a minute; use e.g. \"30d\" (or leave it out)",
                        c.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Resolves a path from the file against the config folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.path(&self.node.data_dir).join("cordon.redb")
    }

    /// A partner by name.
    pub fn partner(&self, name: &str) -> Option<&PartnerConfig> {
        self.partners.iter().find(|p| p.name == name)
    }

    /// The `[[collection]]` settings of a collection, if any.
    pub fn collection(&self, name: &str) -> Option<&CollectionSettings> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// The address to advertise for this node.
    pub fn public_address(&self) -> String {
        self.node
            .public_address
            .clone()
            .unwrap_or_else(|| self.node.listen.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[node]
name = "th"
listen = "127.0.0.1:7400"

[tls]
ca_cert = "ca.pem"
ca_key = "ca.key"
cert = "node.pem"
key = "node.key"
signing_key = "signing.key"
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MIN).unwrap();
        assert_eq!(c.epochs.fp_rate, 1e-9);
        assert_eq!(c.limits.query_timeout, Duration::from_secs(30));
        assert!(c.partners.is_empty());
    }

    #[test]
    fn errors_name_key_and_line() {
        let bad = MIN.replace("listen = \"127.0.0.1:7400\"", "listen = \"not an address\"");
        let e = Config::parse(&bad).unwrap_err();
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("listen"), "{e}");
        let typo = format!("{MIN}\n[limits]\nquery_timout = \"5s\"\n");
        let e = Config::parse(&typo).unwrap_err();
        assert!(e.contains("query_timout"), "{e}");
        assert!(e.contains("line 14"), "{e}");
        let dup = format!("{MIN}\n[[partner]]\nname=\"jp\"\naddress=\"x:1\"\nca_cert=\"a\"\nsigning_key=\"k\"\nlog_key=\"k\"\nwitness_key=\"k\"\n[[partner]]\nname=\"jp\"\naddress=\"x:1\"\nca_cert=\"a\"\nsigning_key=\"k\"\nlog_key=\"k\"\nwitness_key=\"k\"\n");
        assert!(Config::parse(&dup).unwrap_err().contains("twice"));
    }

    #[test]
    fn collection_settings() {
        let ok = format!("{MIN}\n[[collection]]\nname = \"phones\"\nrotate_every = \"30d\"\nretain = \"5y\"\n\n[[collection]]\nname = \"later\"\n");
        let c = Config::parse(&ok).unwrap();
        let p = c.collection("phones").unwrap();
        assert_eq!(p.rotate_every, Some(Duration::from_secs(30 * 86400)));
        assert!(p.retain.unwrap() > Duration::from_secs(5 * 365 * 86400));
        assert_eq!(c.collection("later").unwrap().retain, None);
        let typo = format!("{MIN}\n[[collection]]\nname = \"phones\"\nrotate_evry = \"30d\"\n");
        let e = Config::parse(&typo).unwrap_err();
        assert!(e.contains("rotate_evry") && e.contains("line 15"), "{e}");
        let bad = format!("{MIN}\n[[collection]]\nname = \"phones\"\nretain = \"soon\"\n");
        let e = Config::parse(&bad).unwrap_err();
        assert!(e.contains("line 15"), "{e}");
        let short = format!("{MIN}\n[[collection]]\nname = \"phones\"\nrotate_every = \"5s\"\n");
        assert!(Config::parse(&short).unwrap_err().contains("rotate_every"));
        let dup = format!("{MIN}\n[[collection]]\nname = \"a\"\n[[collection]]\nname = \"a\"\n");
        assert!(Config::parse(&dup).unwrap_err().contains("two"));
    }
}
