//! Follow-up tables in the node's redb database.
//!
//! | table | key | value |
//! |---|---|---|
//! | `fields/<c>` | canonical value | CBOR [`RecordFields`]: the record's fields, which are releasable |
//! | `followups_held` | id (hex) | CBOR [`HeldFollowup`]: a partner's request on this node's records |
//! | `followups_sent` | id (hex) | CBOR [`SentFollowup`]: a request this node sent, and its answer |
//!
//! A held request keeps the tags cited and the canonical values of the holder's own records
//! they resolved to: nothing the partner holds beyond the tags of its hits.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_bytes::ByteArray;

use cordon_protocol::followup::FollowupState;

use crate::error::NodeError;

const HELD: TableDefinition<&str, &[u8]> = TableDefinition::new("followups_held");
const SENT: TableDefinition<&str, &[u8]> = TableDefinition::new("followups_sent");

/// A record's fields, as imported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFields {
    /// `(name, value)` in file order.
    pub fields: Vec<(String, String)>,
    /// Names of the fields that may be released.
    pub releasable: Vec<String>,
}

/// A partner's follow-up request, as the holder keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFollowup {
    /// Identifier (hex).
    pub id: String,
    /// The requesting partner.
    pub partner: String,
    /// Collection.
    pub collection: String,
    /// Epoch of the references.
    pub epoch: u64,
    /// Per cited tag, the canonical values of the records it resolved to.
    pub references: Vec<(ByteArray<32>, Vec<String>)>,
    /// The partner's case reference.
    pub case_ref: String,
    /// The stated purpose.
    pub purpose: String,
    /// The partner's investigator.
    pub requested_by: String,
    /// When it arrived (Unix seconds).
    pub received_at: u64,
    /// Pending, approved (with what was released) or denied.
    pub state: FollowupState,
    /// The supervisor who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<u64>,
    /// Fields released (approved).
    pub released_fields: Vec<String>,
}

impl HeldFollowup {
    /// Distinct records the references resolved to.
    pub fn record_count(&self) -> u64 {
        let mut all: Vec<&String> = self.references.iter().flat_map(|(_, v)| v).collect();
        all.sort();
        all.dedup();
        all.len() as u64
    }
}

/// A follow-up request this node sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentFollowup {
    /// Identifier (hex).
    pub id: String,
    /// The holder.
    pub partner: String,
    /// Collection at the holder.
    pub collection: String,
    /// Epoch of the references.
    pub epoch: u64,
    /// References cited, as text.
    pub references: Vec<String>,
    /// Case reference.
    pub case_ref: String,
    /// Purpose.
    pub purpose: String,
    /// The investigator.
    pub requested_by: String,
    /// When it was sent (Unix seconds).
    pub sent_at: u64,
    /// Records the holder resolved the references to.
    pub records: u64,
    /// The holder's last known answer; `None` when the holder no longer knows the request.
    pub state: Option<FollowupState>,
    /// When the answer arrived (Unix seconds).
    pub answered_at: Option<u64>,
    /// The holder refused the request outright (`code: sentence`).
    #[serde(default)]
    pub refused: Option<String>,
}

fn to_cbor<T: Serialize>(v: &T) -> Result<Vec<u8>, NodeError> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).map_err(|e| NodeError::storage(e.to_string()))?;
    Ok(out)
}

fn from_cbor<T: DeserializeOwned>(b: &[u8]) -> Result<T, NodeError> {
    cordon_protocol::frame::decode(b)
        .map_err(|e| NodeError::storage(format!("corrupt follow-up record: {e}")))
}

fn fields_table(collection: &str) -> String {
    format!("fields/{collection}")
}

/// Marker that replaces a deleted record's value in held follow-up requests.
pub const DELETED_RECORD: &str = "(deleted)";

/// Forgets deleted or expired records in held follow-up requests too: a held request keeps the
/// values its references resolved to, which must not outlive the records themselves.
fn forget_in_held(
    txn: &WriteTransaction,
    collection: &str,
    values: &[String],
) -> Result<(), NodeError> {
    let gone: std::collections::HashSet<&str> = values.iter().map(String::as_str).collect();
    let mut changed = Vec::new();
    {
        let t = txn.open_table(HELD)?;
        for row in t.iter()? {
            let (_, v) = row?;
            let mut h: HeldFollowup = from_cbor(v.value())?;
            if h.collection != collection {
                continue;
            }
            let mut hit = false;
            for (_, records) in h.references.iter_mut() {
                for r in records.iter_mut() {
                    if gone.contains(r.as_str()) {
                        *r = DELETED_RECORD.to_string();
                        hit = true;
                    }
                }
            }
            if hit {
                changed.push(h);
            }
        }
    }
    for h in &changed {
        put_held(txn, h)?;
    }
    Ok(())
}

/// Forgets the fields of deleted or expired records, in the deletion's transaction: data past
/// its retention must go whole, not leave its fields behind.
pub fn delete_fields(
    txn: &WriteTransaction,
    collection: &str,
    values: &[String],
) -> Result<(), NodeError> {
    let name = fields_table(collection);
    let def: TableDefinition<&str, &[u8]> = TableDefinition::new(&name);
    let mut t = txn.open_table(def)?;
    for v in values {
        t.remove(v.as_str())?;
    }
    drop(t);
    forget_in_held(txn, collection, values)
}

/// Stores the fields of imported records, in the import's transaction. A record imported
/// again with fields gets the new ones.
pub fn put_fields(
    txn: &WriteTransaction,
    collection: &str,
    rows: &[(String, Vec<(String, String)>)],
    releasable: &[String],
) -> Result<(), NodeError> {
    if rows.is_empty() {
        return Ok(());
    }
    let name = fields_table(collection);
    let def: TableDefinition<&str, &[u8]> = TableDefinition::new(&name);
    let mut t = txn.open_table(def)?;
    for (value, fields) in rows {
        let r = RecordFields {
            releasable: releasable
                .iter()
                .filter(|n| fields.iter().any(|(f, _)| f == *n))
                .cloned()
                .collect(),
            fields: fields.clone(),
        };
        t.insert(value.as_str(), to_cbor(&r)?.as_slice())?;
    }
    Ok(())
}

/// The fields of one record, if it has any.
pub fn fields_of(
    db: &Database,
    collection: &str,
    values: &[&str],
) -> Result<Vec<Option<RecordFields>>, NodeError> {
    let txn = db.begin_read()?;
    let name = fields_table(collection);
    let def: TableDefinition<&str, &[u8]> = TableDefinition::new(&name);
    let t = match txn.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![None; values.len()]),
        Err(e) => return Err(e.into()),
    };
    values
        .iter()
        .map(|v| t.get(*v)?.map(|b| from_cbor(b.value())).transpose())
        .collect()
}

/// Whether a record is still in the collection.
pub fn record_exists(db: &Database, collection: &str, value: &str) -> Result<bool, NodeError> {
    let txn = db.begin_read()?;
    let name = format!("records/{collection}");
    let def: TableDefinition<&str, u64> = TableDefinition::new(&name);
    match txn.open_table(def) {
        Ok(t) => Ok(t.get(value)?.is_some()),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn all<T: DeserializeOwned>(
    db: &Database,
    def: TableDefinition<&str, &[u8]>,
) -> Result<Vec<T>, NodeError> {
    let txn = db.begin_read()?;
    let t = match txn.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for row in t.iter()? {
        let (_, v) = row?;
        out.push(from_cbor(v.value())?);
    }
    Ok(out)
}

/// Every held request.
pub fn held_all(db: &Database) -> Result<Vec<HeldFollowup>, NodeError> {
    all(db, HELD)
}

/// Every sent request.
pub fn sent_all(db: &Database) -> Result<Vec<SentFollowup>, NodeError> {
    all(db, SENT)
}

/// Whether an identifier is taken by a held request.
pub fn held_exists(txn: &WriteTransaction, id: &str) -> Result<bool, NodeError> {
    Ok(txn.open_table(HELD)?.get(id)?.is_some())
}

/// Pending held requests of one partner, seen in `txn`.
pub fn held_pending_of(txn: &WriteTransaction, partner: &str) -> Result<usize, NodeError> {
    let t = txn.open_table(HELD)?;
    let mut n = 0;
    for row in t.iter()? {
        let (_, v) = row?;
        let h: HeldFollowup = from_cbor(v.value())?;
        if h.partner == partner && h.state == FollowupState::Pending {
            n += 1;
        }
    }
    Ok(n)
}

/// Stores a held request.
pub fn put_held(txn: &WriteTransaction, h: &HeldFollowup) -> Result<(), NodeError> {
    txn.open_table(HELD)?
        .insert(h.id.as_str(), to_cbor(h)?.as_slice())?;
    Ok(())
}

/// Reads a held request in a write transaction.
pub fn get_held(txn: &WriteTransaction, id: &str) -> Result<Option<HeldFollowup>, NodeError> {
    let t = txn.open_table(HELD)?;
    let v = t.get(id)?;
    v.map(|v| from_cbor(v.value())).transpose()
}

/// Stores a sent request.
pub fn put_sent(txn: &WriteTransaction, s: &SentFollowup) -> Result<(), NodeError> {
    txn.open_table(SENT)?
        .insert(s.id.as_str(), to_cbor(s)?.as_slice())?;
    Ok(())
}

/// Resolves an identifier or a unique prefix of one among `ids`.
pub fn resolve_id<'a>(
    ids: impl Iterator<Item = &'a str>,
    wanted: &str,
) -> Result<String, NodeError> {
    let w = wanted.trim().to_ascii_lowercase();
    if w.is_empty() {
        return Err(NodeError::refused(
            cordon_protocol::ErrorCode::UnknownFollowup,
            "no follow-up identifier given; `cordon followup list` shows them",
        ));
    }
    let found: Vec<&str> = ids.filter(|i| i.starts_with(&w)).collect();
    match found.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(NodeError::refused(
            cordon_protocol::ErrorCode::UnknownFollowup,
            format!("no follow-up request `{wanted}` here; `cordon followup list` (requests received) or `cordon followup status` (requests sent) shows them"),
        )),
        many => Err(NodeError::request(format!(
            "`{wanted}` is the start of {} follow-up identifiers; give more of it",
            many.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_records_forgets_their_values_and_fields_in_held_requests() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("f.redb")).unwrap();
        let held = |id: &str, collection: &str| HeldFollowup {
            id: id.into(),
            partner: "jp".into(),
            collection: collection.into(),
            epoch: 1,
            references: vec![(
                ByteArray::new([1; 32]),
                vec!["phone:+66811111111".into(), "phone:+66822222222".into()],
            )],
            case_ref: "C".into(),
            purpose: "p".into(),
            requested_by: "i".into(),
            received_at: 0,
            state: FollowupState::Pending,
            decided_by: None,
            decided_at: None,
            released_fields: Vec::new(),
        };
        let txn = db.begin_write().unwrap();
        put_held(&txn, &held("a", "phones")).unwrap();
        put_held(&txn, &held("b", "other")).unwrap();
        put_fields(
            &txn,
            "phones",
            &[(
                "phone:+66811111111".into(),
                vec![("case_no".into(), "X-1".into())],
            )],
            &["case_no".into()],
        )
        .unwrap();
        delete_fields(&txn, "phones", &["phone:+66811111111".into()]).unwrap();
        txn.commit().unwrap();
        let all = held_all(&db).unwrap();
        let a = all.iter().find(|h| h.id == "a").unwrap();
        assert_eq!(
            a.references[0].1,
            vec![DELETED_RECORD.to_string(), "phone:+66822222222".into()]
        );
        // Another collection's request keeps its values.
        let b = all.iter().find(|h| h.id == "b").unwrap();
        assert_eq!(b.references[0].1[0], "phone:+66811111111");
        assert_eq!(
            fields_of(&db, "phones", &["phone:+66811111111"]).unwrap(),
            vec![None]
        );
    }
}
