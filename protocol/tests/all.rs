//! The protocol crate's integration tests, linked as one binary: known-answer vectors
//! (`spec/vectors`), identifiers, persons, the Merkle tree and the audit formats. Each file of
//! this folder is one module; `every_file_is_a_module` fails if one is left out (with
//! `autotests = false`, cargo would not build it on its own).

mod bundle;
mod ident_fin;
mod ident_net;
mod identifiers;
mod merkle_vectors;
mod note;
mod oprf_vectors;
mod person;
mod person_corpus;
mod spec_vectors;
mod tree;

#[test]
fn every_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let this = include_str!("all.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests folder") {
        let path = entry.expect("tests folder entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let is_module = path.extension().is_some_and(|e| e == "rs") || path.join("mod.rs").exists();
        if is_module && stem != "all" && !this.contains(&format!("\nmod {stem};")) {
            missing.push(stem.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/{missing:?} not declared in tests/all.rs: add `mod <name>;` or they never run"
    );
}
