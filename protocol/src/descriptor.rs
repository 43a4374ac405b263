//! The signed epoch descriptor: what a holder commits to for one collection and epoch.
//!
//! A querier trusts a partner's filter, delta and OPRF answers only as far as they match a
//! descriptor signed with that partner's Ed25519 key, which the querier pinned when it added
//! the partner. The descriptor is re-signed whenever records are added to the epoch (the
//! delta count and chain change); the key, filter and epoch number never change within an
//! epoch.
//!
//! Signature: Ed25519 over `DESCRIPTOR_CONTEXT || body`, where `body` is the CBOR encoding of
//! [`EpochDescriptor`] carried verbatim in [`SignedDescriptor::body`], so the verifier checks
//! exactly the bytes that were signed and never re-encodes.

use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

use crate::error::{VerifyError, WireError};
use crate::filter::FilterParams;

/// Context prefix of every descriptor signature (domain separation from other signatures).
pub const DESCRIPTOR_CONTEXT: &[u8] = b"CordonEpochDescriptor-v1\0";
/// The descriptor format version this build writes and accepts.
pub const DESCRIPTOR_VERSION: u32 = 1;

/// One collection's state for one epoch, as the holder commits to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochDescriptor {
    /// Format version, [`DESCRIPTOR_VERSION`].
    pub version: u32,
    /// The holder node's name.
    pub node: String,
    /// Collection name.
    pub collection: String,
    /// Identifier kind of the collection (`phone`, `email`, …; see `spec/IDENTIFIERS.md`).
    pub kind: String,
    /// Epoch number; a new epoch means a new OPRF key.
    pub epoch: u64,
    /// The epoch's OPRF public key (compressed ristretto255).
    pub public_key: ByteArray<32>,
    /// Records whose tags are in the filter.
    pub record_count: u64,
    /// Filter parameters.
    pub filter: FilterParams,
    /// SHA-256 of the filter's wire encoding.
    pub filter_digest: ByteArray<32>,
    /// Tags added after the build, in the delta.
    pub delta_count: u64,
    /// Hash chain over the delta tags (see [`crate::filter::chain_delta`]), from 32 zero bytes.
    pub delta_chain: ByteArray<32>,
    /// When this descriptor was signed (Unix seconds).
    pub issued_at: u64,
    /// Until when a querier may use it (Unix seconds).
    pub not_after: u64,
}

/// A descriptor and the holder's signature over its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDescriptor {
    /// CBOR encoding of [`EpochDescriptor`].
    pub body: ByteBuf,
    /// Ed25519 signature over `DESCRIPTOR_CONTEXT || body`.
    pub signature: ByteArray<64>,
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DESCRIPTOR_CONTEXT.len() + body.len());
    m.extend_from_slice(DESCRIPTOR_CONTEXT);
    m.extend_from_slice(body);
    m
}

impl SignedDescriptor {
    /// Signs `desc` with the node's Ed25519 key.
    pub fn sign(desc: &EpochDescriptor, key: &Ed25519KeyPair) -> Result<Self, WireError> {
        let mut body = Vec::new();
        ciborium::into_writer(desc, &mut body).map_err(|e| WireError::Encode(e.to_string()))?;
        let sig = key.sign(&signed_message(&body));
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig.as_ref());
        Ok(SignedDescriptor {
            body: ByteBuf::from(body),
            signature: ByteArray::new(signature),
        })
    }

    /// Decodes the body without checking the signature (for a node reading its own store).
    pub fn descriptor_unverified(&self) -> Result<EpochDescriptor, WireError> {
        crate::frame::decode(&self.body)
    }

    /// Checks the signature with the pinned key, then that the descriptor is the one asked
    /// for (`node`, `collection`) and valid at `now` (Unix seconds).
    pub fn verify(
        &self,
        public_key: &[u8; 32],
        node: &str,
        collection: &str,
        now: u64,
    ) -> Result<EpochDescriptor, VerifyError> {
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(&signed_message(&self.body), &self.signature[..])
            .map_err(|_| VerifyError::DescriptorSignature {
                node: node.to_string(),
            })?;
        let d: EpochDescriptor = crate::frame::decode(&self.body)
            .map_err(|e| VerifyError::DescriptorMismatch(format!("body does not decode: {e}")))?;
        if d.version != DESCRIPTOR_VERSION {
            return Err(VerifyError::DescriptorMismatch(format!(
                "descriptor version {} (this build reads {DESCRIPTOR_VERSION})",
                d.version
            )));
        }
        if d.node != node {
            return Err(VerifyError::DescriptorMismatch(format!(
                "signed for node `{}`, expected `{node}`",
                d.node
            )));
        }
        if d.collection != collection {
            return Err(VerifyError::DescriptorMismatch(format!(
                "signed for collection `{}`, expected `{collection}`",
                d.collection
            )));
        }
        if d.filter.capacity != crate::filter::filter_capacity(d.record_count) {
            return Err(VerifyError::DescriptorMismatch(format!(
                "filter sized for {} records but {} declared (expected capacity {})",
                d.filter.capacity,
                d.record_count,
                crate::filter::filter_capacity(d.record_count)
            )));
        }
        if now > d.not_after || now + 300 < d.issued_at {
            return Err(VerifyError::DescriptorExpired { epoch: d.epoch });
        }
        Ok(d)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn sample() -> EpochDescriptor {
        EpochDescriptor {
            version: DESCRIPTOR_VERSION,
            node: "jp".into(),
            collection: "phones".into(),
            kind: "phone".into(),
            epoch: 3,
            public_key: ByteArray::new([5; 32]),
            record_count: 10,
            filter: FilterParams {
                bitmap_bytes: 54,
                hashes: 30,
                seed: ByteArray::new([1; 32]),
                capacity: 1024,
                fp_rate: 1e-9,
            },
            filter_digest: ByteArray::new([2; 32]),
            delta_count: 0,
            delta_chain: ByteArray::new([0; 32]),
            issued_at: 1_000,
            not_after: 2_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::sample;
    use super::*;
    use ring::rand::SystemRandom;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn sign_verify_and_reject() {
        use ring::signature::KeyPair;
        let k = key();
        let pk: [u8; 32] = k.public_key().as_ref().try_into().unwrap();
        let s = SignedDescriptor::sign(&sample(), &k).unwrap();
        assert_eq!(s.verify(&pk, "jp", "phones", 1_500).unwrap(), sample());
        // Wrong key, node, collection, time.
        let other = key();
        let opk: [u8; 32] = other.public_key().as_ref().try_into().unwrap();
        assert!(matches!(
            s.verify(&opk, "jp", "phones", 1_500),
            Err(VerifyError::DescriptorSignature { .. })
        ));
        assert!(matches!(
            s.verify(&pk, "us", "phones", 1_500),
            Err(VerifyError::DescriptorMismatch(_))
        ));
        assert!(matches!(
            s.verify(&pk, "jp", "emails", 1_500),
            Err(VerifyError::DescriptorMismatch(_))
        ));
        assert!(matches!(
            s.verify(&pk, "jp", "phones", 2_001),
            Err(VerifyError::DescriptorExpired { .. })
        ));
        // A flipped body byte breaks the signature.
        let mut t = s.clone();
        let n = t.body.len();
        t.body[n - 1] ^= 1;
        assert!(matches!(
            t.verify(&pk, "jp", "phones", 1_500),
            Err(VerifyError::DescriptorSignature { .. })
        ));
    }

    #[test]
    fn round_trip() {
        let s = SignedDescriptor::sign(&sample(), &key()).unwrap();
        let f = crate::frame::encode(&s).unwrap();
        let back: SignedDescriptor = crate::frame::decode_frame(&f).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.descriptor_unverified().unwrap(), sample());
    }
}
