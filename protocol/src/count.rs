//! Count mode: both sides of one exchange in which the querier learns only **how many** of its
//! items the holder holds (spec/PROTOCOL.md §5.2, "Count mode", and §8.2). No I/O: keys and
//! randomness are arguments.
//!
//! ```text
//! querier                                          holder (key k, pk = k·G, signed descriptor)
//! P_i = HashToGroup(input_i), distinct
//! r random (ONE for the batch), C_i = 2r·P_i ── blinded ──▶  E_i = k·C_i, shuffled;
//!                                                            π = DLEQ(G, pk, ΣC, ΣE)
//! verify π against pk              ◀── E_σ(1..n), π ──
//! V_j = r⁻¹·E_j = 2k·P_σ(j),  tag_j = TagHash(encode(2·V_j)) = TagHash(encode(4k·P_σ(j)))
//! count = |{ j : tag_j ∈ filter ∪ delta }|
//! ```
//!
//! **Multiplicative, one blind.** The answers come back in an order only the holder knows, so
//! the querier must unblind each without knowing which request element it answers: one blind
//! `r` for the batch. It must be multiplicative: with one *additive* blind the holder would see
//! `C_i − C_j = 2(P_i − P_j)` (see [`crate::exchange`]), whereas `C_i = 2r·P_i` reveals only
//! which elements are equal — and the querier sends each distinct element once, so not even
//! that. The doubling is the match mode's trick (batch encoding with one field inversion):
//! `2r` is as uniform as `r`, and `r⁻¹·E_j = 2k·P` is what [`oprf::tags_of_doubled`] takes.
//!
//! **Proof over the sums.** The batched DLEQ proof of match mode binds `E_i` to `C_i` by index,
//! which would reveal the permutation. The holder instead proves, with RFC 9497's proof over
//! one pair, that `log_G(pk) = log_{ΣC}(ΣE)`. That shows the batch was evaluated with the key
//! of the signed descriptor *in sum* only: a holder can replace answers by garbage in
//! compensating pairs (`E_a + D`, `E_b − D`) and so under-report the count. It cannot
//! over-report: without `r`, the only elements it can form that unblind to `k·H(y)` for a known
//! `y` are the answers `k·C_i` themselves (any other combination `Σ a_i·C_i` unblinds to
//! `k·Σ a_i·P_i`, a hash preimage problem), and repeating one is caught because the querier's
//! elements are distinct, so an honest answer's tags are distinct ([`CountBatch::finish`]
//! refuses duplicates).

use std::collections::HashSet;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use rand_core::{CryptoRng, RngCore};
use rayon::prelude::*;

use crate::error::{VerifyError, WireError};
use crate::exchange::{decode_answer, decode_blinded, FinishError, HashedInputs};
use crate::messages::pack;
use crate::oprf::{self, Mode, Proof, PublicKey, SecretKey, Tag};

/// A count-mode batch blinded for one partner: the one blind stays here.
pub struct CountBatch {
    /// `r`; the elements sent are `2r·P_i`.
    blind: Scalar,
    /// `ΣC_i` over the elements sent.
    sum: RistrettoPoint,
    blinded_bytes: Vec<[u8; 32]>,
}

impl CountBatch {
    /// Blinds the distinct inputs with one fresh non-zero blind (fresh per partner and attempt).
    pub fn new<R: RngCore + CryptoRng>(inputs: &HashedInputs, rng: &mut R) -> Self {
        loop {
            let r = crate::oprf::random_scalar(rng);
            if let Some(b) = Self::with_blind(inputs, r) {
                return b;
            }
        }
    }

    /// [`CountBatch::new`] with a given blind (known-answer vectors). `None` for a zero blind.
    ///
    /// Equal inputs are sent once (the first occurrence keeps its place): equal elements would
    /// show the holder which items are equal, and the duplicate check of
    /// [`CountBatch::finish`] needs distinct elements.
    pub fn with_blind(inputs: &HashedInputs, r: Scalar) -> Option<Self> {
        if r == Scalar::ZERO {
            return None;
        }
        // Constant-time variable-base multiplication: r is secret.
        let halves: Vec<RistrettoPoint> = inputs.points.par_iter().map(|p| r * p).collect();
        let encoded = oprf::double_and_encode(&halves);
        let mut seen = HashSet::with_capacity(encoded.len());
        let mut sum_halves = RistrettoPoint::identity();
        let mut blinded_bytes = Vec::with_capacity(encoded.len());
        for (enc, half) in encoded.into_iter().zip(&halves) {
            if seen.insert(enc) {
                sum_halves += half;
                blinded_bytes.push(enc);
            }
        }
        Some(CountBatch {
            blind: r,
            sum: sum_halves + sum_halves,
            blinded_bytes,
        })
    }

    /// Number of elements sent (distinct inputs).
    pub fn len(&self) -> usize {
        self.blinded_bytes.len()
    }

    /// Whether nothing is sent.
    pub fn is_empty(&self) -> bool {
        self.blinded_bytes.is_empty()
    }

    /// The packed blinded elements to send.
    pub fn request_bytes(&self) -> Vec<u8> {
        pack(&self.blinded_bytes)
    }

    /// Checks the holder's shuffled answer against the signed public key and returns the tags,
    /// in the holder's order (which says nothing about which item each belongs to).
    pub fn finish(
        &self,
        public_key: &[u8; 32],
        evaluated: &[u8],
        proof: &[u8; 64],
    ) -> Result<Vec<Tag>, FinishError> {
        let (pk, _, points) = decode_answer(public_key, evaluated, self.blinded_bytes.len())?;
        if self.sum.is_identity() {
            // Probability 2^-252 for honest inputs; the proof would then say nothing.
            return Err(VerifyError::CountAnswer(
                "the request's elements sum to the identity, which no proof can cover; ask again"
                    .into(),
            )
            .into());
        }
        let proof =
            Proof::from_bytes(proof).map_err(|_| FinishError::Verify(VerifyError::Proof))?;
        let sum_e: RistrettoPoint = points.iter().sum();
        oprf::verify_proof(Mode::Voprf, &pk, &[self.sum], &[sum_e], &proof)
            .map_err(|_| FinishError::Verify(VerifyError::Proof))?;
        let unblinded = oprf::unblind_shared(&self.blind, &points)
            .map_err(|_| FinishError::Verify(VerifyError::Proof))?;
        // `unblinded` holds 2k·P; the tags are over 4k·P.
        let tags = oprf::tags_of_doubled(&unblinded);
        let mut sorted = tags.clone();
        sorted.par_sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(VerifyError::CountAnswer(
                "two answers unblind to the same element, though every element asked was distinct"
                    .into(),
            )
            .into());
        }
        Ok(tags)
    }
}

/// The holder's side: decodes the blinded elements (refused as in match mode), evaluates them
/// with the epoch key, returns them in an order drawn from `rng`, and proves
/// `log_G(pk) = log_{ΣC}(ΣE)` with a nonce from `rng`. Returns the packed evaluations and the
/// proof.
pub fn holder_evaluate_count<R: RngCore + CryptoRng>(
    sk: &SecretKey,
    pk: &PublicKey,
    blinded: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, [u8; 64]), WireError> {
    let points = decode_blinded(blinded)?;
    let order = random_permutation(points.len(), rng);
    let nonce = loop {
        let s = crate::oprf::random_scalar(rng);
        if s != Scalar::ZERO {
            break s;
        }
    };
    answer(sk, pk, &points, &order, nonce)
}

/// [`holder_evaluate_count`] with a given order (answer `j` is the evaluation of element
/// `order[j]`) and proof nonce: known-answer vectors only (a reused nonce reveals the key).
/// Refuses an `order` that is not a permutation of the elements, or a zero nonce.
pub fn holder_evaluate_count_with(
    sk: &SecretKey,
    pk: &PublicKey,
    blinded: &[u8],
    order: &[usize],
    nonce: Scalar,
) -> Result<(Vec<u8>, [u8; 64]), WireError> {
    let points = decode_blinded(blinded)?;
    let mut seen = vec![false; points.len()];
    let ok = order.len() == points.len()
        && order
            .iter()
            .all(|&i| i < seen.len() && !std::mem::replace(&mut seen[i], true));
    if !ok || nonce == Scalar::ZERO {
        return Err(WireError::InvalidField {
            field: "order",
            reason: "not a permutation of the elements, or a zero nonce".into(),
        });
    }
    answer(sk, pk, &points, order, nonce)
}

fn answer(
    sk: &SecretKey,
    pk: &PublicKey,
    points: &[RistrettoPoint],
    order: &[usize],
    nonce: Scalar,
) -> Result<(Vec<u8>, [u8; 64]), WireError> {
    let evaluated = oprf::blind_evaluate_encoded(sk, points);
    let shuffled: Vec<[u8; 32]> = order.iter().map(|&i| evaluated[i]).collect();
    let sum_c: RistrettoPoint = points.iter().sum();
    let sum_e = oprf::blind_evaluate(sk, &[sum_c]);
    let proof =
        oprf::generate_proof_with(Mode::Voprf, sk, pk, &[sum_c], &sum_e, nonce).map_err(|e| {
            WireError::InvalidField {
                field: "blinded",
                reason: e.to_string(),
            }
        })?;
    Ok((pack(&shuffled), proof.to_bytes()))
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
fn random_permutation<R: RngCore>(n: usize, rng: &mut R) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, below(rng, i as u64 + 1) as usize);
    }
    order
}

/// Uniform in `0..n` (`n ≥ 1`), by rejection: no modulo bias.
fn below<R: RngCore>(rng: &mut R, n: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{seed_for, EpochFilter};
    use crate::messages::unpack;
    use rand::rngs::OsRng;

    fn phones(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
        range
            .map(|i| format!("phone:+6681{i:07}").into_bytes())
            .collect()
    }

    #[test]
    fn counts_exactly_the_held_items() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        let held = phones(0..200);
        let refs: Vec<&[u8]> = held.iter().map(|v| v.as_slice()).collect();
        let tags = oprf::holder_tags(&sk, &refs).unwrap();
        let filter = EpochFilter::build(&tags, 1e-9, &seed_for(&pk.to_bytes())).unwrap();
        // 50 held, 50 not, and the first five asked twice: sent once, counted once.
        let mut asked = phones(150..250);
        asked.extend(phones(150..155));
        let batch = CountBatch::new(&HashedInputs::new(&asked), &mut OsRng);
        assert_eq!(batch.len(), 100);
        let (ev, proof) =
            holder_evaluate_count(&sk, &pk, &batch.request_bytes(), &mut OsRng).unwrap();
        let got = batch.finish(&pk.to_bytes(), &ev, &proof).unwrap();
        assert_eq!(got.len(), 100);
        assert_eq!(got.iter().filter(|t| filter.contains(t)).count(), 50);
        // The tags are the match-mode tags (they do not depend on the blinding), unordered.
        let mut want = tags[150..200].to_vec();
        let mut hit: Vec<Tag> = got.into_iter().filter(|t| filter.contains(t)).collect();
        want.sort();
        hit.sort();
        assert_eq!(hit, want);
    }

    #[test]
    fn the_answer_is_shuffled() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        let batch = CountBatch::new(&HashedInputs::new(&phones(0..40)), &mut OsRng);
        let request = batch.request_bytes();
        let (ev, proof) = holder_evaluate_count(&sk, &pk, &request, &mut OsRng).unwrap();
        let points = decode_blinded(&request).unwrap();
        let in_order = pack(&oprf::compress_batch(&oprf::blind_evaluate(&sk, &points)));
        // Same elements, another order (all 40! orders are equally likely; the identity has
        // probability 1/40!).
        assert_ne!(ev, in_order);
        let mut a = unpack("a", &ev).unwrap();
        let mut b = unpack("b", &in_order).unwrap();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        batch.finish(&pk.to_bytes(), &ev, &proof).unwrap();
        // And the per-item batched proof of match mode would not verify over that order.
        let shuffled = oprf::decode_elements(&unpack("e", &ev).unwrap()).unwrap();
        let p = oprf::generate_proof(
            Mode::Voprf,
            &sk,
            &pk,
            &points,
            &oprf::blind_evaluate(&sk, &points),
            &mut OsRng,
        )
        .unwrap();
        assert!(oprf::verify_proof(Mode::Voprf, &pk, &points, &shuffled, &p).is_err());
    }

    #[test]
    fn permutations_are_uniform_enough() {
        // Each of 4 elements lands in each of 4 places about equally often.
        let mut counts = [[0u32; 4]; 4];
        for _ in 0..4000 {
            for (place, &i) in random_permutation(4, &mut OsRng).iter().enumerate() {
                counts[i][place] += 1;
            }
        }
        for row in counts {
            for c in row {
                assert!((800..1200).contains(&c), "{counts:?}");
            }
        }
    }

    #[test]
    fn wrong_key_or_altered_answer_fails() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        let (other_sk, other_pk) = oprf::generate_key_pair(&mut OsRng);
        let batch = CountBatch::new(&HashedInputs::new(&phones(0..20)), &mut OsRng);
        let (ev, proof) =
            holder_evaluate_count(&sk, &pk, &batch.request_bytes(), &mut OsRng).unwrap();
        // Checked against another key than the one used.
        assert!(matches!(
            batch.finish(&other_pk.to_bytes(), &ev, &proof),
            Err(FinishError::Verify(VerifyError::Proof))
        ));
        // Evaluated (and proved) with another key than the signed one.
        let (ev2, proof2) =
            holder_evaluate_count(&other_sk, &other_pk, &batch.request_bytes(), &mut OsRng)
                .unwrap();
        assert!(matches!(
            batch.finish(&pk.to_bytes(), &ev2, &proof2),
            Err(FinishError::Verify(VerifyError::Proof))
        ));
        // One element replaced by another valid element.
        let mut altered = ev.clone();
        altered[..32]
            .copy_from_slice(&oprf::compress_batch(&[oprf::hash_to_group(Mode::Voprf, b"x")])[0]);
        assert!(matches!(
            batch.finish(&pk.to_bytes(), &altered, &proof),
            Err(FinishError::Verify(VerifyError::Proof))
        ));
        // A proof byte flipped; an element missing.
        let mut bad = proof;
        bad[0] ^= 1;
        assert!(batch.finish(&pk.to_bytes(), &ev, &bad).is_err());
        assert!(matches!(
            batch.finish(&pk.to_bytes(), &ev[32..], &proof),
            Err(FinishError::Verify(VerifyError::Count { .. }))
        ));
    }

    /// What the sum proof gives up, and what it keeps: compensating garbage goes undetected
    /// (fewer hits), a repeated answer does not (it could add a hit).
    #[test]
    fn compensating_pairs_under_report_and_repeats_are_refused() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        let asked = phones(0..20);
        let refs: Vec<&[u8]> = asked.iter().map(|v| v.as_slice()).collect();
        let filter = EpochFilter::build(
            &oprf::holder_tags(&sk, &refs).unwrap(),
            1e-9,
            &seed_for(&pk.to_bytes()),
        )
        .unwrap();
        let batch = CountBatch::new(&HashedInputs::new(&asked), &mut OsRng);
        let request = batch.request_bytes();
        let c = decode_blinded(&request).unwrap();
        let e = oprf::blind_evaluate(&sk, &c);
        let order: Vec<usize> = (0..20).collect();
        let (_, proof) =
            holder_evaluate_count_with(&sk, &pk, &request, &order, Scalar::ONE).unwrap();
        let d = oprf::hash_to_group(Mode::Voprf, b"garbage");
        let mut cheat = e.clone();
        cheat[0] += d;
        cheat[1] -= d;
        let tags = batch
            .finish(&pk.to_bytes(), &pack(&oprf::compress_batch(&cheat)), &proof)
            .unwrap();
        assert_eq!(tags.iter().filter(|t| filter.contains(t)).count(), 18);
        // Answer 0 twice (compensated in answer 2): the proof holds, the repeat does not.
        let mut twice = e.clone();
        twice[2] += e[1] - e[0];
        twice[1] = e[0];
        assert!(matches!(
            batch.finish(&pk.to_bytes(), &pack(&oprf::compress_batch(&twice)), &proof),
            Err(FinishError::Verify(VerifyError::CountAnswer(_)))
        ));
    }

    #[test]
    fn holder_refuses_bad_elements_and_orders() {
        let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
        // Identity, non-canonical, ragged, empty: refused as in match mode.
        for bad in [&[0u8; 32][..], &[0xffu8; 32], &[1u8; 31], &[]] {
            assert!(holder_evaluate_count(&sk, &pk, bad, &mut OsRng).is_err());
        }
        let batch = CountBatch::new(&HashedInputs::new(&phones(0..3)), &mut OsRng);
        let req = batch.request_bytes();
        for order in [&[0usize, 1][..], &[0, 1, 1], &[0, 1, 3]] {
            assert!(holder_evaluate_count_with(&sk, &pk, &req, order, Scalar::ONE).is_err());
        }
        assert!(holder_evaluate_count_with(&sk, &pk, &req, &[2, 0, 1], Scalar::ZERO).is_err());
        assert!(CountBatch::with_blind(&HashedInputs::new(&phones(0..3)), Scalar::ZERO).is_none());
    }

    #[test]
    fn a_fixed_blind_gives_a_fixed_request() {
        let h = HashedInputs::new(&phones(0..5));
        let r = Scalar::from(7u64);
        let a = CountBatch::with_blind(&h, r).unwrap();
        let b = CountBatch::with_blind(&h, r).unwrap();
        assert_eq!(a.request_bytes(), b.request_bytes());
        // C_i = 2r·P_i.
        let want = oprf::compress_batch(&[Scalar::from(14u64) * h.points[0]]);
        assert_eq!(&a.request_bytes()[..32], &want[0]);
    }
}
