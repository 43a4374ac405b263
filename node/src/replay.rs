//! The query ids a holder has answered, so that one partner cannot have the same evaluation
//! request answered twice (spec/PROTOCOL.md §7, `replayed_query`).
//!
//! A `query_id` names one exchange in both nodes' audit logs and in the holder's signed
//! receipt; two answers under one id would make the logs ambiguous. The querier draws a fresh
//! random id per request, so an honest querier never repeats one.
//!
//! - **Bounded.** Ids are kept per UTC day (the budget day) and only for the current and the
//!   previous day: at most as many as the items the partners' daily budgets allow, twice.
//! - **Persistent.** An id is written in the same transaction as the answer's audit entry
//!   (`answer::finish`), so a restart forgets none that was answered.
//! - **No double answer under concurrency.** An id is claimed in memory before evaluation; a
//!   second request with the same id waits for nothing and is refused. A claim whose request
//!   is then refused (nothing answered) is dropped, and the id can be used again.

use std::collections::HashSet;
use std::sync::Mutex;

use redb::{TableDefinition, WriteTransaction};

use crate::audit::Reader;

use crate::error::NodeError;

/// `day (16 hex digits)/partner/query id (hex)` → (). Fixed-width days sort in time order, so
/// the days past the window are one range at the start of the table.
const SEEN: TableDefinition<&str, ()> = TableDefinition::new("query_ids_answered");

fn key(day: u64, partner: &str, qid: &[u8; 16]) -> String {
    format!("{day:016x}/{partner}/{}", hex::encode(qid))
}

/// The query ids in flight, in memory; the answered ones are in the table.
#[derive(Default)]
pub struct ReplayGuard {
    in_flight: Mutex<HashSet<(String, [u8; 16])>>,
}

/// A query id claimed for one request; dropping it frees the id again unless it was persisted.
pub struct Claim<'a> {
    guard: &'a ReplayGuard,
    /// (partner, query id), as in [`ReplayGuard::in_flight`].
    id: (String, [u8; 16]),
    day: u64,
}

impl ReplayGuard {
    /// Claims `qid` of `partner` on `day`, or returns `Ok(None)` if it was answered on this or
    /// the previous day, or is being answered now. `db` is the audit log's database.
    pub fn claim(
        &self,
        db: &Reader<'_>,
        day: u64,
        partner: &str,
        qid: &[u8; 16],
    ) -> Result<Option<Claim<'_>>, NodeError> {
        let id = (partner.to_string(), *qid);
        // Claimed in memory first, so the table is read outside the lock: a concurrent request
        // with the same id finds it in flight, and an answer persisted before its claim was
        // dropped is in the table read below. A claim found answered is dropped (freed) here.
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone())
        {
            return Ok(None);
        }
        let claim = Claim {
            guard: self,
            id,
            day,
        };
        let txn = db.begin_read()?;
        match txn.open_table(SEEN) {
            Ok(t) => {
                for d in [day, day.saturating_sub(1)] {
                    if t.get(key(d, partner, qid).as_str())?.is_some() {
                        return Ok(None);
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Some(claim))
    }
}

impl Claim<'_> {
    /// Records the id as answered in `txn` (the answer's transaction) and forgets ids of days
    /// before the previous one.
    pub fn persist(&self, txn: &WriteTransaction) -> Result<(), NodeError> {
        let (partner, qid) = &self.id;
        let mut t = txn.open_table(SEEN)?;
        t.insert(key(self.day, partner, qid).as_str(), ())?;
        let first_kept = format!("{:016x}", self.day.saturating_sub(1));
        t.retain_in(..first_kept.as_str(), |_, _| false)?;
        Ok(())
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        // Persisted or not, the table now answers for this id.
        self.guard
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase};

    #[test]
    fn an_answered_id_is_refused_for_two_days_then_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("t.redb")).unwrap();
        let g = ReplayGuard::default();
        let q = [7u8; 16];
        // A claim dropped without persisting (the request was refused) frees the id.
        let c = g.claim(&Reader::new(&db), 100, "jp", &q).unwrap().unwrap();
        assert!(
            g.claim(&Reader::new(&db), 100, "jp", &q).unwrap().is_none(),
            "in flight"
        );
        drop(c);
        let c = g.claim(&Reader::new(&db), 100, "jp", &q).unwrap().unwrap();
        let txn = db.begin_write().unwrap();
        c.persist(&txn).unwrap();
        txn.commit().unwrap();
        drop(c);
        assert!(g.claim(&Reader::new(&db), 100, "jp", &q).unwrap().is_none());
        assert!(g.claim(&Reader::new(&db), 101, "jp", &q).unwrap().is_none());
        // Another partner's identical id is its own.
        assert!(g.claim(&Reader::new(&db), 100, "us", &q).unwrap().is_some());
        // Two days on, a new answer prunes day 100 (bounded table).
        let other = g
            .claim(&Reader::new(&db), 102, "jp", &[8; 16])
            .unwrap()
            .unwrap();
        let txn = db.begin_write().unwrap();
        other.persist(&txn).unwrap();
        txn.commit().unwrap();
        drop(other);
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(SEEN).unwrap();
        assert_eq!(redb::ReadableTableMetadata::len(&t).unwrap(), 1);
    }
}
