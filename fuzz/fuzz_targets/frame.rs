//! Whole frames as they arrive on a stream: header (version, length) then one CBOR value.
//! Decoding must never panic or allocate past the frame limit; whatever decodes must encode
//! again and decode to the same value.
#![no_main]

use cordon_protocol::frame::{decode_frame, encode, parse_header};
use cordon_protocol::messages::{PartnerRequest, PartnerResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(data);
    if let Ok(req) = decode_frame::<PartnerRequest>(data) {
        let again = encode(&req).expect("a decoded request encodes");
        assert_eq!(decode_frame::<PartnerRequest>(&again).ok(), Some(req));
    }
    if let Ok(resp) = decode_frame::<PartnerResponse>(data) {
        let again = encode(&resp).expect("a decoded response encodes");
        assert_eq!(decode_frame::<PartnerResponse>(&again).ok(), Some(resp));
    }
});
