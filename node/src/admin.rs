//! Creating and changing a node on disk: `cordon init`, `cordon user add`, `cordon partner add`
//! and partner cards. These run offline, against the node's folder, not through the daemon.
//!
//! A *card* is what an agency hands a partner so it can be trusted: its name, address, CA
//! certificate and descriptor-signing public key (nothing secret). Compare cards out of band
//! (read the CA fingerprint aloud) before adding one.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::NodeError;
use crate::pki::{self, CertifiedKey, Role};
use crate::profile::Profile;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> NodeError + 'a {
    move |source| NodeError::io(what, path, source)
}

/// Writes a file; secret ones get mode 0600 on Unix.
fn write_file(
    path: &Path,
    contents: &str,
    secret: bool,
    what: &'static str,
) -> Result<(), NodeError> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(if secret { 0o600 } else { 0o644 })
            .open(path)
            .map_err(io(what, path))?;
        f.write_all(contents.as_bytes()).map_err(io(what, path))?;
        f.sync_all().map_err(io(what, path))?;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = secret;
        std::fs::write(path, contents).map_err(io(what, path))
    }
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

/// Decodes a partner's descriptor key as written in `node.toml` (base64 of 32 bytes).
pub fn parse_signing_public_key(s: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("{s:?} is not base64 ({e})"))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "{s:?} decodes to {} bytes; an Ed25519 public key has 32",
            b.len()
        )
    })
}

/// A new Ed25519 descriptor-signing key as PKCS#8 PEM.
pub fn new_signing_key_pem() -> Result<String, NodeError> {
    let doc = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
        .map_err(|_| crate::error::InternalError::Random)?;
    Ok(pem_wrap("PRIVATE KEY", doc.as_ref()))
}

/// Loads the descriptor-signing key.
pub fn load_signing_key(path: &Path) -> Result<Ed25519KeyPair, NodeError> {
    let text = std::fs::read_to_string(path).map_err(io("signing key", path))?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| NodeError::setup(format!("signing key {} is not PEM: {e}", path.display())))?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| {
        NodeError::setup(format!(
            "signing key {} is not an Ed25519 PKCS#8 key: {e}",
            path.display()
        ))
    })
}

/// The signing key's public half, base64, as written in partners' `node.toml`.
pub fn signing_public_b64(key: &Ed25519KeyPair) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.public_key().as_ref())
}

/// What `cordon init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Node name.
    pub name: String,
    /// Folder to create.
    pub dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Address partners use, if not `listen`.
    pub public_address: Option<String>,
    /// Default phone region.
    pub region: Option<String>,
}

/// `node.toml` as `cordon init` writes it, after `[node]`: the TLS files, epochs and limits.
const TOML_SETTINGS: &str = r#"[tls]
ca_cert = "ca.pem"          # this agency's CA certificate (give it to partners via card.toml)
ca_key = "ca.key"           # the CA key: issues users' certificates; keep it private
cert = "node.pem"           # this node's certificate, issued by the CA
key = "node.key"            # this node's private key
signing_key = "signing.key" # Ed25519 key that signs epoch descriptors and receipts
log_key = "log.key"         # Ed25519 key that signs only the audit log's checkpoints
witness_key = "witness.key" # Ed25519 key that signs only cosignatures of partners' logs

[epochs]
# False-positive rate of each collection's Bloom filter.
fp_rate = 1e-9
# How long partners may use a signed descriptor before fetching a fresh one.
descriptor_validity = "7d"
# Build a new epoch (new key, new filter) once records added since the last build exceed
# this fraction of it; until then they travel to partners as a small delta.
rebuild_delta_fraction = 0.5

[limits]
# Time allowed for one partner's whole answer to a query.
query_timeout = "30s"
# Time allowed for a QUIC handshake with a partner.
connect_timeout = "5s"
# Most items in one query.
max_items_per_query = 65536
# Time in-flight requests get to finish at shutdown.
shutdown_grace = "10s"
# Connections one partner may hold open at once (default 4); more are closed at once.
max_connections_per_partner = 4
# Streams a peer may have open on one connection (default 64); more wait their turn.
max_streams_per_connection = 64
# Requests of one partner served at once (default 4); its others wait, other partners do not.
max_requests_per_partner = 4
# Largest request a partner may send, in bytes (default 4194304 = 4 MiB; at most 8 MiB, and
# at least max_items_per_query x 32 + 65536).
max_request_bytes = 4194304
# Time a partner gets to send one whole request once it is served (default 20s).
request_read_timeout = "20s"
# Follow-up requests of one partner that may await review at once (default 1000).
max_pending_followups_per_partner = 1000
# Handshakes in progress at once, from anyone, before the peer is identified (default 256);
# one more is refused at once, so an unauthenticated flood cannot exhaust the node.
max_handshakes = 256

"#;

/// `node.toml` as `cordon init` writes it, after `[identifiers]`: the sections that are off or
/// empty until an operator fills them.
const TOML_SECTIONS: &str = r#"
[metrics]
# Serve Prometheus metrics at http://ADDRESS/metrics (plain HTTP; partner names, query and
# refusal counts, budgets left, epoch ages, audit log size, handshake failures; never an
# identifier). Off unless `listen` is set. A loopback address keeps it on this machine; a
# private address is allowed with a warning; a public or wildcard one (0.0.0.0, [::]) is
# refused unless `allow_public = true` [default: false], for a port a firewall guards.
# listen = "127.0.0.1:9464"
# allow_public = false

# Key rotation and retention per collection (both optional; the collection need not exist
# yet). `rotate_every`: a new key and epoch once the current one is this old [default: never
# on schedule]. `retain`: records imported longer ago than this are deleted, and the key
# rotated [default: kept until deleted with `cordon data delete`].
#
# [[collection]]
# name = "phones"
# rotate_every = "30d"
# retain = "5y"

# Partners are added with `cordon partner add --config THIS_FILE --card THEIR_CARD.toml`,
# which appends entries like this one:
#
# [[partner]]
# name = "jp"
# address = "198.51.100.7:7400"
# ca_cert = "partners/jp-ca.pem"
# signing_key = "base64 of their Ed25519 public key"
# log_key = "base64 of their audit-log public key"
# witness_key = "base64 of their cosigning public key"

# Certificates refused at the TLS handshake although their CA is trusted (a stolen laptop's
# user certificate, a partner's leaked node key) [default: none]. `cordon cert revoke
# --config THIS_FILE --cert FILE --reason WHY` appends one; `cordon policy reload` or SIGHUP
# applies the list to the running node.
#
# [[revoked]]
# fingerprint = "SHA-256 of the certificate, 64 hex digits (`cordon cert fingerprint FILE`)"
# reason = "laptop stolen"
"#;

/// Creates a node folder: CA, node certificate, signing key, `node.toml`, `card.toml`.
/// Returns the path of `node.toml`.
pub fn init_node(o: &InitOptions, now: time::OffsetDateTime) -> Result<PathBuf, NodeError> {
    pki::validate_node_name(&o.name)?;
    let cfg_path = o.dir.join("node.toml");
    if cfg_path.exists() {
        return Err(NodeError::request(format!(
            "{} already exists; this folder already holds a node (choose another --dir, or delete it to start over)",
            cfg_path.display()
        )));
    }
    if let Some(r) = &o.region {
        if r.len() != 2 || !r.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(NodeError::request(format!(
                "region {r:?} is not an ISO 3166 two-letter code such as TH"
            )));
        }
    }
    std::fs::create_dir_all(&o.dir).map_err(io("node folder", &o.dir))?;
    for sub in ["partners", "users", "data"] {
        let p = o.dir.join(sub);
        std::fs::create_dir_all(&p).map_err(io("node folder", &p))?;
    }
    let ca = pki::new_ca(&o.name, now)?;
    let node = pki::issue_node_cert(&ca, &o.name, now)?;
    write_file(&o.dir.join("ca.pem"), &ca.cert_pem, false, "CA certificate")?;
    write_file(&o.dir.join("ca.key"), &ca.key_pem, true, "CA key")?;
    write_file(
        &o.dir.join("node.pem"),
        &node.cert_pem,
        false,
        "node certificate",
    )?;
    write_file(&o.dir.join("node.key"), &node.key_pem, true, "node key")?;
    write_file(
        &o.dir.join("signing.key"),
        &new_signing_key_pem()?,
        true,
        "signing key",
    )?;
    write_file(
        &o.dir.join("log.key"),
        &new_signing_key_pem()?,
        true,
        "log key",
    )?;
    write_file(
        &o.dir.join("witness.key"),
        &new_signing_key_pem()?,
        true,
        "witness key",
    )?;
    let public = o
        .public_address
        .clone()
        .unwrap_or_else(|| o.listen.to_string());
    let region = match &o.region {
        Some(r) => format!("default_region = \"{}\"", r.to_ascii_uppercase()),
        None => "# default_region = \"TH\"".to_string(),
    };
    let text = format!(
        r#"# Cordon node configuration for `{name}`.
# Paths are relative to this file's folder. Durations read like "30s", "5m", "7d".

[node]
# This node's name; it must equal the name in node.pem.
name = "{name}"
# UDP address the QUIC endpoint listens on, for partners and for this agency's CLIs.
listen = "{listen}"
# Address partners and CLIs use to reach this node (written into card.toml and profiles).
public_address = "{public}"
# Folder of the database (cordon.redb).
data_dir = "data"

"#,
        name = o.name,
        listen = o.listen,
    ) + TOML_SETTINGS
        + &format!(
            r#"[identifiers]
# Region for phone numbers written in national format (ISO 3166 alpha-2).
{region}
"#
        )
        + TOML_SECTIONS;
    write_file(&cfg_path, &text, false, "configuration")?;
    let cfg = Config::load(&cfg_path)?;
    write_card(&cfg, &o.dir.join("card.toml"))?;
    Ok(cfg_path)
}

/// What a partner needs to trust this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// Node name.
    pub name: String,
    /// Address.
    pub address: String,
    /// CA certificate, PEM.
    pub ca_cert: String,
    /// SHA-256 of the CA certificate (hex), to compare out of band.
    pub ca_fingerprint: String,
    /// Descriptor- and receipt-signing public key, base64.
    pub signing_key: String,
    /// Audit-log checkpoint public key, base64.
    pub log_key: String,
    /// Cosigning public key, base64.
    pub witness_key: String,
}

/// This node's card.
pub fn card(cfg: &Config) -> Result<Card, NodeError> {
    let ca_path = cfg.path(&cfg.tls.ca_cert);
    let ca_pem = std::fs::read_to_string(&ca_path).map_err(io("CA certificate", &ca_path))?;
    let (der, _) = pki::parse_cert_pem(&ca_pem)?;
    let key = load_signing_key(&cfg.path(&cfg.tls.signing_key))?;
    let log = load_signing_key(&cfg.path(&cfg.tls.log_key))?;
    let witness = load_signing_key(&cfg.path(&cfg.tls.witness_key))?;
    Ok(Card {
        name: cfg.node.name.clone(),
        address: cfg.public_address(),
        ca_cert: ca_pem,
        ca_fingerprint: hex::encode(pki::fingerprint(&der)),
        signing_key: signing_public_b64(&key),
        log_key: signing_public_b64(&log),
        witness_key: signing_public_b64(&witness),
    })
}

/// Writes this node's card to `path`.
pub fn write_card(cfg: &Config, path: &Path) -> Result<Card, NodeError> {
    let c = card(cfg)?;
    let body = toml::to_string(&c).map_err(|e| NodeError::storage(e.to_string()))?;
    write_file(
        path,
        &format!("# Cordon partner card of `{}`: give it to partner agencies; it holds nothing secret.\n{body}", c.name),
        false,
        "card",
    )?;
    Ok(c)
}

/// Reads a partner's card.
pub fn read_card(path: &Path) -> Result<Card, NodeError> {
    let text = std::fs::read_to_string(path).map_err(io("partner card", path))?;
    let c: Card = toml::from_str(&text).map_err(|e| {
        NodeError::config(
            path.to_path_buf(),
            crate::config::describe_toml_error(&text, &e),
        )
    })?;
    let (der, _) = pki::parse_cert_pem(&c.ca_cert)?;
    if hex::encode(pki::fingerprint(&der)) != c.ca_fingerprint {
        return Err(NodeError::request(format!(
            "card {}: the CA certificate does not match its stated fingerprint; ask the partner for a new card",
            path.display()
        )));
    }
    parse_signing_public_key(&c.signing_key)
        .map_err(|m| NodeError::request(format!("card {}: signing_key {m}", path.display())))?;
    parse_signing_public_key(&c.log_key)
        .map_err(|m| NodeError::request(format!("card {}: log_key {m}", path.display())))?;
    parse_signing_public_key(&c.witness_key)
        .map_err(|m| NodeError::request(format!("card {}: witness_key {m}", path.display())))?;
    pki::validate_node_name(&c.name)?;
    Ok(c)
}

/// Trusts a partner: stores its CA certificate and appends a `[[partner]]` entry to `node.toml`,
/// with a `[[grant]]` sharing every collection in both modes, with the default daily budget and
/// follow-ups allowed (the operator narrows it in `node.toml`).
pub fn add_partner(cfg_path: &Path, card: &Card) -> Result<(), NodeError> {
    let cfg = Config::load(cfg_path)?;
    if card.name == cfg.node.name {
        return Err(NodeError::request(format!(
            "the card is this node's own (`{}`); add the partner's card instead",
            card.name
        )));
    }
    if cfg.partner(&card.name).is_some() {
        return Err(NodeError::request(format!(
            "`{}` is already a partner in {}; edit or remove its [[partner]] entry first",
            card.name,
            cfg_path.display()
        )));
    }
    let rel = PathBuf::from("partners").join(format!("{}-ca.pem", card.name));
    let abs = cfg.base_dir.join(&rel);
    if let Some(d) = abs.parent() {
        std::fs::create_dir_all(d).map_err(io("partners folder", d))?;
    }
    write_file(&abs, &card.ca_cert, false, "partner CA certificate")?;
    let mut text = std::fs::read_to_string(cfg_path).map_err(io("configuration", cfg_path))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = write!(
        text,
        "\n[[partner]]\n# CA fingerprint (SHA-256): {}\nname = \"{}\"\naddress = \"{}\"\nca_cert = \"{}\"\nsigning_key = \"{}\"\nlog_key = \"{}\"\nwitness_key = \"{}\"\n",
        card.ca_fingerprint,
        card.name,
        card.address,
        rel.display(),
        card.signing_key,
        card.log_key,
        card.witness_key
    );
    let _ = write!(
        text,
        "\n# What {name} may ask of this node; edit, then `cordon policy reload`.\n[[grant]]\npartner = \"{name}\"\ncollections = [\"*\"]\nmodes = [\"match\", \"count\"]\ndaily_items = {daily}\nfollowup = true\n",
        name = card.name,
        daily = crate::policy::DEFAULT_DAILY_ITEMS,
    );
    // Check the result parses before replacing the file.
    Config::parse(&text).map_err(|message| NodeError::config(cfg_path.to_path_buf(), message))?;
    write_file(cfg_path, &text, false, "configuration")?;
    Ok(())
}

/// Issues a person's certificate and writes `users/NAME/{cert.pem,key.pem,profile.toml}`.
/// Returns the profile path.
pub fn add_user(
    cfg_path: &Path,
    user: &str,
    role: Role,
    now: time::OffsetDateTime,
) -> Result<PathBuf, NodeError> {
    pki::validate_user_name(user)?;
    let cfg = Config::load(cfg_path)?;
    let ca_cert = cfg.path(&cfg.tls.ca_cert);
    let ca_key = cfg.path(&cfg.tls.ca_key);
    let ca = CertifiedKey {
        cert_pem: std::fs::read_to_string(&ca_cert).map_err(io("CA certificate", &ca_cert))?,
        key_pem: std::fs::read_to_string(&ca_key).map_err(io("CA key", &ca_key))?,
    };
    let dir = cfg.base_dir.join("users").join(user);
    if dir.join("cert.pem").exists() {
        return Err(NodeError::request(format!(
            "user `{user}` already exists at {}; choose another name",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir).map_err(io("user folder", &dir))?;
    let issued = pki::issue_user_cert(&ca, &cfg.node.name, user, role, now)?;
    write_file(
        &dir.join("cert.pem"),
        &issued.cert_pem,
        false,
        "user certificate",
    )?;
    write_file(&dir.join("key.pem"), &issued.key_pem, true, "user key")?;
    write_file(&dir.join("ca.pem"), &ca.cert_pem, false, "CA certificate")?;
    let address = local_address(&cfg);
    let profile = Profile {
        node: cfg.node.name.clone(),
        address,
        ca_cert: "ca.pem".into(),
        cert: "cert.pem".into(),
        key: "key.pem".into(),
        user: user.to_string(),
        role: role.to_string(),
        base_dir: dir.clone(),
    };
    let path = dir.join("profile.toml");
    write_file(&path, &profile.to_toml()?, false, "profile")?;
    Ok(path)
}

/// The address a local CLI uses: the public address if it is a socket address, else the
/// listen address with an unspecified IP replaced by loopback.
fn local_address(cfg: &Config) -> SocketAddr {
    if let Some(a) = cfg
        .node
        .public_address
        .as_deref()
        .and_then(|a| a.parse().ok())
    {
        return a;
    }
    let mut a = cfg.node.listen;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

/// Sets `node.listen` (and `public_address`) in `node.toml`, keeping comments (used by the demo
/// and tests to move a node to a port chosen at run time).
pub fn set_listen(cfg_path: &Path, listen: SocketAddr) -> Result<(), NodeError> {
    let text = std::fs::read_to_string(cfg_path).map_err(io("configuration", cfg_path))?;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("listen = ") {
            let _ = writeln!(out, "listen = \"{listen}\"");
        } else if line.starts_with("public_address = ") {
            let _ = writeln!(out, "public_address = \"{listen}\"");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    write_file(cfg_path, &out, false, "configuration")
}
