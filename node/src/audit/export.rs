//! What auditors read: bundles of the whole log or a time range, single-entry proofs, and
//! consistency proofs between two checkpoints. Everything is read in one snapshot of the
//! database, so a bundle is consistent even while the node keeps logging.

use redb::{Database, ReadableDatabase, ReadableTable};

use cordon_protocol::audit::bundle::{
    encode_hashes, Bundle, BundleHeader, BundleKeys, Cosigned, BUNDLE_FORMAT,
};
use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::entry::Entry;
use cordon_protocol::audit::note::open_note;
use cordon_protocol::audit::proof::TlogProof;

use super::witness;
use super::{AuditLog, CHECKPOINTS, ENTRIES};
use crate::error::NodeError;

/// Builds a bundle of the entries with `since <= time < until` (all when both are None).
///
/// Entries are appended in time order, so the range is the contiguous run from the first
/// entry at or after `since` to the last before `until`.
///
/// `own_receipt` is this node's receipt (descriptor) key, vkey text; the partners' keys are the
/// log's own.
pub fn bundle(
    log: &AuditLog,
    since: Option<u64>,
    until: Option<u64>,
    now: u64,
    own_receipt: String,
) -> Result<Bundle, NodeError> {
    let db: &Database = &log.db;
    let read = db.begin_read()?;
    let entries_t = read.open_table(ENTRIES)?;
    let cps = read.open_table(CHECKPOINTS)?;
    let Some((latest_size, latest)) = cps.last()?.map(|(k, v)| (k.value(), v.value().to_string()))
    else {
        return Err(NodeError::request(
            "the audit log is empty; nothing to export",
        ));
    };
    let mut first = None;
    let mut lines = Vec::new();
    for row in entries_t.range(0..latest_size)? {
        let (k, v) = row?;
        let line = v.value();
        let t = Entry::parse(line)
            .map_err(|e| NodeError::storage(format!("audit entry #{}: {e}", k.value())))?
            .time;
        if since.is_some_and(|s| t < s) {
            if first.is_some() {
                // A clock step backwards inside the range: keep the run contiguous.
                lines.push(line.to_vec());
            }
            continue;
        }
        if until.is_some_and(|u| t >= u) {
            break;
        }
        first.get_or_insert(k.value());
        lines.push(line.to_vec());
    }
    let first = first.unwrap_or(latest_size);
    let end = first + lines.len() as u64;
    let mut checkpoints = Vec::with_capacity(lines.len());
    for row in cps.range(first + 1..=end)? {
        let (_, v) = row?;
        checkpoints.push(v.value().to_string());
    }
    let consistency = if end == 0 || end == latest_size {
        Vec::new()
    } else {
        encode_hashes(&log.consistency(end, latest_size)?)
    };
    let mut cosigned = Vec::new();
    for (partner, state) in witness::load_all(db)? {
        let Some(note) = state.cosigned_by_them else {
            continue;
        };
        let (body, _) = open_note(note.as_bytes(), &[log.verifier_key()])
            .map_err(|e| NodeError::storage(format!("cosigned checkpoint of {partner}: {e}")))?;
        let c = Checkpoint::parse(&body).map_err(|e| NodeError::storage(e.to_string()))?;
        let proof = if c.size == 0 || c.size == latest_size {
            Vec::new()
        } else {
            encode_hashes(&log.consistency(c.size, latest_size)?)
        };
        cosigned.push(Cosigned {
            partner,
            checkpoint: note,
            consistency: proof,
        });
    }
    let mut bundle_keys = BundleKeys {
        log: log.verifier_key().to_string(),
        ..BundleKeys::default()
    };
    bundle_keys
        .receipts
        .insert(log.node().to_string(), own_receipt);
    for (name, k) in &log.partners {
        bundle_keys
            .receipts
            .insert(name.clone(), k.receipt.to_string());
        bundle_keys
            .witnesses
            .insert(name.clone(), k.witness.to_string());
    }
    Ok(Bundle {
        header: BundleHeader {
            format: BUNDLE_FORMAT.into(),
            node: log.node().to_string(),
            origin: log.origin().to_string(),
            exported_at: now,
            since,
            until,
            first,
            count: lines.len() as u64,
            frontier: encode_hashes(&log.frontier_at(first)?),
            checkpoints,
            latest,
            consistency,
            cosigned,
            keys: bundle_keys,
            alerts: witness::alerts(db)?,
        },
        entries: lines,
    })
}

/// A C2SP tlog-proof of entry `index` against the latest checkpoint, and the entry's bytes.
pub fn prove(log: &AuditLog, index: u64) -> Result<(TlogProof, Vec<u8>), NodeError> {
    let read = log.db.begin_read()?;
    let cps = read.open_table(CHECKPOINTS)?;
    let Some((size, note)) = cps.last()?.map(|(k, v)| (k.value(), v.value().to_string())) else {
        return Err(NodeError::request("the audit log is empty"));
    };
    if index >= size {
        return Err(NodeError::request(format!(
            "there is no entry #{index}: the log has {size} entries (0 to {})",
            size.saturating_sub(1)
        )));
    }
    let entry = read
        .open_table(ENTRIES)?
        .get(index)?
        .map(|v| v.value().to_vec())
        .ok_or_else(|| NodeError::storage(format!("audit entry #{index} is missing")))?;
    Ok((
        TlogProof {
            extra: None,
            index,
            hashes: log.inclusion(index, size)?,
            checkpoint: note,
        },
        entry,
    ))
}

/// The signed checkpoint at `new` (latest when None) and the consistency proof from `old`.
pub fn consistency(
    log: &AuditLog,
    old: u64,
    new: Option<u64>,
) -> Result<(String, Vec<[u8; 32]>), NodeError> {
    let (size, note) = match new {
        Some(n) => (
            n,
            log.checkpoint_at(n)?.ok_or_else(|| {
                NodeError::request(format!("this log has no checkpoint of size {n}"))
            })?,
        ),
        None => log
            .latest()?
            .ok_or_else(|| NodeError::request("the audit log is empty"))?,
    };
    if old == 0 || old > size {
        return Err(NodeError::request(format!(
            "a consistency proof needs 0 < old size <= new size; got {old} and {size}"
        )));
    }
    Ok((note, log.consistency(old, size)?))
}
