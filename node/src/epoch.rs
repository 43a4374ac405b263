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
            NodeError::storage(format!("a stored person record cannot be read: {e}"))
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
    let values: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
    tags_of(sk, kind, &values)
}

/// Tags of the OPRF items of `values`, each distinct item once. Identifiers give one item
/// each; stored identifiers are distinct already (the store deduplicates them).
fn tags_of(sk: &SecretKey, kind: &str, values: &[&str]) -> Result<Vec<Tag>, NodeError> {
    let inputs: Vec<Vec<u8>> = if kind == Kind::Person.as_str() {
        use rayon::prelude::*;
        let per: Vec<Vec<Vec<u8>>> = values
            .par_iter()
            .map(|v| items_of(kind, v))
            .collect::<Result<_, _>>()?;
        let mut all: Vec<Vec<u8>> = per.into_iter().flatten().collect();
        all.par_sort_unstable();
        all.dedup();
        all
    } else {
        values.iter().map(|v| oprf_input(kind, v)).collect()
    };
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    oprf::holder_tags(sk, &refs)
        .map_err(|e| NodeError::internal(format!("tag derivation failed: {e}")))
}

/// Records read from the store per chunk of a build: large enough that rayon keeps both cores
/// busy on one chunk, small enough that a chunk's values, inputs and tags stay a few MiB.
pub const BUILD_CHUNK: usize = 65_536;

/// A filter built over a collection, with what the descriptor states about it.
struct BuiltFilter {
    filter: EpochFilter,
    /// Distinct items in it: records for identifiers, distinct match keys for persons.
    items: u64,
    /// One more than the highest sequence number among the records (0 if none).
    built_upto_seq: u64,
}

/// Builds the filter of every record `batch` holds in `collection` under key `sk`, reading the
/// records in chunks of `chunk`: each chunk's tags are derived (on every core) while this
/// thread reads the next chunk and inserts the previous one's tags, so neither all records
/// nor all tags are ever in memory. Persons are the exception for tags: their match keys are
/// deduplicated across records, and the filter is sized by the distinct count, so their tags
/// (32 bytes per key) are collected and deduplicated first.
fn build_filter(
    batch: &crate::store::WriteBatch,
    collection: &str,
    kind: &str,
    sk: &SecretKey,
    seed: &[u8; 32],
    fp_rate: f64,
    chunk: usize,
) -> Result<BuiltFilter, NodeError> {
    let person = kind == Kind::Person.as_str();
    // Identifiers: one item per record, so the filter can be sized before the first tag.
    let records = batch.record_count(collection)?;
    let mut filter = if person {
        None
    } else {
        Some(EpochFilter::new(filter_capacity(records), fp_rate, seed).map_err(NodeError::setup)?)
    };
    let mut person_tags: Vec<Tag> = Vec::new();
    let mut inserted = 0u64;
    let mut max_seq: Option<u64> = None;
    let mut take = |tags: Vec<Tag>| match filter.as_mut() {
        Some(f) => {
            inserted += tags.len() as u64;
            tags.iter().for_each(|t| f.insert(t));
        }
        None => person_tags.extend_from_slice(&tags),
    };
    let derive = |values: Vec<String>| -> Result<Vec<Tag>, NodeError> {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        tags_of(sk, kind, &refs)
    };
    std::thread::scope(|s| -> Result<(), NodeError> {
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<Vec<Tag>, NodeError>>| {
            h.join()
                .map_err(|_| NodeError::internal("tag derivation panicked"))?
        };
        let mut in_flight = None;
        batch.for_each_record_chunk(collection, chunk, |c| {
            max_seq = max_seq.max(c.max_seq);
            let next = s.spawn(move || derive(c.values));
            if let Some(h) = in_flight.replace(next) {
                take(join(h)?);
            }
            Ok(())
        })?;
        if let Some(h) = in_flight {
            take(join(h)?);
        }
        Ok(())
    })?;
    let (filter, items) = match filter {
        Some(f) => {
            if inserted != records {
                return Err(NodeError::internal(format!(
                    "the build read {inserted} records of `{collection}`, its table counts {records}"
                )));
            }
            (f, records)
        }
        None => {
            use rayon::prelude::*;
            person_tags.par_sort_unstable();
            person_tags.dedup();
            let f = EpochFilter::build(&person_tags, fp_rate, seed).map_err(NodeError::setup)?;
            (f, person_tags.len() as u64)
        }
    };
    Ok(BuiltFilter {
        filter,
        items,
        built_upto_seq: max_seq.map_or(0, |s| s + 1),
    })
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
    let number = current.map_or(1, |e| e.epoch + 1);
    let (sk, pk) = oprf::generate_key_pair(&mut rand::rngs::OsRng);
    let key = NewKey {
        epoch: number,
        sk,
        pk,
    };
    let (stored, holder) = build_with_key(batch, collection, kind, key, p, BUILD_CHUNK)?;
    batch.put_new_epoch(collection, &stored, &holder.filter)?;
    Ok(holder)
}

/// An epoch's number and its new key pair.
struct NewKey {
    epoch: u64,
    sk: SecretKey,
    pk: PublicKey,
}

/// Builds a new epoch over the records `batch` holds, with the key pair given.
fn build_with_key(
    batch: &crate::store::WriteBatch,
    collection: &str,
    kind: &str,
    key: NewKey,
    p: &BuildParams<'_>,
    chunk: usize,
) -> Result<(StoredEpoch, HolderEpoch), NodeError> {
    let NewKey { epoch, sk, pk } = key;
    let seed = seed_for(&pk.to_bytes());
    let built = build_filter(batch, collection, kind, &sk, &seed, p.fp_rate, chunk)?;
    let BuiltFilter {
        filter,
        items: n,
        built_upto_seq,
    } = built;
    let descriptor = EpochDescriptor {
        version: DESCRIPTOR_VERSION,
        node: p.node.to_string(),
        collection: collection.to_string(),
        kind: kind.to_string(),
        epoch,
        public_key: ByteArray::new(pk.to_bytes()),
        // The filter is sized by its items: records for identifiers, distinct keys for persons.
        record_count: n,
        filter: filter.params(filter_capacity(n), p.fp_rate),
        filter_digest: ByteArray::new(filter.digest()),
        delta_count: 0,
        delta_chain: ByteArray::new([0; 32]),
        issued_at: p.now,
        not_after: p.now + p.validity_secs,
    };
    let signed = SignedDescriptor::sign(&descriptor, p.signing)?;
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
        filter: Arc::new(filter.into_bytes()),
        delta: Arc::new(Vec::new()),
        built_upto_seq,
        built_at: p.now,
    };
    Ok((stored, holder))
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
        .map_err(|e| NodeError::storage(format!("stored key of `{collection}` is invalid: {e}")))?;
    let pk = PublicKey::from_bytes(&descriptor.public_key).map_err(|e| {
        NodeError::storage(format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CollectionMeta, StagedRecords, Store};
    use cordon_protocol::ident::{self, Options};
    use ring::signature::KeyPair;
    use sha2::{Digest, Sha256};

    const FP: f64 = 1e-6;

    fn signing() -> Ed25519KeyPair {
        let doc = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap()
    }

    /// A store holding `values` in collection `c` (numbered in order, then `deleted` removed).
    fn store_with(
        c: &str,
        kind: &str,
        values: &[String],
        deleted: &[String],
    ) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut b = store.begin().unwrap();
        let mut meta = CollectionMeta {
            kind: kind.into(),
            next_seq: 0,
            created_at: 0,
            provider_rules: false,
        };
        let mut staged = StagedRecords::default();
        b.stage_records(c, &mut meta, values.iter().map(String::as_str), &mut staged)
            .unwrap();
        b.delete_records(c, deleted).unwrap();
        b.put_collection(c, &meta).unwrap();
        b.commit().unwrap();
        (dir, store)
    }

    /// The whole-set build as it was before builds streamed: every record read at once, all
    /// tags derived, then the filter built from them.
    fn whole_set(
        sk: &SecretKey,
        pk: &PublicKey,
        kind: &str,
        store: &Store,
        c: &str,
    ) -> (Vec<u8>, u64, u64) {
        let mut records = Vec::new();
        let mut upto = 0;
        store
            .for_each_record_chunk(c, usize::MAX, |ch| {
                upto = ch.max_seq.map_or(0, |s| s + 1);
                records.extend(ch.values.into_iter().map(|v| (0, v)));
                Ok(())
            })
            .unwrap();
        let tags = compute_tags(sk, kind, &records).unwrap();
        let f = EpochFilter::build(&tags, FP, &seed_for(&pk.to_bytes())).unwrap();
        (f.as_bytes().to_vec(), tags.len() as u64, upto)
    }

    fn check(kind: &str, values: &[String], deleted: &[String], chunks: &[usize]) {
        let (_dir, store) = store_with("c", kind, values, deleted);
        let (sk, pk) = oprf::generate_key_pair(&mut rand::rngs::OsRng);
        let (bytes, n, upto) = whole_set(&sk, &pk, kind, &store, "c");
        let key = signing();
        let p = BuildParams {
            node: "th",
            signing: &key,
            fp_rate: FP,
            validity_secs: 3600,
            now: 1_700_000_000,
        };
        let batch = store.begin().unwrap();
        for &chunk in chunks {
            let (stored, holder) = build_with_key(
                &batch,
                "c",
                kind,
                NewKey {
                    epoch: 1,
                    sk: sk.clone(),
                    pk,
                },
                &p,
                chunk,
            )
            .unwrap();
            assert_eq!(
                *holder.filter, bytes,
                "{kind}: filter bytes, chunks of {chunk}"
            );
            assert_eq!(
                holder.descriptor.record_count, n,
                "{kind}: items, chunks of {chunk}"
            );
            assert_eq!(stored.built_upto_seq, upto, "{kind}: built_upto_seq");
            assert_eq!(*holder.descriptor.filter_digest, Sha256::digest(&bytes)[..]);
            let pub_key: [u8; 32] = key.public_key().as_ref().try_into().unwrap();
            let d = holder.signed.verify(&pub_key, "th", "c", p.now).unwrap();
            assert_eq!(d.record_count, n);
        }
    }

    #[test]
    fn streamed_build_gives_the_filter_of_the_whole_set() {
        let emails: Vec<String> = (0..1000).map(|i| format!("user{i}@example.org")).collect();
        let deleted: Vec<String> = ["user999@example.org", "user3@example.org"]
            .map(String::from)
            .to_vec();
        // 998 records: chunks of one, a divisor, a chunk boundary one short of and exactly at
        // the end, one chunk, and the production size.
        check(
            "email",
            &emails,
            &deleted,
            &[1, 7, 499, 997, 998, 999, BUILD_CHUNK],
        );
        check("email", &[], &[], &[1, BUILD_CHUNK]);
    }

    #[test]
    fn streamed_build_counts_persons_by_distinct_keys() {
        let opts = Options::default();
        // Pairs of persons share name and date of birth (so match keys across records, some
        // across chunk boundaries) but differ in their passports.
        let persons: Vec<String> = (0..120)
            .map(|i| {
                let raw = format!(
                    r#"{{"name":"Somchai Jaidee{}","dob":"1985-03-{:02}","passport":"THA:AA{:07}","nationality":"TH"}}"#,
                    ["", " Junior", " Senior"][(i / 2) % 3],
                    1 + (i / 6) % 28,
                    i
                );
                ident::canonicalize(Kind::Person, &raw, &opts).unwrap().into_value()
            })
            .collect();
        let keys: usize = persons
            .iter()
            .map(|v| items_of("person", v).unwrap().len())
            .sum();
        let (_dir, store) = store_with("p", "person", &persons, &[]);
        let (sk, pk) = oprf::generate_key_pair(&mut rand::rngs::OsRng);
        let (_, distinct, _) = whole_set(&sk, &pk, "person", &store, "p");
        assert!(
            (distinct as usize) < keys,
            "the persons share no key: {distinct} of {keys}"
        );
        check("person", &persons, &[], &[1, 5, 64, 119, 120, BUILD_CHUNK]);
    }
}
