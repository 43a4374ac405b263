//! Signed notes and what is written in them: checkpoints, receipts, verifier keys, audit
//! entries and cosignature lines. A note this target signs itself must always open again with
//! the signer's key and give back its text.
#![no_main]

use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::cosignature::verify_cosignature;
use cordon_protocol::audit::entry::Entry;
use cordon_protocol::audit::note::{open_note, sign_note, Signer, VerifierKey};
use cordon_protocol::audit::receipt::Receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signer = Signer::from_seed("th", &[1; 32]).expect("signer");
    let keys = [signer.verifier_key(), signer.cosignature_verifier_key()];
    let _ = open_note(data, &keys);
    let _ = Entry::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Checkpoint::parse(text);
    let _ = Receipt::parse(text);
    let _ = VerifierKey::parse(text);
    if let Some((body, line)) = text.split_once("\n\n") {
        let _ = verify_cosignature(body, line, &keys[1]);
    }
    if let Ok(signed) = sign_note(text, &[&signer]) {
        let (opened, names) =
            open_note(signed.as_bytes(), &keys).expect("a note signed here opens");
        assert_eq!(opened, text);
        assert_eq!(names, vec!["th".to_string()]);
    }
});
