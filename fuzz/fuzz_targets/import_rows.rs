//! Import files as an operator gives them (CSV with or without a header, JSON Lines, one value
//! per line; person records), read row by row as `cordon data import` does, and each value
//! canonicalised. The first byte picks the format and the kind.
#![no_main]

use std::io::Write;

use cordon_cli::input::{open, InputArgs};
use cordon_protocol::ident::{canonicalize, Kind, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let ext = ["csv", "jsonl", "txt"][usize::from(which % 3)];
    let records = which & 0x80 != 0;
    let mut file = tempfile::Builder::new()
        .suffix(&format!(".{ext}"))
        .tempfile()
        .expect("temporary file");
    file.write_all(body).expect("write");
    let args = InputArgs {
        format: None,
        column: None,
        header: which & 0x40 != 0,
    };
    let kind = if records {
        Kind::Person
    } else {
        Kind::ALL[usize::from(which >> 2) % Kind::ALL.len()]
    };
    let Ok(rows) = open(file.path(), &args, records) else {
        return;
    };
    let opts = Options::with_region("TH");
    for row in rows.records().take(1_000) {
        let Ok(row) = row else { continue };
        let _ = canonicalize(kind, &row.value, &opts);
    }
});
