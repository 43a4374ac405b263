//! Follow-up requests: the accountable second step after a hit (spec/PROTOCOL.md §11).
//!
//! A querier cites the tags it found in a holder's filter ("hit references"); the holder
//! resolves them to its own records, queues the request for a supervisor, and later answers
//! with the releasable fields the supervisor approved, or with the reason for a denial.
//!
//! A hit reference is written `<collection>:<epoch>:<64 hex digits of the tag>`: it names by
//! itself the collection and epoch whose key produced the tag, so a follow-up needs nothing
//! else from the query that found it.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;

use crate::oprf::Tag;

/// Most references one follow-up request may cite.
pub const MAX_REFERENCES: usize = 1_000;
/// Most follow-up identifiers one status request may ask about.
pub const MAX_STATUS_IDS: usize = 1_000;
/// Longest case reference, purpose, requester name or denial reason accepted (bytes).
pub const MAX_TEXT: usize = 1_000;

/// A hit reference: the collection and epoch of a holder's filter, and a tag found in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HitReference {
    /// Collection name at the holder.
    pub collection: String,
    /// Epoch of the collection whose key produced the tag.
    pub epoch: u64,
    /// The tag.
    pub tag: Tag,
}

impl std::fmt::Display for HitReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.collection,
            self.epoch,
            hex::encode(self.tag)
        )
    }
}

impl std::str::FromStr for HitReference {
    type Err = String;

    /// Reads `<collection>:<epoch>:<64 hex>`. Collection names never hold `:`, so the split
    /// is unambiguous.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            format!(
                "hit reference {s:?} {why}; a reference is written collection:epoch:tag, e.g. phones:3:{}, as `cordon query` prints it",
                "ab".repeat(32)
            )
        };
        let mut parts = s.trim().split(':');
        let (Some(c), Some(e), Some(t), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("does not have three parts separated by ':'"));
        };
        if c.is_empty() {
            return Err(bad("names no collection"));
        }
        let epoch: u64 = e
            .parse()
            .map_err(|_| bad("has an epoch that is not a number"))?;
        let bytes = hex::decode(t).map_err(|_| bad("has a tag that is not hexadecimal"))?;
        let tag: Tag = bytes
            .try_into()
            .map_err(|_| bad("has a tag that is not 32 bytes (64 hex digits)"))?;
        Ok(HitReference {
            collection: c.to_string(),
            epoch,
            tag,
        })
    }
}

/// A querier's follow-up request on some of its hits in one collection and epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupRequest {
    /// Identifier chosen by the querier (random), used by both nodes for this request.
    pub id: ByteArray<16>,
    /// Collection at the holder.
    pub collection: String,
    /// Epoch the tags were found in; it must still be the holder's current one.
    pub epoch: u64,
    /// The cited tags, 32 bytes each, concatenated.
    #[serde(with = "serde_bytes")]
    pub references: Vec<u8>,
    /// The querier's case reference.
    pub case_ref: String,
    /// The stated purpose.
    pub purpose: String,
    /// The investigator who filed it (their certificate's name at the querier).
    pub requested_by: String,
}

/// The holder's acceptance of a [`FollowupRequest`]: it is queued for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupAccepted {
    /// The request's identifier.
    pub id: ByteArray<16>,
    /// How many of the holder's records the references resolved to.
    pub records: u64,
}

/// Where a follow-up request stands at the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowupState {
    /// Awaiting the holder's supervisor.
    Pending,
    /// Approved: the released fields, per cited reference.
    Approved {
        /// One entry per cited reference, in request order.
        released: Vec<ReleasedReference>,
    },
    /// Denied, with the supervisor's reason.
    Denied {
        /// The reason, as the supervisor wrote it.
        reason: String,
    },
}

/// What an approval releases for one cited reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedReference {
    /// The cited tag.
    pub tag: ByteArray<32>,
    /// One list of `(field, value)` per record the tag resolved to (a person's shared key can
    /// resolve to several).
    pub records: Vec<Vec<(String, String)>>,
}

/// One request's state, in answer to a status request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupDecision {
    /// The request's identifier.
    pub id: ByteArray<16>,
    /// Its state.
    pub state: FollowupState,
    /// When it was decided (Unix seconds), if it was.
    #[serde(default)]
    pub decided_at: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{decode_frame, encode};

    fn rt<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let back: T = decode_frame(&encode(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn reference_text_round_trips_and_bad_ones_are_named() {
        let r = HitReference {
            collection: "phones".into(),
            epoch: 3,
            tag: [0xab; 32],
        };
        let s = r.to_string();
        assert_eq!(s, format!("phones:3:{}", "ab".repeat(32)));
        assert_eq!(s.parse::<HitReference>().unwrap(), r);
        for bad in [
            "phones:3",
            "phones:x:ab",
            &format!("phones:3:{}", "ab".repeat(31)),
            &format!(":3:{}", "ab".repeat(32)),
            &format!("phones:3:{}:x", "ab".repeat(32)),
            &format!("phones:3:{}", "zz".repeat(32)),
        ] {
            let e = bad.parse::<HitReference>().unwrap_err();
            assert!(e.contains("collection:epoch:tag"), "{e}");
        }
    }

    #[test]
    fn followup_types_round_trip() {
        rt(FollowupRequest {
            id: ByteArray::new([1; 16]),
            collection: "phones".into(),
            epoch: 2,
            references: crate::messages::pack(&[[3; 32], [4; 32]]),
            case_ref: "C-1".into(),
            purpose: "p".into(),
            requested_by: "investigator".into(),
        });
        rt(FollowupAccepted {
            id: ByteArray::new([1; 16]),
            records: 3,
        });
        for state in [
            FollowupState::Pending,
            FollowupState::Approved {
                released: vec![ReleasedReference {
                    tag: ByteArray::new([5; 32]),
                    records: vec![vec![("case_no".into(), "K-9".into())]],
                }],
            },
            FollowupState::Denied {
                reason: "no legal basis".into(),
            },
        ] {
            rt(FollowupDecision {
                id: ByteArray::new([2; 16]),
                state,
                decided_at: Some(7),
            });
        }
    }
}
