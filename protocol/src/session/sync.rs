//! The querier's sync decision: what a freshly verified descriptor means for the partner's epoch
//! it has cached (spec/PROTOCOL.md §6.4).
//!
//! A holder's signed descriptors only ever move forward: within an epoch the key, the filter and
//! the record count are fixed and the delta only grows; a new epoch has a larger number. So the
//! cached descriptor is also the querier's memory of what the partner signed, and a descriptor
//! that goes back on it is refused ([`Rollback`], one variant per rule), never answered with a
//! silent re-sync.
//!
//! ```text
//! accept(new)?                          parameters (§5.5) and the delta bound (§6.3)
//! decide(cached, new)?
//!   no cache, or new.epoch > cached      FetchFull            get_filter, then get_delta from 0
//!   new.epoch < cached                   Rollback::OlderEpoch
//!   same epoch, other key/filter/count   Rollback::Resigned
//!   same epoch, fewer delta records      Rollback::DeltaShrank
//!   same epoch, same count, other chain  Rollback::ChainForked
//!   same epoch, same count and chain     UseCached
//!   same epoch, more delta records       FetchDelta { from: cached count }
//! ```

use serde::{Deserialize, Serialize};

use crate::descriptor::EpochDescriptor;
use crate::error::VerifyError;
use crate::filter::{filter_capacity, EpochFilter};

/// The weakest false-positive rate a querier accepts in a partner's filter.
pub const MAX_ACCEPTED_FP_RATE: f64 = 1e-6;

/// Checks a verified descriptor before it is used in any way (compared with the cache, or
/// anything fetched for it): its filter parameters are the ones an honest holder derives, at a
/// rate no weaker than [`MAX_ACCEPTED_FP_RATE`], and its delta is no longer than a holder that
/// rebuilds at its threshold signs.
pub fn accept(d: &EpochDescriptor) -> Result<(), VerifyError> {
    EpochFilter::check_params(&d.filter, &d.public_key, MAX_ACCEPTED_FP_RATE)?;
    // A holder rebuilds its epoch before the delta outgrows the filter (its configuration
    // allows at most as many delta records as filter records); a larger signed count would
    // only make this querier download and hold tags without bound.
    let max_delta = 2 * filter_capacity(d.record_count);
    if d.delta_count > max_delta {
        return Err(VerifyError::DeltaMismatch(format!(
            "{} delta records signed for a filter of {}; at most {max_delta} are accepted",
            d.delta_count, d.record_count
        )));
    }
    Ok(())
}

/// What to do with the cached epoch, given a new verified descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPlan {
    /// The cache is exactly what the descriptor signs: use it as it is.
    UseCached,
    /// Same epoch, more delta records: fetch the delta tags from position `from` (the cached
    /// count), chain them from the cached chain, and re-check the cached filter.
    FetchDelta {
        /// How many delta tags the cache holds.
        from: u64,
    },
    /// No cache, or a newer epoch (the partner rotated its key): fetch the whole filter, then
    /// the delta from 0. Nothing of the cached epoch is used.
    FetchFull,
}

/// How a partner's epoch was brought up to date for a query (`filter` in the investigator's
/// result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterSource {
    /// The cached epoch was used as it was.
    Cached,
    /// The cached epoch was extended with delta tags.
    Delta,
    /// The whole filter (and delta) was fetched.
    Full,
}

impl FilterSource {
    /// The name as shown and logged: `cached`, `delta` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterSource::Cached => "cached",
            FilterSource::Delta => "delta",
            FilterSource::Full => "full",
        }
    }
}

impl std::fmt::Display for FilterSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A descriptor that goes back on what the partner signed before (one variant per rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rollback {
    /// An older epoch than the one cached.
    #[error("the partner went back on what it signed before: epoch {signed} after epoch {cached} was signed")]
    OlderEpoch {
        /// Epoch of the new descriptor.
        signed: u64,
        /// Epoch of the cached one.
        cached: u64,
    },
    /// The cached epoch signed again with another key, filter or record count.
    #[error("the partner went back on what it signed before: epoch {epoch} signed again with another key or filter")]
    Resigned {
        /// The epoch.
        epoch: u64,
    },
    /// The cached epoch signed with fewer delta records than before.
    #[error("the partner went back on what it signed before: epoch {epoch} now signs {signed} delta records, after {cached} were signed")]
    DeltaShrank {
        /// The epoch.
        epoch: u64,
        /// Delta records the new descriptor signs.
        signed: u64,
        /// Delta records the cached one signed.
        cached: u64,
    },
    /// The cached epoch and delta count signed with another delta chain.
    #[error(
        "the partner went back on what it signed before: the same delta count with another chain"
    )]
    ChainForked,
}

impl From<Rollback> for VerifyError {
    fn from(r: Rollback) -> Self {
        VerifyError::DescriptorMismatch(r.to_string())
    }
}

/// Compares a new verified descriptor (which passed [`accept`]) with the cached one.
pub fn decide(
    cached: Option<&EpochDescriptor>,
    new: &EpochDescriptor,
) -> Result<SyncPlan, Rollback> {
    let Some(old) = cached else {
        return Ok(SyncPlan::FetchFull);
    };
    if new.epoch < old.epoch {
        return Err(Rollback::OlderEpoch {
            signed: new.epoch,
            cached: old.epoch,
        });
    }
    if new.epoch > old.epoch {
        // The partner rotated its key (a rebuild, a deletion, expiry or a schedule).
        return Ok(SyncPlan::FetchFull);
    }
    if new.public_key != old.public_key
        || new.filter_digest != old.filter_digest
        || new.record_count != old.record_count
    {
        return Err(Rollback::Resigned { epoch: new.epoch });
    }
    if new.delta_count < old.delta_count {
        return Err(Rollback::DeltaShrank {
            epoch: new.epoch,
            signed: new.delta_count,
            cached: old.delta_count,
        });
    }
    if new.delta_count == old.delta_count {
        if new.delta_chain != old.delta_chain {
            return Err(Rollback::ChainForked);
        }
        return Ok(SyncPlan::UseCached);
    }
    Ok(SyncPlan::FetchDelta {
        from: old.delta_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::tests_support::sample;
    use serde_bytes::ByteArray;

    #[test]
    fn every_rule_and_every_plan() {
        let old = sample();
        assert_eq!(decide(None, &old), Ok(SyncPlan::FetchFull));
        assert_eq!(decide(Some(&old), &old), Ok(SyncPlan::UseCached));
        let mut newer = old.clone();
        newer.epoch += 1;
        newer.public_key = ByteArray::new([9; 32]);
        assert_eq!(decide(Some(&old), &newer), Ok(SyncPlan::FetchFull));
        assert_eq!(
            decide(Some(&newer), &old),
            Err(Rollback::OlderEpoch {
                signed: 3,
                cached: 4
            })
        );
        for change in [
            |d: &mut EpochDescriptor| d.public_key = ByteArray::new([8; 32]),
            |d: &mut EpochDescriptor| d.filter_digest = ByteArray::new([8; 32]),
            |d: &mut EpochDescriptor| d.record_count += 1,
        ] {
            let mut d = old.clone();
            change(&mut d);
            assert_eq!(decide(Some(&old), &d), Err(Rollback::Resigned { epoch: 3 }));
        }
        let mut more = old.clone();
        more.delta_count = 5;
        more.delta_chain = ByteArray::new([7; 32]);
        assert_eq!(
            decide(Some(&old), &more),
            Ok(SyncPlan::FetchDelta { from: 0 })
        );
        assert_eq!(
            decide(Some(&more), &old),
            Err(Rollback::DeltaShrank {
                epoch: 3,
                signed: 0,
                cached: 5
            })
        );
        let mut forked = more.clone();
        forked.delta_chain = ByteArray::new([6; 32]);
        assert_eq!(decide(Some(&more), &forked), Err(Rollback::ChainForked));
    }

    #[test]
    fn sentences_are_the_verifiers() {
        let v: VerifyError = Rollback::OlderEpoch {
            signed: 3,
            cached: 4,
        }
        .into();
        assert_eq!(
            v.to_string(),
            "epoch descriptor mismatch: the partner went back on what it signed before: epoch 3 after epoch 4 was signed"
        );
        assert_eq!(
            Rollback::DeltaShrank {
                epoch: 2,
                signed: 1,
                cached: 5
            }
            .to_string(),
            "the partner went back on what it signed before: epoch 2 now signs 1 delta records, after 5 were signed"
        );
        assert_eq!(
            serde_json::to_string(&FilterSource::Delta).unwrap(),
            "\"delta\""
        );
    }
}
