//! Test support: a real signed epoch (key, filter, delta) from fixed seeds.

use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_bytes::ByteArray;

use crate::descriptor::{EpochDescriptor, SignedDescriptor, DESCRIPTOR_VERSION};
use crate::filter::{chain_delta, filter_capacity, seed_for, EpochFilter};
use crate::oprf::Tag;

/// The descriptor key of node `jp` in these tests.
pub(crate) fn signing_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x5e; 32]).expect("fixed seed")
}

/// Its public key.
pub(crate) fn signing_public() -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(signing_key().public_key().as_ref());
    k
}

/// Epoch 3 of `jp`'s `phones` (kind `phone`), a filter of `filter_tags` and a delta of
/// `delta`, signed; valid from 1,000 to 2,000.
pub(crate) fn signed_epoch(
    filter_tags: &[Tag],
    delta: &[Tag],
) -> (SignedDescriptor, EpochDescriptor, EpochFilter) {
    let pk = [0xe2; 32];
    let filter = EpochFilter::build(filter_tags, 1e-9, &seed_for(&pk)).expect("filter");
    let (signed, d) = describe(pk, &filter, filter_tags.len() as u64, delta);
    (signed, d, filter)
}

/// The signed descriptor of epoch 3 of `jp`'s `phones` with key `pk`, `filter` of `n` records
/// and `delta`.
fn describe(
    pk: [u8; 32],
    filter: &EpochFilter,
    n: u64,
    delta: &[Tag],
) -> (SignedDescriptor, EpochDescriptor) {
    let d = EpochDescriptor {
        version: DESCRIPTOR_VERSION,
        node: "jp".into(),
        collection: "phones".into(),
        kind: "phone".into(),
        epoch: 3,
        public_key: ByteArray::new(pk),
        record_count: n,
        filter: filter.params(filter_capacity(n), 1e-9),
        filter_digest: ByteArray::new(filter.digest()),
        delta_count: delta.len() as u64,
        delta_chain: ByteArray::new(chain_delta([0; 32], delta)),
        issued_at: 1_000,
        not_after: 2_000,
    };
    let signed = SignedDescriptor::sign(&d, &signing_key()).expect("sign");
    (signed, d)
}

/// A one-collection honest holder (`jp`, `phones`, epoch 3) for the querier's unit tests.
pub(crate) struct TestHolder {
    pub(crate) sk: crate::oprf::SecretKey,
    pub(crate) pk: crate::oprf::PublicKey,
    pub(crate) signed: SignedDescriptor,
    pub(crate) filter: Vec<u8>,
}

impl TestHolder {
    /// A holder of `records` (phone numbers in canonical form).
    pub(crate) fn new(records: &[&str]) -> Self {
        let (sk, pk) = crate::oprf::generate_key_pair(&mut rand::rngs::OsRng);
        let inputs: Vec<Vec<u8>> = records
            .iter()
            .map(|r| format!("phone:{r}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        let tags = crate::oprf::holder_tags(&sk, &refs).expect("tags");
        let filter = EpochFilter::build(&tags, 1e-9, &seed_for(&pk.to_bytes())).expect("filter");
        let (signed, _) = describe(pk.to_bytes(), &filter, tags.len() as u64, &[]);
        TestHolder {
            sk,
            pk,
            signed,
            filter: filter.into_bytes(),
        }
    }

    /// The receipt signer (the descriptor key, named after the node).
    pub(crate) fn receipt_signer() -> crate::audit::note::Signer {
        crate::audit::note::Signer::from_seed("jp", &[0x5e; 32]).expect("signer")
    }

    /// The honest answer(s) to `req` from querier `th`.
    pub(crate) fn serve(
        &self,
        req: &crate::messages::PartnerRequest,
    ) -> Vec<crate::messages::PartnerResponse> {
        use crate::messages::{PartnerRequest, PartnerResponse};
        match req {
            PartnerRequest::GetDescriptor { .. } => {
                vec![PartnerResponse::Descriptor(self.signed.clone())]
            }
            PartnerRequest::GetFilter { epoch, .. } => {
                crate::session::holder::filter_frames(*epoch, &self.filter)
            }
            PartnerRequest::Evaluate(r) => {
                use crate::session::holder::evaluate;
                let out = evaluate::evaluate(&self.sk, &self.pk, r, &mut rand::rngs::OsRng)
                    .expect("evaluate");
                let receipt = evaluate::receipt(r, "jp", "th", 1_500)
                    .sign(&Self::receipt_signer())
                    .expect("receipt");
                vec![PartnerResponse::Evaluated(evaluate::answer(
                    r, out, receipt, None,
                ))]
            }
            _ => vec![],
        }
    }
}
