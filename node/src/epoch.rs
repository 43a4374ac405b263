//! Holder side: building an epoch (new key, all tags, filter, signed descriptor) and extending
//! it with records added later (delta tags, re-signed descriptor).
//!
//! Building is the expensive step: one hash-to-group and one scalar multiplication per record,
//! spread over every core with rayon (inside [`cordon_protocol::oprf::holder_tags`]).

use std::sync::Arc;

use ring::signature::Ed25519KeyPair;
use serde_bytes::ByteArray;

use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor, DESCRIPTOR_VERSION};
use cordon_protocol::filter::{chain_delta, filter_capacity, seed_for, EpochFilter};
use cordon_protocol::ident::Kind;
use cordon_protocol::oprf::{self, PublicKey, SecretKey, Tag};
use cordon_protocol::person;

use crate::error::NodeError;
use crate::store::StoredEpoch;

/// The OPRF input of a stored canonical value: `kind ":" value` (see `spec/IDENTIFIERS.md`).
pub fn oprf_input(kind: &str, value: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(kind.len() + 1 + value.len());
    v.extend_from_slice(kind.as_bytes());
    v.push(b':');
    v.extend_from_slice(value.as_bytes());
    v
}

/// A collection's current epoch, in memory, as the partner server uses it.
pub struct HolderEpoch {
    /// Collection name.
    pub collection: String,
    /// Identifier kind.
    pub kind: String,
    /// Epoch number.
    pub epoch: u64,
    /// OPRF secret key.
    pub sk: SecretKey,
    /// OPRF public key.
    pub pk: PublicKey,
    /// Signed descriptor, as served.
    pub signed: SignedDescriptor,
    /// The same, decoded.
    pub descriptor: EpochDescriptor,
    /// Filter wire bytes.
    pub filter: Arc<Vec<u8>>,
    /// Delta tags in order.
    pub delta: Arc<Vec<Tag>>,
    /// Records below this sequence number are in the filter.
    pub built_upto_seq: u64,
    /// When the epoch was built (Unix seconds; 0 if unknown).
    pub built_at: u64,
}

impl std::fmt::Debug for HolderEpoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderEpoch")
            .field("collection", &self.collection)
            .field("epoch", &self.epoch)
            .field("records", &self.descriptor.record_count)
            .field("delta", &self.delta.len())
            .finish_non_exhaustive()
    }
}

/// Settings an epoch build needs.
pub struct BuildParams<'a> {
    /// This node's name.
    pub node: &'a str,
    /// Descriptor signing key.
    pub signing: &'a Ed25519KeyPair,
    /// Filter false-positive rate.
    pub fp_rate: f64,
    /// Descriptor validity in seconds.
    pub validity_secs: u64,
    /// Current time, Unix seconds.
    pub now: u64,
}

/// The OPRF inputs of one stored canonical value: the value itself for an identifier, its
/// match keys for a person (see `spec/IDENTIFIERS.md`, `person`).
pub fn items_of(kind: &str, value: &str) -> Result<Vec<Vec<u8>>, NodeError> {
    if kind == Kind::Person.as_str() {
        let keys = person::match_keys(value).map_err(|e| {
            NodeError::Storage(format!("a stored person record cannot be read: {e}"))
        })?;
        Ok(keys.into_iter().map(|k| k.input).collect())
    } else {
        Ok(vec![oprf_input(kind, value)])
    }
}

/// Tags of every item of `values`, each distinct item once (two persons can share a key).
fn compute_tags(
    sk: &SecretKey,
    kind: &str,
    values: &[(u64, String)],
) -> Result<Vec<Tag>, NodeError> {
    let inputs: Vec<Vec<u8>> = if kind == Kind::Person.as_str() {
        use rayon::prelude::*;
        let per: Vec<Vec<Vec<u8>>> = values
            .par_iter()
            .map(|(_, v)| items_of(kind, v))
            .collect::<Result<_, _>>()?;
        let mut all: Vec<Vec<u8>> = per.into_iter().flatten().collect();
        all.par_sort_unstable();
        all.dedup();
        all
    } else {
        // Stored identifiers are distinct already (the store deduplicates them).
        values.iter().map(|(_, v)| oprf_input(kind, v)).collect()
    };
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    oprf::holder_tags(sk, &refs)
        .map_err(|e| NodeError::Internal(format!("tag derivation failed: {e}")))
}

/// Builds epoch `epoch` over `records` with a fresh key.
pub fn build(
    collection: &str,
    kind: &str,
    epoch: u64,
    records: &[(u64, String)],
    p: &BuildParams<'_>,
) -> Result<(StoredEpoch, HolderEpoch), NodeError> {
    let (sk, pk) = oprf::generate_key_pair(&mut rand::rngs::OsRng);
    let tags = compute_tags(&sk, kind, records)?;
    let seed = seed_for(&pk.to_bytes());
    let filter = EpochFilter::build(&tags, p.fp_rate, &seed).map_err(NodeError::Misuse)?;
    // The filter is sized by its items: records for identifiers, distinct keys for persons.
    let n = tags.len() as u64;
    let descriptor = EpochDescriptor {
        version: DESCRIPTOR_VERSION,
        node: p.node.to_string(),
        collection: collection.to_string(),
        kind: kind.to_string(),
        epoch,
        public_key: ByteArray::new(pk.to_bytes()),
        record_count: n,
        filter: filter.params(filter_capacity(n), p.fp_rate),
        filter_digest: ByteArray::new(filter.digest()),
        delta_count: 0,
        delta_chain: ByteArray::new([0; 32]),
        issued_at: p.now,
        not_after: p.now + p.validity_secs,
    };
    let signed = SignedDescriptor::sign(&descriptor, p.signing)?;
    let built_upto_seq = records.iter().map(|(s, _)| s + 1).max().unwrap_or(0);
    let stored = StoredEpoch {
        epoch,
        secret_key: ByteArray::new(sk.to_bytes()),
        descriptor: signed.clone(),
        built_upto_seq,
        built_at: p.now,
    };
    let holder = HolderEpoch {
        collection: collection.to_string(),
        kind: kind.to_string(),
        epoch,
        sk,
        pk,
        signed,
        descriptor,
        filter: Arc::new(filter.as_bytes().to_vec()),
        delta: Arc::new(Vec::new()),
        built_upto_seq,
        built_at: p.now,
    };
    Ok((stored, holder))
}

/// Builds the next epoch of `collection` over every record `batch` holds (a new key and
/// filter, an empty delta) and stores it in `batch`: what a rebuild at the threshold, a
/// rotation and a deletion all do. The caller commits and then installs the returned epoch.
pub fn rebuild_in(
    batch: &mut crate::store::WriteBatch,
    collection: &str,
    kind: &str,
    current: Option<&HolderEpoch>,
    p: &BuildParams<'_>,
) -> Result<HolderEpoch, NodeError> {
    let records = batch.all_records(collection)?;
    let number = current.map_or(1, |e| e.epoch + 1);
    let (stored, holder) = build(collection, kind, number, &records, p)?;
    batch.put_new_epoch(collection, &stored, &holder.filter)?;
    Ok(holder)
}

/// Adds `records` to `current` as delta tags and re-signs the descriptor.
pub fn extend(
    current: &HolderEpoch,
    records: &[(u64, String)],
    p: &BuildParams<'_>,
) -> Result<(StoredEpoch, Vec<Tag>, HolderEpoch), NodeError> {
    let tags = compute_tags(&current.sk, &current.kind, records)?;
    let mut descriptor = current.descriptor.clone();
    descriptor.delta_count += tags.len() as u64;
    descriptor.delta_chain = ByteArray::new(chain_delta(*current.descriptor.delta_chain, &tags));
    descriptor.issued_at = p.now;
    descriptor.not_after = p.now + p.validity_secs;
    let signed = SignedDescriptor::sign(&descriptor, p.signing)?;
    let mut delta = current.delta.as_ref().clone();
    delta.extend_from_slice(&tags);
    let stored = StoredEpoch {
        epoch: current.epoch,
        secret_key: ByteArray::new(current.sk.to_bytes()),
        descriptor: signed.clone(),
        built_upto_seq: current.built_upto_seq,
        built_at: current.built_at,
    };
    let holder = HolderEpoch {
        collection: current.collection.clone(),
        kind: current.kind.clone(),
        epoch: current.epoch,
        sk: current.sk.clone(),
        pk: current.pk,
        signed,
        descriptor,
        filter: current.filter.clone(),
        delta: Arc::new(delta),
        built_upto_seq: current.built_upto_seq,
        built_at: current.built_at,
    };
    Ok((stored, tags, holder))
}

/// Re-signs the descriptor with a fresh validity window (same epoch, key, filter and delta).
pub fn refresh(
    current: &HolderEpoch,
    p: &BuildParams<'_>,
) -> Result<(StoredEpoch, HolderEpoch), NodeError> {
    let mut descriptor = current.descriptor.clone();
    descriptor.issued_at = p.now;
    descriptor.not_after = p.now + p.validity_secs;
    let signed = SignedDescriptor::sign(&descriptor, p.signing)?;
    let stored = StoredEpoch {
        epoch: current.epoch,
        secret_key: ByteArray::new(current.sk.to_bytes()),
        descriptor: signed.clone(),
        built_upto_seq: current.built_upto_seq,
        built_at: current.built_at,
    };
    let holder = HolderEpoch {
        collection: current.collection.clone(),
        kind: current.kind.clone(),
        epoch: current.epoch,
        sk: current.sk.clone(),
        pk: current.pk,
        signed,
        descriptor,
        filter: current.filter.clone(),
        delta: current.delta.clone(),
        built_upto_seq: current.built_upto_seq,
        built_at: current.built_at,
    };
    Ok((stored, holder))
}

/// Rebuilds the in-memory epoch from what the store holds.
pub fn load(
    collection: &str,
    stored: StoredEpoch,
    filter: Vec<u8>,
    delta: Vec<Tag>,
) -> Result<HolderEpoch, NodeError> {
    let descriptor = stored.descriptor.descriptor_unverified()?;
    let sk = SecretKey::from_bytes(&stored.secret_key)
        .map_err(|e| NodeError::Storage(format!("stored key of `{collection}` is invalid: {e}")))?;
    let pk = PublicKey::from_bytes(&descriptor.public_key).map_err(|e| {
        NodeError::Storage(format!(
            "stored public key of `{collection}` is invalid: {e}"
        ))
    })?;
    Ok(HolderEpoch {
        collection: collection.to_string(),
        kind: descriptor.kind.clone(),
        epoch: stored.epoch,
        sk,
        pk,
        signed: stored.descriptor,
        descriptor,
        filter: Arc::new(filter),
        delta: Arc::new(delta),
        built_upto_seq: stored.built_upto_seq,
        built_at: stored.built_at,
    })
}
