//! A whole federation on one machine, on loopback: what `cordon demo`, `cordon bench` and the
//! integration tests run. Every agency is a real node folder made by [`admin::init_node`], with
//! real certificates, mutual partner entries from each other's cards, and users with profiles;
//! every node runs the real [`Node`] on a loopback port chosen by the OS.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, InitOptions};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::NodeError;
use crate::metrics::Metrics;
use crate::node::{Node, NodeHandle};
use crate::pki::Role;
use crate::store::Store;

/// One agency of the federation.
#[derive(Debug, Clone)]
pub struct Agency {
    /// Node name.
    pub name: String,
    /// Node folder.
    pub dir: PathBuf,
    /// Its `node.toml`.
    pub config_path: PathBuf,
    /// Loopback address it listens on.
    pub addr: SocketAddr,
    /// Profile of its operator (`ops`).
    pub operator: PathBuf,
    /// Profile of its investigator (`investigator`).
    pub investigator: PathBuf,
    /// Profile of its auditor (`auditor`), who may only read the audit log.
    pub auditor: PathBuf,
    /// Profile of its supervisor (`supervisor`), who reviews partners' follow-up requests.
    pub supervisor: PathBuf,
}

/// A running node as tests reach into it: its [`NodeHandle`] (through `Deref`), and its
/// database and metrics, which tests read directly.
pub struct NodeView {
    /// The node's database.
    pub store: Store,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    handle: NodeHandle,
}

impl NodeView {
    fn new(handle: NodeHandle) -> NodeView {
        NodeView {
            store: handle.store().clone(),
            metrics: handle.metrics().clone(),
            handle,
        }
    }

    /// The node's handle.
    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }
}

impl std::ops::Deref for NodeView {
    type Target = NodeHandle;
    fn deref(&self) -> &NodeHandle {
        &self.handle
    }
}

struct Running {
    shared: Arc<NodeView>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), NodeError>>,
}

/// Agencies on loopback, each with a node that can be started and stopped.
pub struct LocalFederation {
    /// The agencies, in creation order.
    pub agencies: Vec<Agency>,
    sockets: HashMap<String, UdpSocket>,
    running: HashMap<String, Running>,
    clock: Arc<dyn Clock>,
}

impl LocalFederation {
    /// Creates `names` as agencies under `dir`, each trusting all others.
    pub fn create(dir: &Path, names: &[&str], region: Option<&str>) -> Result<Self, NodeError> {
        Self::create_with_clock(dir, names, region, Arc::new(SystemClock))
    }

    /// As [`LocalFederation::create`] with a clock for every node.
    pub fn create_with_clock(
        dir: &Path,
        names: &[&str],
        region: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, NodeError> {
        let mut sockets = HashMap::new();
        let mut at = Vec::new();
        for name in names {
            // Bind first and keep the socket: the port cannot be taken before the node starts.
            let sock = UdpSocket::bind("127.0.0.1:0")
                .map_err(|source| NodeError::bind(SocketAddr::from(([127, 0, 0, 1], 0)), source))?;
            let addr = sock
                .local_addr()
                .map_err(|e| NodeError::connection(e.to_string()))?;
            sockets.insert(name.to_string(), sock);
            at.push((*name, addr));
        }
        Ok(LocalFederation {
            agencies: create_at(dir, &at, region)?,
            sockets,
            running: HashMap::new(),
            clock,
        })
    }

    /// Gives up the reserved ports and returns the agencies, for callers that run each node in
    /// its own process (`cordon node run --config …`). The ports are free from here on.
    pub fn into_agencies(self) -> Vec<Agency> {
        self.agencies
    }

    /// Takes the reserved port of an agency that is not running, for a test to serve something
    /// else there (a fake partner); a later [`LocalFederation::start`] binds the port anew.
    pub fn take_socket(&mut self, name: &str) -> Option<UdpSocket> {
        if self.running.contains_key(name) {
            return None;
        }
        self.sockets.remove(name)
    }

    /// An agency by name.
    pub fn agency(&self, name: &str) -> Result<&Agency, NodeError> {
        self.agencies
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| NodeError::request(format!("no agency `{name}` in this federation")))
    }

    /// Starts one node (again, after [`LocalFederation::stop`]).
    pub fn start(&mut self, name: &str) -> Result<(), NodeError> {
        if self.running.contains_key(name) {
            return Ok(());
        }
        let a = self.agency(name)?.clone();
        let cfg = Config::load(&a.config_path)?;
        let socket = match self.sockets.remove(name) {
            Some(s) => s,
            None => UdpSocket::bind(a.addr).map_err(|source| NodeError::bind(a.addr, source))?,
        };
        let node = Node::builder(cfg)
            .clock(self.clock.clone())
            .socket(socket)
            .bind()?;
        let shared = Arc::new(NodeView::new(node.handle()));
        let stop = CancellationToken::new();
        let s2 = stop.clone();
        let task = tokio::spawn(async move { node.run(async move { s2.cancelled().await }).await });
        self.running
            .insert(name.to_string(), Running { shared, stop, task });
        Ok(())
    }

    /// The state of a running node (tests reach into it: to make it misbehave, or to drive
    /// its maintenance pass).
    pub fn shared(&self, name: &str) -> Option<Arc<NodeView>> {
        self.running.get(name).map(|r| r.shared.clone())
    }

    /// Starts every node.
    pub fn start_all(&mut self) -> Result<(), NodeError> {
        let names: Vec<String> = self.agencies.iter().map(|a| a.name.clone()).collect();
        for n in names {
            self.start(&n)?;
        }
        Ok(())
    }

    /// Stops one node gracefully and waits until it has, and until its port is free again
    /// (taken back for the next [`LocalFederation::start`]).
    pub async fn stop(&mut self, name: &str) -> Result<(), NodeError> {
        if let Some(r) = self.running.remove(name) {
            // The node's state holds its database and endpoint: let it go with the node.
            drop(r.shared);
            r.stop.cancel();
            r.task
                .await
                .map_err(|e| NodeError::connection(e.to_string()))??;
            // The QUIC endpoint's driver task releases the socket shortly after the node's last
            // handle is dropped, on the runtime's own schedule: take the port back as soon as
            // the OS frees it, so a restart never races it.
            let addr = self.agency(name)?.addr;
            for _ in 0..1000 {
                match UdpSocket::bind(addr) {
                    Ok(s) => {
                        self.sockets.insert(name.to_string(), s);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                    Err(source) => return Err(NodeError::bind(addr, source)),
                }
            }
        }
        Ok(())
    }

    /// Stops every node.
    pub async fn shutdown(mut self) -> Result<(), NodeError> {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for n in names {
            self.stop(&n).await?;
        }
        Ok(())
    }
}

/// Creates one agency per `(name, address)` under `dir`: node, users, and every other agency
/// as a partner. Nothing is bound here: callers that run each node in its own process
/// somewhere else than this machine's loopback (e.g. in a network namespace of a test) use it
/// directly.
pub fn create_at(
    dir: &Path,
    at: &[(&str, SocketAddr)],
    region: Option<&str>,
) -> Result<Vec<Agency>, NodeError> {
    let now = time::OffsetDateTime::now_utc();
    let mut agencies = Vec::new();
    for (name, addr) in at {
        let adir = dir.join(name);
        let config_path = admin::init_node(
            &InitOptions {
                name: name.to_string(),
                dir: adir.clone(),
                listen: *addr,
                public_address: Some(addr.to_string()),
                region: region.map(str::to_string),
            },
            now,
        )?;
        let operator = admin::add_user(&config_path, "ops", Role::Operator, now)?;
        let investigator = admin::add_user(&config_path, "investigator", Role::Investigator, now)?;
        let auditor = admin::add_user(&config_path, "auditor", Role::Auditor, now)?;
        let supervisor = admin::add_user(&config_path, "supervisor", Role::Supervisor, now)?;
        agencies.push(Agency {
            name: name.to_string(),
            dir: adir,
            config_path,
            addr: *addr,
            operator,
            investigator,
            auditor,
            supervisor,
        });
    }
    for a in &agencies {
        for b in &agencies {
            if a.name != b.name {
                let card = admin::read_card(&b.dir.join("card.toml"))?;
                admin::add_partner(&a.config_path, &card)?;
            }
        }
    }
    Ok(agencies)
}
