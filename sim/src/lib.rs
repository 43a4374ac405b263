//! # cordon-sim
//!
//! An in-memory federation of Cordon nodes that drives the protocol's sessions
//! ([`cordon_protocol::session`]) the way a node does, with a virtual clock, seeded
//! randomness, configurable latency and loss, and lying peers, so that every attack on a
//! querier or a holder is a deterministic test that runs in milliseconds.
//!
//! ```text
//!   Federation ── clock (virtual ms), StdRng (seeded), Network (latency, loss per link)
//!     │
//!     ├── SimNode "th"  querier: Exchange per partner ─┐   holder: gate, admission,
//!     ├── SimNode "jp"  (cache, log, witness)          │   evaluation, receipt, witness
//!     └── SimNode "us"                                  │   (collections, policy, budgets,
//!                                                       │    replay guard, follow-ups)
//!          frames on streams, delivered in virtual time ┘   ── or a lying script over them
//! ```
//!
//! Nothing here sleeps or opens a socket: a query runs until every partner answered, failed
//! or timed out, moving the clock from one delivery to the next. The same seed gives the same
//! keys, blinds, query ids, losses and answers, byte for byte.
//!
//! What the simulation is not: a node. Storage, TLS, connection limits and the control
//! protocol are the node's; the simulated nodes keep their state in memory and hold
//! identifiers only (not persons).
//!
//! ```
//! use cordon_protocol::ident::Kind;
//! use cordon_protocol::messages::QueryMode;
//! use cordon_protocol::session::policy::Grant;
//! use cordon_sim::{Federation, QueryRequest};
//!
//! let mut fed = Federation::new(7);
//! fed.add_node("th").unwrap();
//! fed.add_node("jp").unwrap();
//! fed.connect("th", "jp").unwrap();
//! fed.node_mut("jp").unwrap().grant(Grant {
//!     partner: "th".into(),
//!     collections: vec!["emails".into()],
//!     modes: vec![QueryMode::Match],
//!     daily_items: 1_000,
//!     max_items_per_query: None,
//!     followup: false,
//! });
//! fed.import("jp", "emails", Kind::Email, &["a@example.org".into()]).unwrap();
//! let q = QueryRequest {
//!     collection: "emails".into(),
//!     kind: Kind::Email,
//!     mode: QueryMode::Match,
//!     items: vec!["a@example.org".into(), "b@example.org".into()],
//!     partners: vec!["jp".into()],
//! };
//! let out = fed.query("th", &q).unwrap();
//! assert_eq!(out.of("jp").unwrap().answer().unwrap().hits.len(), 1);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod driver;
pub mod epoch;
pub mod federation;
mod followup;
pub mod holder;
pub mod keys;
pub mod liar;
pub mod log;
pub mod net;
pub mod node;

pub use driver::{PartnerOutcome, QueryOutcome, QueryRequest};
pub use federation::Federation;
pub use liar::{about, always, Lie, Script};
pub use net::{Link, Reply};
pub use node::{Limits, SimNode};
