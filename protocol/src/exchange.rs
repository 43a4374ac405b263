//! One OPRF exchange, both sides, as plain functions over bytes: no I/O, no clock.
//!
//! ```text
//! querier                                        holder (key k, pk = k·G in the signed descriptor)
//! P_i = HashToGroup(input_i)
//! r_i random, C_i = 2·(P_i + r_i·G) ── blinded ──▶  E_i = k·C_i, proof π that log_G(pk) = log_C(E)
//! verify π against pk               ◀── E, π ─────
//! V_i = E_i − 2r_i·pk = 2k·P_i,  tag_i = TagHash(encode(2·V_i)) = TagHash(encode(4k·P_i))
//! hit_i = tag_i ∈ filter ∪ delta
//! ```
//!
//! **Additive blinding.** RFC 9497 blinds multiplicatively (`B = r·P`, unblind with `r⁻¹`),
//! which costs the querier two variable-base scalar multiplications per item. Cordon blinds
//! additively: `r·G` and `r·pk` are fixed-base multiplications with precomputed tables (`pk` is
//! fixed per epoch and known before the query, from the signed descriptor), about four times
//! cheaper. The holder's side is unchanged (it evaluates `k·B` and proves it with the RFC's
//! batched DLEQ proof) and cannot tell the difference. Why it is as private: `r_i·G` is uniform
//! in the group for uniform `r_i`, so `B_i` is uniform and independent of `P_i`. Why it is as
//! correct: the proof shows `E_i = k·B_i` for the `k` of the pinned `pk`, so
//! `E_i − r_i·pk = k·P_i + k·r_i·G − r_i·k·G = k·P_i`.
//!
//! **Doubling.** What is sent is `C_i = 2·B_i`, not `B_i`: dalek encodes doubled points in
//! batches with one shared field inversion, where a plain encoding costs an inverse square root
//! per element. `2·r_i` is as uniform as `r_i`, so `C_i` hides `P_i` just the same, and the
//! querier unblinds with `2·r_i`, getting `2k·P_i`, whose double it again encodes in batches for
//! the tag (tags are defined over `4k·H(y)`, see [`crate::oprf::tag_of_element`]). Additive blinding needs `pk` to be known
//! and verified *before* unblinding, which the signed descriptor and the proof provide; it is
//! not used where one blind covers a whole batch (count mode), because differences
//! `B_i − B_j = P_i − P_j` would then leak. See `spec/PROTOCOL.md`, "Blinding".
//!
//! The querier learns, per item, whether the holder holds it (and nothing about the holder's
//! other records beyond the filter's size); the holder learns only how many items were asked.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;

use crate::error::{VerifyError, WireError};
use crate::messages::{pack, unpack, MAX_ITEMS_PER_REQUEST};
use crate::oprf::{self, Mode, Proof, PublicKey, SecretKey, Tag};

/// The querier's inputs hashed to the group once, reusable for every partner.
pub struct HashedInputs {
    pub(crate) points: Vec<RistrettoPoint>,
}

impl HashedInputs {
    /// Hashes every OPRF input (see `Canonical::oprf_input`) to the group, in parallel.
    pub fn new(inputs: &[Vec<u8>]) -> Self {
        let points = inputs
            .par_iter()
            .map(|i| oprf::hash_to_group(Mode::Voprf, i))
            .collect();
        HashedInputs { points }
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are no inputs.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// A batch blinded for one partner: the blinds stay here, the blinded elements go out.
pub struct BlindedBatch {
    blinds: Vec<Scalar>,
    blinded: Vec<RistrettoPoint>,
    blinded_bytes: Vec<[u8; 32]>,
}

impl BlindedBatch {
    /// Blinds every hashed input additively with a fresh random scalar (fresh per partner, so
    /// two partners cannot link the requests they received).
    pub fn new<R: RngCore + CryptoRng>(inputs: &HashedInputs, rng: &mut R) -> Self {
        // Draw blinds sequentially from the caller's RNG, multiply in parallel.
        let mut blinds: Vec<Scalar> = (0..inputs.points.len())
            .map(|_| crate::oprf::random_scalar(rng))
            .collect();
        // Constant-time fixed-base multiplication: the blinds are secret.
        let blind = |p: &RistrettoPoint, r: &Scalar| p + r * RISTRETTO_BASEPOINT_TABLE;
        let mut halves: Vec<RistrettoPoint> = inputs
            .points
            .par_iter()
            .zip(blinds.par_iter())
            .map(|(p, r)| blind(p, r))
            .collect();
        // The holder refuses the identity as a blinded element; redraw its blind (probability
        // 2^-252).
        for i in 0..halves.len() {
            while halves[i].is_identity() {
                blinds[i] = crate::oprf::random_scalar(rng);
                halves[i] = blind(&inputs.points[i], &blinds[i]);
            }
        }
        let blinded_bytes = oprf::double_and_encode(&halves);
        let blinded: Vec<RistrettoPoint> = halves.par_iter().map(|b| b + b).collect();
        // The querier unblinds C = 2B with 2r.
        let blinds = blinds.into_iter().map(|r| r + r).collect();
        BlindedBatch {
            blinds,
            blinded,
            blinded_bytes,
        }
    }

    /// The packed blinded elements to send.
    pub fn request_bytes(&self) -> Vec<u8> {
        pack(&self.blinded_bytes)
    }

    /// Checks the holder's answer against the signed public key and returns one tag per input.
    pub fn finish(
        &self,
        public_key: &[u8; 32],
        evaluated: &[u8],
        proof: &[u8; 64],
    ) -> Result<Vec<Tag>, FinishError> {
        let (pk, raw, points) = decode_answer(public_key, evaluated, self.blinded.len())?;
        let proof =
            Proof::from_bytes(proof).map_err(|_| FinishError::Verify(VerifyError::Proof))?;
        oprf::verify_proof_encoded(
            Mode::Voprf,
            &pk,
            &self.blinded,
            &self.blinded_bytes,
            &points,
            &raw,
            &proof,
        )
        .map_err(|_| FinishError::Verify(VerifyError::Proof))?;
        // Fixed-base table for pk: built once per answer, used for every item.
        let table = RistrettoBasepointTable::create(pk.as_point());
        let unblinded: Vec<RistrettoPoint> = points
            .par_iter()
            .zip(self.blinds.par_iter())
            .map(|(e, r)| e - r * &table)
            .collect();
        // `unblinded` holds 2k·P_i; the tags are over 4k·P_i.
        Ok(oprf::tags_of_doubled(&unblinded))
    }
}

/// Why a holder's answer was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The answer did not decode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The answer decoded but does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// The holder's side: decodes the blinded elements, evaluates them with the epoch key in
/// parallel, and proves it. Returns the packed evaluations and the proof.
pub fn holder_evaluate<R: RngCore + CryptoRng>(
    sk: &SecretKey,
    pk: &PublicKey,
    blinded: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, [u8; 64]), WireError> {
    let (raw, points) = decode_blinded_with_bytes(blinded)?;
    // The evaluations are only ever needed encoded: encode them in batches (one shared field
    // inversion per chunk), and let the proof hash the encodings that arrived and leave,
    // instead of compressing every element again (two inverse square roots per item).
    let evaluated = oprf::blind_evaluate_encoded(sk, &points);
    let proof = oprf::generate_proof_encoded(Mode::Voprf, sk, pk, &points, &raw, &evaluated, rng)
        .map_err(|e| WireError::InvalidField {
        field: "blinded",
        reason: e.to_string(),
    })?;
    Ok((pack(&evaluated), proof.to_bytes()))
}

/// The holder's checks on a request's blinded elements (spec/PROTOCOL.md §4.5, checks 4 to 6):
/// whole elements, at least one and at most [`MAX_ITEMS_PER_REQUEST`], each canonical and not
/// the identity. Shared by both modes.
/// The pinned public key, and the holder's evaluated elements encoded and decoded.
pub(crate) type DecodedAnswer = (PublicKey, Vec<[u8; 32]>, Vec<RistrettoPoint>);

/// The pinned public key and the holder's evaluated elements (encoded and decoded), which
/// must be as many as were sent (both modes check an answer this way before its proof).
pub(crate) fn decode_answer(
    public_key: &[u8; 32],
    evaluated: &[u8],
    expected: usize,
) -> Result<DecodedAnswer, FinishError> {
    let pk =
        PublicKey::from_bytes(public_key).map_err(|_| FinishError::Verify(VerifyError::Proof))?;
    let raw = unpack("evaluated", evaluated)?;
    if raw.len() != expected {
        return Err(VerifyError::Count {
            expected,
            got: raw.len(),
        }
        .into());
    }
    let points = oprf::decode_elements(&raw).map_err(|e| WireError::InvalidField {
        field: "evaluated",
        reason: e.to_string(),
    })?;
    Ok((pk, raw, points))
}

pub(crate) fn decode_blinded(blinded: &[u8]) -> Result<Vec<RistrettoPoint>, WireError> {
    decode_blinded_with_bytes(blinded).map(|(_, points)| points)
}

/// [`decode_blinded`], also returning the elements' encodings as they arrived.
#[allow(clippy::type_complexity)]
fn decode_blinded_with_bytes(
    blinded: &[u8],
) -> Result<(Vec<[u8; 32]>, Vec<RistrettoPoint>), WireError> {
    let raw = unpack("blinded", blinded)?;
    if raw.is_empty() {
        return Err(WireError::InvalidField {
            field: "blinded",
            reason: "no elements".into(),
        });
    }
    if raw.len() > MAX_ITEMS_PER_REQUEST {
        return Err(WireError::InvalidField {
            field: "blinded",
            reason: format!("{} elements (at most {MAX_ITEMS_PER_REQUEST})", raw.len()),
        });
    }
    let points = oprf::decode_elements(&raw).map_err(|e| WireError::InvalidField {
        field: "blinded",
        reason: e.to_string(),
    })?;
    Ok((raw, points))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn exchange_finds_exactly_the_held_items() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        let held: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("phone:+6681{i:07}").into_bytes())
            .collect();
        let held_refs: Vec<&[u8]> = held.iter().map(|v| v.as_slice()).collect();
        let tags = oprf::holder_tags(&sk, &held_refs).unwrap();
        // The seed as a holder derives it: a seed whose two SipHash keys are equal (such as
        // [3; 32]) makes the two base hashes equal and the false-positive rate far above 1e-9.
        let filter = crate::filter::EpochFilter::build(
            &tags,
            1e-9,
            &crate::filter::seed_for(&pk.to_bytes()),
        )
        .unwrap();

        let asked: Vec<Vec<u8>> = (150..250u32)
            .map(|i| format!("phone:+6681{i:07}").into_bytes())
            .collect();
        let hashed = HashedInputs::new(&asked);
        let batch = BlindedBatch::new(&hashed, &mut OsRng);
        let (ev, proof) = holder_evaluate(&sk, &pk, &batch.request_bytes(), &mut OsRng).unwrap();
        let got = batch.finish(&pk.to_bytes(), &ev, &proof).unwrap();
        let hits: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, t)| filter.contains(t))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn wrong_key_or_tampered_answer_is_rejected() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        let (_, other_pk) = oprf::generate_key_pair(&mut OsRng);
        let asked: Vec<Vec<u8>> = (0..10u32).map(|i| vec![i as u8; 3]).collect();
        let batch = BlindedBatch::new(&HashedInputs::new(&asked), &mut OsRng);
        let (mut ev, proof) =
            holder_evaluate(&sk, &pk, &batch.request_bytes(), &mut OsRng).unwrap();
        assert!(matches!(
            batch.finish(&other_pk.to_bytes(), &ev, &proof),
            Err(FinishError::Verify(VerifyError::Proof))
        ));
        // Swap two evaluations: still valid points, but the proof no longer holds.
        let (a, b) = ev.split_at_mut(32);
        a.swap_with_slice(&mut b[..32]);
        assert!(matches!(
            batch.finish(&pk.to_bytes(), &ev, &proof),
            Err(FinishError::Verify(VerifyError::Proof))
        ));
        assert!(matches!(
            batch.finish(&pk.to_bytes(), &ev[..32], &proof),
            Err(FinishError::Verify(VerifyError::Count { .. }))
        ));
    }

    #[test]
    fn holder_rejects_bad_points() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        // Identity, non-canonical, ragged, empty.
        assert!(holder_evaluate(&sk, &pk, &[0u8; 32], &mut OsRng).is_err());
        assert!(holder_evaluate(&sk, &pk, &[0xffu8; 32], &mut OsRng).is_err());
        assert!(holder_evaluate(&sk, &pk, &[1u8; 31], &mut OsRng).is_err());
        assert!(holder_evaluate(&sk, &pk, &[], &mut OsRng).is_err());
    }
}
