//! # cordon-node
//!
//! The Cordon daemon as a library. A node holds its agency's watch-lists in a redb database,
//! builds an epoch per collection (OPRF key, tags, Bloom filter, signed descriptor), answers
//! partners' private set-intersection queries over QUIC with mutual TLS, and runs its own
//! investigators' queries against every partner at once.
//!
//! ```no_run
//! # async fn f() -> Result<(), cordon_node::NodeError> {
//! let config = cordon_node::Config::load("th/node.toml".as_ref())?;
//! cordon_node::run(config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Tests bind on port 0 and pass their own shutdown future: [`Node::bind`] then
//! [`Node::run`], with [`Node::local_addr`] in between.
//!
//! What it deliberately does not do: parse command lines or print for people (that is
//! `cordon-cli`), or define anything two nodes must agree on (that is `cordon-protocol`).
//!
//! Key types: [`Config`], [`Node`], [`client::ControlClient`] (a CLI's connection to its own
//! node), [`admin`] (creating nodes, users and partner entries on disk).

#![forbid(unsafe_code)]

pub mod admin;
mod answer;
pub mod audit;
pub mod budget;
pub mod client;
pub mod clock;
pub mod config;
pub mod control;
pub mod epoch;
pub mod error;
pub mod followup;
pub mod governance;
pub mod import;
pub mod local;
pub mod maintenance;
pub mod metrics;
#[cfg(feature = "test-util")]
pub mod misbehave;
pub mod net;
pub mod partner_client;
pub mod pki;
pub mod policy;
pub mod profile;
pub mod query;
pub mod replay;
pub mod revocation;
mod server;
pub mod store;
pub mod tls;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use ring::signature::Ed25519KeyPair;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use cordon_protocol::audit::entry::{Actor, EntryKind};
use cordon_protocol::audit::note::{KeyType, Signer, VerifierKey};
use cordon_protocol::control::Named;
use cordon_protocol::descriptor::SignedDescriptor;
use cordon_protocol::{ErrorCode, RemoteError};

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::NodeError;

use crate::audit::witness::PartnerLogKeys;
use crate::control::{CollectionStatus, StatusReply};
use crate::epoch::HolderEpoch;
use crate::partner_client::{PartnerClient, PartnerEpoch};
use crate::store::Store;

/// State shared by every connection of a running node.
pub struct Shared {
    /// The configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Descriptor signing key.
    pub signing: Ed25519KeyPair,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Current epoch per collection held.
    pub holder: RwLock<HashMap<String, Arc<HolderEpoch>>>,
    /// Serialises imports and epoch changes.
    pub import_lock: Mutex<()>,
    /// Connections to partners.
    pub partners: PartnerClient,
    /// Pinned descriptor keys of partners.
    pub partner_keys: HashMap<String, [u8; 32]>,
    /// Cached partner epochs.
    pub partner_epochs: Mutex<HashMap<(String, String), Arc<PartnerEpoch>>>,
    /// Who may connect.
    pub trust: Arc<tls::PeerVerifier>,
    /// Per partner, how many of its requests may be served at once.
    pub partner_permits: HashMap<String, Arc<tokio::sync::Semaphore>>,
    /// Per partner, how many connections it may hold open at once.
    pub partner_connections: HashMap<String, Arc<tokio::sync::Semaphore>>,
    /// Handshakes in progress at once, from anyone (`limits.max_handshakes`).
    pub handshakes: Arc<tokio::sync::Semaphore>,
    /// Query ids answered recently, per partner (a replayed one is refused).
    pub replay: replay::ReplayGuard,
    /// The audit log.
    pub audit: audit::AuditLog,
    /// Signs receipts (the descriptor key, named by the node).
    pub receipt_signer: Signer,
    /// Signs cosignatures of partners' checkpoints.
    pub witness: Signer,
    /// Partners' log, cosigning and receipt keys.
    pub partner_log_keys: BTreeMap<String, PartnerLogKeys>,
    /// Users whose certificates were revoked, by name.
    pub revoked: RwLock<BTreeMap<String, governance::Revocation>>,
    /// Serialises policy reloads.
    pub reload_lock: Mutex<()>,
    /// Partners' daily budgets.
    pub budgets: budget::Budgets,
    /// The federation policy in force (replaced whole on reload).
    pub policy: RwLock<Arc<policy::Policy>>,
    /// Serialises reading, checking and saving partners' audit state (taken before any
    /// database transaction, so it cannot deadlock with the log's own lock).
    pub audit_lock: Mutex<()>,
    /// Operational metrics (`/metrics`, and the figures of `cordon status`).
    pub metrics: metrics::Metrics,
    /// Test builds only: how this node corrupts what it serves (see `misbehave`).
    #[cfg(feature = "test-util")]
    pub misbehaviour: misbehave::MisbehaviourCell,
}

/// A bound, not yet running node.
pub struct Node {
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    /// The `/metrics` socket, bound at [`Node::bind`] so that a taken port fails the start.
    metrics_listener: Option<std::net::TcpListener>,
}

fn read(what: &'static str, path: &std::path::Path) -> Result<String, NodeError> {
    std::fs::read_to_string(path).map_err(|source| NodeError::io(what, path, source))
}

/// The secret QUIC derives stateless-reset tokens from, kept next to the database so that it
/// survives restarts: a partner still holding a connection to the previous process then
/// accepts the restarted node's reset at once, instead of waiting out the idle time-out.
fn stateless_reset_key(db_path: &std::path::Path) -> Result<[u8; 32], NodeError> {
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
        .map_err(|_| crate::error::InternalError::Random)?;
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

/// Refuses to start with a node certificate that names another node or is outside its
/// validity period: partners would refuse every handshake, with a far less clear error.
fn check_own_certificate(
    pem: &str,
    path: &std::path::Path,
    name: &str,
    now: u64,
) -> Result<(), NodeError> {
    let (_, info) = pki::parse_cert_pem(pem)?;
    let misuse = |m: String| {
        Err(NodeError::setup(format!(
            "node certificate {}: {m}",
            path.display()
        )))
    };
    if info.subject_cn != name {
        return misuse(format!(
            "it is issued to `{}` but node.name is `{name}`; point tls.cert at this node's certificate",
            info.subject_cn
        ));
    }
    let now = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    if now > info.not_after {
        return misuse(format!(
            "it expired on {}; issue a new node certificate from the agency CA",
            info.not_after.date()
        ));
    }
    if now < info.not_before {
        return misuse(format!(
            "it is not valid before {}; check the system clock",
            info.not_before
        ));
    }
    Ok(())
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

impl Node {
    /// Opens the database, loads keys and certificates, and binds the UDP port. Must be called
    /// inside a tokio runtime.
    pub fn bind(config: Config) -> Result<Node, NodeError> {
        Node::bind_with_clock(config, Arc::new(SystemClock))
    }

    /// As [`Node::bind`], with a clock of the caller's choosing.
    pub fn bind_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Node, NodeError> {
        Node::bind_with(config, clock, None)
    }

    /// As [`Node::bind`], with a clock and, optionally, a UDP socket the caller already bound
    /// (tests and the demo bind port 0 first, so no other process can take the port between
    /// choosing it and writing it into partners' configurations).
    pub fn bind_with(
        config: Config,
        clock: Arc<dyn Clock>,
        socket: Option<std::net::UdpSocket>,
    ) -> Result<Node, NodeError> {
        let ca_pem = read("CA certificate", &config.path(&config.tls.ca_cert))?;
        let (ca_der, _) = pki::parse_cert_pem(&ca_pem)?;
        let cert_path = config.path(&config.tls.cert);
        let cert_pem = read("node certificate", &cert_path)?;
        check_own_certificate(&cert_pem, &cert_path, &config.node.name, clock.now_unix())?;
        let identity = tls::TlsIdentity::from_pem(
            &cert_pem,
            &read("node key", &config.path(&config.tls.key))?,
        )?;
        let signing = admin::load_signing_key(&config.path(&config.tls.signing_key))?;
        let name = config.node.name.clone();
        let signer = |path: &std::path::Path, key_name: &str| -> Result<Signer, NodeError> {
            let kp = admin::load_signing_key(path)?;
            Signer::new(key_name, kp).map_err(|e| NodeError::setup(e.to_string()))
        };
        let receipt_signer = signer(&config.path(&config.tls.signing_key), &name)?;
        let log_signer = signer(&config.path(&config.tls.log_key), &audit::origin_of(&name))?;
        let witness = signer(&config.path(&config.tls.witness_key), &name)?;
        let mut partner_log_keys = BTreeMap::new();
        // Config::parse checked every fingerprint already.
        let revocations = Arc::new(
            revocation::Revocations::from_config(&config.revoked)
                .map_err(|message| NodeError::config(config.base_dir.join("node.toml"), message))?,
        );
        let mut partners = Vec::new();
        let mut clients = HashMap::new();
        let mut partner_keys = HashMap::new();
        for p in &config.partners {
            let pem = read("partner CA certificate", &config.path(&p.ca_cert))?;
            let (der, _) = pki::parse_cert_pem(&pem)?;
            let key = parse_signing_public_key(&p.signing_key).map_err(|m| {
                NodeError::config(
                    config.base_dir.join("node.toml"),
                    format!("partner `{}`: key `signing_key`: {m}", p.name),
                )
            })?;
            partner_keys.insert(p.name.clone(), key);
            let public = |field: &str, v: &str| {
                parse_signing_public_key(v).map_err(|m| {
                    NodeError::config(
                        config.base_dir.join("node.toml"),
                        format!("partner `{}`: key `{field}`: {m}", p.name),
                    )
                })
            };
            let vkey = |n: &str, t: KeyType, k: [u8; 32]| {
                VerifierKey::new(n, t, k).map_err(|e| {
                    NodeError::config(
                        config.base_dir.join("node.toml"),
                        format!("partner `{}`: {e}", p.name),
                    )
                })
            };
            partner_log_keys.insert(
                p.name.clone(),
                PartnerLogKeys {
                    log: vkey(
                        &audit::origin_of(&p.name),
                        KeyType::Ed25519,
                        public("log_key", &p.log_key)?,
                    )?,
                    witness: vkey(
                        &p.name,
                        KeyType::CosignatureV1,
                        public("witness_key", &p.witness_key)?,
                    )?,
                    receipt: vkey(&p.name, KeyType::Ed25519, key)?,
                },
            );
            let client = tls::quinn_client_config(tls::partner_client_config_checked(
                &identity,
                &der,
                revocations.clone(),
            )?)?;
            clients.insert(p.name.clone(), (client, p.address.clone()));
            partners.push(tls::Partner {
                name: p.name.clone(),
                ca_cert: der,
            });
        }
        let trust = Arc::new(
            tls::PeerVerifier::new(&config.node.name, &ca_der, &partners)?
                .with_revocations(revocations.clone()),
        );
        let mut server = tls::quinn_server_config(&identity, trust.clone())?;
        // The streams a peer may open on one connection are the server's to grant.
        let mut transport = tls::transport_config();
        transport.max_concurrent_bidi_streams(config.limits.max_streams_per_connection.into());
        server.transport_config(Arc::new(transport));
        let socket = match socket {
            Some(s) => s,
            None => std::net::UdpSocket::bind(config.node.listen)
                .map_err(|source| NodeError::bind(config.node.listen, source))?,
        };
        let runtime =
            quinn::default_runtime().ok_or_else(|| NodeError::internal("no async runtime"))?;
        let reset_key = stateless_reset_key(&config.db_path())?;
        let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &reset_key,
        )));
        // Connection IDs carry a keyed check; with the key kept across restarts, the restarted
        // node recognises its predecessor's IDs as its own and answers with a stateless reset
        // instead of dropping the packets.
        let cid_key = u64::from_be_bytes([
            reset_key[0],
            reset_key[1],
            reset_key[2],
            reset_key[3],
            reset_key[4],
            reset_key[5],
            reset_key[6],
            reset_key[7],
        ]) ^ 0x5a5a_5a5a_5a5a_5a5a;
        endpoint_config.cid_generator(move || {
            Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
        });
        let endpoint = quinn::Endpoint::new(endpoint_config, Some(server), socket, runtime)
            .map_err(|source| NodeError::bind(config.node.listen, source))?;
        let store = Store::open(&config.db_path())?;
        let audit = audit::AuditLog::open(&audit::db_path(&config.db_path()), &name, log_signer)?;
        // Imports that committed but whose entries did not reach the log before a crash.
        audit::pending::flush(store.db(), &audit)?;
        let mut holder = HashMap::new();
        for (name, _) in store.collections()? {
            if let Some((stored, filter, delta)) = store.load_epoch(&name)? {
                holder.insert(
                    name.to_string(),
                    Arc::new(epoch::load(&name, stored, filter, delta)?),
                );
            }
        }
        let per_partner = |n: usize| -> HashMap<String, Arc<tokio::sync::Semaphore>> {
            config
                .partners
                .iter()
                .map(|p| (p.name.clone(), Arc::new(tokio::sync::Semaphore::new(n))))
                .collect()
        };
        let partner_permits = per_partner(config.limits.max_requests_per_partner);
        let partner_connections = per_partner(config.limits.max_connections_per_partner);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(config.limits.max_handshakes));
        let partners = PartnerClient::new(endpoint.clone(), clients, config.limits.connect_timeout)
            .with_revocations(revocations);
        let policy = RwLock::new(Arc::new(policy::Policy::new(
            &config.node.name,
            config.grants.clone(),
        )));
        let revoked = RwLock::new(governance::load_revoked(store.db())?);
        let metrics = metrics::Metrics::new(clock.now_unix())?;
        let metrics_listener = match config.metrics.listen {
            Some(addr) => {
                let l = metrics::http::bind(addr)?;
                if let Ok(a) = l.local_addr() {
                    metrics.set_address(a);
                }
                Some(l)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            metrics,
            revoked,
            reload_lock: Mutex::new(()),
            budgets: budget::Budgets::default(),
            policy,
            config,
            store,
            signing,
            clock,
            holder: RwLock::new(holder),
            import_lock: Mutex::new(()),
            partners,
            partner_keys,
            partner_epochs: Mutex::new(HashMap::new()),
            trust,
            partner_permits,
            partner_connections,
            handshakes,
            replay: Default::default(),
            audit,
            receipt_signer,
            witness,
            partner_log_keys,
            audit_lock: Mutex::new(()),
            #[cfg(feature = "test-util")]
            misbehaviour: Default::default(),
        });
        shared.log_start()?;
        Ok(Node {
            shared,
            endpoint,
            metrics_listener,
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, NodeError> {
        self.endpoint
            .local_addr()
            .map_err(|e| NodeError::connection(e.to_string()))
    }

    /// Shared state, for tests and embedding.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Where `/metrics` is served (`[metrics] listen`), if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.shared.metrics.address()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (up to `limits.shutdown_grace`), closes connections and the database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let addr = self.local_addr()?;
        tracing::info!(node = %self.shared.config.node.name, %addr, "node started");
        let accept = tokio::spawn(server::accept_loop(
            self.shared.clone(),
            self.endpoint.clone(),
            stop.clone(),
            tracker.clone(),
        ));
        let maintenance = tokio::spawn(maintenance_loop(self.shared.clone(), stop.clone()));
        let metrics = self
            .metrics_listener
            .and_then(|l| metrics::http::start(l, self.shared.clone(), stop.clone()));
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.endpoint.set_server_config(None);
        stop.cancel();
        let _ = accept.await;
        let _ = maintenance.await;
        if let Some(m) = metrics {
            let _ = m.await;
        }
        tracker.close();
        let grace = self.shared.config.limits.shutdown_grace;
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                ?grace,
                "in-flight requests did not finish in time; closing them"
            );
        }
        self.shared.partners.close_all().await;
        self.endpoint
            .close(server::CLOSE_SHUTDOWN.into(), b"node shutting down");
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.endpoint.wait_idle())
            .await;
        if let Err(e) = self.shared.log_node(EntryKind::NodeStopped, None) {
            tracing::error!(error = %e, "could not log the node's stop");
        }
        tracing::info!("node stopped");
        // The database closes when the last reference to `shared` drops here.
        Ok(())
    }
}

/// Runs [`Shared::maintain`] at once and then every [`maintenance::MAINTENANCE_INTERVAL`]
/// until `stop`; a failed pass is logged and tried again at the next tick.
async fn maintenance_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(maintenance::MAINTENANCE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.maintain()).await {
            Ok(Ok(r)) if r != maintenance::MaintenanceReport::default() => {
                tracing::info!(report = ?r, "maintenance done")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "maintenance failed"),
            Err(e) => tracing::error!(error = %e, "maintenance task failed"),
        }
    }
}

/// Binds and runs a node until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    Node::bind(config)?.run(shutdown).await
}

impl Shared {
    /// The federation policy in force.
    pub fn policy(&self) -> Arc<policy::Policy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Logs a node-level event (start, stop, partner changes) durably.
    pub fn log_node(
        &self,
        kind: EntryKind,
        detail: Option<(String, String)>,
    ) -> Result<u64, NodeError> {
        let mut e = self.audit.entry(
            self.clock.now_unix(),
            kind,
            Actor::node(&self.config.node.name),
        );
        if let Some((partner, d)) = detail {
            e.partner = Some(partner);
            e.detail = Some(d);
        }
        self.audit.append(self.audit.db(), &[e])
    }

    /// Logs the start, and every partner added, removed or changed since the last start.
    fn log_start(&self) -> Result<(), NodeError> {
        let now: BTreeMap<String, String> = self
            .config
            .partners
            .iter()
            .map(|p| {
                let ca = std::fs::read_to_string(self.config.path(&p.ca_cert))
                    .ok()
                    .and_then(|pem| pki::parse_cert_pem(&pem).ok())
                    .map(|(der, _)| hex::encode(pki::fingerprint(&der)))
                    .unwrap_or_default();
                (
                    p.name.clone(),
                    format!(
                        "address {} CA {ca} keys {} {} {}",
                        p.address, p.signing_key, p.log_key, p.witness_key
                    ),
                )
            })
            .collect();
        let before = audit::partners_seen(self.audit.db())?;
        self.log_node(EntryKind::NodeStarted, None)?;
        for (name, d) in &now {
            match before.get(name) {
                None => self.log_node(
                    EntryKind::PartnerChanged,
                    Some((name.clone(), format!("added: {d}"))),
                )?,
                Some(old) if old != d => self.log_node(
                    EntryKind::PartnerChanged,
                    Some((name.clone(), format!("changed to: {d}"))),
                )?,
                _ => 0,
            };
        }
        for name in before.keys().filter(|n| !now.contains_key(*n)) {
            self.log_node(
                EntryKind::PartnerChanged,
                Some((name.clone(), "removed".into())),
            )?;
        }
        audit::set_partners_seen(self.audit.db(), &now)
    }

    /// Current epoch of a held collection.
    pub fn holder_epoch(&self, collection: &str) -> Option<Arc<HolderEpoch>> {
        self.holder
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(collection)
            .cloned()
    }

    /// Installs a new current epoch (after it was committed).
    pub fn set_holder_epoch(&self, e: HolderEpoch) {
        self.holder
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(e.collection.clone(), Arc::new(e));
    }

    /// Kind of a local collection, if it exists.
    pub fn local_kind(&self, collection: &str) -> Option<String> {
        if let Some(e) = self.holder_epoch(collection) {
            return Some(e.kind.clone());
        }
        None
    }

    fn unknown_collection(&self, collection: &str) -> RemoteError {
        RemoteError::new(
            ErrorCode::UnknownCollection,
            format!(
                "{} holds no collection named `{collection}`",
                self.config.node.name
            ),
        )
    }

    /// The current epoch if it is `epoch`, else the refusal to send.
    pub fn epoch_at(&self, collection: &str, epoch: u64) -> Result<Arc<HolderEpoch>, RemoteError> {
        let e = self
            .holder_epoch(collection)
            .ok_or_else(|| self.unknown_collection(collection))?;
        if e.epoch != epoch {
            return Err(RemoteError::new(
                ErrorCode::StaleEpoch,
                format!("epoch {epoch} of `{collection}` is no longer current (now {}); fetch the descriptor again", e.epoch),
            ));
        }
        Ok(e)
    }

    /// The signed descriptor to serve, re-signed first if less than half its validity is left.
    pub async fn descriptor_for(
        self: &Arc<Self>,
        collection: &str,
    ) -> Result<SignedDescriptor, RemoteError> {
        let e = self
            .holder_epoch(collection)
            .ok_or_else(|| self.unknown_collection(collection))?;
        let now = self.clock.now_unix();
        let validity = self.config.epochs.descriptor_validity.as_secs();
        if e.descriptor.not_after >= now + validity / 2 && e.descriptor.issued_at <= now + 60 {
            return Ok(e.signed.clone());
        }
        let shared = self.clone();
        let c = collection.to_string();
        let refreshed =
            tokio::task::spawn_blocking(move || -> Result<SignedDescriptor, NodeError> {
                // An import holds the lock for as long as it builds; a descriptor that is still
                // valid is served meanwhile rather than making partners wait.
                let _g = match shared.import_lock.try_lock() {
                    Ok(g) => g,
                    Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                    Err(std::sync::TryLockError::WouldBlock) => {
                        let cur = shared
                            .holder_epoch(&c)
                            .ok_or_else(|| NodeError::internal("collection vanished"))?;
                        if cur.descriptor.not_after > shared.clock.now_unix() {
                            return Ok(cur.signed.clone());
                        }
                        shared.import_lock.lock().unwrap_or_else(|p| p.into_inner())
                    }
                };
                let cur = shared
                    .holder_epoch(&c)
                    .ok_or_else(|| NodeError::internal("collection vanished"))?;
                // Another request may have re-signed it while this one waited.
                let now = shared.clock.now_unix();
                if cur.descriptor.not_after >= now + validity / 2
                    && cur.descriptor.issued_at <= now + 60
                {
                    return Ok(cur.signed.clone());
                }
                let params = epoch::BuildParams {
                    node: &shared.config.node.name,
                    signing: &shared.signing,
                    fp_rate: shared.config.epochs.fp_rate,
                    validity_secs: validity,
                    now: shared.clock.now_unix(),
                };
                let (stored, holder) = epoch::refresh(&cur, &params)?;
                let mut batch = shared.store.begin()?;
                batch.append_delta(&c, &stored, cur.delta.len() as u64, &[])?;
                batch.commit()?;
                let signed = holder.signed.clone();
                shared.set_holder_epoch(holder);
                Ok(signed)
            })
            .await;
        match refreshed {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(RemoteError::new(
                ErrorCode::Internal,
                format!("could not re-sign the descriptor: {e}"),
            )),
            Err(e) => Err(RemoteError::new(
                ErrorCode::Internal,
                format!("could not re-sign the descriptor: {e}"),
            )),
        }
    }

    /// Status for a user.
    pub fn status(&self, user: &str, role: &pki::Role) -> Result<StatusReply, NodeError> {
        let mut collections = Vec::new();
        for (name, meta) in self.store.collections()? {
            let e = self.holder_epoch(&name);
            collections.push(CollectionStatus {
                records: self.store.record_count(&name)?,
                epoch: e.as_ref().map(|e| e.epoch),
                delta: e.as_ref().map_or(0, |e| e.delta.len() as u64),
                epoch_built_at: e.as_ref().map(|e| e.built_at),
                next_rotation: e
                    .as_ref()
                    .and_then(|e| self.next_rotation(&name, e.built_at)),
                kind: Named::parse(&meta.kind),
                name,
            });
        }
        Ok(StatusReply {
            node: self.config.node.name.clone(),
            user: user.to_string(),
            role: Named::Known(*role),
            collections,
            partners: self
                .config
                .partners
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            audit: self.audit_status()?,
            // The figures of /metrics, for those who run the node and answer for its use.
            operations: if role.may(pki::Action::PartnerStatus) {
                let gauges = self.metrics.refresh(self)?;
                Some(self.metrics.operations(gauges))
            } else {
                None
            },
        })
    }

    /// The audit log's size, key, partners' cosigned sizes and alerts.
    pub fn audit_status(&self) -> Result<crate::control::AuditStatus, NodeError> {
        let db = self.audit.db();
        let mut partners = Vec::new();
        let mut warnings = Vec::new();
        for (name, state) in audit::witness::load_all(db)? {
            if state.unverified >= audit::witness::UNVERIFIED_WARNING {
                warnings.push(format!(
                    "WARNING: the last {} audit checkpoints {name} sent could not be checked against the one kept; ask {name}'s operators, and compare its export with what this node cosigned",
                    state.unverified
                ));
            }
            partners.push((name, state.their_size()));
        }
        let alerts = audit::witness::alerts(db)?
            .into_iter()
            .map(|a| {
                format!(
                    "ALERT: {} presented an audit checkpoint inconsistent with one it signed before ({}); both are kept as evidence",
                    a.partner, a.reason
                )
            })
            .collect();
        Ok(crate::control::AuditStatus {
            entries: self.audit.size(),
            log_key: self.audit.verifier_key().to_string(),
            partners,
            alerts,
            warnings,
        })
    }
}
