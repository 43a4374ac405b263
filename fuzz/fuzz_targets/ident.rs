//! Identifier canonicalisation of every kind: the first byte picks the kind and the options,
//! the rest is the raw value (UTF-8). Canonicalising must never panic; a person's canonical
//! form must give match keys.
#![no_main]

use cordon_protocol::ident::{canonicalize, Kind, Options};
use cordon_protocol::person::match_keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, raw)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(raw) else {
        return;
    };
    let kind = Kind::ALL[usize::from(which) % Kind::ALL.len()];
    let opts = Options {
        default_region: (which & 0x80 != 0).then(|| "TH".to_string()),
        chain: None,
        window: (which & 0x40 != 0).then(|| "2025-08-23T14".to_string()),
        provider_rules: which & 0x20 != 0,
    };
    if let Ok(c) = canonicalize(kind, raw, &opts) {
        if kind == Kind::Person {
            match_keys(c.value()).expect("a canonical person gives match keys");
        }
    }
});
