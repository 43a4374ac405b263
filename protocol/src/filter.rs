//! The Bloom filter of an epoch's tags, and the hash chain over delta tags.
//!
//! The filter is the `bloomfilter` crate's structure (SipHash-1-3, double hashing), with a
//! seed fixed per epoch and stated in the signed descriptor. Items are fed to the hasher as
//! their 32 raw bytes only (no length prefix, no `Hash` derive), so the bit positions are
//! platform-independent and another implementation can reproduce them from
//! `spec/PROTOCOL.md` alone. The wire encoding is the crate's own byte layout:
//!
//! ```text
//! version (1 byte, = 1) | bitmap length in bytes (u64 LE) | hash count k (u32 LE) | seed (32) | bitmap
//! ```
//!
//! Records added after the epoch was built are not inserted into the filter: they travel as a
//! list of tags (a *delta*) whose running SHA-256 chain is signed in the descriptor. That keeps
//! the filter at its optimal size and lets a querier fetch only what is new.

use std::hash::{Hash, Hasher};

use bloomfilter::Bloom;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;
use sha2::{Digest, Sha256};

use crate::error::VerifyError;
use crate::oprf::Tag;

/// Bytes of the filter header before the bitmap.
pub const FILTER_HEADER_LEN: usize = 1 + 8 + 4 + 32;
/// Most hash functions a filter may declare (a false-positive rate of 1e-15 needs 50).
pub const MAX_HASHES: u32 = 64;
/// Largest bitmap accepted from a partner: 1 GiB (about 150 million records at 1e-9).
pub const MAX_BITMAP_BYTES: u64 = 1 << 30;
/// Fewest records a filter is sized for. The crate derives its `k` bit positions by double
/// hashing, `h0 + i·h1`, modulo a bitmap size that is a multiple of 8. In a small bitmap an
/// item whose `h1` shares a large factor with that size gets only a few distinct positions,
/// and such items are false positives far more often than the stated rate (about one query in
/// thirty of 150 items hit falsely against a 9-record filter). Sizing every filter for at
/// least this many records makes those cases vanishingly rare; it costs about 5 KiB at 1e-9.
pub const MIN_FILTER_CAPACITY: u64 = 1024;

/// The capacity an epoch's filter is sized for: its record count, at least
/// [`MIN_FILTER_CAPACITY`].
pub fn filter_capacity(records: u64) -> u64 {
    records.max(MIN_FILTER_CAPACITY)
}

/// Domain separation for the seed derived from an epoch's public key.
pub const SEED_DST: &[u8] = b"CordonBloomSeed-v1";
/// Domain separation for the delta hash chain.
pub const DELTA_DST: &[u8] = b"CordonDelta-v1";

/// Filter parameters as stated in the signed epoch descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterParams {
    /// Length of the bitmap in bytes.
    pub bitmap_bytes: u64,
    /// Number of hash functions (k).
    pub hashes: u32,
    /// SipHash keys: the first 16 bytes key hash 0, the last 16 key hash 1.
    pub seed: ByteArray<32>,
    /// Number of tags the filter was sized for (and holds).
    pub capacity: u64,
    /// Target false-positive rate the filter was sized for.
    pub fp_rate: f64,
}

/// A tag as the Bloom filter hashes it: its raw bytes, nothing else.
struct RawTag([u8; 32]);

impl Hash for RawTag {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Deliberately not `self.0.hash(state)`: that would prepend a platform-sized length.
        state.write(&self.0);
    }
}

/// The seed of an epoch's filter, derived from its public key so both sides can recompute it.
pub fn seed_for(public_key: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SEED_DST);
    h.update(public_key);
    h.finalize().into()
}

/// Extends the delta chain by `tags`: `c = SHA-256(DELTA_DST || c || tag)` for each tag in order.
pub fn chain_delta(mut chain: [u8; 32], tags: &[Tag]) -> [u8; 32] {
    for tag in tags {
        let mut h = Sha256::new();
        h.update(DELTA_DST);
        h.update(chain);
        h.update(tag);
        chain = h.finalize().into();
    }
    chain
}

/// An epoch's Bloom filter over tags.
pub struct EpochFilter {
    bloom: Bloom<RawTag>,
}

impl std::fmt::Debug for EpochFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochFilter")
            .field("bits", &self.bloom.len())
            .field("hashes", &self.bloom.number_of_hash_functions())
            .finish()
    }
}

impl EpochFilter {
    /// An empty filter sized for `capacity` tags at false-positive rate `fp_rate`.
    pub fn new(capacity: u64, fp_rate: f64, seed: &[u8; 32]) -> Result<Self, String> {
        if !(fp_rate > 0.0 && fp_rate < 0.5) {
            return Err(format!(
                "false-positive rate {fp_rate} is out of range; use a value such as 1e-9"
            ));
        }
        // The crate asserts a non-zero count; an empty collection still gets a (tiny) filter.
        let n = usize::try_from(capacity.max(1)).map_err(|_| "capacity too large".to_string())?;
        let bloom =
            Bloom::new_for_fp_rate_with_seed(n, fp_rate, seed).map_err(|e| e.to_string())?;
        Ok(EpochFilter { bloom })
    }

    /// Builds a filter holding exactly `tags`, sized for [`filter_capacity`] of their number.
    pub fn build(tags: &[Tag], fp_rate: f64, seed: &[u8; 32]) -> Result<Self, String> {
        let mut f = EpochFilter::new(filter_capacity(tags.len() as u64), fp_rate, seed)?;
        for t in tags {
            f.insert(t);
        }
        Ok(f)
    }

    /// Adds a tag.
    pub fn insert(&mut self, tag: &Tag) {
        self.bloom.set(&RawTag(*tag));
    }

    /// Whether the tag may be in the set (false positives at the stated rate, never false negatives).
    pub fn contains(&self, tag: &Tag) -> bool {
        self.bloom.check(&RawTag(*tag))
    }

    /// Parameters to state in the descriptor.
    pub fn params(&self, capacity: u64, fp_rate: f64) -> FilterParams {
        FilterParams {
            bitmap_bytes: self.bloom.len() / 8,
            hashes: self.bloom.number_of_hash_functions(),
            seed: ByteArray::new(self.bloom.seed()),
            capacity,
            fp_rate,
        }
    }

    /// The wire encoding.
    pub fn as_bytes(&self) -> &[u8] {
        self.bloom.as_slice()
    }

    /// The wire encoding, without copying it.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bloom.into_bytes()
    }

    /// SHA-256 of the wire encoding, as signed in the descriptor.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.as_bytes()).into()
    }

    /// Checks that signed parameters are the ones an honest holder derives: the seed from the
    /// epoch key, the bitmap size and hash count from the crate's sizing formulas for the
    /// stated capacity and rate, and a rate no weaker than `max_fp_rate`. A holder cannot
    /// then publish a weaker filter than it claims.
    pub fn check_params(
        params: &FilterParams,
        public_key: &[u8; 32],
        max_fp_rate: f64,
    ) -> Result<(), VerifyError> {
        let bad = |s: String| Err(VerifyError::FilterMismatch(s));
        // Before anything is sized from them: a huge signed capacity must not make the querier
        // reserve memory it does not have.
        if params.bitmap_bytes == 0
            || params.bitmap_bytes > MAX_BITMAP_BYTES
            || params.capacity > MAX_BITMAP_BYTES
        {
            return bad(format!(
                "a bitmap of {} bytes for {} records is out of range",
                params.bitmap_bytes, params.capacity
            ));
        }
        if params.seed[..] != seed_for(public_key) {
            return bad("the seed is not derived from the epoch's public key".into());
        }
        if !(params.fp_rate > 0.0 && params.fp_rate <= max_fp_rate) {
            return bad(format!(
                "false-positive rate {} is weaker than the accepted {max_fp_rate}",
                params.fp_rate
            ));
        }
        let n = params.capacity.max(1);
        let Ok(n_usize) = usize::try_from(n) else {
            return bad("capacity too large".into());
        };
        let bytes = Bloom::<RawTag>::compute_bitmap_size(n_usize, params.fp_rate) as u64;
        if params.bitmap_bytes != bytes {
            return bad(format!(
                "{} bitmap bytes declared, {bytes} expected for {n} records at {}",
                params.bitmap_bytes, params.fp_rate
            ));
        }
        let k = ((bytes * 8) as f64 / n as f64 * std::f64::consts::LN_2)
            .round()
            .max(1.0) as u32;
        if params.hashes != k {
            return bad(format!(
                "{} hash functions declared, {k} expected",
                params.hashes
            ));
        }
        Ok(())
    }

    /// Decodes a filter received from a partner, checking it against the signed parameters
    /// and digest before trusting any of it.
    pub fn from_bytes(
        bytes: Vec<u8>,
        params: &FilterParams,
        digest: &[u8; 32],
    ) -> Result<Self, VerifyError> {
        let mismatch = |s: String| Err(VerifyError::FilterMismatch(s));
        if params.hashes == 0 || params.hashes > MAX_HASHES {
            return mismatch(format!(
                "{} hash functions declared (1..={MAX_HASHES} allowed)",
                params.hashes
            ));
        }
        if params.bitmap_bytes == 0 || params.bitmap_bytes > MAX_BITMAP_BYTES {
            return mismatch(format!("bitmap of {} bytes declared", params.bitmap_bytes));
        }
        let expected = FILTER_HEADER_LEN as u64 + params.bitmap_bytes;
        if bytes.len() as u64 != expected {
            return mismatch(format!(
                "{} bytes received, {expected} declared",
                bytes.len()
            ));
        }
        let got: [u8; 32] = Sha256::digest(&bytes).into();
        if &got != digest {
            return mismatch("digest differs from the signed one".into());
        }
        // The header must restate the signed parameters; otherwise the crate would trust it.
        let header_ok = bytes[0] == 1
            && bytes[1..9] == params.bitmap_bytes.to_le_bytes()
            && bytes[9..13] == params.hashes.to_le_bytes()
            && bytes[13..45] == params.seed[..];
        if !header_ok {
            return mismatch("header disagrees with the signed parameters".into());
        }
        let bloom =
            Bloom::from_bytes(bytes).map_err(|e| VerifyError::FilterMismatch(e.to_string()))?;
        Ok(EpochFilter { bloom })
    }

    /// Bits in the filter.
    pub fn bits(&self) -> u64 {
        self.bloom.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(i: u64) -> Tag {
        Sha256::digest(i.to_le_bytes()).into()
    }

    #[test]
    fn no_false_negatives_and_round_trip() {
        let tags: Vec<Tag> = (0..5000).map(tag).collect();
        let seed = seed_for(&[7; 32]);
        let f = EpochFilter::build(&tags, 1e-9, &seed).unwrap();
        assert!(tags.iter().all(|t| f.contains(t)));
        let outside = (5000..105_000).filter(|i| f.contains(&tag(*i))).count();
        assert_eq!(outside, 0, "false positives at 1e-9 over 100k probes");
        let params = f.params(5000, 1e-9);
        let g = EpochFilter::from_bytes(f.as_bytes().to_vec(), &params, &f.digest()).unwrap();
        assert!(tags.iter().all(|t| g.contains(t)));
    }

    #[test]
    fn tiny_collections_keep_the_stated_rate() {
        // Nine records, a million probes: with a filter sized for nine, double hashing in a
        // 392-bit map gave hundreds of false positives here; sized for MIN_FILTER_CAPACITY, none.
        let tags: Vec<Tag> = (0..9).map(tag).collect();
        let f = EpochFilter::build(&tags, 1e-9, &seed_for(&[4; 32])).unwrap();
        assert!(tags.iter().all(|t| f.contains(t)));
        let fp = (1000..1_001_000).filter(|i| f.contains(&tag(*i))).count();
        assert_eq!(fp, 0, "false positives in a tiny filter");
        let small = EpochFilter::new(9, 1e-9, &seed_for(&[4; 32])).unwrap();
        let mut small = small;
        tags.iter().for_each(|t| small.insert(t));
        let fp_small = (1000..1_001_000)
            .filter(|i| small.contains(&tag(*i)))
            .count();
        assert!(
            fp_small > 10,
            "the degenerate case this guards against: {fp_small}"
        );
    }

    #[test]
    fn size_is_near_optimal() {
        let n = 100_000u64;
        let f = EpochFilter::new(n, 1e-9, &[1; 32]).unwrap();
        let optimal = -(n as f64) * (1e-9f64).ln() / (2f64.ln().powi(2));
        let ratio = f.bits() as f64 / optimal;
        assert!((1.0..1.001).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn tampered_filters_rejected() {
        let tags: Vec<Tag> = (0..100).map(tag).collect();
        let f = EpochFilter::build(&tags, 1e-6, &seed_for(&[1; 32])).unwrap();
        let params = f.params(100, 1e-6);
        let digest = f.digest();
        let mut flipped = f.as_bytes().to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(EpochFilter::from_bytes(flipped, &params, &digest).is_err());
        let mut short = f.as_bytes().to_vec();
        short.pop();
        assert!(EpochFilter::from_bytes(short, &params, &digest).is_err());
        let mut p2 = params.clone();
        p2.hashes = 1000;
        assert!(EpochFilter::from_bytes(f.as_bytes().to_vec(), &p2, &digest).is_err());
        let mut p3 = params.clone();
        p3.seed = ByteArray::new([9; 32]);
        assert!(EpochFilter::from_bytes(f.as_bytes().to_vec(), &p3, &digest).is_err());
    }

    #[test]
    fn bit_positions_are_the_specified_ones() {
        // Known answer: the worked example of spec/PROTOCOL.md (also in spec/vectors/cordon.json).
        let mut f = EpochFilter::new(1, 0.01, &[0u8; 32]).unwrap();
        f.insert(&[0u8; 32]);
        let bytes = f.as_bytes();
        assert_eq!(bytes[0], 1);
        assert_eq!(u64::from_le_bytes(bytes[1..9].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(bytes[9..13].try_into().unwrap()), 11);
        // Recompute the positions by hand with SipHash-1-3 as the spec describes.
        let h = |key: &[u8]| {
            let mut s = bloomfilter::reexports::siphasher::sip::SipHasher13::new_with_key(
                key.try_into().unwrap(),
            );
            s.write(&[0u8; 32]);
            s.finish()
        };
        let (h0, h1) = (h(&[0u8; 16]), h(&[0u8; 16]));
        let mut expect = [0u8; 2];
        for i in 0..11u64 {
            let hi = match i {
                0 => h0,
                1 => h1,
                _ => h0.wrapping_add(i.wrapping_mul(h1)) % 0xFFFF_FFFF_FFFF_FFC5,
            };
            let bit = (hi % 16) as usize;
            expect[bit / 8] |= 1 << (bit % 8);
        }
        assert_eq!(&bytes[45..], &expect);
    }

    #[test]
    fn honest_parameters_pass_and_weakened_ones_fail() {
        let pk = [9u8; 32];
        for n in [0u64, 1, 3, 1000, 123_457] {
            let f = EpochFilter::new(n, 1e-9, &seed_for(&pk)).unwrap();
            EpochFilter::check_params(&f.params(n, 1e-9), &pk, 1e-6).unwrap();
        }
        let f = EpochFilter::new(1000, 1e-9, &seed_for(&pk)).unwrap();
        let good = f.params(1000, 1e-9);
        let mut p = good.clone();
        p.seed = ByteArray::new([0; 32]);
        assert!(EpochFilter::check_params(&p, &pk, 1e-6).is_err());
        let mut p = good.clone();
        p.bitmap_bytes /= 2;
        assert!(EpochFilter::check_params(&p, &pk, 1e-6).is_err());
        let mut p = good.clone();
        p.hashes = 1;
        assert!(EpochFilter::check_params(&p, &pk, 1e-6).is_err());
        let weak = EpochFilter::new(1000, 0.1, &seed_for(&pk)).unwrap();
        assert!(EpochFilter::check_params(&weak.params(1000, 0.1), &pk, 1e-6).is_err());
    }

    #[test]
    fn delta_chain_is_order_sensitive() {
        let a = chain_delta([0; 32], &[tag(1), tag(2)]);
        let b = chain_delta([0; 32], &[tag(2), tag(1)]);
        assert_ne!(a, b);
        assert_eq!(a, chain_delta(chain_delta([0; 32], &[tag(1)]), &[tag(2)]));
    }
}
