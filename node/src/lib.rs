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
//! Tests bind on port 0 and pass their own clock, socket and shutdown future:
//! `Node::builder(config).clock(..).socket(..).bind()`, then [`Node::run`], with
//! [`Node::local_addr`] and [`Node::handle`] in between.
//!
//! The node is a set of components, each owning its state behind narrow methods: the
//! [`holder::Holder`] (epochs held, imports, rotations), the [`querier::Querier`] (partners,
//! their keys and cached epochs), [`governance::Governance`] (policy, revocations, budgets,
//! replayed query ids), [`limits::Limits`], the [`audit::AuditLog`] (which owns the lock order
//! of partners' audit state) and [`metrics::Metrics`]. The server hands each request only the
//! components it uses. The modules form layers without import cycles (checked by a test that
//! reads the sources).
//!
//! What it deliberately does not do: parse command lines or print for people (that is
//! `cordon-cli`), or define anything two nodes, or a CLI and its node, must agree on (that is
//! `cordon-protocol`, including the control messages, re-exported in [`control`]).
//!
//! Key types: [`Config`], [`Node`], [`NodeHandle`], [`client::ControlClient`] (a CLI's
//! connection to its own node), [`admin`] (creating nodes, users and partner entries on disk).

#![forbid(unsafe_code)]
#![warn(clippy::too_many_lines)]

pub mod admin;
mod answer;
pub mod audit;
pub mod budget;
pub mod client;
pub mod clock;
mod cmd;
pub mod config;
pub mod control;
pub mod epoch;
pub mod error;
pub mod followup;
pub mod governance;
pub mod holder;
pub mod import;
#[cfg(test)]
mod layers;
pub mod limits;
pub mod local;
pub mod metrics;
#[cfg(feature = "test-util")]
pub mod misbehave;
pub mod net;
mod node;
pub mod partner_client;
pub mod pki;
pub mod policy;
pub mod profile;
pub mod querier;
pub mod query;
pub mod replay;
pub mod revocation;
mod server;
pub mod store;
pub mod tls;

pub use admin::parse_signing_public_key;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::NodeError;
pub use holder::maintenance;
pub use node::{run, Node, NodeBuilder, NodeHandle};

/// What tests that reach into a running node through [`local::LocalFederation::shared`] hold:
/// its handle, with the node's store and metrics as fields.
#[doc(hidden)]
pub type Shared = local::NodeView;
