//! `node.toml`: the node's configuration, read once at start.
//!
//! Relative paths are resolved against the folder holding `node.toml`, so a node folder can be
//! moved as a whole. Unknown keys are errors (a typo must not silently disable a setting), and
//! every error names the file, the line and the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use cordon_protocol::collection::CollectionName;

use crate::error::NodeError;

/// The weakest false-positive rate a querier accepts in a partner's filter (and so the
/// weakest `epochs.fp_rate` a holder may build with).
pub const MAX_ACCEPTED_FP_RATE: f64 = 1e-6;

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
    /// The Prometheus `/metrics` endpoint (`crate::metrics`); off unless `listen` is set.
    #[serde(default)]
    pub metrics: MetricsSection,
    /// `[[revoked]]`: certificates refused at the handshake although their CA is trusted
    /// (applied again by `cordon policy reload` and SIGHUP).
    #[serde(default, rename = "revoked")]
    pub revoked: Vec<RevokedCert>,
    /// Folder of `node.toml`; not in the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this was loaded from (empty when parsed from text); policy reloads re-read it.
    #[serde(skip)]
    pub source: PathBuf,
}

/// One `[[revoked]]` entry of `node.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedCert {
    /// SHA-256 of the certificate's DER encoding, 64 hex digits (colons allowed).
    pub fingerprint: String,
    /// Why (shown in the node's log when the certificate is refused).
    #[serde(default)]
    pub reason: String,
}

impl RevokedCert {
    /// The fingerprint as bytes, or the sentence saying which entry is wrong and why.
    pub fn fingerprint_bytes(&self) -> Result<[u8; 32], String> {
        crate::pki::parse_fingerprint(&self.fingerprint)
            .map_err(|m| format!("[[revoked]] fingerprint {:?}: {m}", self.fingerprint))
    }
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
    /// Connections one partner may hold open to this node at once; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections_per_partner: usize,
    /// Streams a peer may have open on one connection at once; further ones wait (QUIC flow
    /// control), they are not refused.
    #[serde(default = "default_max_streams")]
    pub max_streams_per_connection: u32,
    /// Requests of one partner served at once; its further streams wait their turn.
    #[serde(default = "default_max_requests")]
    pub max_requests_per_partner: usize,
    /// Largest request frame a partner may send, in bytes (the protocol's own limit is 8 MiB).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// How long a partner may take to send one whole request once it is being served.
    #[serde(default = "default_request_read_timeout", with = "humantime_serde")]
    pub request_read_timeout: Duration,
    /// Follow-up requests of one partner that may await review at once.
    #[serde(default = "default_max_pending_followups")]
    pub max_pending_followups_per_partner: usize,
    /// Handshakes in progress at once, from anyone (before the peer is identified); one more is
    /// refused at once, so a flood of unauthenticated handshakes cannot exhaust the node.
    #[serde(default = "default_max_handshakes")]
    pub max_handshakes: usize,
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
fn default_max_connections() -> usize {
    4
}
fn default_max_streams() -> u32 {
    64
}
fn default_max_requests() -> usize {
    4
}
fn default_max_request_bytes() -> usize {
    4 << 20
}
fn default_request_read_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_max_pending_followups() -> usize {
    1_000
}
fn default_max_handshakes() -> usize {
    256
}

/// A request of `max_items_per_query` blinded items must fit `max_request_bytes`: the items
/// plus this much for the rest (collection name, checkpoint exchange).
const REQUEST_OVERHEAD: usize = 64 << 10;

impl Default for LimitSection {
    fn default() -> Self {
        LimitSection {
            query_timeout: default_query_timeout(),
            connect_timeout: default_connect_timeout(),
            max_items_per_query: default_max_items(),
            shutdown_grace: default_grace(),
            max_connections_per_partner: default_max_connections(),
            max_streams_per_connection: default_max_streams(),
            max_requests_per_partner: default_max_requests(),
            max_request_bytes: default_max_request_bytes(),
            request_read_timeout: default_request_read_timeout(),
            max_pending_followups_per_partner: default_max_pending_followups(),
            max_handshakes: default_max_handshakes(),
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

/// `[metrics]`: where `/metrics` is served over plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// TCP address of the `/metrics` endpoint (`127.0.0.1:9464`). None: no endpoint.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Allow a public or wildcard (`0.0.0.0`, `[::]`) address. The metrics name partners and
    /// show their activity, over plain HTTP: off by default (see [`metrics_exposure`]).
    #[serde(default)]
    pub allow_public: bool,
}

/// Who can reach an address the metrics endpoint listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// This machine only.
    Loopback,
    /// A private network (RFC 1918, IPv6 unique-local, link-local).
    Private,
    /// A public address, or every interface (`0.0.0.0`, `[::]`).
    Public,
}

/// Classifies a metrics address: the node refuses [`Exposure::Public`] unless the operator
/// set `allow_public`, and warns at start for anything but loopback.
pub fn metrics_exposure(addr: &SocketAddr) -> Exposure {
    use std::net::IpAddr;
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if ip.is_loopback() {
        return Exposure::Loopback;
    }
    let private = match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let s = v6.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    };
    if private {
        Exposure::Private
    } else {
        Exposure::Public
    }
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
        let text = std::fs::read_to_string(path).map_err(|e| {
            NodeError::config(
                path,
                format!("cannot read it: {e}; check the path or run `cordon init`"),
            )
        })?;
        let mut cfg = Config::parse(&text)
            .map_err(|message| NodeError::config(path.to_path_buf(), message))?;
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

    /// `[limits]` (and `[metrics]`): every value in its range.
    fn check_limits(&self) -> Result<(), String> {
        let l = &self.limits;
        for (key, value, max) in [
            (
                "max_items_per_query",
                l.max_items_per_query,
                cordon_protocol::messages::MAX_ITEMS_PER_REQUEST,
            ),
            (
                "max_connections_per_partner",
                l.max_connections_per_partner,
                1024,
            ),
            (
                "max_streams_per_connection",
                l.max_streams_per_connection as usize,
                1024,
            ),
            ("max_requests_per_partner", l.max_requests_per_partner, 256),
            (
                "max_pending_followups_per_partner",
                l.max_pending_followups_per_partner,
                1_000_000,
            ),
            ("max_handshakes", l.max_handshakes, 65_536),
        ] {
            if value == 0 || value > max {
                return Err(format!(
                    "key `limits.{key}` = {value} is out of range; use 1..={max}"
                ));
            }
        }
        if let Some(addr) = self.metrics.listen {
            if metrics_exposure(&addr) == Exposure::Public && !self.metrics.allow_public {
                return Err(format!(
                    "key `metrics.listen` = {addr} would serve the metrics (partner names and their activity) over plain HTTP on a public or every interface; use 127.0.0.1 or a private address, or set `allow_public = true` in [metrics] if a firewall guards the port"
                ));
            }
        }
        let least =
            l.max_items_per_query * cordon_protocol::messages::ELEMENT_LEN + REQUEST_OVERHEAD;
        let most = cordon_protocol::frame::MAX_PAYLOAD;
        if l.max_request_bytes < least || l.max_request_bytes > most {
            return Err(format!(
                "key `limits.max_request_bytes` = {} is out of range; use {least}..={most} (a request of `max_items_per_query` = {} items needs at least {least})",
                l.max_request_bytes, l.max_items_per_query
            ));
        }
        if l.request_read_timeout.is_zero() {
            return Err(
                "key `limits.request_read_timeout` is zero; use a duration such as \"20s\"".into(),
            );
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        for r in &self.revoked {
            r.fingerprint_bytes()?;
        }
        if !(self.epochs.fp_rate > 0.0 && self.epochs.fp_rate <= MAX_ACCEPTED_FP_RATE) {
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
        self.check_limits()?;
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
            CollectionName::parse(&c.name).map_err(|e| format!("[[collection]]: {e}"))?;
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
        assert_eq!(c.limits.max_connections_per_partner, 4);
        assert_eq!(c.limits.max_request_bytes, 4 << 20);
        assert!(c.partners.is_empty());
    }

    #[test]
    fn resource_limits_are_range_checked() {
        for (bad, key) in [
            (
                "max_connections_per_partner = 0",
                "max_connections_per_partner",
            ),
            (
                "max_streams_per_connection = 5000",
                "max_streams_per_connection",
            ),
            ("max_requests_per_partner = 0", "max_requests_per_partner"),
            (
                "max_pending_followups_per_partner = 0",
                "max_pending_followups_per_partner",
            ),
            // 65,536 items of 32 bytes cannot fit 1 MiB.
            ("max_request_bytes = 1048576", "max_request_bytes"),
            ("max_request_bytes = 9000000", "max_request_bytes"),
            ("request_read_timeout = \"0s\"", "request_read_timeout"),
        ] {
            let e = Config::parse(&format!("{MIN}\n[limits]\n{bad}\n")).unwrap_err();
            assert!(e.contains(key), "{bad}: {e}");
        }
        let ok = "[limits]\nmax_items_per_query = 1000\nmax_request_bytes = 262144\n";
        let c = Config::parse(&format!("{MIN}\n{ok}")).unwrap();
        assert_eq!(c.limits.max_request_bytes, 262144);
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
    fn metrics_address_must_be_local_unless_allowed() {
        assert_eq!(Config::parse(MIN).unwrap().metrics.listen, None);
        let with = |addr: &str, extra: &str| {
            Config::parse(&format!("{MIN}\n[metrics]\nlisten = \"{addr}\"\n{extra}"))
        };
        for ok in [
            "127.0.0.1:9464",
            "[::1]:9464",
            "10.1.2.3:9464",
            "192.168.0.5:1",
            "[fd00::1]:9",
        ] {
            assert!(with(ok, "").is_ok(), "{ok}");
        }
        for public in [
            "0.0.0.0:9464",
            "[::]:9464",
            "203.0.113.9:9464",
            "[2001:db8::1]:9464",
        ] {
            let e = with(public, "").unwrap_err();
            assert!(
                e.contains("metrics.listen") && e.contains("allow_public"),
                "{e}"
            );
            assert!(with(public, "allow_public = true").is_ok(), "{public}");
        }
        assert_eq!(
            metrics_exposure(&"[::ffff:127.0.0.1]:1".parse().unwrap()),
            Exposure::Loopback
        );
        assert!(with("127.0.0.1:9464", "alow_public = true")
            .unwrap_err()
            .contains("alow_public"));
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
