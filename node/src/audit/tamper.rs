//! Simulates a rogue operator who holds the log key and rewrites history: replaces one entry
//! and re-signs every checkpoint from it on, so the node itself starts without complaint.
//! Only partners' cosigned checkpoints can then reveal the rewrite, which is what the tests
//! that call this show. The node never calls it.

use std::path::Path;

use redb::{Database, ReadableTable};

use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::merkle::{leaf_hash, Frontier};
use cordon_protocol::audit::note::{sign_note, Signer};

use super::{CHECKPOINTS, ENTRIES};
use crate::error::NodeError;

/// Replaces entry `index` of the (stopped) node's audit database at `db_path` (see
/// [`super::db_path`]) with `line` and
/// re-signs all later checkpoints with `log_key`.
pub fn rewrite_entry(
    db_path: &Path,
    log_key: &Signer,
    index: u64,
    line: &[u8],
) -> Result<(), NodeError> {
    let db = Database::open(db_path)?;
    let txn = db.begin_write()?;
    {
        let mut entries = txn.open_table(ENTRIES)?;
        if entries.get(index)?.is_none() {
            return Err(NodeError::request(format!("there is no entry #{index}")));
        }
        entries.insert(index, line)?;
        let mut cps = txn.open_table(CHECKPOINTS)?;
        let mut tree = Frontier::new();
        let all: Vec<Vec<u8>> = entries
            .iter()?
            .map(|r| r.map(|(_, v)| v.value().to_vec()))
            .collect::<Result<_, _>>()?;
        for e in &all {
            tree.push(leaf_hash(e))
                .map_err(|e| NodeError::internal(e.to_string()))?;
            if tree.size() > index {
                let c = Checkpoint {
                    origin: log_key.name().to_string(),
                    size: tree.size(),
                    root: tree.root(),
                    extensions: vec![],
                };
                let note = sign_note(
                    &c.to_body()
                        .map_err(|e| NodeError::internal(e.to_string()))?,
                    &[log_key],
                )
                .map_err(|e| NodeError::internal(e.to_string()))?;
                cps.insert(c.size, note.as_str())?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}
