//! The querier's blinded batch for one partner and attempt, in the query's mode.

use rand_core::{CryptoRng, RngCore};

use crate::count::CountBatch;
use crate::exchange::{BlindedBatch, FinishError, HashedInputs};
use crate::messages::QueryMode;
use crate::oprf::Tag;

/// A batch blinded afresh (per partner and attempt): the blinds stay here.
pub enum Batch {
    /// A fresh blind per item, answers in order.
    Match(BlindedBatch),
    /// One blind for the batch, answers shuffled (distinct items only).
    Count(CountBatch),
}

impl Batch {
    /// Blinds every hashed input for `mode` (CPU-heavy: a scalar multiplication per item).
    pub fn new(
        mode: QueryMode,
        hashed: &HashedInputs,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        match mode {
            QueryMode::Match => Batch::Match(BlindedBatch::new(hashed, rng)),
            QueryMode::Count => Batch::Count(CountBatch::new(hashed, rng)),
        }
    }

    /// Whether this is a count-mode batch (the tags then say how many, never which).
    pub fn counting(&self) -> bool {
        matches!(self, Batch::Count(_))
    }

    /// The packed blinded elements to send.
    pub fn request_bytes(&self) -> Vec<u8> {
        match self {
            Batch::Match(b) => b.request_bytes(),
            Batch::Count(b) => b.request_bytes(),
        }
    }

    /// Checks the holder's answer against the signed public key and returns the tags (in
    /// request order for match mode, in the holder's order for count mode).
    pub fn finish(
        &self,
        pk: &[u8; 32],
        evaluated: &[u8],
        proof: &[u8; 64],
    ) -> Result<Vec<Tag>, FinishError> {
        match self {
            Batch::Match(b) => b.finish(pk, evaluated, proof),
            Batch::Count(b) => b.finish(pk, evaluated, proof),
        }
    }
}
