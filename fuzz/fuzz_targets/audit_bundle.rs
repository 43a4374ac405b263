//! Audit bundles (`cordon audit export`), as an auditor's verifier reads them: the header, every
//! entry, then the whole verification (signatures, inclusion, consistency, receipts,
//! cosignatures). Nothing a bundle says may make any of it panic.
#![no_main]

use std::collections::BTreeMap;

use cordon_protocol::audit::bundle::{verify, Bundle, BundleKeys};
use cordon_protocol::audit::note::Signer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::parse(data) else {
        return;
    };
    let _ = bundle.parsed_entries();
    let key = Signer::from_seed("th", &[1; 32]).expect("signer").verifier_key();
    let pinned = BundleKeys {
        log: key.to_string(),
        receipts: BTreeMap::new(),
        witnesses: BTreeMap::new(),
    };
    let _ = verify(&bundle, &key, &pinned);
});
