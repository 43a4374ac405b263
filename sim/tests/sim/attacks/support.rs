//! What the attacks share: a holder serving an epoch it no longer holds, raw frames, and the
//! scalar of an epoch key.

use curve25519_dalek::scalar::Scalar;

use cordon_protocol::messages::{PartnerRequest, PartnerResponse};
use cordon_protocol::oprf::{self, SecretKey, Tag};
use cordon_protocol::session::holder::{self, evaluate};
use cordon_sim::epoch::HeldEpoch;
use cordon_sim::{Federation, Lie, Reply};

/// `jp`'s current epoch of `emails` (its key, filter and delta).
pub fn jp_epoch(fed: &Federation) -> std::sync::Arc<HeldEpoch> {
    fed.node("jp")
        .unwrap()
        .collection("emails")
        .unwrap()
        .epoch()
        .clone()
}

/// What `jp` would answer to `l`'s request from `old`, an epoch it replaced (its key kept by
/// the liar), signed with its keys; `None` for requests about other epochs.
pub fn serve_old(old: &HeldEpoch, l: &mut Lie<'_>) -> Option<Reply> {
    let frames = match l.request? {
        PartnerRequest::GetDescriptor { .. } => {
            vec![PartnerResponse::Descriptor(old.signed.clone())]
        }
        PartnerRequest::GetFilter { epoch, .. } if *epoch == old.number => {
            holder::filter_frames(old.number, &old.filter)
        }
        PartnerRequest::GetDelta { epoch, from, .. } if *epoch == old.number => {
            vec![holder::delta_answer(old.number, *from, &old.delta).ok()?]
        }
        PartnerRequest::Evaluate(req) if req.epoch == old.number => {
            let out = evaluate::evaluate(&old.sk, &old.pk, req, &mut *l.rng).ok()?;
            let receipt = evaluate::receipt(req, "jp", l.from, l.now)
                .sign(&l.holder.keys().receipt)
                .ok()?;
            vec![PartnerResponse::Evaluated(evaluate::answer(
                req, out, receipt, None,
            ))]
        }
        _ => return None,
    };
    Some(Reply::Frames(frames))
}

/// A frame around `payload` (version 1, length), whatever the payload is.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A CBOR text string header and bytes.
pub fn cbor_text(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0x7a];
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
    out
}

/// The scalar of an epoch key.
pub fn scalar(sk: &SecretKey) -> Scalar {
    Scalar::from_canonical_bytes(sk.to_bytes()).expect("a canonical key")
}

/// Whether `text` holds any character that is a control or reorders a line.
pub fn unclean(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

/// The tags of `values` under `holder`'s current key of `collection` (what a querier learns
/// of its items, hit or miss).
pub fn tags_at(fed: &Federation, holder: &str, collection: &str, inputs: &[&str]) -> Vec<Tag> {
    let e = fed
        .node(holder)
        .unwrap()
        .collection(collection)
        .unwrap()
        .epoch()
        .clone();
    let refs: Vec<&[u8]> = inputs.iter().map(|i| i.as_bytes()).collect();
    oprf::holder_tags(&e.sk, &refs).unwrap()
}
