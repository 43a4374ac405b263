//! Daily budgets of evaluated items, per partner and collection.
//!
//! Every blinded item a partner has evaluated counts against its budget for that collection and
//! UTC day (`crate::policy::Grant::daily_items`). Budgets bound how fast a partner can test
//! guesses (a country's mobile numbers are ~10^9 values), so they must be exact:
//!
//! - **No overspend under concurrency.** Items are *reserved* under one lock before anything is
//!   evaluated; twenty requests arriving at once see each other's reservations.
//! - **No refund by a crash.** The day's total is written in the same audit-log transaction as
//!   the answer's `query_answered` entry, before the answer is sent. A crash before that commit
//!   loses the reservation, but then nothing was disclosed either. The total written is the
//!   largest this node has reserved, so it can only over-count in-flight requests, never
//!   under-count answered ones.
//! - A reservation whose evaluation then fails (nothing sent) is released.
//!
//! The table lives in the audit log's database (`budgets`: `day/partner/collection` → items)
//! precisely so that it commits with the entry.

use std::collections::HashMap;
use std::sync::Mutex;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::audit::Reader;

use crate::error::NodeError;

const BUDGETS: TableDefinition<&str, u64> = TableDefinition::new("budgets");

/// Seconds in a budget day (days are UTC, from the Unix epoch).
pub const DAY: u64 = 86_400;

/// The budget day of a Unix time.
pub fn day_of(unix: u64) -> u64 {
    unix / DAY
}

fn key(day: u64, partner: &str, collection: &str) -> String {
    format!("{day}/{partner}/{collection}")
}

/// Items reserved for one request; [`Budgets::release`] it if the request then fails.
#[derive(Debug)]
#[must_use = "persist it with the answer, or release it"]
pub struct Reservation {
    day: u64,
    partner: String,
    collection: String,
    items: u64,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent {
    /// Items already evaluated (or reserved) today.
    pub used: u64,
    /// The day's budget.
    pub limit: u64,
    /// Items asked for.
    pub asked: u64,
}

/// The budgets of every partner.
#[derive(Default)]
pub struct Budgets {
    used: Mutex<HashMap<(u64, String, String), u64>>,
}

fn stored(db: &Reader<'_>, k: &str) -> Result<u64, NodeError> {
    let txn = db.begin_read()?;
    match txn.open_table(BUDGETS) {
        Ok(t) => Ok(t.get(k)?.map(|v| v.value()).unwrap_or(0)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

impl Budgets {
    /// Reserves `items` of `partner`'s budget of `limit` for `collection` on `day`, or says how
    /// much is spent. `db` is the audit log's database.
    pub fn reserve(
        &self,
        db: &Reader<'_>,
        day: u64,
        partner: &str,
        collection: &str,
        items: u64,
        limit: u64,
    ) -> Result<Result<Reservation, Spent>, NodeError> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let k = (day, partner.to_string(), collection.to_string());
        let current = match used.get(&k) {
            Some(u) => *u,
            None => {
                // First request of the day since the start: the persisted total counts.
                let u = stored(db, &key(day, partner, collection))?;
                used.insert(k.clone(), u);
                u
            }
        };
        if current.saturating_add(items) > limit {
            return Ok(Err(Spent {
                used: current,
                limit,
                asked: items,
            }));
        }
        used.insert(k, current + items);
        // Yesterday's counters are of no more use in memory (they stay in the table).
        used.retain(|(d, _, _), _| *d + 1 >= day);
        Ok(Ok(Reservation {
            day,
            partner: partner.to_string(),
            collection: collection.to_string(),
            items,
        }))
    }

    /// Gives back a reservation whose request failed before anything was sent.
    pub fn release(&self, r: Reservation) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = used.get_mut(&(r.day, r.partner, r.collection)) {
            *u = u.saturating_sub(r.items);
        }
    }

    /// Writes the day's total of the reservation's partner and collection into `txn` (the
    /// transaction that logs the answer).
    pub fn persist(&self, txn: &WriteTransaction, r: &Reservation) -> Result<(), NodeError> {
        let mem = {
            let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            used.get(&(r.day, r.partner.clone(), r.collection.clone()))
                .copied()
                .unwrap_or(r.items)
        };
        let k = key(r.day, &r.partner, &r.collection);
        let mut t = txn.open_table(BUDGETS)?;
        let before = t.get(k.as_str())?.map(|v| v.value()).unwrap_or(0);
        t.insert(k.as_str(), before.max(mem))?;
        Ok(())
    }

    /// Items `partner` has used of `collection` on `day` (reserved in memory or persisted).
    pub fn used(
        &self,
        db: &Reader<'_>,
        day: u64,
        partner: &str,
        collection: &str,
    ) -> Result<u64, NodeError> {
        let mem = self
            .used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(day, partner.to_string(), collection.to_string()))
            .copied();
        Ok(mem
            .unwrap_or(0)
            .max(stored(db, &key(day, partner, collection))?))
    }

    /// Every collection `partner` has used on `day`, with the items used.
    pub fn used_by(
        &self,
        db: &Reader<'_>,
        day: u64,
        partner: &str,
    ) -> Result<Vec<(String, u64)>, NodeError> {
        let prefix = format!("{day}/{partner}/");
        let mut out: HashMap<String, u64> = HashMap::new();
        let txn = db.begin_read()?;
        match txn.open_table(BUDGETS) {
            Ok(t) => {
                for row in t.range(prefix.as_str()..)? {
                    let (k, v) = row?;
                    let Some(c) = k.value().strip_prefix(&prefix) else {
                        break;
                    };
                    out.insert(c.to_string(), v.value());
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        for ((d, p, c), u) in self.used.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if *d == day && p == partner {
                let e = out.entry(c.clone()).or_default();
                *e = (*e).max(*u);
            }
        }
        let mut v: Vec<(String, u64)> = out.into_iter().collect();
        v.sort();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::Database;

    fn db() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("b.redb")).unwrap();
        (dir, db)
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_budget() {
        let (_d, db) = db();
        let b = Budgets::default();
        let granted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..20 {
                s.spawn(|| {
                    if let Ok(Ok(r)) = b.reserve(&Reader::new(&db), 7, "jp", "phones", 7, 50) {
                        granted.fetch_add(r.items, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        // 7 reservations of 7 fit in 50; the eighth would make 56.
        assert_eq!(granted.into_inner(), 49);
        assert_eq!(b.used(&Reader::new(&db), 7, "jp", "phones").unwrap(), 49);
        // Another day, another partner or collection: a fresh budget.
        assert!(b
            .reserve(&Reader::new(&db), 8, "jp", "phones", 50, 50)
            .unwrap()
            .is_ok());
        assert!(b
            .reserve(&Reader::new(&db), 7, "us", "phones", 50, 50)
            .unwrap()
            .is_ok());
        let spent = b
            .reserve(&Reader::new(&db), 7, "jp", "phones", 2, 50)
            .unwrap()
            .unwrap_err();
        assert_eq!((spent.used, spent.limit, spent.asked), (49, 50, 2));
    }

    #[test]
    fn persisted_totals_survive_a_restart_and_releases_give_back() {
        let (_d, db) = db();
        let b = Budgets::default();
        let r = b
            .reserve(&Reader::new(&db), 1, "jp", "c", 30, 50)
            .unwrap()
            .unwrap();
        let txn = db.begin_write().unwrap();
        b.persist(&txn, &r).unwrap();
        txn.commit().unwrap();
        let r2 = b
            .reserve(&Reader::new(&db), 1, "jp", "c", 10, 50)
            .unwrap()
            .unwrap();
        b.release(r2);
        assert_eq!(b.used(&Reader::new(&db), 1, "jp", "c").unwrap(), 30);
        // A restarted node (fresh memory) starts from the persisted total.
        let fresh = Budgets::default();
        assert!(fresh
            .reserve(&Reader::new(&db), 1, "jp", "c", 21, 50)
            .unwrap()
            .is_err());
        assert!(fresh
            .reserve(&Reader::new(&db), 1, "jp", "c", 20, 50)
            .unwrap()
            .is_ok());
        assert_eq!(
            fresh.used_by(&Reader::new(&db), 1, "jp").unwrap(),
            vec![("c".to_string(), 50)]
        );
    }
}
