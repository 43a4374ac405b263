//! Helpers for the integration tests: a federation of real nodes on loopback, and one-line
//! imports and queries through the real control channel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cordon_node::client;
use cordon_node::control::{ImportHeader, ImportReply, PartnerOutcome, QueryReply, QueryRequest};
use cordon_node::local::LocalFederation;
use cordon_node::profile::Profile;
use cordon_node::NodeError;

/// A running federation in a temporary folder (removed on drop).
pub struct Fed {
    /// The federation.
    pub fed: LocalFederation,
    /// Its folder.
    pub dir: tempfile::TempDir,
}

impl Fed {
    /// Creates and starts `names` on loopback, with `edit` applied to each `node.toml` first.
    pub fn start(names: &[&str], edit: impl Fn(&str) -> String) -> Fed {
        let dir = tempfile::tempdir().expect("temp dir");
        let fed =
            LocalFederation::create(dir.path(), names, Some("TH")).expect("create federation");
        for a in &fed.agencies {
            let text = std::fs::read_to_string(&a.config_path).expect("read config");
            std::fs::write(&a.config_path, edit(&text)).expect("write config");
        }
        let mut fed = fed;
        fed.start_all().expect("start nodes");
        Fed { fed, dir }
    }

    /// Operator profile of an agency.
    pub fn operator(&self, name: &str) -> PathBuf {
        self.fed.agency(name).expect("agency").operator.clone()
    }

    /// Investigator profile of an agency.
    pub fn investigator(&self, name: &str) -> PathBuf {
        self.fed.agency(name).expect("agency").investigator.clone()
    }
}

/// Imports `values` (raw) into `collection` through the node of `profile`.
pub async fn import(
    profile: &Path,
    collection: &str,
    kind: &str,
    values: &[String],
) -> Result<ImportReply, NodeError> {
    let header = ImportHeader {
        collection: collection.into(),
        kind: kind.into(),
        read: Default::default(),
        skip_invalid: false,
        source: "test".into(),
        releasable: Vec::new(),
    };
    client::import_rows(
        &Profile::load(profile)?,
        header,
        client::numbered(values.to_vec()),
    )
    .await
}

/// Queries `partners` (empty: all) about `items` through the node of `profile`.
pub async fn query(
    profile: &Path,
    collection: &str,
    items: &[String],
    partners: &[&str],
) -> Result<QueryReply, NodeError> {
    query_mode(profile, collection, items, partners, Default::default()).await
}

/// [`query`] in a given mode (`match` or `count`).
pub async fn query_mode(
    profile: &Path,
    collection: &str,
    items: &[String],
    partners: &[&str],
    mode: cordon_protocol::messages::QueryMode,
) -> Result<QueryReply, NodeError> {
    let q = QueryRequest {
        collection: collection.into(),
        kind: None,
        read: Default::default(),
        items: client::numbered(items.to_vec()),
        case_ref: "TEST-1".into(),
        purpose: "integration test".into(),
        partners: partners.iter().map(|s| s.to_string()).collect(),
        mode,
    };
    client::query_once(&Profile::load(profile)?, q).await
}

/// The outcome for one partner.
pub fn outcome<'a>(r: &'a QueryReply, partner: &str) -> &'a PartnerOutcome {
    &r.partners
        .iter()
        .find(|p| p.partner == partner)
        .expect("partner in reply")
        .outcome
}

/// The items that hit at `partner`, or `None` if it failed.
pub fn hit_items(r: &QueryReply, partner: &str, items: &[String]) -> Option<BTreeSet<String>> {
    match outcome(r, partner) {
        PartnerOutcome::Answered { hits, .. } => Some(
            hits.iter()
                .map(|h| items[h.index as usize].clone())
                .collect(),
        ),
        PartnerOutcome::Failed { .. } => None,
    }
}

/// Thai mobile numbers `+6681xxxxxxx` for `i` in the range, in E.164.
pub fn phones(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("+6681{i:07}")).collect()
}
