//! `tlog-proof` files as an auditor or a partner hands them over: parsed strictly, then
//! verified for an entry against a log key. Nothing a file says may make either panic.
#![no_main]

use cordon_protocol::audit::note::Signer;
use cordon_protocol::audit::proof::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = Signer::from_seed("th", &[1; 32]).expect("signer").verifier_key();
    if let Ok(p) = TlogProof::parse(text) {
        let _ = p.verify(b"entry\n", &key);
        let again = p.to_text();
        TlogProof::parse(&again).expect("a parsed proof prints as a proof");
    }
});
