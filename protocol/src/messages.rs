//! Messages between nodes on the partner ALPN (`cordon-partner/1`).
//!
//! One request per QUIC bidirectional stream; the holder answers with one response frame, or
//! for [`PartnerRequest::GetFilter`] with a [`PartnerResponse::FilterStart`] followed by
//! [`PartnerResponse::FilterChunk`] frames. Elements, tags and proofs travel packed in CBOR
//! byte strings (32 bytes per element), not as CBOR arrays, so a 10,000-item query costs
//! 64 bytes per item plus a constant.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;

use crate::descriptor::SignedDescriptor;
use crate::error::{RemoteError, WireError};

/// Most items one evaluation request may carry: the RFC 9497 batch limit (the DLEQ proof
/// numbers items with two bytes). 65,536 × 32 bytes also fits one frame.
pub const MAX_ITEMS_PER_REQUEST: usize = 65_536;
/// Most delta tags in one `delta` answer (fits one frame); longer deltas take several requests.
pub const MAX_DELTA_TAGS_PER_FRAME: usize = 200_000;
/// Size of one filter chunk on the wire.
pub const FILTER_CHUNK_BYTES: usize = 4 << 20;
/// Length of a compressed ristretto255 element, a tag, or a scalar.
pub const ELEMENT_LEN: usize = 32;

/// What a querier asks a holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerRequest {
    /// The current signed descriptor of a collection.
    GetDescriptor {
        /// Collection name.
        collection: String,
    },
    /// The whole filter of an epoch (answered in chunks).
    GetFilter {
        /// Collection name.
        collection: String,
        /// Epoch the querier holds a descriptor for.
        epoch: u64,
    },
    /// Delta tags from position `from` (0-based) to the current delta count.
    GetDelta {
        /// Collection name.
        collection: String,
        /// Epoch the querier holds a descriptor for.
        epoch: u64,
        /// How many delta tags the querier already has.
        from: u64,
    },
    /// Evaluate blinded elements with the epoch key and prove it.
    Evaluate(EvaluateRequest),
    /// File a follow-up request on hits (answered by [`PartnerResponse::FollowupAccepted`]).
    Followup(crate::followup::FollowupRequest),
    /// The holder's decisions on this partner's own follow-up requests (answered by
    /// [`PartnerResponse::FollowupStatus`]).
    FollowupStatus {
        /// Identifiers of the requests asked about.
        ids: Vec<ByteArray<16>>,
    },
}

/// What the querier learns from an evaluation (spec/PROTOCOL.md §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMode {
    /// Which of its items the holder holds: one blind per item, answers in request order,
    /// one batched DLEQ proof.
    #[default]
    Match,
    /// Only how many: one blind for the whole batch, answers shuffled by the holder.
    Count,
}

impl QueryMode {
    /// The mode as written on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryMode::Match => "match",
            QueryMode::Count => "count",
        }
    }

    /// Whether this is the default mode (left out of encodings, so that version-1 messages
    /// without the field stay byte-identical).
    pub fn is_match(&self) -> bool {
        *self == QueryMode::Match
    }
}

impl std::fmt::Display for QueryMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for QueryMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "match" => Ok(QueryMode::Match),
            "count" => Ok(QueryMode::Count),
            other => Err(format!(
                "mode `{other}` is not known; use `match` or `count`"
            )),
        }
    }
}

/// A batch of blinded elements to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluateRequest {
    /// Random identifier chosen by the querier, echoed in the answer.
    pub query_id: ByteArray<16>,
    /// Collection name.
    pub collection: String,
    /// Epoch whose key must be used; a different current epoch is refused as `stale_epoch`.
    pub epoch: u64,
    /// Blinded elements, 32 bytes each, concatenated.
    #[serde(with = "serde_bytes")]
    pub blinded: Vec<u8>,
    /// `match` (absent) or `count`.
    #[serde(default, skip_serializing_if = "QueryMode::is_match")]
    pub mode: QueryMode,
    /// The querier's side of the checkpoint exchange (spec/AUDIT.md §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditHello>,
}

/// The querier's latest checkpoint, proof and cosignature, sent with an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHello {
    /// The querier's latest checkpoint as a signed note (its log key).
    pub checkpoint: String,
    /// Size of the querier's checkpoint the holder last said it holds (0: none).
    pub proof_from: u64,
    /// Consistency proof from `proof_from` to `checkpoint`, 32 bytes per hash, concatenated.
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
    /// Size of the holder's checkpoint the querier holds (0: none).
    pub seen: u64,
    /// The querier's cosignature line over the holder's checkpoint of size `seen`.
    #[serde(default)]
    pub cosignature: Option<String>,
}

/// The holder's latest checkpoint, proof and cosignature, sent with an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReply {
    /// The holder's latest checkpoint, which includes its entry for this answer.
    pub checkpoint: String,
    /// Consistency proof from the querier's `seen` to `checkpoint` (empty when `seen` is 0).
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
    /// The holder's cosignature line over the querier's checkpoint, if it verified.
    #[serde(default)]
    pub cosignature: Option<String>,
    /// Size of the querier's checkpoint the holder now holds.
    pub known: u64,
}

/// The holder's answer to an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluateResponse {
    /// The request's identifier.
    pub query_id: ByteArray<16>,
    /// Epoch whose key was used.
    pub epoch: u64,
    /// Evaluated elements in request order, 32 bytes each, concatenated.
    #[serde(with = "serde_bytes")]
    pub evaluated: Vec<u8>,
    /// Batched DLEQ proof (RFC 9497 §2.2): `c || s`.
    pub proof: ByteArray<64>,
    /// The holder's signed receipt of this exchange (`cordon_protocol::audit::receipt`).
    pub receipt: String,
    /// The holder's side of the checkpoint exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditReply>,
}

/// What a holder answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerResponse {
    /// The current signed descriptor.
    Descriptor(SignedDescriptor),
    /// A filter follows in `chunks` frames totalling `total_bytes`.
    FilterStart {
        /// Epoch of the filter.
        epoch: u64,
        /// Bytes of the filter encoding.
        total_bytes: u64,
    },
    /// One piece of a filter, at most [`FILTER_CHUNK_BYTES`].
    FilterChunk {
        /// The bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Delta tags `from..from + n`.
    Delta {
        /// Epoch of the delta.
        epoch: u64,
        /// Position of the first tag.
        from: u64,
        /// Tags, 32 bytes each, concatenated.
        #[serde(with = "serde_bytes")]
        tags: Vec<u8>,
    },
    /// Evaluated elements and proof.
    Evaluated(EvaluateResponse),
    /// The request was refused.
    Error(RemoteError),
    /// A follow-up request was queued for review.
    FollowupAccepted(crate::followup::FollowupAccepted),
    /// Decisions on the asked follow-up requests that are this partner's; others are left out.
    FollowupStatus {
        /// One per known request.
        decisions: Vec<crate::followup::FollowupDecision>,
    },
}

/// Splits packed 32-byte items, rejecting a length that is not a multiple of 32.
pub fn unpack(field: &'static str, bytes: &[u8]) -> Result<Vec<[u8; 32]>, WireError> {
    if !bytes.len().is_multiple_of(ELEMENT_LEN) {
        return Err(WireError::InvalidField {
            field,
            reason: format!("{} bytes is not a multiple of {ELEMENT_LEN}", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(ELEMENT_LEN)
        .map(|c| {
            let mut a = [0u8; 32];
            a.copy_from_slice(c);
            a
        })
        .collect())
}

/// Packs 32-byte items into one byte string.
pub fn pack(items: &[[u8; 32]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * ELEMENT_LEN);
    for i in items {
        out.extend_from_slice(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::frame::{decode_frame, encode};

    fn rt<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let f = encode(&v).unwrap();
        let back: T = decode_frame(&f).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn every_message_round_trips() {
        rt(PartnerRequest::GetDescriptor {
            collection: "phones".into(),
        });
        rt(PartnerRequest::GetFilter {
            collection: "phones".into(),
            epoch: 2,
        });
        rt(PartnerRequest::GetDelta {
            collection: "phones".into(),
            epoch: 2,
            from: 17,
        });
        rt(PartnerRequest::Evaluate(EvaluateRequest {
            query_id: ByteArray::new([3; 16]),
            collection: "c".into(),
            epoch: 9,
            blinded: pack(&[[1; 32], [2; 32]]),
            mode: Default::default(),
            audit: Some(AuditHello {
                checkpoint: "o\n1\nAAAA\n\n— o sig\n".into(),
                proof_from: 3,
                proof: pack(&[[9; 32]]),
                seen: 4,
                cosignature: Some("— jp x\n".into()),
            }),
        }));
        rt(PartnerResponse::FilterStart {
            epoch: 1,
            total_bytes: 99,
        });
        rt(PartnerResponse::FilterChunk {
            bytes: vec![1, 2, 3],
        });
        rt(PartnerResponse::Delta {
            epoch: 1,
            from: 0,
            tags: pack(&[[4; 32]]),
        });
        rt(PartnerResponse::Evaluated(EvaluateResponse {
            query_id: ByteArray::new([3; 16]),
            epoch: 9,
            evaluated: pack(&[[7; 32]]),
            proof: ByteArray::new([8; 64]),
            receipt: "cordon.receipt/v1\n".into(),
            audit: Some(AuditReply {
                checkpoint: "c".into(),
                proof: vec![],
                cosignature: None,
                known: 7,
            }),
        }));
        rt(PartnerRequest::Followup(crate::followup::FollowupRequest {
            id: ByteArray::new([1; 16]),
            collection: "phones".into(),
            epoch: 2,
            references: pack(&[[3; 32]]),
            case_ref: "C".into(),
            purpose: "p".into(),
            requested_by: "inv".into(),
        }));
        rt(PartnerRequest::FollowupStatus {
            ids: vec![ByteArray::new([1; 16])],
        });
        rt(PartnerResponse::FollowupAccepted(
            crate::followup::FollowupAccepted {
                id: ByteArray::new([1; 16]),
                records: 2,
            },
        ));
        rt(PartnerResponse::FollowupStatus {
            decisions: vec![crate::followup::FollowupDecision {
                id: ByteArray::new([1; 16]),
                state: crate::followup::FollowupState::Denied { reason: "r".into() },
                decided_at: Some(3),
            }],
        });
        rt(PartnerResponse::Error(RemoteError::new(
            ErrorCode::StaleEpoch,
            "epoch 3 is current",
        )));
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .unwrap();
        let k = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let d = crate::descriptor::SignedDescriptor::sign(
            &crate::descriptor::tests_support::sample(),
            &k,
        )
        .unwrap();
        rt(PartnerResponse::Descriptor(d));
    }

    #[test]
    fn wire_cost_per_item_is_32_bytes() {
        let n = 10_000;
        let items = vec![[0xAB; 32]; n];
        let req = PartnerRequest::Evaluate(EvaluateRequest {
            query_id: ByteArray::new([0; 16]),
            collection: "phones".into(),
            epoch: 1,
            blinded: pack(&items),
            mode: Default::default(),
            audit: None,
        });
        let len = encode(&req).unwrap().len();
        assert!(len <= n * 32 + 100, "{len}");
    }

    #[test]
    fn unknown_error_codes_decode() {
        // A newer peer's code must not make the message undecodable.
        let mut buf = Vec::new();
        ciborium::into_writer(
            &serde_json::json!({"error": {"code": "brand_new", "message": "x"}}),
            &mut buf,
        )
        .unwrap();
        let r: PartnerResponse = crate::frame::decode(&buf).unwrap();
        assert!(matches!(
            r,
            PartnerResponse::Error(RemoteError {
                code: ErrorCode::Unknown,
                ..
            })
        ));
    }

    #[test]
    fn unpack_rejects_ragged() {
        assert!(unpack("blinded", &[0; 33]).is_err());
        assert_eq!(unpack("blinded", &[0; 64]).unwrap().len(), 2);
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate() {
        // A byte string that claims 2^62 bytes inside a 9-byte payload.
        let mut p = vec![0xa1, 0x6c];
        p.extend_from_slice(b"filter_chunk");
        p.extend_from_slice(&[0xa1, 0x65]);
        p.extend_from_slice(b"bytes");
        p.push(0x5b);
        p.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert!(crate::frame::decode::<PartnerResponse>(&p).is_err());
        // An array that claims 2^62 elements.
        let mut q = vec![0x9b];
        q.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert!(crate::frame::decode::<Vec<u64>>(&q).is_err());
    }
}
