//! A node's audit log in memory: entries, the RFC 6962 tree over them and a checkpoint signed
//! after every entry, as the node keeps them in its database. It is what the checkpoint
//! witness reads ([`CheckpointLog`]).

use std::collections::BTreeMap;

use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::entry::Entry;
use cordon_protocol::audit::merkle::{leaf_hash, Hash, MerkleError};
use cordon_protocol::audit::note::{sign_note, NoteError, Signer};
use cordon_protocol::audit::tree::Tree;
use cordon_protocol::session::witness::CheckpointLog;

/// An audit log in memory.
pub struct MemoryLog {
    signer: Signer,
    tree: Tree,
    entries: Vec<Entry>,
    checkpoints: BTreeMap<u64, String>,
}

/// Why the log could not grow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The tree refused a leaf.
    #[error("the audit tree: {0}")]
    Tree(MerkleError),
    /// Signing the checkpoint failed.
    #[error("signing a checkpoint: {0}")]
    Sign(NoteError),
}

impl MemoryLog {
    /// An empty log signed by `signer` (named `<node>/audit`).
    pub fn new(signer: Signer) -> Self {
        MemoryLog {
            signer,
            tree: Tree::new(),
            entries: Vec::new(),
            checkpoints: BTreeMap::new(),
        }
    }

    /// Appends an entry and signs the checkpoint of the new size; returns that size.
    pub fn append(&mut self, e: Entry) -> Result<u64, LogError> {
        let size = self
            .tree
            .push(leaf_hash(&e.to_line()))
            .map_err(LogError::Tree)?
            + 1;
        let c = Checkpoint {
            origin: self.signer.name().to_string(),
            size,
            root: self.tree.root(),
            extensions: Vec::new(),
        };
        let note = c
            .to_body()
            .and_then(|b| sign_note(&b, &[&self.signer]))
            .map_err(LogError::Sign)?;
        self.checkpoints.insert(size, note);
        self.entries.push(e);
        Ok(size)
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The log key (a lying node uses it to sign checkpoints of a log it does not have).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The root at `size`.
    pub fn root_at(&self, size: u64) -> Result<Hash, MerkleError> {
        self.tree.root_at(size)
    }
}

impl CheckpointLog for MemoryLog {
    type Error = MerkleError;

    fn latest(&self) -> Result<Option<(u64, String)>, MerkleError> {
        Ok(self
            .checkpoints
            .last_key_value()
            .map(|(k, v)| (*k, v.clone())))
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, MerkleError> {
        Ok(self.checkpoints.get(&size).cloned())
    }

    fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, MerkleError> {
        self.tree.consistency_proof(old, new)
    }
}
