//! A holder that lies on purpose, for the tests that show a querier rejects its answers
//! (feature `test-util` only: without it neither this module nor the setting exists, and
//! nothing in a configuration or a control message can turn it on; tests set it through
//! `NodeHandle::set_misbehaviour`).

use std::sync::atomic::{AtomicU8, Ordering};

use cordon_protocol::messages::PartnerResponse;

/// How the holder corrupts what it serves to partners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Misbehaviour {
    /// Serves honestly.
    #[default]
    None = 0,
    /// Flips a bit of every descriptor signature it sends.
    DescriptorSignature = 1,
    /// Flips a bit of every evaluation proof it sends.
    Proof = 2,
    /// Flips a bit of every filter it sends (the announced size stays right).
    FilterBytes = 3,
    /// Announces every filter one byte shorter than its descriptor signs, and sends that many.
    FilterSize = 4,
}

impl Misbehaviour {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Misbehaviour::DescriptorSignature,
            2 => Misbehaviour::Proof,
            3 => Misbehaviour::FilterBytes,
            4 => Misbehaviour::FilterSize,
            _ => Misbehaviour::None,
        }
    }
}

/// The setting, shared by the partner server and the node's handle.
#[derive(Debug, Default)]
pub struct MisbehaviourCell(AtomicU8);

impl MisbehaviourCell {
    /// Makes this node misbehave as a holder from now on (`Misbehaviour::None` to stop).
    pub fn set(&self, m: Misbehaviour) {
        self.0.store(m as u8, Ordering::SeqCst);
    }

    fn get(&self) -> Misbehaviour {
        Misbehaviour::from_u8(self.0.load(Ordering::SeqCst))
    }
}

/// A descriptor or evaluation answer as the misbehaving holder sends it.
pub(crate) fn response(cell: &MisbehaviourCell, mut resp: PartnerResponse) -> PartnerResponse {
    match (cell.get(), &mut resp) {
        (Misbehaviour::DescriptorSignature, PartnerResponse::Descriptor(d)) => {
            d.signature[0] ^= 1;
        }
        (Misbehaviour::Proof, PartnerResponse::Evaluated(ev)) => {
            // The challenge half: still a canonical scalar, but no longer the right one.
            ev.proof[1] ^= 1;
        }
        _ => {}
    }
    resp
}

/// The filter bytes as the misbehaving holder sends them.
pub(crate) fn filter(cell: &MisbehaviourCell, filter: &[u8]) -> Vec<u8> {
    let mut out = filter.to_vec();
    match cell.get() {
        Misbehaviour::FilterBytes if !out.is_empty() => {
            let last = out.len() - 1;
            out[last] ^= 1;
        }
        Misbehaviour::FilterSize => {
            out.pop();
        }
        _ => {}
    }
    out
}
