// The in-memory audit tree (`audit::tree::Tree`) against the slice functions of
// `audit::merkle`, which pass the published RFC 6962 vectors: every answer (roots, inclusion
// and consistency proofs, frontiers, errors) must be identical, for every index and size of
// small trees and for random ones up to ~300 leaves. The published vectors built on the
// RFC 6962 reference tree are also reproduced through the tree.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cordon_protocol::audit::merkle::{self, leaf_hash, Frontier, Hash, MerkleError};
use cordon_protocol::audit::tree::Tree;
use proptest::prelude::*;
use serde_json::Value;

/// Distinct pseudo-random leaf hashes.
fn leaves(seed: u64, n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect()
}

fn frontier_of(leaves: &[Hash]) -> Frontier {
    let mut f = Frontier::new();
    for l in leaves {
        f.push(*l).expect("small tree");
    }
    f
}

/// Every answer of `tree` at `size` equals the slice functions' on the first `size` leaves.
fn check_size(tree: &Tree, all: &[Hash], size: u64) {
    let s = &all[..size as usize];
    assert_eq!(tree.root_at(size), Ok(merkle::root(s)), "root at {size}");
    assert_eq!(
        tree.frontier_at(size).as_deref(),
        Ok(frontier_of(s).nodes()),
        "frontier at {size}"
    );
    // One index past the end too, for the error.
    for index in 0..=size {
        assert_eq!(
            tree.inclusion_proof(index, size),
            merkle::inclusion_proof(s, index),
            "inclusion of {index} in {size}"
        );
    }
    for old in 0..=size + 1 {
        assert_eq!(
            tree.consistency_proof(old, size),
            merkle::consistency_proof(s, old),
            "consistency {old} -> {size}"
        );
    }
}

#[test]
fn every_answer_of_small_trees_matches_the_slice_functions() {
    let all = leaves(1, 64);
    let tree = Tree::from_leaves(all.clone());
    for size in 0..=64 {
        check_size(&tree, &all, size);
    }
    assert_eq!(tree.root(), merkle::root(&all));
    // A tree of exactly each size answers the same as the larger one at that size.
    for n in 0..=20u64 {
        let small = Tree::from_leaves(all[..n as usize].iter().copied());
        assert_eq!(small.size(), n);
        assert_eq!(small.root(), merkle::root(&all[..n as usize]));
        for size in 0..=n {
            check_size(&small, &all, size);
        }
    }
}

#[test]
fn push_returns_indices_and_matches_from_leaves() {
    let all = leaves(2, 100);
    let mut tree = Tree::new();
    assert_eq!(tree.size(), 0);
    assert_eq!(tree.root(), merkle::root(&[]));
    assert_eq!(tree.leaf(0), None);
    for (i, l) in all.iter().enumerate() {
        assert_eq!(tree.push(*l), Ok(i as u64));
        assert_eq!(tree.size(), i as u64 + 1);
        assert_eq!(tree.root(), merkle::root(&all[..=i]), "size {}", i + 1);
    }
    assert_eq!(tree, Tree::from_leaves(all.clone()));
    for (i, l) in all.iter().enumerate() {
        assert_eq!(tree.leaf(i as u64), Some(*l));
    }
    assert_eq!(tree.leaf(100), None);
    assert_eq!(tree.leaf(u64::MAX), None);
}

#[test]
fn a_frontier_from_the_tree_continues_it() {
    let all = leaves(3, 150);
    let tree = Tree::from_leaves(all.clone());
    for first in 0..=150u64 {
        let nodes = tree.frontier_at(first).unwrap();
        assert_eq!(nodes.len(), first.count_ones() as usize);
        let mut f = Frontier::from_parts(first, nodes).unwrap();
        assert_eq!(f.root(), tree.root_at(first).unwrap());
        for l in &all[first as usize..] {
            f.push(*l).unwrap();
        }
        assert_eq!(f.root(), tree.root(), "continued from {first}");
    }
}

#[test]
fn bad_arguments_are_refused() {
    let tree = Tree::from_leaves(leaves(4, 5));
    let beyond = |size| MerkleError::SizeOrder { old: size, new: 5 };
    // Sizes beyond the tree.
    assert_eq!(tree.root_at(6), Err(beyond(6)));
    assert_eq!(tree.root_at(u64::MAX), Err(beyond(u64::MAX)));
    assert_eq!(tree.frontier_at(6), Err(beyond(6)));
    assert_eq!(tree.inclusion_proof(0, 6), Err(beyond(6)));
    assert_eq!(tree.consistency_proof(3, 6), Err(beyond(6)));
    assert_eq!(tree.consistency_proof(1, u64::MAX), Err(beyond(u64::MAX)));
    // The slice functions' errors come first, as they would for those sizes.
    assert_eq!(
        tree.inclusion_proof(5, 5),
        Err(MerkleError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        tree.inclusion_proof(u64::MAX, 3),
        Err(MerkleError::IndexOutOfRange {
            index: u64::MAX,
            size: 3
        })
    );
    assert_eq!(
        tree.inclusion_proof(0, 0),
        Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        tree.inclusion_proof(7, 6),
        Err(MerkleError::IndexOutOfRange { index: 7, size: 6 })
    );
    assert_eq!(
        tree.consistency_proof(4, 3),
        Err(MerkleError::SizeOrder { old: 4, new: 3 })
    );
    assert_eq!(tree.consistency_proof(0, 5), Err(MerkleError::EmptyOldTree));
    assert_eq!(tree.consistency_proof(0, 0), Err(MerkleError::EmptyOldTree));
    assert!(tree.consistency_proof(0, 9).unwrap_err().is_misuse());
    assert_eq!(tree.consistency_proof(5, 5), Ok(vec![]));
    // The empty tree.
    let empty = Tree::new();
    assert_eq!(empty.root_at(0), Ok(merkle::root(&[])));
    assert_eq!(empty.frontier_at(0), Ok(vec![]));
    assert_eq!(
        empty.root_at(1),
        Err(MerkleError::SizeOrder { old: 1, new: 0 })
    );
    assert_eq!(
        empty.inclusion_proof(0, 0),
        Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
    );
}

#[test]
fn larger_tree_spot_checks() {
    // Sizes around powers of two, where the recursion changes shape, in a tree of 5000.
    let all = leaves(5, 5000);
    let tree = Tree::from_leaves(all.clone());
    for size in [1023u64, 1024, 1025, 4095, 4096, 4097, 5000] {
        let s = &all[..size as usize];
        let r = merkle::root(s);
        assert_eq!(tree.root_at(size), Ok(r));
        for index in [0, 1, size / 2, size - 2, size - 1] {
            let p = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(Ok(&p), merkle::inclusion_proof(s, index).as_ref());
            assert_eq!(
                merkle::verify_inclusion(index, size, &all[index as usize], &p, &r),
                Ok(())
            );
        }
        for old in [1, 2, 1000, 1024, size - 1, size] {
            if old > size {
                continue;
            }
            let p = tree.consistency_proof(old, size).unwrap();
            assert_eq!(Ok(&p), merkle::consistency_proof(s, old).as_ref());
            let r1 = tree.root_at(old).unwrap();
            assert_eq!(merkle::verify_consistency(old, size, &p, &r1, &r), Ok(()));
        }
    }
}

// The published vectors (transparency-dev/merkle testdata, see merkle_vectors.rs). Folders
// 0..=4 of inclusion/ and consistency/ are built on the RFC 6962 reference tree, so the tree
// can reproduce their happy paths; their other files alter one thing of a happy path.

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/merkle")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// A 32-byte base64 hash; `None` for anything else (the vectors' empty or stand-in values).
fn hash(v: &Value) -> Option<Hash> {
    let bytes = STANDARD.decode(v.as_str()?).ok()?;
    bytes.try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

fn num(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("missing number {name}"))
}

/// The leaves of the RFC 6962 reference tree.
fn reference_tree() -> Tree {
    Tree::from_leaves(
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
        .map(|h| leaf_hash(&hex::decode(h).expect("hex"))),
    )
}

#[test]
fn reference_tree_reproduces_the_published_happy_paths() {
    let tree = reference_tree();
    assert_eq!(
        hex::encode(tree.root()),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    let base = vectors_dir();
    for n in 0..=4 {
        let v = read_json(&base.join(format!("inclusion/{n}/happy-path.json")));
        let (index, size) = (num(&v, "leafIdx"), num(&v, "treeSize"));
        assert_eq!(tree.root_at(size).ok(), hash(&v["root"]), "inclusion/{n}");
        assert_eq!(tree.leaf(index), hash(&v["leafHash"]), "inclusion/{n}");
        assert_eq!(
            tree.inclusion_proof(index, size).ok(),
            proof(&v["proof"]),
            "inclusion/{n}"
        );

        let v = read_json(&base.join(format!("consistency/{n}/happy-path.json")));
        let (size1, size2) = (num(&v, "size1"), num(&v, "size2"));
        assert_eq!(
            tree.root_at(size1).ok(),
            hash(&v["root1"]),
            "consistency/{n}"
        );
        assert_eq!(
            tree.root_at(size2).ok(),
            hash(&v["root2"]),
            "consistency/{n}"
        );
        assert_eq!(
            tree.consistency_proof(size1, size2).ok(),
            proof(&v["proof"]),
            "consistency/{n}"
        );
    }
}

/// Over every file of those folders: a vector is valid exactly when the tree, asked for the
/// vector's index and sizes, gives the vector's proof and its roots (and leaf) are the
/// reference tree's at those sizes. So the tree reproduces every valid one and none of the
/// altered ones.
#[test]
fn reference_tree_agrees_with_every_vector_built_on_it() {
    let tree = reference_tree();
    let base = vectors_dir();
    let (mut valid, mut refused) = (0, 0);
    for kind in ["inclusion", "consistency"] {
        for n in 0..=4 {
            let dir = base.join(format!("{kind}/{n}"));
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
                .map(|e| e.expect("directory entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for file in files {
                let v = read_json(&file);
                let want_err = v["wantErr"].as_bool().expect("wantErr");
                let reproduced = if kind == "inclusion" {
                    let (index, size) = (num(&v, "leafIdx"), num(&v, "treeSize"));
                    let p = tree.inclusion_proof(index, size).ok();
                    p.is_some()
                        && p == proof(&v["proof"])
                        && tree.root_at(size).ok() == hash(&v["root"])
                        && tree.leaf(index) == hash(&v["leafHash"])
                } else {
                    let (size1, size2) = (num(&v, "size1"), num(&v, "size2"));
                    let p = tree.consistency_proof(size1, size2).ok();
                    p.is_some()
                        && p == proof(&v["proof"])
                        && tree.root_at(size1).ok() == hash(&v["root1"])
                        && tree.root_at(size2).ok() == hash(&v["root2"])
                };
                assert_eq!(reproduced, !want_err, "{file:?}");
                if want_err {
                    refused += 1;
                } else {
                    valid += 1;
                }
            }
        }
    }
    assert_eq!(valid, 10);
    assert!(refused >= 150, "only {refused} altered vectors found");
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_trees_match_the_slice_functions(
        n in 0u64..300, seed in any::<u64>(),
        a in any::<u64>(), b in any::<u64>(), c in any::<u64>(),
    ) {
        let all = leaves(seed, n);
        let tree = Tree::from_leaves(all.clone());
        prop_assert_eq!(tree.size(), n);
        prop_assert_eq!(tree.root(), merkle::root(&all));
        let size = a % (n + 1);
        let s = &all[..size as usize];
        let r = merkle::root(s);
        prop_assert_eq!(tree.root_at(size), Ok(r));
        let frontier = frontier_of(s);
        prop_assert_eq!(tree.frontier_at(size), Ok(frontier.nodes().to_vec()));

        // Index and old size range one past the valid ones, to cover the errors too.
        let index = b % (size + 1);
        let p = tree.inclusion_proof(index, size);
        prop_assert_eq!(&p, &merkle::inclusion_proof(s, index));
        if let Ok(p) = &p {
            prop_assert_eq!(merkle::verify_inclusion(index, size, &all[index as usize], p, &r), Ok(()));
        }
        let old = c % (size + 2);
        let p = tree.consistency_proof(old, size);
        prop_assert_eq!(&p, &merkle::consistency_proof(s, old));
        if let Ok(p) = &p {
            let r1 = tree.root_at(old).unwrap();
            prop_assert_eq!(merkle::verify_consistency(old, size, p, &r1, &r), Ok(()));
        }
    }

    #[test]
    fn arbitrary_arguments_never_panic(
        n in 0u64..40, a in any::<u64>(), b in any::<u64>(), small in 0u64..50,
    ) {
        let tree = Tree::from_leaves(leaves(n, n));
        for (x, y) in [(a, b), (small, b), (a, small), (small, small + 1), (small, n), (b, n)] {
            let _ = tree.root_at(x);
            let _ = tree.frontier_at(x);
            let _ = tree.leaf(x);
            let _ = tree.inclusion_proof(x, y);
            let _ = tree.consistency_proof(x, y);
            prop_assert_eq!(tree.root_at(x).is_ok(), x <= n);
            prop_assert_eq!(tree.inclusion_proof(x, y).is_ok(), x < y && y <= n);
            prop_assert_eq!(tree.consistency_proof(x, y).is_ok(), 0 < x && x <= y && y <= n);
        }
    }
}
