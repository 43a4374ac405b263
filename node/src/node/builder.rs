//! Binding a node: [`NodeBuilder`] (`Node::builder(config).clock(..).socket(..).bind()`) loads
//! the node's files, opens its databases, binds its port and assembles its components.

use std::net::UdpSocket;
use std::sync::Arc;

use cordon_protocol::audit::entry::EntryKind;

use super::setup::{stateless_reset_key, Own, Partners};
use super::{Components, Node};
use crate::answer::Answerer;
use crate::audit::{self, AuditKeys, AuditLog};
use crate::clock::{Clock, SystemClock};
use crate::cmd::{Control, Figures};
use crate::config::Config;
use crate::error::NodeError;
use crate::governance::Governance;
use crate::holder::{Holder, HolderParts};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::partner_client::PartnerClient;
use crate::pki;
use crate::querier::{Querier, QuerierParts};
use crate::revocation::Revocations;
use crate::server::partner::PartnerService;
use crate::server::Server;
use crate::store::Store;
use crate::tls::{self, PeerVerifier, TlsIdentity};

/// How a node is bound: its configuration, and optionally a clock and a socket of the
/// caller's choosing.
pub struct NodeBuilder {
    config: Config,
    clock: Arc<dyn Clock>,
    socket: Option<UdpSocket>,
}

impl NodeBuilder {
    pub(super) fn new(config: Config) -> NodeBuilder {
        NodeBuilder {
            config,
            clock: Arc::new(SystemClock),
            socket: None,
        }
    }

    /// The clock the node reads (the system clock by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> NodeBuilder {
        self.clock = clock;
        self
    }

    /// A UDP socket the caller already bound (tests and the demo bind port 0 first, so no
    /// other process can take the port between choosing it and writing it into partners'
    /// configurations); by default the node binds `node.listen`.
    pub fn socket(mut self, socket: UdpSocket) -> NodeBuilder {
        self.socket = Some(socket);
        self
    }

    /// Opens the database, loads keys and certificates, and binds the UDP port. Must be called
    /// inside a tokio runtime.
    pub fn bind(self) -> Result<Node, NodeError> {
        let NodeBuilder {
            config,
            clock,
            socket,
        } = self;
        let Own {
            identity,
            ca_der,
            signing,
            receipts,
            log,
            witness,
        } = Own::load(&config, clock.now_unix())?;
        // Config::parse checked every fingerprint already.
        let revocations = Arc::new(
            Revocations::from_config(&config.revoked)
                .map_err(|message| NodeError::config(config.base_dir.join("node.toml"), message))?,
        );
        let partners = Partners::load(&config, &identity, &revocations)?;
        let trust = Arc::new(
            PeerVerifier::new(&config.node.name, &ca_der, &partners.trusted)?
                .with_revocations(revocations.clone()),
        );
        let endpoint = endpoint(&config, &identity, trust.clone(), socket)?;
        let store = Store::open(&config.db_path())?;
        let audit = Arc::new(AuditLog::open(
            &audit::db_path(&config.db_path()),
            &config.node.name,
            AuditKeys {
                log,
                witness,
                partners: partners.log_keys.clone(),
            },
        )?);
        // Imports that committed but whose entries did not reach the log before a crash.
        audit::pending::flush(store.db(), &audit)?;
        let names: Vec<String> = config.partners.iter().map(|p| p.name.clone()).collect();
        let c = Components {
            holder: Arc::new(holder(&config, &clock, store.clone(), signing, receipts)?),
            querier: Arc::new(querier(
                &config,
                &clock,
                &store,
                partners,
                &endpoint,
                &revocations,
            )),
            governance: Arc::new(Governance::open(
                &config,
                store,
                revocations,
                clock.clone(),
            )?),
            limits: Arc::new(Limits::new(&config.limits, &names)),
            metrics: Arc::new(Metrics::new(clock.now_unix())?),
            audit,
            clock,
            #[cfg(feature = "test-util")]
            misbehaviour: Arc::default(),
        };
        let metrics_listener = match config.metrics.listen {
            Some(addr) => {
                let l = crate::metrics::http::bind(addr)?;
                if let Ok(a) = l.local_addr() {
                    c.metrics.set_address(a);
                }
                Some(l)
            }
            None => None,
        };
        log_start(&config, &c)?;
        let server = serve(&c, trust);
        Ok(Node {
            name: config.node.name.clone(),
            components: c,
            server,
            endpoint,
            metrics_listener,
        })
    }
}

/// The QUIC endpoint: the server configuration, the socket, and connection ids and reset
/// tokens derived from a key kept across restarts.
fn endpoint(
    config: &Config,
    identity: &TlsIdentity,
    trust: Arc<PeerVerifier>,
    socket: Option<UdpSocket>,
) -> Result<quinn::Endpoint, NodeError> {
    let mut server = tls::quinn_server_config(identity, trust)?;
    // The streams a peer may open on one connection are the server's to grant.
    let mut transport = tls::transport_config();
    transport.max_concurrent_bidi_streams(config.limits.max_streams_per_connection.into());
    server.transport_config(Arc::new(transport));
    let socket = match socket {
        Some(s) => s,
        None => UdpSocket::bind(config.node.listen)
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
    let mut first = [0u8; 8];
    first.copy_from_slice(&reset_key[..8]);
    let cid_key = u64::from_be_bytes(first) ^ 0x5a5a_5a5a_5a5a_5a5a;
    endpoint_config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
    });
    quinn::Endpoint::new(endpoint_config, Some(server), socket, runtime)
        .map_err(|source| NodeError::bind(config.node.listen, source))
}

/// The holder of the collections the store holds.
fn holder(
    config: &Config,
    clock: &Arc<dyn Clock>,
    store: Store,
    signing: ring::signature::Ed25519KeyPair,
    receipts: cordon_protocol::audit::note::Signer,
) -> Result<Holder, NodeError> {
    Holder::open(HolderParts {
        node: config.node.name.clone(),
        store,
        signing,
        receipts,
        epochs: config.epochs.clone(),
        collections: config.collections.clone(),
        default_region: config.identifiers.default_region.clone(),
        spool_dir: config
            .db_path()
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf(),
        clock: clock.clone(),
    })
}

/// The querier of the configured partners.
fn querier(
    config: &Config,
    clock: &Arc<dyn Clock>,
    store: &Store,
    partners: Partners,
    endpoint: &quinn::Endpoint,
    revocations: &Arc<Revocations>,
) -> Querier {
    let client = PartnerClient::new(
        endpoint.clone(),
        partners.clients,
        config.limits.connect_timeout,
    )
    .with_revocations(revocations.clone());
    Querier::new(QuerierParts {
        node: config.node.name.clone(),
        client,
        partners: config.partners.iter().map(|p| p.name.clone()).collect(),
        descriptor_keys: partners.descriptor_keys,
        receipt_keys: partners
            .log_keys
            .iter()
            .map(|(n, k)| (n.clone(), k.receipt.clone()))
            .collect(),
        store: store.clone(),
        max_items: config.limits.max_items_per_query,
        timeout: config.limits.query_timeout,
        default_region: config.identifiers.default_region.clone(),
        clock: clock.clone(),
    })
}

/// The server over the components: partners' requests and the node's users'.
fn serve(c: &Components, trust: Arc<PeerVerifier>) -> Arc<Server> {
    Arc::new(Server {
        trust,
        limits: c.limits.clone(),
        metrics: c.metrics.clone(),
        partners: PartnerService {
            answerer: Answerer {
                holder: c.holder.clone(),
                governance: c.governance.clone(),
                audit: c.audit.clone(),
                metrics: c.metrics.clone(),
            },
            limits: c.limits.clone(),
            #[cfg(feature = "test-util")]
            misbehaviour: c.misbehaviour.clone(),
        },
        control: Arc::new(Control {
            holder: c.holder.clone(),
            querier: c.querier.clone(),
            governance: c.governance.clone(),
            audit: c.audit.clone(),
            metrics: c.metrics.clone(),
        }),
    })
}

/// Logs the start, and every partner added, removed or changed since the last start.
fn log_start(config: &Config, c: &Components) -> Result<(), NodeError> {
    let now: std::collections::BTreeMap<String, String> = config
        .partners
        .iter()
        .map(|p| {
            let ca = std::fs::read_to_string(config.path(&p.ca_cert))
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
    let audit = &c.audit;
    let before = audit.partners_seen()?;
    let t = c.clock.now_unix();
    audit.log_node(t, EntryKind::NodeStarted, None)?;
    for (name, d) in &now {
        let change = match before.get(name) {
            None => format!("added: {d}"),
            Some(old) if old != d => format!("changed to: {d}"),
            _ => continue,
        };
        audit.log_node(t, EntryKind::PartnerChanged, Some((name.clone(), change)))?;
    }
    for name in before.keys().filter(|n| !now.contains_key(*n)) {
        let gone = Some((name.clone(), "removed".to_string()));
        audit.log_node(t, EntryKind::PartnerChanged, gone)?;
    }
    audit.set_partners_seen(&now)
}

/// The gauges of `/metrics`, read from the components.
pub(super) fn figures(c: &Components) -> Figures {
    Figures {
        holder: c.holder.clone(),
        governance: c.governance.clone(),
        audit: c.audit.clone(),
    }
}
