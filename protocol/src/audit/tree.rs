//! An in-memory RFC 6962 Merkle tree that a node keeps for its audit log, answering roots,
//! inclusion and consistency proofs and frontiers for the current size or any earlier one in
//! O(log n) lookups and hashes, where the slice functions of [`super::merkle`] re-hash all
//! leaves (O(n)) for every answer.
//!
//! Level `k` holds, left to right, the hash of every complete perfect subtree of `2^k`
//! leaves (level 0 is the leaf hashes themselves), so the tree costs about twice the leaf
//! hashes' memory (64 bytes per entry). The RFC 6962 recursion only visits ranges
//! `[lo, hi)` whose `lo` is a multiple of the largest power of two not above `hi - lo`: a
//! perfect one is one lookup (level `log2(hi - lo)`, index `lo >> level`), a ragged one
//! splits at the largest power of two below its size. Ragged ranges lie on the right
//! border only, and once a proof's path leaves that border every range below is perfect, so
//! an answer hashes at most one ragged range (O(log n) hashes) besides its lookups.
//!
//! Output is byte-identical to the slice functions (`tests/tree.rs` cross-checks them), so
//! proofs are checked with [`super::merkle::verify_inclusion`] and
//! [`super::merkle::verify_consistency`]; nothing here verifies.
//!
//! Not done: persistence (the node rebuilds the tree from its stored entries at start-up),
//! truncation or pruning (an audit log only grows), and locking (callers share it behind
//! their own mutex). Nothing here panics on any argument.

use super::merkle::{empty_root, node_hash, Hash, MerkleError};

/// A growing Merkle tree of leaf hashes with every complete perfect subtree's hash kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// `levels[k][i]` is the root of leaves `i * 2^k .. (i + 1) * 2^k`. Level `k + 1` has
    /// `levels[k].len() / 2` entries and exists only when that is non-zero, so both
    /// constructors build equal values for equal leaves.
    levels: Vec<Vec<Hash>>,
}

/// The largest power of two strictly below `n`, for `n >= 2` (1 for smaller `n`): the RFC's
/// split point `k`, always in `1..n` for `n >= 2`.
fn split(n: u64) -> u64 {
    if n < 2 {
        return 1;
    }
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

impl Tree {
    /// The empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// The tree of the given leaf hashes, in order. Builds each level from the one below
    /// (one hash per interior node, like pushing each leaf, but without per-push work).
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Tree {
        let mut levels: Vec<Vec<Hash>> = vec![leaves.into_iter().collect()];
        loop {
            let next: Vec<Hash> = match levels.last() {
                Some(below) if below.len() >= 2 => below
                    .chunks_exact(2)
                    .map(|pair| match pair {
                        [l, r] => node_hash(l, r),
                        _ => empty_root(), // not reached: chunks_exact(2) yields pairs
                    })
                    .collect(),
                _ => break,
            };
            levels.push(next);
        }
        if levels.first().is_some_and(Vec::is_empty) {
            levels.clear();
        }
        Tree { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Leaf hash number `index`, if the tree has it.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.node(0, index)
    }

    /// Appends a leaf hash and returns its index. Amortised O(1): a push completes one
    /// parent per trailing one bit of the old size, as a binary counter carries.
    pub fn push(&mut self, leaf: Hash) -> Result<u64, MerkleError> {
        let index = self.size();
        // Same limit as `Frontier`; not reachable in memory, kept so the size never wraps.
        index.checked_add(1).ok_or(MerkleError::TreeFull)?;
        let mut carry = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                break; // not reached: the level was just ensured
            };
            row.push(carry);
            // An odd count means the new node is a left child: its parent is not complete.
            if !row.len().is_multiple_of(2) {
                break;
            }
            carry = match row.as_slice() {
                [.., l, r] => node_hash(l, r),
                _ => break, // not reached: the row has an even, non-zero length
            };
            level += 1;
        }
        Ok(index)
    }

    /// The stored root of perfect subtree `index` at `level`, if complete.
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        let row = self.levels.get(usize::try_from(level).ok()?)?;
        row.get(usize::try_from(index).ok()?).copied()
    }

    /// MTH of leaves `lo..hi`, for `lo < hi <= size`. An aligned perfect range is a lookup;
    /// any other range is split as the RFC does (correct for unaligned ranges too, only
    /// slower, and the RFC recursion never asks for one).
    fn range(&self, lo: u64, hi: u64) -> Hash {
        let n = hi.saturating_sub(lo);
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let level = n.trailing_zeros();
            if let Some(h) = self.node(level, lo >> level) {
                return h;
            }
        }
        if n < 2 {
            // Not reached: callers pass lo < hi <= size, so a one-leaf range is stored.
            return empty_root();
        }
        let k = split(n);
        node_hash(&self.range(lo, lo + k), &self.range(lo + k, hi))
    }

    /// Refuses a size the tree has not reached. `MerkleError` has no variant of its own for
    /// this, so it is reported as `SizeOrder` with the tree's size as the newer one: the
    /// caller asked about a tree head this tree has not grown to.
    fn within(&self, size: u64) -> Result<(), MerkleError> {
        if size > self.size() {
            return Err(MerkleError::SizeOrder {
                old: size,
                new: self.size(),
            });
        }
        Ok(())
    }

    /// The root of the whole tree (`SHA-256("")` when empty).
    pub fn root(&self) -> Hash {
        match self.size() {
            0 => empty_root(),
            size => self.range(0, size),
        }
    }

    /// The root of the first `size` leaves (`SHA-256("")` for 0), equal to
    /// [`super::merkle::root`] of those leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, MerkleError> {
        self.within(size)?;
        Ok(match size {
            0 => empty_root(),
            size => self.range(0, size),
        })
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 9162
    /// §2.1.3.1), equal to [`super::merkle::inclusion_proof`] on those leaves, errors
    /// included; a `size` beyond the tree is refused after that.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, MerkleError> {
        if index >= size {
            return Err(MerkleError::IndexOutOfRange { index, size });
        }
        self.within(size)?;
        let mut out = Vec::new();
        self.path(index, 0, size, &mut out);
        Ok(out)
    }

    /// PATH(m, D[lo:hi]) with `m < hi - lo`: the deepest sibling first.
    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) {
        let n = hi.saturating_sub(lo);
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, lo, lo + k, out);
            out.push(self.range(lo + k, hi));
        } else {
            self.path(m - k, lo + k, hi, out);
            out.push(self.range(lo, lo + k));
        }
    }

    /// The consistency proof from the first `old` leaves to the first `new` (RFC 9162
    /// §2.1.4.1), equal to [`super::merkle::consistency_proof`] on the first `new` leaves,
    /// errors included; a `new` beyond the tree is refused after that.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, MerkleError> {
        if old > new {
            return Err(MerkleError::SizeOrder { old, new });
        }
        if old == 0 {
            return Err(MerkleError::EmptyOldTree);
        }
        self.within(new)?;
        let mut out = Vec::new();
        self.subproof(old, 0, new, true, &mut out);
        Ok(out)
    }

    /// SUBPROOF(m, D[lo:hi], whole) with `1 <= m <= hi - lo`.
    fn subproof(&self, m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<Hash>) {
        let n = hi.saturating_sub(lo);
        if m >= n {
            if !whole && n > 0 {
                out.push(self.range(lo, hi));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, whole, out);
            out.push(self.range(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.range(lo, lo + k));
        }
    }

    /// The roots of the maximal perfect subtrees covering the first `size` leaves, largest
    /// (leftmost) first: one per set bit of `size`, exactly what a
    /// [`super::merkle::Frontier`] holds after the first `size` leaves, so
    /// `Frontier::from_parts(size, tree.frontier_at(size)?)` continues the tree from there.
    pub fn frontier_at(&self, size: u64) -> Result<Vec<Hash>, MerkleError> {
        self.within(size)?;
        let mut out = Vec::with_capacity(size.count_ones() as usize);
        let mut lo = 0u64;
        for level in (0..u64::BITS).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                // lo is a sum of larger powers of two, so this subtree is aligned: a lookup.
                out.push(self.range(lo, lo + width));
                lo += width;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::merkle::{self, leaf_hash};
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        let cases = [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
        ];
        for (n, k) in cases {
            assert_eq!(split(n), k, "n={n}");
        }
        assert_eq!(split(u64::MAX), 1 << 63);
        assert_eq!(split(1 << 63), 1 << 62);
    }

    #[test]
    fn levels_hold_every_complete_perfect_subtree() {
        let all = leaves(13);
        let t = Tree::from_leaves(all.clone());
        let lens: Vec<usize> = t.levels.iter().map(Vec::len).collect();
        assert_eq!(lens, [13, 6, 3, 1]);
        for (k, row) in t.levels.iter().enumerate() {
            let w = 1usize << k;
            for (i, h) in row.iter().enumerate() {
                assert_eq!(*h, merkle::root(&all[i * w..(i + 1) * w]), "level {k} #{i}");
            }
        }
        let mut pushed = Tree::new();
        for (i, l) in all.iter().enumerate() {
            assert_eq!(pushed.push(*l), Ok(i as u64));
        }
        assert_eq!(pushed, t);
        assert_eq!(Tree::from_leaves([]), Tree::new());
    }

    #[test]
    fn unaligned_ranges_are_still_correct() {
        let all = leaves(20);
        let t = Tree::from_leaves(all.clone());
        for lo in 0..20u64 {
            for hi in lo + 1..=20 {
                assert_eq!(
                    t.range(lo, hi),
                    merkle::root(&all[lo as usize..hi as usize]),
                    "{lo}..{hi}"
                );
            }
        }
    }

    /// Proofs read the stored subtree hashes instead of re-hashing leaves: with every leaf
    /// the answer does not need overwritten, the answers are unchanged. A tree that
    /// recomputed from level 0 (O(n)) would give different hashes.
    #[test]
    fn answers_are_lookups_not_recomputation() {
        let n = 1001u64;
        let t = Tree::from_leaves(leaves(n));
        for (index, size, old) in [
            (0, 1001, 1),
            (500, 1000, 999),
            (1000, 1001, 777),
            (37, 512, 300),
        ] {
            let mut scrubbed = t.clone();
            // Keep only what the answers may read at level 0: the leaf's sibling pair, the old
            // tree's last leaf pair and the last leaf of an odd size.
            let keep = |i: u64| i / 2 == index / 2 || i / 2 == (old - 1) / 2 || i + 1 == size;
            for (i, h) in scrubbed.levels[0].iter_mut().enumerate() {
                if !keep(i as u64) {
                    *h = [0xAA; 32];
                }
            }
            assert_eq!(scrubbed.root_at(size), t.root_at(size));
            assert_eq!(scrubbed.frontier_at(size), t.frontier_at(size));
            assert_eq!(
                scrubbed.inclusion_proof(index, size),
                t.inclusion_proof(index, size)
            );
            assert_eq!(
                scrubbed.consistency_proof(old, size),
                t.consistency_proof(old, size)
            );
            // And the scrubbing did bite: a recomputation from level 0 differs.
            let level0 = Tree::from_leaves(scrubbed.levels[0].clone());
            assert_ne!(level0.root_at(size), t.root_at(size));
        }
    }
}
