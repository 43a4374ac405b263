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
//! retry after stale_epoch, not newer     Rollback::StaleNotNewer   (querier::Exchange)
//! supersedes(stored, synced)?            before the driver stores: the state another query
//!   same epoch, forked or re-keyed         stored meanwhile and this one must not contradict
//! ```

use serde::{Deserialize, Serialize};

use crate::descriptor::EpochDescriptor;
use crate::error::VerifyError;
use crate::filter::EpochFilter;
use crate::session::partner_epoch::PartnerEpoch;

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
    // From the signed capacity, which the parameter check bounds by 2³⁰ and the descriptor
    // check (§5.8) ties to the record count: this bound holds, without overflow, even for a
    // descriptor whose record count nothing checked.
    let max_delta = 2 * d.filter.capacity;
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
    /// An epoch refused as no longer current (`stale_epoch`), then signed again, or an older
    /// one signed, when the descriptor was fetched again for the retry.
    #[error("the partner went back on what it signed before: it refused epoch {refused} as no longer current, then signed epoch {signed}")]
    StaleNotNewer {
        /// The epoch it refused.
        refused: u64,
        /// The epoch it then signed.
        signed: u64,
    },
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

/// Whether a state a sync just verified (`new`) should replace the one the driver holds now
/// (`known`), which another query may have stored meanwhile: `Ok(true)` if it goes further,
/// `Ok(false)` if it does not (keep `known`), a [`Rollback`] if the two contradict each other.
///
/// Two queries may sync one partner at once, each checked against the cache as it was when it
/// started; a partner that signs two forks of one epoch, one to each, would pass both checks.
/// The driver runs this before it stores (and fails the exchange on a rollback), so that its
/// cache never silently swaps one fork for another. Different epochs never contradict each
/// other here: an older one is simply not stored.
pub fn supersedes(known: Option<&PartnerEpoch>, new: &PartnerEpoch) -> Result<bool, Rollback> {
    let Some(known) = known else {
        return Ok(true);
    };
    let (k, n) = (&known.descriptor, &new.descriptor);
    if k.epoch != n.epoch {
        return Ok(n.epoch > k.epoch);
    }
    if k.public_key != n.public_key
        || k.filter_digest != n.filter_digest
        || k.record_count != n.record_count
    {
        return Err(Rollback::Resigned { epoch: n.epoch });
    }
    // Both delta lists chain to their signed digests: one must begin the other.
    let (short, long) = match known.delta_list.len() <= new.delta_list.len() {
        true => (&known.delta_list, &new.delta_list),
        false => (&new.delta_list, &known.delta_list),
    };
    if long[..short.len()] != short[..] {
        return Err(Rollback::ChainForked);
    }
    Ok(new.delta_list.len() > known.delta_list.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::tests_support::sample;
    use crate::session::testing::signed_epoch;
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
    fn the_delta_bound_holds_for_any_record_count() {
        let (_, mut d, _) = signed_epoch(&[[1; 32]], &[]);
        assert_eq!(accept(&d), Ok(()));
        d.delta_count = 2048;
        assert_eq!(accept(&d), Ok(()));
        d.delta_count = 2049;
        assert!(matches!(accept(&d), Err(VerifyError::DeltaMismatch(_))));
        // A record count nothing tied to the filter's capacity does not widen it.
        d.record_count = u64::MAX;
        d.delta_count = u64::MAX - 1;
        assert!(matches!(accept(&d), Err(VerifyError::DeltaMismatch(_))));
    }

    /// An epoch of `jp`, its delta `delta`, with key byte `key`.
    fn epoch(delta: &[[u8; 32]], key: u8) -> PartnerEpoch {
        let (signed, mut d, filter) = signed_epoch(&[[1; 32]], delta);
        d.public_key = ByteArray::new([key; 32]);
        PartnerEpoch::new(signed, d, filter, delta.to_vec())
    }

    #[test]
    fn a_stored_state_is_replaced_only_by_one_that_goes_further_without_contradicting_it() {
        let (a, b, c) = ([0xa; 32], [0xb; 32], [0xc; 32]);
        let known = epoch(&[a, b], 1);
        assert_eq!(supersedes(None, &known), Ok(true));
        assert_eq!(supersedes(Some(&known), &epoch(&[a, b, c], 1)), Ok(true));
        assert_eq!(supersedes(Some(&known), &epoch(&[a], 1)), Ok(false));
        assert_eq!(supersedes(Some(&known), &epoch(&[a, b], 1)), Ok(false));
        assert_eq!(
            supersedes(Some(&known), &epoch(&[a, c], 1)),
            Err(Rollback::ChainForked)
        );
        assert_eq!(
            supersedes(Some(&known), &epoch(&[c], 1)),
            Err(Rollback::ChainForked)
        );
        assert_eq!(
            supersedes(Some(&known), &epoch(&[a, b], 2)),
            Err(Rollback::Resigned { epoch: 3 })
        );
        let mut newer = epoch(&[], 2);
        newer.descriptor.epoch = 4;
        assert_eq!(supersedes(Some(&known), &newer), Ok(true));
        assert_eq!(supersedes(Some(&newer), &known), Ok(false));
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
