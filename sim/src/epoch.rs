//! A holder's collection in memory: its records, and its current epoch built as the node
//! builds one (spec/PROTOCOL.md §6.3): a random key, the tags of every record, their filter
//! and a signed descriptor; records added later go to the delta (re-signed); past the rebuild
//! threshold, on rotation and on deletion, a new epoch is built.

use std::sync::Arc;

use rand_core::{CryptoRng, RngCore};
use ring::signature::Ed25519KeyPair;
use serde_bytes::ByteArray;

use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor, DESCRIPTOR_VERSION};
use cordon_protocol::filter::{chain_delta, filter_capacity, seed_for, EpochFilter};
use cordon_protocol::ident::{self, Kind, Options};
use cordon_protocol::oprf::{self, PublicKey, SecretKey, Tag};

/// How a holder builds its epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSettings {
    /// Filter false-positive rate (`epochs.fp_rate`).
    pub fp_rate: f64,
    /// Descriptor validity in seconds (`epochs.descriptor_validity`).
    pub validity_secs: u64,
    /// Delta records allowed per filter record before a rebuild (`rebuild_delta_fraction`).
    pub rebuild_fraction: f64,
}

impl Default for EpochSettings {
    fn default() -> Self {
        EpochSettings {
            fp_rate: 1e-9,
            validity_secs: 7 * 86_400,
            rebuild_fraction: 0.5,
        }
    }
}

/// One epoch of a collection.
pub struct HeldEpoch {
    /// Its number.
    pub number: u64,
    /// The OPRF key.
    pub sk: SecretKey,
    /// Its public key.
    pub pk: PublicKey,
    /// The filter's wire bytes.
    pub filter: Vec<u8>,
    /// Delta tags in order.
    pub delta: Vec<Tag>,
    /// The descriptor served.
    pub descriptor: EpochDescriptor,
    /// The same, signed.
    pub signed: SignedDescriptor,
}

/// Why a collection could not be built or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    /// A value is not a valid identifier of the collection's kind.
    #[error("value {index} is not a valid `{kind}` identifier: {reason}")]
    Invalid {
        /// Its position in the list given.
        index: usize,
        /// The collection's kind.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// The simulator holds identifiers only.
    #[error("the simulator holds identifiers, not persons")]
    Persons,
    /// Tags, the filter or the signature failed.
    #[error("building the epoch: {0}")]
    Build(String),
}

/// A collection a simulated holder holds.
pub struct HeldCollection {
    node: String,
    name: String,
    kind: Kind,
    settings: EpochSettings,
    records: Vec<String>,
    epoch: Arc<HeldEpoch>,
    /// Follow-up resolutions (each a scan of every record).
    scans: std::cell::Cell<u64>,
}

fn input(kind: Kind, value: &str) -> Vec<u8> {
    format!("{}:{value}", kind.as_str()).into_bytes()
}

fn tags_of(sk: &SecretKey, kind: Kind, values: &[String]) -> Result<Vec<Tag>, EpochError> {
    let inputs: Vec<Vec<u8>> = values.iter().map(|v| input(kind, v)).collect();
    let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    oprf::holder_tags(sk, &refs).map_err(|e| EpochError::Build(e.to_string()))
}

/// The canonical forms of `values` as `kind`, each once, in order.
pub fn canonical(kind: Kind, values: &[String]) -> Result<Vec<String>, EpochError> {
    if kind == Kind::Person {
        return Err(EpochError::Persons);
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (index, raw) in values.iter().enumerate() {
        let c = ident::canonicalize(kind, raw, &Options::default()).map_err(|e| {
            EpochError::Invalid {
                index,
                kind: kind.as_str(),
                reason: e.redacted(raw).to_string(),
            }
        })?;
        if !out.iter().any(|v| v == c.value()) {
            out.push(c.into_value());
        }
    }
    Ok(out)
}

impl HeldCollection {
    /// Epoch 1 of `name` over `values` (canonicalised as `kind`).
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        node: &str,
        name: &str,
        kind: Kind,
        values: &[String],
        settings: EpochSettings,
        key: &Ed25519KeyPair,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Self, EpochError> {
        let records = canonical(kind, values)?;
        let shape = Shape {
            node,
            name,
            kind,
            settings: &settings,
        };
        let epoch = Arc::new(shape.epoch(&records, 1, key, now, rng)?);
        Ok(HeldCollection {
            node: node.to_string(),
            name: name.to_string(),
            kind,
            settings,
            records,
            epoch,
            scans: Default::default(),
        })
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its records (canonical values), in the order they were added.
    pub fn records(&self) -> &[String] {
        &self.records
    }

    /// The current epoch.
    pub fn epoch(&self) -> &Arc<HeldEpoch> {
        &self.epoch
    }

    /// How many times a follow-up's references were resolved (every record's tag recomputed).
    pub fn scans(&self) -> u64 {
        self.scans.get()
    }

    /// A new epoch `number` over every record.
    fn new_epoch(
        &self,
        number: u64,
        key: &Ed25519KeyPair,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<HeldEpoch, EpochError> {
        let shape = Shape {
            node: &self.node,
            name: &self.name,
            kind: self.kind,
            settings: &self.settings,
        };
        shape.epoch(&self.records, number, key, now, rng)
    }

    /// Adds `values`: new records go to the delta and the descriptor is re-signed, or, past
    /// the rebuild threshold, the next epoch is built over every record. Returns how many
    /// records were new.
    pub fn add(
        &mut self,
        values: &[String],
        key: &Ed25519KeyPair,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<usize, EpochError> {
        let new: Vec<String> = canonical(self.kind, values)?
            .into_iter()
            .filter(|v| !self.records.contains(v))
            .collect();
        if new.is_empty() {
            return Ok(0);
        }
        self.records.extend(new.iter().cloned());
        let e = &self.epoch;
        let m = new.len() as u64;
        let allowed = self.settings.rebuild_fraction * e.descriptor.record_count.max(1) as f64;
        if (e.descriptor.delta_count + m) as f64 > allowed {
            self.epoch = Arc::new(self.new_epoch(e.number + 1, key, now, rng)?);
            return Ok(new.len());
        }
        let tags = tags_of(&e.sk, self.kind, &new)?;
        let mut descriptor = e.descriptor.clone();
        descriptor.delta_count += m;
        descriptor.delta_chain = ByteArray::new(chain_delta(*e.descriptor.delta_chain, &tags));
        descriptor.issued_at = now;
        descriptor.not_after = now + self.settings.validity_secs;
        let mut delta = e.delta.clone();
        delta.extend_from_slice(&tags);
        self.epoch = Arc::new(HeldEpoch {
            number: e.number,
            sk: e.sk.clone(),
            pk: e.pk,
            filter: e.filter.clone(),
            delta,
            signed: sign(&descriptor, key)?,
            descriptor,
        });
        Ok(new.len())
    }

    /// Builds the next epoch over every record (a new key: rotation).
    pub fn rotate(
        &mut self,
        key: &Ed25519KeyPair,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(), EpochError> {
        self.epoch = Arc::new(self.new_epoch(self.epoch.number + 1, key, now, rng)?);
        Ok(())
    }

    /// Deletes `values` and, if any was held, rotates the key at once.
    pub fn delete(
        &mut self,
        values: &[String],
        key: &Ed25519KeyPair,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<usize, EpochError> {
        let gone = canonical(self.kind, values)?;
        let before = self.records.len();
        self.records.retain(|r| !gone.contains(r));
        let removed = before - self.records.len();
        if removed > 0 {
            self.rotate(key, now, rng)?;
        }
        Ok(removed)
    }

    /// Re-signs the current epoch's descriptor with a fresh validity window.
    pub fn resign(&mut self, key: &Ed25519KeyPair, now: u64) -> Result<(), EpochError> {
        let e = &self.epoch;
        let mut descriptor = e.descriptor.clone();
        descriptor.issued_at = now;
        descriptor.not_after = now + self.settings.validity_secs;
        self.epoch = Arc::new(HeldEpoch {
            number: e.number,
            sk: e.sk.clone(),
            pk: e.pk,
            filter: e.filter.clone(),
            delta: e.delta.clone(),
            signed: sign(&descriptor, key)?,
            descriptor,
        });
        Ok(())
    }

    /// Per wanted tag, the records whose tag under `epoch`'s key it is (a follow-up's
    /// resolution: every record's tag recomputed).
    pub fn resolve(
        &self,
        epoch: &HeldEpoch,
        wanted: &[Tag],
    ) -> Result<Vec<Vec<String>>, EpochError> {
        self.scans.set(self.scans.get() + 1);
        let tags = tags_of(&epoch.sk, self.kind, &self.records)?;
        Ok(wanted
            .iter()
            .map(|w| {
                tags.iter()
                    .zip(&self.records)
                    .filter(|(t, _)| *t == w)
                    .map(|(_, r)| r.clone())
                    .collect()
            })
            .collect())
    }
}

fn sign(d: &EpochDescriptor, key: &Ed25519KeyPair) -> Result<SignedDescriptor, EpochError> {
    SignedDescriptor::sign(d, key).map_err(|e| EpochError::Build(e.to_string()))
}

/// What every epoch of a collection shares.
struct Shape<'a> {
    node: &'a str,
    name: &'a str,
    kind: Kind,
    settings: &'a EpochSettings,
}

impl Shape<'_> {
    /// Epoch `number` over `records`.
    fn epoch(
        &self,
        records: &[String],
        number: u64,
        key: &Ed25519KeyPair,
        now: u64,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<HeldEpoch, EpochError> {
        let (sk, pk) = oprf::generate_key_pair(rng);
        let tags = tags_of(&sk, self.kind, records)?;
        let fp = self.settings.fp_rate;
        let filter =
            EpochFilter::build(&tags, fp, &seed_for(&pk.to_bytes())).map_err(EpochError::Build)?;
        let n = tags.len() as u64;
        let descriptor = EpochDescriptor {
            version: DESCRIPTOR_VERSION,
            node: self.node.to_string(),
            collection: self.name.to_string(),
            kind: self.kind.as_str().to_string(),
            epoch: number,
            public_key: ByteArray::new(pk.to_bytes()),
            record_count: n,
            filter: filter.params(filter_capacity(n), fp),
            filter_digest: ByteArray::new(filter.digest()),
            delta_count: 0,
            delta_chain: ByteArray::new([0; 32]),
            issued_at: now,
            not_after: now + self.settings.validity_secs,
        };
        let signed = sign(&descriptor, key)?;
        Ok(HeldEpoch {
            number,
            sk,
            pk,
            filter: filter.into_bytes(),
            delta: Vec::new(),
            descriptor,
            signed,
        })
    }
}
