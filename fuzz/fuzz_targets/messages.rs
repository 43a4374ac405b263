//! Every CBOR message type, as a frame payload: the first byte picks the type, the rest is the
//! payload. Partner messages (requests, responses, follow-ups, audit exchange, descriptors) and
//! the control messages between a CLI and its node.
#![no_main]

use cordon_node::control::{ControlRequest, ControlResponse, ImportFrame};
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::followup::{FollowupAccepted, FollowupDecision, FollowupRequest};
use cordon_protocol::frame::{decode, encode};
use cordon_protocol::messages::{
    unpack, AuditHello, AuditReply, EvaluateRequest, EvaluateResponse, PartnerRequest,
    PartnerResponse,
};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

/// Decodes `payload` as `T`; if it decodes, it must encode and decode again.
fn check<T: DeserializeOwned + Serialize>(payload: &[u8]) {
    if let Ok(v) = decode::<T>(payload) {
        let bytes = encode(&v).expect("a decoded message encodes");
        let payload = &bytes[cordon_protocol::frame::HEADER_LEN..];
        decode::<T>(payload).expect("a re-encoded message decodes");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 16 {
        0 => check::<PartnerRequest>(payload),
        1 => check::<PartnerResponse>(payload),
        2 => check::<EvaluateRequest>(payload),
        3 => check::<EvaluateResponse>(payload),
        4 => check::<AuditHello>(payload),
        5 => check::<AuditReply>(payload),
        6 => check::<FollowupRequest>(payload),
        7 => check::<FollowupAccepted>(payload),
        8 => check::<FollowupDecision>(payload),
        9 => check::<SignedDescriptor>(payload),
        10 => check::<EpochDescriptor>(payload),
        11 => check::<ControlRequest>(payload),
        12 => check::<ControlResponse>(payload),
        13 => check::<ImportFrame>(payload),
        _ => {
            let _ = unpack("blinded", payload);
        }
    }
});
