//! A simulated node: its keys, its audit log and partners' audit states (shared by both
//! roles, as in a real node), the holder's collections, policy, budgets, replay guard and
//! follow-ups, and the querier's cache of partners' epochs.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cordon_protocol::audit::bundle::Alert;
use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::collection::CollectionName;
use cordon_protocol::followup::FollowupState;
use cordon_protocol::session::partner_epoch::PartnerEpoch;
use cordon_protocol::session::policy::{Grant, Policy};
use cordon_protocol::session::witness::{Note, PartnerAudit};

use crate::epoch::{EpochSettings, HeldCollection};
use crate::keys::{NodeKeys, PartnerKeys};
use crate::log::MemoryLog;

/// A node's limits (`[limits]` of `node.toml`), with the node's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most items in one evaluation request.
    pub max_items_per_query: u64,
    /// Largest request frame accepted, in bytes.
    pub max_request_bytes: usize,
    /// Follow-up requests of one partner awaiting review, at most.
    pub max_pending_followups: u64,
    /// Per partner, from the descriptor to the answer (the querier's time-out).
    pub query_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_items_per_query: cordon_protocol::messages::MAX_ITEMS_PER_REQUEST as u64,
            max_request_bytes: 4 << 20,
            max_pending_followups: 1_000,
            query_timeout_ms: 30_000,
        }
    }
}

/// A follow-up request a holder keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFollowup {
    /// Its id.
    pub id: [u8; 16],
    /// The partner that filed it.
    pub partner: String,
    /// Its collection.
    pub collection: String,
    /// Pending, approved or denied.
    pub state: FollowupState,
    /// When it was decided.
    pub decided_at: Option<u64>,
    /// Distinct records hit.
    pub records: u64,
}

/// One simulated node.
pub struct SimNode {
    pub(crate) name: String,
    pub(crate) keys: NodeKeys,
    pub(crate) partners: BTreeMap<String, PartnerKeys>,
    pub(crate) log: MemoryLog,
    pub(crate) audit: BTreeMap<String, PartnerAudit>,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) notes: Vec<(String, Note)>,
    // Holder side.
    pub(crate) collections: BTreeMap<String, HeldCollection>,
    pub(crate) policy: Policy,
    pub(crate) limits: Limits,
    pub(crate) settings: EpochSettings,
    /// (day, partner, query id) answered.
    pub(crate) answered: RefCell<BTreeSet<(u64, String, [u8; 16])>>,
    /// (day, partner, collection) → items evaluated.
    pub(crate) spent: RefCell<BTreeMap<(u64, String, String), u64>>,
    pub(crate) followups: Vec<HeldFollowup>,
    // Querier side.
    pub(crate) cache: BTreeMap<(String, String), Arc<PartnerEpoch>>,
}

impl SimNode {
    pub(crate) fn new(name: &str, keys: NodeKeys) -> Result<Self, String> {
        let log = MemoryLog::new(keys.log_signer()?);
        Ok(SimNode {
            name: name.to_string(),
            keys,
            partners: BTreeMap::new(),
            log,
            audit: BTreeMap::new(),
            alerts: Vec::new(),
            notes: Vec::new(),
            collections: BTreeMap::new(),
            policy: Policy::new(name, Vec::new()),
            limits: Limits::default(),
            settings: EpochSettings::default(),
            answered: RefCell::default(),
            spent: RefCell::default(),
            followups: Vec::new(),
            cache: BTreeMap::new(),
        })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its keys.
    pub fn keys(&self) -> &NodeKeys {
        &self.keys
    }

    /// Its audit log.
    pub fn log(&self) -> &MemoryLog {
        &self.log
    }

    /// Entries of one kind, oldest first.
    pub fn entries(&self, kind: EntryKind) -> Vec<&Entry> {
        self.log
            .entries()
            .iter()
            .filter(|e| e.kind == kind)
            .collect()
    }

    /// Its audit state of a partner.
    pub fn audit_of(&self, partner: &str) -> PartnerAudit {
        self.audit.get(partner).cloned().unwrap_or_default()
    }

    /// Inconsistencies found in partners' logs (evidence kept).
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// What the witness noted about partners' audit data.
    pub fn notes(&self) -> &[(String, Note)] {
        &self.notes
    }

    /// A collection it holds.
    pub fn collection(&self, name: &str) -> Option<&HeldCollection> {
        self.collections.get(name)
    }

    /// Its policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Adds a grant.
    pub fn grant(&mut self, g: Grant) {
        self.policy.grants.push(g);
    }

    /// Replaces its grants.
    pub fn set_grants(&mut self, grants: Vec<Grant>) {
        self.policy.grants = grants;
    }

    /// Its limits.
    pub fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// How it builds epochs.
    pub fn settings_mut(&mut self) -> &mut EpochSettings {
        &mut self.settings
    }

    /// Items `partner` has had evaluated of `collection` on budget day `day`.
    pub fn spent(&self, day: u64, partner: &str, collection: &str) -> u64 {
        self.spent
            .borrow()
            .get(&(day, partner.to_string(), collection.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Follow-up requests it holds.
    pub fn followups(&self) -> &[HeldFollowup] {
        &self.followups
    }

    /// Decides a held follow-up request.
    pub fn decide_followup(&mut self, id: &[u8; 16], state: FollowupState, now: u64) -> bool {
        match self.followups.iter_mut().find(|f| f.id == *id) {
            Some(f) => {
                f.state = state;
                f.decided_at = Some(now);
                true
            }
            None => false,
        }
    }

    /// Rotates the key of `collection` (a new epoch over the same records).
    pub fn rotate(
        &mut self,
        collection: &str,
        now: u64,
        rng: &mut (impl rand_core::RngCore + rand_core::CryptoRng),
    ) -> Result<(), String> {
        let c = self
            .collections
            .get_mut(collection)
            .ok_or_else(|| format!("{} holds no collection {collection:?}", self.name))?;
        c.rotate(self.keys.descriptor(), now, rng)
            .map_err(|e| e.to_string())
    }

    /// Its audit log, to write to it directly (a node that logs what no exchange did).
    pub fn log_mut(&mut self) -> &mut MemoryLog {
        &mut self.log
    }

    /// Its cached epoch of a partner's collection.
    pub fn cached(&self, partner: &str, collection: &str) -> Option<&Arc<PartnerEpoch>> {
        self.cache
            .get(&(partner.to_string(), collection.to_string()))
    }

    /// Forgets every cached epoch (a querier starting afresh).
    pub fn clear_cache(&mut self) {
        self.cache.clear();
    }

    /// A new entry of this node about `partner`.
    pub(crate) fn entry(&self, now: u64, kind: EntryKind, partner: &str, role: &str) -> Entry {
        let mut e = Entry::new(
            now,
            kind,
            &self.name,
            Actor {
                name: if role == "partner" {
                    partner.to_string()
                } else {
                    "investigator".into()
                },
                role: role.into(),
                fingerprint: String::new(),
            },
        );
        e.partner = Some(partner.to_string());
        e
    }

    /// Appends entries; a log that cannot grow is noted (the simulated node goes on).
    pub(crate) fn log_entries(&mut self, entries: Vec<Entry>) -> u64 {
        for e in entries {
            if let Err(err) = self.log.append(e) {
                self.notes
                    .push((self.name.clone(), Note::NotCosigned(err.to_string())));
            }
        }
        self.log.size()
    }

    /// A collection name from a partner, as logged.
    pub(crate) fn loggable(name: &str) -> String {
        CollectionName::loggable(name)
    }
}
