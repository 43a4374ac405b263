//! RFC 6962 / RFC 9162 Merkle tree hashing with inclusion and consistency proofs, for the
//! tamper-evident audit log: each log entry is one leaf, and a signed tree head (size, root)
//! commits to every entry before it.
//!
//! Hashing is exactly RFC 9162 §2.1.1 with SHA-256:
//!
//! ```text
//! leaf_hash(entry) = SHA-256(0x00 || entry)
//! node_hash(l, r)  = SHA-256(0x01 || l || r)
//! MTH({})          = SHA-256("")
//! MTH(D[n])        = node_hash(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of two < n
//! ```
//!
//! Proofs are lists of 32-byte hashes in the RFC's order, so they are interoperable with
//! Certificate Transparency logs and with transparency-dev/merkle, whose test vectors
//! (`spec/vectors/merkle/`) this module passes. Two conventions of those vectors are kept: a
//! consistency proof from an empty tree is refused (it proves nothing), and an inclusion proof
//! into an empty tree is refused (no index is below size 0).
//!
//! Hand-written rather than a crate: `ct-merkle` 0.3 (the maintained RFC 6962 crate) is built
//! on `digest` 0.11, which would bring a second SHA-2 next to the workspace's `sha2` 0.10, and
//! its verifiers take leaf *values* and its prover needs its own in-memory tree, whereas the
//! log stores leaf hashes and the vectors give only leaf hashes. `rs_merkle` is not RFC 6962
//! (no leaf/node domain separation, different handling of odd nodes). The RFC algorithms
//! below are short and are checked against the published vectors.
//!
//! Not done: storing the tree, or proofs without holding every leaf hash in memory (the
//! [`Frontier`] gives the current root in O(log n) state; proofs for a stored log will need
//! a node-hash store in `cordon-node`). Nothing here panics on any input.

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Why a Merkle operation failed. Variants are grouped by cause: the caller's misuse (asking
/// about something outside the tree), a malformed proof (wrong shape, regardless of the
/// hashes in it) and a verification failure (right shape, wrong hashes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// Misuse: the leaf index is not below the tree size (this includes every index into an
    /// empty tree).
    #[error("leaf index {index} is outside a tree of {size} leaves; the index must be below the tree size")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Misuse: the old tree is larger than the new one.
    #[error("old tree size {old} is larger than new tree size {new}; a log only grows, so check the order of the tree heads")]
    SizeOrder {
        /// The old (first) tree size.
        old: u64,
        /// The new (second) tree size.
        new: u64,
    },
    /// Misuse: consistency from an empty tree proves nothing (every tree extends it).
    #[error("a consistency proof from an empty tree proves nothing; start from a tree of at least one leaf")]
    EmptyOldTree,
    /// Misuse: the frontier already holds 2^64 - 1 leaves.
    #[error("the tree already holds the largest number of leaves a 64-bit size can count; start a new log")]
    TreeFull,
    /// Misuse: frontier state whose node count does not match its size.
    #[error("frontier state has {got} nodes but a tree of {size} leaves needs {expected}; the saved state is corrupt")]
    FrontierShape {
        /// The claimed tree size.
        size: u64,
        /// Nodes a tree of that size needs (one per set bit of the size).
        expected: usize,
        /// Nodes given.
        got: usize,
    },
    /// Malformed proof: it has the wrong number of hashes for the given index and sizes.
    #[error("proof has {got} hashes but a proof for these sizes has exactly {expected}; the proof was truncated, padded or made for other sizes")]
    ProofLength {
        /// Hashes the proof must have.
        expected: usize,
        /// Hashes it has.
        got: usize,
    },
    /// Verification failure: the proof does not lead to the (new) root.
    #[error("the proof does not lead to the expected root; the leaf, proof or root was altered or belongs to another tree")]
    RootMismatch,
    /// Verification failure: the consistency proof does not lead to the old root.
    #[error("the consistency proof does not lead to the old root; the old tree head is not a prefix of the new one or the proof was altered")]
    OldRootMismatch,
}

impl MerkleError {
    /// True for errors caused by the caller's arguments rather than by the proof or roots.
    pub fn is_misuse(&self) -> bool {
        matches!(
            self,
            Self::IndexOutOfRange { .. }
                | Self::SizeOrder { .. }
                | Self::EmptyOldTree
                | Self::TreeFull
                | Self::FrontierShape { .. }
        )
    }
}

/// The hash of one log entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of an empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle tree hash (MTH) of a list of leaf hashes; `SHA-256("")` for an empty list.
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes {
        [] => empty_root(),
        leaves => subtree_root(leaves),
    }
}

/// MTH of a non-empty slice. Recursion depth is log2(n).
fn subtree_root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(), // not reached: callers pass non-empty slices
        [one] => *one,
        _ => {
            let (left, right) = leaves.split_at(split_point(leaves.len()));
            node_hash(&subtree_root(left), &subtree_root(right))
        }
    }
}

/// The largest power of two strictly below `n`, for `n >= 2` (1 for smaller `n`). It is
/// always in `1..n`, so `split_at` on it never panics.
fn split_point(n: usize) -> usize {
    if n < 2 {
        return 1;
    }
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `leaf_hashes`, RFC 9162
/// §2.1.3.1: sibling hashes from the leaf up to the root.
pub fn inclusion_proof(leaf_hashes: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let size = leaf_hashes.len() as u64;
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    // index < len, so it fits in usize.
    path(index as usize, leaf_hashes, &mut proof);
    Ok(proof)
}

/// PATH(m, D[n]), with `m < leaves.len()`. Pushes the deepest sibling first.
fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        path(m, left, out);
        out.push(subtree_root(right));
    } else {
        path(m - k, right, out);
        out.push(subtree_root(left));
    }
}

/// The consistency proof that the tree of the first `old_size` leaves is a prefix of the tree
/// of all `leaf_hashes`, RFC 9162 §2.1.4.1. Empty when `old_size` equals the tree size.
pub fn consistency_proof(leaf_hashes: &[Hash], old_size: u64) -> Result<Vec<Hash>, MerkleError> {
    let size = leaf_hashes.len() as u64;
    if old_size > size {
        return Err(MerkleError::SizeOrder {
            old: old_size,
            new: size,
        });
    }
    if old_size == 0 {
        return Err(MerkleError::EmptyOldTree);
    }
    let mut proof = Vec::new();
    // old_size <= len, so it fits in usize.
    subproof(old_size as usize, leaf_hashes, true, &mut proof);
    Ok(proof)
}

/// SUBPROOF(m, D[n], b), with `1 <= m <= leaves.len()`.
fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m >= n {
        if !whole {
            out.push(subtree_root(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof(m, left, whole, out);
        out.push(subtree_root(right));
    } else {
        subproof(m - k, right, false, out);
        out.push(subtree_root(left));
    }
}

/// Bit length of `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// Hashes in an inclusion proof of `index < size`: the levels below the point where the
/// path to `index` leaves the right border, plus one per left sibling on the border.
fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = bit_len(index ^ (size - 1));
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Hashes in a consistency proof for `0 < size1 < size2`: the inclusion path of the old
/// tree's last leaf, less the levels inside the old tree's rightmost perfect subtree, plus
/// that subtree's root unless it is the whole old tree.
fn consistency_len(size1: u64, size2: u64) -> usize {
    let shift = size1.trailing_zeros();
    let inner = bit_len((size1 - 1) ^ (size2 - 1)).saturating_sub(shift);
    let border = (size1 - 1)
        .checked_shr(inner + shift)
        .unwrap_or(0)
        .count_ones();
    let seed = usize::from(!size1.is_power_of_two());
    seed + (inner + border) as usize
}

/// Verifies that `leaf` is leaf number `index` of the tree of `size` leaves with root `root`,
/// by RFC 9162 §2.1.3.2.
///
/// The proof binds `index` and `size` only through its shape: it also verifies for another
/// (index, size) whose audit path has the same left/right pattern (e.g. index 0 in sizes 3
/// and 4). Take `size` and `root` from the same signed tree head.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(MerkleError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            // Not reached after the length check; kept so the loop is the RFC's verbatim.
            return Err(MerkleError::ProofLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(MerkleError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of
/// `size2` leaves with root `root2`, by RFC 9162 §2.1.4.2. Equal sizes need an empty proof
/// and equal roots; `size1 == 0` is refused. As for inclusion, the sizes are bound only
/// through the proof's shape, so take each size from the signed tree head of its root.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), MerkleError> {
    if size1 > size2 {
        return Err(MerkleError::SizeOrder {
            old: size1,
            new: size2,
        });
    }
    if size1 == 0 {
        return Err(MerkleError::EmptyOldTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(MerkleError::ProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        };
    }
    let expected = consistency_len(size1, size2);
    if proof.len() != expected {
        return Err(MerkleError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    // Step 2: when size1 is a power of two the old root is itself the first path node, and
    // the proof omits it.
    let (first, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Err(MerkleError::ProofLength { expected, got: 0 }),
        }
    };
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(MerkleError::ProofLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(MerkleError::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    if fr != *root1 {
        return Err(MerkleError::OldRootMismatch);
    }
    if sr != *root2 {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: the roots of its maximal perfect subtrees, left to
/// right, one per set bit of the size. Appending a leaf and computing the root need only this
/// O(log n) state, so a node can keep its log's root current without holding every leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from saved state, checking that there is one node per set bit of
    /// `size` (the hashes themselves cannot be checked without the leaves).
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(MerkleError::FrontierShape {
                size,
                expected,
                got: nodes.len(),
            });
        }
        Ok(Self { size, nodes })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the maximal perfect subtrees, largest (leftmost) first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash and returns its index.
    pub fn push(&mut self, leaf: Hash) -> Result<u64, MerkleError> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(MerkleError::TreeFull)?;
        // Each trailing one bit of the old size is a perfect subtree of the new leaf's height
        // that now has a right sibling: merge them, as a binary counter carries.
        let mut carry = leaf;
        let mut bits = index;
        while bits & 1 == 1 {
            match self.nodes.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => break, // not reached: one node per set bit is an invariant
            }
            bits >>= 1;
        }
        self.nodes.push(carry);
        self.size = new_size;
        Ok(index)
    }

    /// The root of the tree so far (`SHA-256("")` when empty); equal to [`root`] of all the
    /// leaves pushed.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
