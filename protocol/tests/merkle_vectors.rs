// RFC 6962 / RFC 9162 Merkle proofs: the transparency-dev/merkle vectors copied into
// spec/vectors/merkle/ (every file passes or fails as its `wantErr` says), generated proofs
// against the published happy paths, and properties over random trees: generated proofs
// verify, any altered bit or parameter makes them fail, and the Frontier root equals root().

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cordon_protocol::audit::merkle::*;
use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/merkle")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}"));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Decodes one base64 hash of a vector. Empty is an error (the vectors' convention). A few
/// vectors use short "don't care" strings (e.g. "ZG9uJ3QgY2FyZSAy", "don't care 2") where
/// only equality between two roots matters; the typed API takes 32-byte hashes, so such a
/// value is mapped to its SHA-256, which keeps equal values equal and distinct ones distinct.
fn hash(v: &Value, stand_ins: &mut usize) -> Result<Hash, String> {
    let s = v.as_str().ok_or("hash is not a string")?;
    let bytes = STANDARD.decode(s).map_err(|e| format!("bad base64: {e}"))?;
    match bytes.len() {
        0 => Err("empty hash".into()),
        32 => Ok(bytes.try_into().expect("32 bytes")),
        _ => {
            *stand_ins += 1;
            Ok(Sha256::digest(&bytes).into())
        }
    }
}

fn proof(v: &Value, stand_ins: &mut usize) -> Result<Vec<Hash>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(|h| hash(h, stand_ins)).collect(),
        _ => Err("proof is neither null nor an array".into()),
    }
}

fn num(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("missing number {name}"))
}

fn run_inclusion(v: &Value, stand_ins: &mut usize) -> Result<(), String> {
    let leaf = hash(&v["leafHash"], stand_ins)?;
    let root = hash(&v["root"], stand_ins)?;
    let proof = proof(&v["proof"], stand_ins)?;
    verify_inclusion(num(v, "leafIdx"), num(v, "treeSize"), &leaf, &proof, &root)
        .map_err(|e| e.to_string())
}

fn run_consistency(v: &Value, stand_ins: &mut usize) -> Result<(), String> {
    let root1 = hash(&v["root1"], stand_ins)?;
    let root2 = hash(&v["root2"], stand_ins)?;
    let proof = proof(&v["proof"], stand_ins)?;
    verify_consistency(num(v, "size1"), num(v, "size2"), &proof, &root1, &root2)
        .map_err(|e| e.to_string())
}

#[test]
fn published_vectors() {
    let base = vectors_dir();
    let mut files = Vec::new();
    json_files(&base, &mut files);
    files.sort();
    // Per folder: (passed as expected, of which wantErr: false).
    let mut folders: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut stand_ins = 0;
    let mut failures = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&base).expect("under base");
        let folder = rel
            .parent()
            .expect("has folder")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(file).expect("readable");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel:?}: {e}"));
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        let result = if folder.starts_with("inclusion") {
            run_inclusion(&v, &mut stand_ins)
        } else if folder.starts_with("consistency") {
            run_consistency(&v, &mut stand_ins)
        } else {
            panic!("vector outside inclusion/ and consistency/: {rel:?}")
        };
        // A refusal must come from the verifier or the empty-hash convention, not from a
        // vector this harness failed to read.
        if let Err(e) = &result {
            assert!(
                !e.starts_with("bad base64")
                    && !e.contains("not a string")
                    && !e.contains("neither"),
                "{rel:?}: unreadable vector: {e}"
            );
        }
        if result.is_err() != want_err {
            failures.push(format!("{rel:?}: wantErr {want_err}, got {result:?}"));
            continue;
        }
        let entry = folders.entry(folder).or_default();
        entry.0 += 1;
        entry.1 += usize::from(!want_err);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (folder, (passed, ok)) in &folders {
        eprintln!(
            "merkle vectors {folder}: {passed} passed ({ok} valid, {} refused)",
            passed - ok
        );
    }
    let total = |prefix: &str| -> usize {
        folders
            .iter()
            .filter(|(f, _)| f.starts_with(prefix))
            .map(|(_, c)| c.0)
            .sum()
    };
    eprintln!(
        "merkle vectors: {} inclusion, {} consistency, {stand_ins} stand-in hashes",
        total("inclusion"),
        total("consistency")
    );
    for folder in [
        "inclusion/0",
        "inclusion/1",
        "inclusion/2",
        "inclusion/3",
        "inclusion/4",
        "inclusion/additional/0",
        "inclusion/additional/1",
        "inclusion/additional/2",
        "inclusion/additional/3",
        "inclusion/single-entry",
        "consistency/0",
        "consistency/1",
        "consistency/2",
        "consistency/3",
        "consistency/4",
        "consistency/additional",
    ] {
        let passed = folders.get(folder).map_or(0, |c| c.0);
        assert!(passed > 0, "no vectors in {folder}");
    }
    // Every file of the copy (commit 417fb0c of transparency-dev/merkle testdata).
    assert_eq!(total("inclusion"), 98);
    assert_eq!(total("consistency"), 98);
}

/// The leaves of the reference tree of RFC 6962 test data, used by transparency-dev/merkle.
fn reference_leaves() -> Vec<Hash> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| leaf_hash(&hex::decode(h).expect("hex")))
    .collect()
}

#[test]
fn generated_proofs_match_published_happy_paths() {
    let leaves = reference_leaves();
    let base = vectors_dir();
    let mut stand_ins = 0;
    let mut checked = 0;
    for n in 0..=4 {
        let v = read_json(&base.join(format!("inclusion/{n}/happy-path.json")));
        let (index, size) = (num(&v, "leafIdx"), num(&v, "treeSize"));
        let tree = &leaves[..size as usize];
        assert_eq!(root(tree), hash(&v["root"], &mut stand_ins).unwrap());
        assert_eq!(
            tree[index as usize],
            hash(&v["leafHash"], &mut stand_ins).unwrap()
        );
        assert_eq!(
            inclusion_proof(tree, index).unwrap(),
            proof(&v["proof"], &mut stand_ins).unwrap()
        );

        let v = read_json(&base.join(format!("consistency/{n}/happy-path.json")));
        let (size1, size2) = (num(&v, "size1"), num(&v, "size2"));
        let tree = &leaves[..size2 as usize];
        assert_eq!(
            root(&tree[..size1 as usize]),
            hash(&v["root1"], &mut stand_ins).unwrap()
        );
        assert_eq!(root(tree), hash(&v["root2"], &mut stand_ins).unwrap());
        assert_eq!(
            consistency_proof(tree, size1).unwrap(),
            proof(&v["proof"], &mut stand_ins).unwrap()
        );
        checked += 2;
    }
    assert_eq!(checked, 10);
    assert_eq!(stand_ins, 0);
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("json")
}

#[test]
fn known_answers() {
    // SHA-256("") and the RFC 6962 reference tree's 8-leaf root.
    assert_eq!(
        hex::encode(root(&[])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex::encode(root(&reference_leaves())),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    assert_eq!(
        hex::encode(leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

#[test]
fn misuse_is_reported() {
    let leaves = reference_leaves();
    let e = inclusion_proof(&leaves, 8).unwrap_err();
    assert_eq!(e, MerkleError::IndexOutOfRange { index: 8, size: 8 });
    assert!(e.is_misuse());
    assert_eq!(
        inclusion_proof(&[], 0).unwrap_err(),
        MerkleError::IndexOutOfRange { index: 0, size: 0 }
    );
    assert_eq!(
        consistency_proof(&leaves, 0).unwrap_err(),
        MerkleError::EmptyOldTree
    );
    assert_eq!(
        consistency_proof(&leaves, 9).unwrap_err(),
        MerkleError::SizeOrder { old: 9, new: 8 }
    );
    assert_eq!(consistency_proof(&leaves, 8).unwrap(), Vec::<Hash>::new());
    assert!(matches!(
        Frontier::from_parts(3, vec![[0; 32]]),
        Err(MerkleError::FrontierShape {
            size: 3,
            expected: 2,
            got: 1
        })
    ));
    let r = root(&leaves);
    assert!(!MerkleError::RootMismatch.is_misuse());
    assert!(matches!(
        verify_inclusion(0, 8, &leaves[0], &[], &r),
        Err(MerkleError::ProofLength {
            expected: 3,
            got: 0
        })
    ));
}

/// Distinct pseudo-random leaf hashes for a tree.
fn leaves(seed: u64, n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect()
}

#[test]
fn every_proof_of_small_trees_verifies() {
    for n in 1..=128u64 {
        let tree = leaves(n, n);
        let r = root(&tree);
        for i in 0..n {
            let p = inclusion_proof(&tree, i).unwrap();
            assert_eq!(
                verify_inclusion(i, n, &tree[i as usize], &p, &r),
                Ok(()),
                "i={i} n={n}"
            );
        }
        for m in 1..=n {
            let p = consistency_proof(&tree, m).unwrap();
            let r1 = root(&tree[..m as usize]);
            assert_eq!(verify_consistency(m, n, &p, &r1, &r), Ok(()), "m={m} n={n}");
        }
    }
}

#[test]
fn frontier_root_equals_root_at_every_size() {
    let tree = leaves(7, 1000);
    let mut f = Frontier::new();
    assert_eq!(f.root(), root(&[]));
    for (i, leaf) in tree.iter().enumerate() {
        assert_eq!(f.push(*leaf), Ok(i as u64));
        assert_eq!(f.size(), i as u64 + 1);
        assert_eq!(f.nodes().len(), f.size().count_ones() as usize);
        assert_eq!(f.root(), root(&tree[..=i]), "size {}", i + 1);
    }
    let saved = Frontier::from_parts(f.size(), f.nodes().to_vec()).unwrap();
    assert_eq!(saved, f);
}

#[test]
fn frontier_refuses_to_overflow() {
    let nodes = vec![[0u8; 32]; 64];
    let mut f = Frontier::from_parts(u64::MAX, nodes).unwrap();
    assert_eq!(f.push([1; 32]), Err(MerkleError::TreeFull));
}

// Models of the proofs' shapes, straight from the RFC's PATH and SUBPROOF recursions: which
// side each proof hash sits on. Verification depends on the index and sizes only through this
// shape, so a proof also verifies for other parameters with the same shape (the sizes are
// bound by the signed tree head, not by the proof); any other change must fail.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Step {
    Seed,
    Left,
    Right,
}

fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

fn inclusion_shape(i: u64, n: u64) -> Option<Vec<Step>> {
    fn go(i: u64, n: u64, out: &mut Vec<Step>) {
        if n <= 1 {
            return;
        }
        let k = split(n);
        if i < k {
            go(i, k, out);
            out.push(Step::Right);
        } else {
            go(i - k, n - k, out);
            out.push(Step::Left);
        }
    }
    (i < n).then(|| {
        let mut out = Vec::new();
        go(i, n, &mut out);
        out
    })
}

fn consistency_shape(m: u64, n: u64) -> Option<Vec<Step>> {
    fn go(m: u64, n: u64, whole: bool, out: &mut Vec<Step>) {
        if m == n {
            if !whole {
                out.push(Step::Seed);
            }
            return;
        }
        let k = split(n);
        if m <= k {
            go(m, k, whole, out);
            out.push(Step::Right);
        } else {
            go(m - k, n - k, false, out);
            out.push(Step::Left);
        }
    }
    (m >= 1 && m <= n).then(|| {
        let mut out = Vec::new();
        go(m, n, true, &mut out);
        out
    })
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

fn altered(x: u64) -> Vec<u64> {
    let mut v = vec![
        x ^ 1,
        x ^ 2,
        x.wrapping_add(1),
        x.wrapping_sub(1),
        x / 2,
        x.wrapping_mul(2),
        u64::MAX,
        0,
    ];
    v.retain(|&y| y != x);
    v
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn inclusion_proofs_verify_and_resist_tampering(
        n in 1u64..300, pick in any::<u64>(), seed in any::<u64>(), bit in 0usize..256,
    ) {
        let tree = leaves(seed, n);
        let r = root(&tree);
        let i = pick % n;
        let leaf = tree[i as usize];
        let p = inclusion_proof(&tree, i).unwrap();
        prop_assert_eq!(verify_inclusion(i, n, &leaf, &p, &r), Ok(()));

        prop_assert!(verify_inclusion(i, n, &flip(&leaf, bit), &p, &r).is_err());
        prop_assert!(verify_inclusion(i, n, &leaf, &p, &flip(&r, bit)).is_err());
        for j in 0..p.len() {
            let mut q = p.clone();
            q[j] = flip(&q[j], bit);
            prop_assert!(verify_inclusion(i, n, &leaf, &q, &r).is_err());
        }
        // Truncated, extended, reordered proofs.
        prop_assert!(verify_inclusion(i, n, &leaf, &[p.clone(), vec![r]].concat(), &r).is_err());
        if let Some((_, shorter)) = p.split_last() {
            prop_assert!(verify_inclusion(i, n, &leaf, shorter, &r).is_err());
        }
        if p.len() >= 2 && p[0] != p[1] {
            let mut q = p.clone();
            q.swap(0, 1);
            prop_assert!(verify_inclusion(i, n, &leaf, &q, &r).is_err());
        }

        let shape = inclusion_shape(i, n);
        for (i2, n2) in altered(i).into_iter().map(|i2| (i2, n)).chain(altered(n).into_iter().map(|n2| (i, n2))) {
            let same = inclusion_shape(i2, n2) == shape;
            prop_assert_eq!(verify_inclusion(i2, n2, &leaf, &p, &r).is_ok(), same, "i2={} n2={}", i2, n2);
        }
    }

    #[test]
    fn consistency_proofs_verify_and_resist_tampering(
        n in 1u64..300, pick in any::<u64>(), seed in any::<u64>(), bit in 0usize..256,
    ) {
        let tree = leaves(seed, n);
        let m = 1 + pick % n;
        let r1 = root(&tree[..m as usize]);
        let r2 = root(&tree);
        let p = consistency_proof(&tree, m).unwrap();
        prop_assert_eq!(verify_consistency(m, n, &p, &r1, &r2), Ok(()));

        prop_assert!(verify_consistency(m, n, &p, &flip(&r1, bit), &r2).is_err());
        prop_assert!(verify_consistency(m, n, &p, &r1, &flip(&r2, bit)).is_err());
        for j in 0..p.len() {
            let mut q = p.clone();
            q[j] = flip(&q[j], bit);
            prop_assert!(verify_consistency(m, n, &q, &r1, &r2).is_err());
        }
        prop_assert!(verify_consistency(m, n, &[p.clone(), vec![r1]].concat(), &r1, &r2).is_err());
        if let Some((_, shorter)) = p.split_last() {
            prop_assert!(verify_consistency(m, n, shorter, &r1, &r2).is_err());
        }
        if m < n {
            prop_assert!(verify_consistency(m, n, &p, &r2, &r1).is_err());
        }

        let shape = consistency_shape(m, n);
        for (m2, n2) in altered(m).into_iter().map(|m2| (m2, n)).chain(altered(n).into_iter().map(|n2| (m, n2))) {
            let same = consistency_shape(m2, n2) == shape;
            prop_assert_eq!(verify_consistency(m2, n2, &p, &r1, &r2).is_ok(), same, "m2={} n2={}", m2, n2);
        }
    }

    #[test]
    fn frontier_root_equals_root(n in 0u64..300, seed in any::<u64>()) {
        let tree = leaves(seed, n);
        let mut f = Frontier::new();
        for leaf in &tree {
            f.push(*leaf).unwrap();
        }
        prop_assert_eq!(f.root(), root(&tree));
        prop_assert_eq!(Frontier::from_parts(n, f.nodes().to_vec()), Ok(f));
    }

    #[test]
    fn arbitrary_proofs_never_panic(
        a in any::<u64>(), b in any::<u64>(), small in 0u64..20,
        proof in prop::collection::vec(any::<[u8; 32]>(), 0..70),
        x in any::<[u8; 32]>(), y in any::<[u8; 32]>(),
    ) {
        for (i, n) in [(a, b), (small, b), (a, small), (small, small + 1)] {
            let _ = verify_inclusion(i, n, &x, &proof, &y);
            let _ = verify_consistency(i, n, &proof, &x, &y);
        }
        let _ = Frontier::from_parts(a, proof.clone()).map(|f| f.root());
    }
}
