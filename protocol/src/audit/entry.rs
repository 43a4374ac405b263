//! One audit log entry: who did what, when, with whom, about how many items.
//!
//! An entry is one line of JSON (UTF-8, no newline inside: JSON escapes them). The Merkle leaf
//! is `SHA-256(0x00 || line)` over the line's exact bytes, so a verifier never re-encodes an
//! entry: it hashes what it was given, then parses it to read it. Unknown fields are
//! accepted when reading (a newer node may add some) and kept in the hash.
//!
//! What an entry never holds: a raw identifier, a tag, a blinded or evaluated element, or a
//! plain hash of any of them. Exchanges carry counts, the holder's signed receipt (whose only
//! digest is over the *blinded* request) and the case reference and purpose the investigator
//! gave.

use serde::{Deserialize, Serialize};

/// Format version written into every entry.
pub const ENTRY_VERSION: u32 = 1;

/// Longest entry line accepted (bytes): receipts and purposes are short; anything longer is
/// not an entry this format writes.
pub const MAX_ENTRY_LEN: usize = 64 * 1024;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The node started (its configuration's partners are listed in `detail`).
    NodeStarted,
    /// The node stopped cleanly.
    NodeStopped,
    /// Records were imported into a collection (counts in `added`, `duplicates`, `rejected`).
    DataImported,
    /// An import was refused (invalid rows, wrong kind, …); nothing was stored.
    ImportRefused,
    /// Records were deleted or expired from a collection.
    DataExpired,
    /// A new epoch (new OPRF key, new filter) was built for a collection.
    EpochBuilt,
    /// The collection's key was rotated (a new epoch replaced a still valid one).
    KeyRotated,
    /// A partner was added, removed or changed (found at start, compared with the last run).
    PartnerChanged,
    /// A partner's sharing policy changed.
    PolicyChanged,
    /// A user certificate was issued.
    UserAdded,
    /// A user certificate was revoked.
    UserRevoked,
    /// Querier: an investigator's query is about to be sent to one partner.
    QuerySent,
    /// Querier: the partner answered, the proof verified; `hits` and the partner's `receipt`.
    QueryCompleted,
    /// Querier: the partner refused, failed or timed out (`reason`).
    QueryFailed,
    /// Holder: a partner's query is about to be answered (`receipt` is the one sent back).
    QueryAnswered,
    /// Holder: a partner's query was refused (`reason`).
    QueryRefused,
    /// A follow-up request (the second, disclosing step) was filed or received.
    FollowupRequested,
    /// A follow-up request was approved, denied or answered.
    FollowupAnswered,
    /// A partner presented a checkpoint inconsistent with one it signed before.
    PartnerInconsistent,
    /// Someone read or exported this log through the control channel.
    AuditRead,
}

impl EntryKind {
    /// Every kind, in declaration order.
    pub const ALL: [EntryKind; 20] = [
        EntryKind::NodeStarted,
        EntryKind::NodeStopped,
        EntryKind::DataImported,
        EntryKind::ImportRefused,
        EntryKind::DataExpired,
        EntryKind::EpochBuilt,
        EntryKind::KeyRotated,
        EntryKind::PartnerChanged,
        EntryKind::PolicyChanged,
        EntryKind::UserAdded,
        EntryKind::UserRevoked,
        EntryKind::QuerySent,
        EntryKind::QueryCompleted,
        EntryKind::QueryFailed,
        EntryKind::QueryAnswered,
        EntryKind::QueryRefused,
        EntryKind::FollowupRequested,
        EntryKind::FollowupAnswered,
        EntryKind::PartnerInconsistent,
        EntryKind::AuditRead,
    ];

    /// The name used in entries and on the command line (`query_sent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::NodeStarted => "node_started",
            EntryKind::NodeStopped => "node_stopped",
            EntryKind::DataImported => "data_imported",
            EntryKind::ImportRefused => "import_refused",
            EntryKind::DataExpired => "data_expired",
            EntryKind::EpochBuilt => "epoch_built",
            EntryKind::KeyRotated => "key_rotated",
            EntryKind::PartnerChanged => "partner_changed",
            EntryKind::PolicyChanged => "policy_changed",
            EntryKind::UserAdded => "user_added",
            EntryKind::UserRevoked => "user_revoked",
            EntryKind::QuerySent => "query_sent",
            EntryKind::QueryCompleted => "query_completed",
            EntryKind::QueryFailed => "query_failed",
            EntryKind::QueryAnswered => "query_answered",
            EntryKind::QueryRefused => "query_refused",
            EntryKind::FollowupRequested => "followup_requested",
            EntryKind::FollowupAnswered => "followup_answered",
            EntryKind::PartnerInconsistent => "partner_inconsistent",
            EntryKind::AuditRead => "audit_read",
        }
    }
}

impl std::str::FromStr for EntryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().replace('-', "_");
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = EntryKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("`{s}` is not an entry kind; use one of: {}", all.join(", "))
            })
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who acted: a person (by certificate) or a partner node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Certificate subject: the user's or partner node's name.
    pub name: String,
    /// `investigator`, `operator`, `supervisor`, `auditor`, `partner` or `node` (the node
    /// itself, for what it does on its own).
    pub role: String,
    /// SHA-256 of the actor's leaf certificate, hex; empty for the node itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
}

/// One entry. Optional fields are left out of the JSON when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Format version ([`ENTRY_VERSION`]).
    pub v: u32,
    /// When, Unix seconds (UTC).
    pub time: u64,
    /// What happened.
    pub kind: EntryKind,
    /// The node that wrote the entry.
    pub node: String,
    /// Who acted.
    pub actor: Actor,
    /// The other node of an exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    /// Collection concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// Query mode (`match`, `count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The investigator's query (one per command, shared by its per-partner exchanges), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
    /// The exchange with one partner, hex: the identifier on the wire, which both nodes log,
    /// so their logs can be reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_id: Option<String>,
    /// Epoch of the collection used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// Items asked about (OPRF items, for persons one per match key), or records concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<u64>,
    /// Querier only: how many items the partner holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
    /// Imports: records added, already present, and rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<u64>,
    /// Imports: records already present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    /// Imports: rows rejected as invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u64>,
    /// Case reference (mandatory for queries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_ref: Option<String>,
    /// Stated purpose (mandatory for queries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Why something was refused or failed (an error code and sentence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Free text: a source file name, a partner's CA fingerprint, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The holder's signed receipt of an exchange (a signed note, see [`super::receipt`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

/// Why an entry line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Longer than [`MAX_ENTRY_LEN`].
    #[error("the entry is {0} bytes, over the {MAX_ENTRY_LEN}-byte limit")]
    TooLong(usize),
    /// Not UTF-8 JSON of an entry.
    #[error("not an audit entry: {0}")]
    Malformed(String),
    /// A version this build does not read.
    #[error(
        "entry format version {0} is not supported (this build reads version {ENTRY_VERSION})"
    )]
    Version(u32),
}

impl Entry {
    /// A new entry with only the fields every entry has.
    pub fn new(time: u64, kind: EntryKind, node: &str, actor: Actor) -> Entry {
        Entry {
            v: ENTRY_VERSION,
            time,
            kind,
            node: node.to_string(),
            actor,
            partner: None,
            collection: None,
            mode: None,
            query_id: None,
            exchange_id: None,
            epoch: None,
            items: None,
            hits: None,
            added: None,
            duplicates: None,
            rejected: None,
            case_ref: None,
            purpose: None,
            reason: None,
            detail: None,
            receipt: None,
        }
    }

    /// The entry's line: compact JSON, no trailing newline. These are the bytes hashed.
    pub fn to_line(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an entry line (without its newline).
    pub fn parse(line: &[u8]) -> Result<Entry, EntryError> {
        if line.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLong(line.len()));
        }
        if line.contains(&b'\n') {
            return Err(EntryError::Malformed(
                "the entry spans several lines".into(),
            ));
        }
        let e: Entry =
            serde_json::from_slice(line).map_err(|e| EntryError::Malformed(e.to_string()))?;
        if e.v != ENTRY_VERSION {
            return Err(EntryError::Version(e.v));
        }
        Ok(e)
    }
}

impl Actor {
    /// The node itself, acting on its own (start, stop, scheduled work).
    pub fn node(name: &str) -> Actor {
        Actor {
            name: name.to_string(),
            role: "node".into(),
            fingerprint: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_leaves_out_empty_fields() {
        let mut e = Entry::new(
            1_763_800_000,
            EntryKind::QuerySent,
            "th.rtp",
            Actor::node("th.rtp"),
        );
        e.partner = Some("jp.npa".into());
        e.items = Some(10);
        e.purpose = Some("line\nbreak \"quoted\"".into());
        let line = e.to_line();
        assert!(!line.contains(&b'\n'));
        let s = String::from_utf8(line.clone()).unwrap();
        assert!(!s.contains("hits"), "{s}");
        assert_eq!(Entry::parse(&line).unwrap(), e);
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(matches!(Entry::parse(b"{"), Err(EntryError::Malformed(_))));
        assert!(matches!(
            Entry::parse(&vec![b' '; MAX_ENTRY_LEN + 1]),
            Err(EntryError::TooLong(_))
        ));
        let mut e = Entry::new(1, EntryKind::NodeStarted, "n", Actor::node("n"));
        e.v = 2;
        assert!(matches!(
            Entry::parse(&e.to_line()),
            Err(EntryError::Version(2))
        ));
        assert!(Entry::parse(
            br#"{"v":1,"time":1,"kind":"nope","node":"n","actor":{"name":"n","role":"node"}}"#
        )
        .is_err());
        // Unknown fields of a newer node are read (and stay in the hash).
        assert!(Entry::parse(br#"{"v":1,"time":1,"kind":"node_started","node":"n","actor":{"name":"n","role":"node"},"new":3}"#).is_ok());
    }

    #[test]
    fn kind_names_parse_back() {
        for k in EntryKind::ALL {
            assert_eq!(k.as_str().parse::<EntryKind>().unwrap(), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert!("query-sent".parse::<EntryKind>().is_ok());
        assert!("nope"
            .parse::<EntryKind>()
            .unwrap_err()
            .contains("query_sent"));
    }
}
