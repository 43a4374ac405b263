//! The holder: the collections this node shares, each as its current epoch (OPRF key, filter,
//! delta, signed descriptor).
//!
//! [`Holder`] owns the epochs held, the lock that lets one writer change them at a time (an
//! import, a deletion, a rotation or an expiry), and the key that signs descriptors and
//! receipts. Partners' requests read an epoch ([`Holder::epoch_at`]); [`import`] and
//! [`maintenance`] change them, each in one transaction of the node's database whose audit
//! entries reach the log before the change is acknowledged.
//!
//! What it does not do: decide who may see what (`crate::governance`), talk to partners
//! (`crate::server`), or keep the audit log (`crate::audit`, passed in where a change is
//! logged).

pub mod descriptor;
pub mod import;
pub mod maintenance;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use ring::signature::Ed25519KeyPair;

use cordon_protocol::audit::note::{KeyType, Signer, VerifierKey};
use cordon_protocol::audit::receipt::Receipt;
use cordon_protocol::collection::CollectionName;
use cordon_protocol::control::{CollectionStatus, EpochAge, Named};
use cordon_protocol::{ErrorCode, RemoteError};

use crate::clock::Clock;
use crate::config::{CollectionSettings, EpochSection};
use crate::epoch::{self, BuildParams, HolderEpoch};
use crate::error::NodeError;
use crate::store::Store;

/// What a holder is made of (see [`Holder::open`]).
pub struct HolderParts {
    /// This node's name.
    pub node: String,
    /// The node's database.
    pub store: Store,
    /// The descriptor signing key.
    pub signing: Ed25519KeyPair,
    /// The same key as a note signer, for receipts.
    pub receipts: Signer,
    /// Epoch building settings.
    pub epochs: EpochSection,
    /// Per-collection rotation and retention.
    pub collections: Vec<CollectionSettings>,
    /// Region for national-format phone numbers.
    pub default_region: Option<String>,
    /// Where imports spool their values (the data folder).
    pub spool_dir: PathBuf,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// The collections held, as epochs, and the one writer that changes them.
pub struct Holder {
    node: String,
    store: Store,
    signing: Ed25519KeyPair,
    receipts: Signer,
    epochs: RwLock<HashMap<String, Arc<HolderEpoch>>>,
    /// Serialises imports and epoch changes: taken before the database's write transaction,
    /// so that the in-memory epochs change in the order the committed ones did.
    writer: Mutex<()>,
    settings: EpochSection,
    collections: Vec<CollectionSettings>,
    default_region: Option<String>,
    spool_dir: PathBuf,
    clock: Arc<dyn Clock>,
}

impl Holder {
    /// A holder of the epochs the store holds.
    pub fn open(p: HolderParts) -> Result<Holder, NodeError> {
        let mut epochs = HashMap::new();
        for (name, _) in p.store.collections()? {
            if let Some((stored, filter, delta)) = p.store.load_epoch(&name)? {
                let e = epoch::load(&name, stored, filter, delta)?;
                epochs.insert(name.to_string(), Arc::new(e));
            }
        }
        Ok(Holder {
            node: p.node,
            store: p.store,
            signing: p.signing,
            receipts: p.receipts,
            epochs: RwLock::new(epochs),
            writer: Mutex::new(()),
            settings: p.epochs,
            collections: p.collections,
            default_region: p.default_region,
            spool_dir: p.spool_dir,
            clock: p.clock,
        })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Now, by the node's clock.
    pub fn now(&self) -> u64 {
        self.clock.now_unix()
    }

    /// The node's database (records, epochs, follow-up requests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Region for national-format phone numbers, for reading rows.
    pub fn default_region(&self) -> Option<&str> {
        self.default_region.as_deref()
    }

    /// Where an import spools its values until it is applied.
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    /// The current epoch of a held collection.
    pub fn epoch(&self, collection: &str) -> Option<Arc<HolderEpoch>> {
        self.epochs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(collection)
            .cloned()
    }

    /// The kind of a held collection.
    pub fn kind_of(&self, collection: &str) -> Option<String> {
        self.epoch(collection).map(|e| e.kind.clone())
    }

    fn unknown_collection(&self, collection: &str) -> RemoteError {
        RemoteError::new(
            ErrorCode::UnknownCollection,
            format!("{} holds no collection named `{collection}`", self.node),
        )
    }

    /// The current epoch if it is `epoch`, else the refusal to send.
    pub fn epoch_at(&self, collection: &str, epoch: u64) -> Result<Arc<HolderEpoch>, RemoteError> {
        let e = self
            .epoch(collection)
            .ok_or_else(|| self.unknown_collection(collection))?;
        if e.epoch != epoch {
            return Err(RemoteError::new(
                ErrorCode::StaleEpoch,
                format!("epoch {epoch} of `{collection}` is no longer current (now {}); fetch the descriptor again", e.epoch),
            ));
        }
        Ok(e)
    }

    /// The refusal of a request about a collection this node does not hold.
    pub fn not_held(&self, collection: &str) -> NodeError {
        NodeError::request(format!(
            "{} holds no collection named `{collection}`; `cordon status` lists them",
            self.node
        ))
    }

    fn held(&self, collection: &str) -> Result<Arc<HolderEpoch>, NodeError> {
        self.epoch(collection)
            .ok_or_else(|| self.not_held(collection))
    }

    /// Installs a new current epoch (after it was committed).
    fn install(&self, e: HolderEpoch) {
        self.epochs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(e.collection.clone(), Arc::new(e));
    }

    /// Takes the writer's lock.
    fn write_lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn build_params(&self, now: u64) -> BuildParams<'_> {
        BuildParams {
            node: &self.node,
            signing: &self.signing,
            fp_rate: self.settings.fp_rate,
            validity_secs: self.settings.descriptor_validity.as_secs(),
            now,
        }
    }

    /// Signs a receipt for an answer.
    pub fn sign_receipt(&self, r: &Receipt) -> Result<String, NodeError> {
        r.sign(&self.receipts)
            .map_err(|e| NodeError::internal(format!("signing the receipt: {e}")))
    }

    /// The key receipts verify with (the descriptor key, named by the node), for auditors.
    pub fn receipt_key(&self) -> Result<VerifierKey, NodeError> {
        VerifierKey::new(&self.node, KeyType::Ed25519, self.receipts.public_key())
            .map_err(|e| NodeError::internal(e.to_string()))
    }

    /// When a collection's key is next rotated on schedule, if it has a `rotate_every`.
    pub fn next_rotation(&self, collection: &str, built_at: u64) -> Option<u64> {
        let every = self.settings_of(collection)?.rotate_every?;
        Some(built_at.saturating_add(every.as_secs()))
    }

    fn settings_of(&self, collection: &str) -> Option<&CollectionSettings> {
        self.collections.iter().find(|c| c.name == collection)
    }

    /// The names of the collections held (built or not).
    pub fn names(&self) -> Result<BTreeSet<String>, NodeError> {
        Ok(self
            .store
            .collections()?
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect())
    }

    /// Every collection, for `cordon status`.
    pub fn status(&self) -> Result<Vec<CollectionStatus>, NodeError> {
        let mut out = Vec::new();
        for (name, meta) in self.store.collections()? {
            let e = self.epoch(&name);
            out.push(CollectionStatus {
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
        Ok(out)
    }

    /// How old each held collection's epoch is, by name.
    pub fn epoch_ages(&self) -> Vec<EpochAge> {
        let now = self.clock.now_unix();
        let mut ages: Vec<EpochAge> = self
            .epochs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            // Held collections' names were checked when they were imported.
            .filter_map(|(c, e)| {
                Some(EpochAge {
                    collection: CollectionName::parse(c).ok()?,
                    seconds: now.saturating_sub(e.built_at),
                })
            })
            .collect();
        ages.sort_by(|a, b| a.collection.cmp(&b.collection));
        ages
    }

    /// Runs `f` with the epochs held still: no import, deletion or rotation commits meanwhile
    /// (a follow-up request resolves its references and is queued under it).
    pub fn frozen<R>(&self, f: impl FnOnce(&Frozen<'_>) -> R) -> R {
        let _writer = self.write_lock();
        f(&Frozen { holder: self })
    }
}

/// The holder while no epoch can change ([`Holder::frozen`]).
pub struct Frozen<'a> {
    holder: &'a Holder,
}

impl Frozen<'_> {
    /// The current epoch of a held collection.
    pub fn epoch(&self, collection: &str) -> Option<Arc<HolderEpoch>> {
        self.holder.epoch(collection)
    }

    /// The node's database.
    pub fn store(&self) -> &Store {
        &self.holder.store
    }
}
