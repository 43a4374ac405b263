//! A partner's epoch as a querier holds it: the verified descriptor, filter and delta, and the
//! form it is stored in (spec/PROTOCOL.md §6.2).
//!
//! The cached epoch is the querier's memory of what the partner signed: the sync checks every
//! new descriptor against it ([`crate::session::sync::decide`]). A cache read back from storage
//! is checked again (filter against the stored descriptor, delta tags whole) and dropped by the
//! caller if it does not check; it is never trusted blindly.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::descriptor::{EpochDescriptor, SignedDescriptor};
use crate::error::{VerifyError, WireError};
use crate::filter::EpochFilter;
use crate::messages::{pack, unpack};
use crate::oprf::Tag;

/// A partner's epoch as the querier holds it: verified descriptor, filter and delta.
pub struct PartnerEpoch {
    /// The signed descriptor the cache matches.
    pub signed: SignedDescriptor,
    /// The same, decoded and verified.
    pub descriptor: EpochDescriptor,
    /// The filter.
    pub filter: EpochFilter,
    /// Delta tags, for lookups.
    pub delta: HashSet<Tag>,
    /// Delta tags in order (to persist and extend the chain).
    pub delta_list: Vec<Tag>,
}

impl std::fmt::Debug for PartnerEpoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerEpoch")
            .field("node", &self.descriptor.node)
            .field("collection", &self.descriptor.collection)
            .field("epoch", &self.descriptor.epoch)
            .field("delta", &self.delta_list.len())
            .finish_non_exhaustive()
    }
}

/// A partner's epoch as a querier stores it (CBOR in the node's database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedPartnerEpoch {
    /// The partner's signed descriptor the cache matches.
    pub descriptor: SignedDescriptor,
    /// The filter's wire bytes.
    pub filter: ByteBuf,
    /// Delta tags received so far, packed.
    pub delta: ByteBuf,
}

/// A stored cache that no longer checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The stored bytes, descriptor or delta do not decode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The stored filter does not match the stored descriptor.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl PartnerEpoch {
    /// An epoch of a verified descriptor, its checked filter and its delta tags in order.
    pub fn new(
        signed: SignedDescriptor,
        descriptor: EpochDescriptor,
        filter: EpochFilter,
        delta_list: Vec<Tag>,
    ) -> Self {
        PartnerEpoch {
            signed,
            descriptor,
            filter,
            delta: delta_list.iter().copied().collect(),
            delta_list,
        }
    }

    /// Whether a tag is held (filter or delta).
    pub fn contains(&self, tag: &Tag) -> bool {
        self.delta.contains(tag) || self.filter.contains(tag)
    }

    /// How far this state goes: (epoch, delta count). A driver that caches across concurrent
    /// queries never replaces a state by one that goes less far (that would also weaken the
    /// rollback checks).
    pub fn version(&self) -> (u64, u64) {
        (self.descriptor.epoch, self.descriptor.delta_count)
    }

    /// For the store.
    pub fn to_cached(&self) -> CachedPartnerEpoch {
        CachedPartnerEpoch {
            descriptor: self.signed.clone(),
            filter: ByteBuf::from(self.filter.as_bytes().to_vec()),
            delta: ByteBuf::from(pack(&self.delta_list)),
        }
    }

    /// From the store; re-checks the filter against the stored descriptor (no signature check:
    /// it was verified before it was stored, and the store is the node's own).
    pub fn from_cached(c: CachedPartnerEpoch) -> Result<Self, CacheError> {
        let descriptor = c.descriptor.descriptor_unverified()?;
        let filter = EpochFilter::from_bytes(
            c.filter.into_vec(),
            &descriptor.filter,
            &descriptor.filter_digest,
        )?;
        let delta_list = unpack("delta", &c.delta)?;
        Ok(PartnerEpoch::new(
            c.descriptor,
            descriptor,
            filter,
            delta_list,
        ))
    }
}

impl CachedPartnerEpoch {
    /// The CBOR encoding (no frame header) the node's store keeps.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).map_err(|e| WireError::Encode(e.to_string()))?;
        Ok(out)
    }

    /// Decodes [`CachedPartnerEpoch::to_bytes`], rejecting trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        crate::frame::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::seed_for;
    use crate::session::testing::signed_epoch;

    #[test]
    fn round_trips_through_the_store_and_refuses_a_damaged_one() {
        let tags: Vec<Tag> = (0..5u8).map(|i| [i; 32]).collect();
        let (signed, d, filter) = signed_epoch(&tags[..3], &tags[3..]);
        let e = PartnerEpoch::new(signed, d, filter, tags[3..].to_vec());
        assert!(tags.iter().all(|t| e.contains(t)));
        assert!(!e.contains(&[9; 32]));
        let bytes = e.to_cached().to_bytes().unwrap();
        let back =
            PartnerEpoch::from_cached(CachedPartnerEpoch::from_bytes(&bytes).unwrap()).unwrap();
        assert_eq!(back.delta_list, e.delta_list);
        assert_eq!(back.version(), (e.descriptor.epoch, 2));
        assert!(CachedPartnerEpoch::from_bytes(&[bytes.as_slice(), &[0]].concat()).is_err());
        let mut flipped = e.to_cached();
        let last = flipped.filter.len() - 1;
        flipped.filter[last] ^= 1;
        assert!(matches!(
            PartnerEpoch::from_cached(flipped),
            Err(CacheError::Verify(_))
        ));
        let mut ragged = e.to_cached();
        ragged.delta.push(0);
        assert!(matches!(
            PartnerEpoch::from_cached(ragged),
            Err(CacheError::Wire(_))
        ));
        assert_eq!(
            *e.descriptor.filter.seed,
            seed_for(&e.descriptor.public_key)
        );
    }
}
