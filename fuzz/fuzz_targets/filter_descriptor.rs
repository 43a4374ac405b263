//! A partner's signed epoch descriptor and filter, as a querier receives them: the descriptor
//! is decoded and checked (signature, names, validity), the filter bytes against the filter
//! parameters and digest. Input layout (so that seeds can be real ones): digest (32 bytes),
//! capacity (8, little-endian), hash functions (1), descriptor length (2, little-endian), the
//! descriptor (CBOR), the filter bytes.
#![no_main]

use cordon_protocol::descriptor::SignedDescriptor;
use cordon_protocol::filter::{EpochFilter, FilterParams};
use cordon_protocol::frame::decode;
use libfuzzer_sys::fuzz_target;
use serde_bytes::ByteArray;

fuzz_target!(|data: &[u8]| {
    if data.len() < 43 {
        return;
    }
    let digest: [u8; 32] = data[..32].try_into().unwrap();
    let capacity = u64::from_le_bytes(data[32..40].try_into().unwrap());
    let hashes = u32::from(data[40]);
    let desc_len = usize::from(u16::from_le_bytes([data[41], data[42]]));
    let rest = &data[43..];
    let (desc, filter) = rest.split_at(desc_len.min(rest.len()));
    if let Ok(d) = decode::<SignedDescriptor>(desc) {
        let _ = d.descriptor_unverified();
        let _ = d.verify(&[7; 32], "jp", "phones", 1_800_000_000);
    }
    let params = FilterParams {
        bitmap_bytes: filter.len() as u64,
        hashes,
        seed: ByteArray::new([9; 32]),
        capacity,
        fp_rate: 1e-9,
    };
    if let Ok(f) = EpochFilter::from_bytes(filter.to_vec(), &params, &digest) {
        let _ = f.contains(&[1; 32]);
    }
});
