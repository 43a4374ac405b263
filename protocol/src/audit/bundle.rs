//! An audit bundle: a node's log entries (all, or a time range) with the signed checkpoints
//! that commit to them, in one file an auditor verifies offline with nothing but the node's
//! log key.
//!
//! The file is JSON Lines (UTF-8, `\n` after every line):
//!
//! - line 1: the header, a JSON object ([`BundleHeader`]);
//! - then one line per entry, in log order: the entry's exact bytes (the Merkle leaf is
//!   `SHA-256(0x00 || line)`).
//!
//! The header carries the signed checkpoint after every entry of the range (so a verifier can
//! name the first entry that does not match), the perfect-subtree hashes of the entries before
//! the range (so a range export needs no earlier entries), the log's latest checkpoint with a
//! consistency proof from the end of the range, every partner's newest cosigned checkpoint of
//! this log, the public keys receipts are checked with, and any alerts about partners.
//!
//! What is not here: reading files and choosing ranges (the node and CLI do that).

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::entry::{Entry, EntryKind};
use super::merkle::{leaf_hash, verify_consistency, Frontier, Hash};
use super::note::{open_note, KeyType, NoteError, VerifierKey};
use super::receipt::Receipt;

/// First field of every bundle header.
pub const BUNDLE_FORMAT: &str = "cordon.audit-bundle/v1";

/// A partner's cosignature over one of this node's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosigned {
    /// The cosigning partner.
    pub partner: String,
    /// The checkpoint as a signed note: the node's signature and the partner's cosignature.
    pub checkpoint: String,
    /// Consistency proof from this checkpoint's size to the latest checkpoint (base64 hashes).
    pub consistency: Vec<String>,
}

/// Evidence that a partner signed two checkpoints that cannot both be true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The partner.
    pub partner: String,
    /// When it was found (Unix seconds).
    pub time: u64,
    /// The checkpoint this node had verified and cosigned before (signed note).
    pub old: String,
    /// The new checkpoint that does not extend it (signed note).
    pub new: String,
    /// What was wrong, one sentence.
    pub reason: String,
}

/// Public keys in a bundle. They are as the exporting node has them configured: an auditor
/// who wants to rely on a partner's receipts pins that partner's key instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleKeys {
    /// The node's log key (vkey text); the verifier is given its own copy and compares.
    pub log: String,
    /// Receipt (descriptor) keys by node name, vkey text, type Ed25519.
    pub receipts: BTreeMap<String, String>,
    /// Partners' cosigning keys by node name, vkey text, type cosignature/v1.
    pub witnesses: BTreeMap<String, String>,
}

/// The first line of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// Exporting node.
    pub node: String,
    /// Checkpoint origin of its log.
    pub origin: String,
    /// When the bundle was made (Unix seconds).
    pub exported_at: u64,
    /// Time range asked for (Unix seconds, inclusive start), if any.
    #[serde(default)]
    pub since: Option<u64>,
    /// Time range asked for (Unix seconds, exclusive end), if any.
    #[serde(default)]
    pub until: Option<u64>,
    /// Index of the first entry in the bundle.
    pub first: u64,
    /// Number of entries in the bundle.
    pub count: u64,
    /// Perfect-subtree roots covering entries `0..first`, largest first (base64).
    pub frontier: Vec<String>,
    /// Signed checkpoints of sizes `first+1 ..= first+count`, ascending.
    pub checkpoints: Vec<String>,
    /// The log's latest signed checkpoint when the bundle was made.
    pub latest: String,
    /// Consistency proof from size `first+count` to the latest size (base64 hashes).
    pub consistency: Vec<String>,
    /// Partners' newest cosigned checkpoints of this log.
    pub cosigned: Vec<Cosigned>,
    /// Keys for receipts and cosignatures.
    pub keys: BundleKeys,
    /// Partners found presenting inconsistent checkpoints.
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

/// A parsed bundle: the header and the entry lines as they were in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The header.
    pub header: BundleHeader,
    /// Entry lines, without their newline.
    pub entries: Vec<Vec<u8>>,
}

/// Why a bundle was refused. `entry` names the first bad entry where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The file is not a bundle.
    #[error("not an audit bundle: {0}")]
    Malformed(String),
    /// Something in it does not verify.
    #[error("{0}")]
    Verification(String),
    /// A specific entry is wrong.
    #[error("entry #{index}: {reason}")]
    Entry {
        /// Its index in the log.
        index: u64,
        /// What is wrong.
        reason: String,
    },
}

impl BundleError {
    /// The index of the bad entry, if the error names one.
    pub fn entry(&self) -> Option<u64> {
        match self {
            BundleError::Entry { index, .. } => Some(*index),
            _ => None,
        }
    }
}

fn b64_hash(s: &str, what: &str) -> Result<Hash, BundleError> {
    let v = STANDARD
        .decode(s)
        .map_err(|_| BundleError::Malformed(format!("{what}: {s:?} is not base64")))?;
    v.try_into()
        .map_err(|_| BundleError::Malformed(format!("{what}: a hash is not 32 bytes")))
}

/// Base64 of hashes, as bundles carry them.
pub fn encode_hashes(h: &[Hash]) -> Vec<String> {
    h.iter().map(|h| STANDARD.encode(h)).collect()
}

/// Hashes from base64, as bundles carry them; `what` names the field in errors.
pub fn decode_hashes(v: &[String], what: &str) -> Result<Vec<Hash>, BundleError> {
    v.iter().map(|s| b64_hash(s, what)).collect()
}

impl Bundle {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).unwrap_or_default();
        out.push(b'\n');
        for e in &self.entries {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        out
    }

    /// Reads a bundle file. Every line must end in `\n`.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let Some(body) = bytes.strip_suffix(b"\n") else {
            return Err(BundleError::Malformed(
                "the file is empty or its last line is cut short (no final newline)".into(),
            ));
        };
        let mut lines = body.split(|b| *b == b'\n');
        let head = lines.next().unwrap_or_default();
        let header: BundleHeader = serde_json::from_slice(head)
            .map_err(|e| BundleError::Malformed(format!("line 1 is not a bundle header: {e}")))?;
        if header.format != BUNDLE_FORMAT {
            return Err(BundleError::Malformed(format!(
                "format {:?} is not {BUNDLE_FORMAT:?}",
                header.format
            )));
        }
        let entries = lines.map(<[u8]>::to_vec).collect();
        Ok(Bundle { header, entries })
    }

    /// The entries, parsed; the first unreadable one is named.
    pub fn parsed_entries(&self) -> Result<Vec<Entry>, BundleError> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, line)| {
                Entry::parse(line).map_err(|e| BundleError::Entry {
                    index: self.header.first + i as u64,
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Index of the first entry and number of entries verified.
    pub first: u64,
    /// Number of entries.
    pub count: u64,
    /// Size of the log's latest checkpoint.
    pub log_size: u64,
    /// Entries per kind.
    pub kinds: BTreeMap<EntryKind, u64>,
    /// Time of the first and last entry.
    pub span: Option<(u64, u64)>,
    /// Receipts whose signatures verified.
    pub receipts: u64,
    /// Partners whose cosignature verified, with the size they cosigned.
    pub cosigned_by: Vec<(String, u64)>,
    /// Partners with inconsistency alerts.
    pub alerts: Vec<String>,
}

fn open_checkpoint(
    note: &str,
    key: &VerifierKey,
    what: &str,
) -> Result<(Checkpoint, Vec<String>), BundleError> {
    let (body, signers) = open_note(note.as_bytes(), std::slice::from_ref(key)).map_err(|e| {
        BundleError::Verification(format!(
            "{what} is not signed by the log key {}: {e}",
            key.name()
        ))
    })?;
    let c = Checkpoint::parse(&body)
        .map_err(|e| BundleError::Verification(format!("{what} is not a checkpoint: {e}")))?;
    Ok((c, signers))
}

/// Verifies a bundle against the node's log key (type Ed25519, named as the log's origin).
///
/// `pinned` replaces the bundle's receipt and witness keys for the nodes it names (an
/// auditor's own copies of partners' keys). Checks, in order: the latest checkpoint's
/// signature; every entry against the checkpoint signed after it (naming the first that does
/// not match: altered, removed, inserted or moved); that no entry of the range is missing;
/// consistency of the range with the latest checkpoint; every receipt's signature and that it
/// agrees with its entry; every partner's cosignature and its consistency.
pub fn verify(
    bundle: &Bundle,
    log_key: &VerifierKey,
    pinned: &BundleKeys,
) -> Result<VerifyReport, BundleError> {
    let h = &bundle.header;
    if log_key.key_type() != KeyType::Ed25519 {
        return Err(BundleError::Verification(
            "the key given is a cosignature key; pass the node's log key (its `audit key`)".into(),
        ));
    }
    if h.origin != log_key.name() {
        return Err(BundleError::Verification(format!(
            "the bundle is of log {:?} but the key given is {:?}'s",
            h.origin,
            log_key.name()
        )));
    }
    if h.origin != format!("{}/audit", h.node) {
        return Err(BundleError::Verification(format!(
            "the bundle says node {:?} but log {:?}; a node's log is `<node>/audit`",
            h.node, h.origin
        )));
    }
    let (latest, _) = open_checkpoint(&h.latest, log_key, "the latest checkpoint")?;
    if latest.origin != h.origin {
        return Err(BundleError::Verification(format!(
            "the latest checkpoint is of log {:?}, not {:?}",
            latest.origin, h.origin
        )));
    }
    let end = h
        .first
        .checked_add(h.count)
        .filter(|e| *e <= latest.size)
        .ok_or_else(|| {
            BundleError::Verification(format!(
                "the header claims entries {}..{}+{} but the log has only {}",
                h.first, h.first, h.count, latest.size
            ))
        })?;
    if h.since.is_none() && h.until.is_none() && (h.first != 0 || end != latest.size) {
        return Err(BundleError::Verification(format!(
            "the bundle claims to be a whole export, but holds entries {}..{} of a log of {}",
            h.first, end, latest.size
        )));
    }

    // Signed checkpoints of the range, by size.
    let mut by_size = BTreeMap::new();
    for (j, note) in h.checkpoints.iter().enumerate() {
        let (c, _) = open_checkpoint(note, log_key, &format!("checkpoint {} of the range", j + 1))?;
        // One per size, in order: so the first entry that does not match is always named.
        let expected = h.first + j as u64 + 1;
        if c.origin != h.origin || c.size != expected {
            return Err(BundleError::Verification(format!(
                "range checkpoint {} is of size {} but should be of size {expected} (one per entry, in order)",
                j + 1,
                c.size
            )));
        }
        by_size.insert(c.size, c.root);
    }
    if by_size.len() as u64 != h.count {
        return Err(BundleError::Verification(format!(
            "the bundle has {} range checkpoints for {} entries; there must be one after each entry",
            by_size.len(),
            h.count
        )));
    }

    let frontier_nodes = decode_hashes(&h.frontier, "frontier")?;
    let mut tree = Frontier::from_parts(h.first, frontier_nodes)
        .map_err(|e| BundleError::Malformed(format!("frontier: {e}")))?;
    let mut report = VerifyReport {
        first: h.first,
        count: h.count,
        log_size: latest.size,
        kinds: BTreeMap::new(),
        span: None,
        receipts: 0,
        cosigned_by: Vec::new(),
        alerts: h.alerts.iter().map(|a| a.partner.clone()).collect(),
    };
    let mut last_good = h.first;
    for (i, line) in bundle.entries.iter().enumerate() {
        let index = h.first + i as u64;
        if index >= end {
            return Err(BundleError::Entry {
                index,
                reason: format!(
                    "is beyond the {} entries the checkpoints cover: an entry was inserted or duplicated",
                    h.count
                ),
            });
        }
        let entry = Entry::parse(line).map_err(|e| BundleError::Entry {
            index,
            reason: e.to_string(),
        })?;
        let outside = h.until.is_some_and(|u| entry.time >= u)
            || (i == 0 && h.since.is_some_and(|s| entry.time < s));
        if outside {
            return Err(BundleError::Entry {
                index,
                reason: format!(
                    "its time {} is outside the bundle's range {:?}..{:?}",
                    entry.time, h.since, h.until
                ),
            });
        }
        if entry.node != h.node {
            return Err(BundleError::Entry {
                index,
                reason: format!("was written by {:?}, not by {:?}", entry.node, h.node),
            });
        }
        tree.push(leaf_hash(line))
            .map_err(|e| BundleError::Malformed(e.to_string()))?;
        if let Some(root) = by_size.get(&tree.size()) {
            if tree.root() != *root {
                let reason = if last_good == index {
                    "does not match the checkpoint signed after it: it was altered, removed, or moved".to_string()
                } else {
                    format!("does not match the checkpoint signed after it: it, or an entry since #{last_good}, was altered, removed, or moved")
                };
                return Err(BundleError::Entry { index, reason });
            }
            last_good = index + 1;
        }
        check_receipt(&entry, index, &h.keys, pinned, &mut report)?;
        *report.kinds.entry(entry.kind).or_default() += 1;
        report.span = Some(match report.span {
            None => (entry.time, entry.time),
            Some((a, b)) => (a.min(entry.time), b.max(entry.time)),
        });
    }
    if tree.size() < end {
        return Err(BundleError::Entry {
            index: tree.size(),
            reason: format!(
                "is missing: the bundle ends after {} entries but its checkpoints cover {} (truncated)",
                tree.size() - h.first,
                h.count
            ),
        });
    }

    // The range is a prefix of the latest tree.
    let proof = decode_hashes(&h.consistency, "consistency proof")?;
    if end > 0 {
        let range_root = tree.root();
        verify_consistency(end, latest.size, &proof, &range_root, &latest.root).map_err(|e| {
            BundleError::Verification(format!(
                "the entries are not a prefix of the latest checkpoint (size {}): {e}",
                latest.size
            ))
        })?;
    }

    // Partners' cosignatures.
    for c in &h.cosigned {
        let key = key_for(
            &c.partner,
            &h.keys.witnesses,
            &pinned.witnesses,
            KeyType::CosignatureV1,
        )?;
        let (body, signers) = open_note(c.checkpoint.as_bytes(), &[log_key.clone(), key.clone()])
            .map_err(|e| {
            BundleError::Verification(format!(
                "{}'s cosigned checkpoint does not verify: {e}",
                c.partner
            ))
        })?;
        if !signers.iter().any(|s| s == key.name()) || !signers.iter().any(|s| s == log_key.name())
        {
            return Err(BundleError::Verification(format!(
                "{}'s cosigned checkpoint lacks the log's signature or the partner's cosignature",
                c.partner
            )));
        }
        let cp = Checkpoint::parse(&body).map_err(|e| {
            BundleError::Verification(format!("{}'s cosigned checkpoint: {e}", c.partner))
        })?;
        if cp.origin != h.origin {
            return Err(BundleError::Verification(format!(
                "{}'s cosigned checkpoint is of log {:?}, not {:?}",
                c.partner, cp.origin, h.origin
            )));
        }
        let proof = decode_hashes(&c.consistency, "cosigned consistency proof")?;
        if cp.size > 0 {
            verify_consistency(cp.size, latest.size, &proof, &cp.root, &latest.root).map_err(
                |e| {
                    BundleError::Verification(format!(
                        "the checkpoint {} cosigned (size {}) is not a prefix of the latest: {e}",
                        c.partner, cp.size
                    ))
                },
            )?;
        }
        report.cosigned_by.push((c.partner.clone(), cp.size));
    }
    Ok(report)
}

fn key_for(
    node: &str,
    bundled: &BTreeMap<String, String>,
    pinned: &BTreeMap<String, String>,
    ty: KeyType,
) -> Result<VerifierKey, BundleError> {
    let text = pinned
        .get(node)
        .or_else(|| bundled.get(node))
        .ok_or_else(|| BundleError::Verification(format!("the bundle has no key for {node}")))?;
    let key = VerifierKey::parse(text)
        .map_err(|e: NoteError| BundleError::Malformed(format!("key of {node}: {e}")))?;
    if key.key_type() != ty || key.name() != node {
        return Err(BundleError::Malformed(format!(
            "the key given for {node} is {}'s, or of the wrong type",
            key.name()
        )));
    }
    Ok(key)
}

fn check_receipt(
    e: &Entry,
    index: u64,
    keys: &BundleKeys,
    pinned: &BundleKeys,
    report: &mut VerifyReport,
) -> Result<(), BundleError> {
    let Some(note) = &e.receipt else {
        if matches!(e.kind, EntryKind::QueryCompleted | EntryKind::QueryAnswered) {
            return Err(BundleError::Entry {
                index,
                reason: format!("a `{}` entry must hold the holder's receipt", e.kind),
            });
        }
        return Ok(());
    };
    let bad = |reason: String| BundleError::Entry { index, reason };
    let (holder, querier) = match e.kind {
        EntryKind::QueryAnswered => (e.node.as_str(), e.partner.as_deref().unwrap_or_default()),
        _ => (e.partner.as_deref().unwrap_or_default(), e.node.as_str()),
    };
    let key = key_for(holder, &keys.receipts, &pinned.receipts, KeyType::Ed25519)
        .map_err(|err| bad(err.to_string()))?;
    let r = Receipt::open(note, &key).map_err(|err| bad(format!("its receipt: {err}")))?;
    let mut wrong = BTreeSet::new();
    if r.querier != querier {
        wrong.insert("querier");
    }
    if Some(hex::encode(r.exchange_id)) != e.exchange_id {
        wrong.insert("exchange id");
    }
    if Some(r.items) != e.items {
        wrong.insert("item count");
    }
    if Some(&r.collection) != e.collection.as_ref() {
        wrong.insert("collection");
    }
    if Some(r.epoch) != e.epoch {
        wrong.insert("epoch");
    }
    if !wrong.is_empty() {
        let w: Vec<&str> = wrong.into_iter().collect();
        return Err(bad(format!(
            "its receipt disagrees with the entry on: {}",
            w.join(", ")
        )));
    }
    report.receipts += 1;
    Ok(())
}
