//! `cordon audit reconcile`: pairs the exchanges two nodes logged with each other, by the
//! exchange id both logs carry, and lists every exchange seen by one side only or whose
//! counts, times or receipts disagree.

use std::collections::BTreeMap;

use cordon_protocol::audit::entry::{Entry, EntryKind};

/// Two sides' entries for one exchange may be this far apart in time before it is reported.
pub const TIME_TOLERANCE_SECS: u64 = 300;

/// One side of one exchange.
#[derive(Debug, Default, Clone)]
struct Side<'a> {
    sent: Option<&'a Entry>,
    completed: Option<&'a Entry>,
    failed: Option<&'a Entry>,
    answered: Option<&'a Entry>,
    refused: Option<&'a Entry>,
}

impl<'a> Side<'a> {
    fn add(&mut self, e: &'a Entry) {
        match e.kind {
            EntryKind::QuerySent => self.sent = Some(e),
            EntryKind::QueryCompleted => self.completed = Some(e),
            EntryKind::QueryFailed => self.failed = Some(e),
            EntryKind::QueryAnswered => self.answered = Some(e),
            EntryKind::QueryRefused => self.refused = Some(e),
            _ => {}
        }
    }

    fn first_time(&self) -> u64 {
        [
            self.sent,
            self.completed,
            self.failed,
            self.answered,
            self.refused,
        ]
        .iter()
        .flatten()
        .map(|e| e.time)
        .min()
        .unwrap_or(0)
    }
}

/// One reported exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The exchange id.
    pub exchange: String,
    /// The querying node.
    pub querier: String,
    /// The holding node.
    pub holder: String,
    /// When (the earliest entry of either side).
    pub time: u64,
    /// What disagrees.
    pub problem: String,
}

/// What reconciling found.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    /// Exchanges between the two nodes that were compared.
    pub compared: usize,
    /// Those that disagree.
    pub differences: Vec<Difference>,
}

fn exchanges<'a>(
    entries: &'a [Entry],
    node: &str,
    other: &str,
    cutoff: u64,
) -> BTreeMap<String, Side<'a>> {
    let mut m: BTreeMap<String, Side<'a>> = BTreeMap::new();
    for e in entries {
        if e.node != node || e.partner.as_deref() != Some(other) {
            continue;
        }
        let Some(id) = &e.exchange_id else { continue };
        m.entry(id.clone()).or_default().add(e);
    }
    m.retain(|_, s| s.first_time() <= cutoff);
    m
}

/// Reconciles node `a`'s entries with node `b`'s. Only exchanges that started before both
/// exports were made (`cutoff`) are compared, so an exchange in flight during one export is
/// not reported.
pub fn reconcile(a: (&str, &[Entry]), b: (&str, &[Entry]), cutoff: u64) -> Reconciled {
    let mut out = Reconciled::default();
    for (q, h) in [(a, b), (b, a)] {
        let (qn, qe) = q;
        let (hn, he) = h;
        let querier = exchanges(qe, qn, hn, cutoff);
        let holder = exchanges(he, hn, qn, cutoff);
        let mut ids: Vec<&String> = querier.keys().chain(holder.keys()).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let qs = querier.get(id).cloned().unwrap_or_default();
            let hs = holder.get(id).cloned().unwrap_or_default();
            // Entries of the wrong side (a holder entry in the querier's log for this pair) do
            // not occur: each log's entries are split by the node's role in the exchange.
            if qs.sent.is_none()
                && qs.completed.is_none()
                && qs.failed.is_none()
                && hs.answered.is_none()
                && hs.refused.is_none()
            {
                continue;
            }
            out.compared += 1;
            if let Some(problem) = compare(&qs, &hs, qn, hn) {
                out.differences.push(Difference {
                    exchange: id.clone(),
                    querier: qn.to_string(),
                    holder: hn.to_string(),
                    time: [qs.first_time(), hs.first_time()]
                        .into_iter()
                        .filter(|t| *t > 0)
                        .min()
                        .unwrap_or(0),
                    problem,
                });
            }
        }
    }
    out.differences
        .sort_by(|x, y| (x.time, &x.exchange).cmp(&(y.time, &y.exchange)));
    out
}

fn compare(q: &Side<'_>, h: &Side<'_>, qn: &str, hn: &str) -> Option<String> {
    let held = h.answered.or(h.refused);
    let asked = q.completed.or(q.sent).or(q.failed);
    let (Some(asked), Some(held)) = (asked, held) else {
        return Some(match (asked, held) {
            (Some(_), None) => match q.failed.and_then(|f| f.reason.as_deref()) {
                Some(r) => {
                    format!("only {qn} logged it (it recorded a failure: {r}); {hn} has no entry")
                }
                None => format!("only {qn} logged it; {hn} has no entry"),
            },
            _ => format!("only {hn} logged it; {qn} has no entry"),
        });
    };
    if q.sent.is_none() {
        return Some(format!("{qn} logged an outcome but no `query_sent` entry"));
    }
    match (q.completed, h.answered, h.refused) {
        (Some(_), None, _) => {
            return Some(format!("{qn} logged an answer, but {hn} logged no answer"));
        }
        (None, Some(_), _) => {
            let why = q
                .failed
                .and_then(|f| f.reason.clone())
                .unwrap_or_else(|| "no outcome".into());
            return Some(format!(
                "{hn} logged an answer, but {qn} did not complete it ({why})"
            ));
        }
        _ => {}
    }
    let mut wrong = Vec::new();
    if asked.items != held.items {
        wrong.push(format!(
            "items {} vs {}",
            asked.items.unwrap_or(0),
            held.items.unwrap_or(0)
        ));
    }
    if asked.collection != held.collection {
        wrong.push("collection".to_string());
    }
    if let (Some(c), Some(a)) = (q.completed, h.answered) {
        if c.receipt != a.receipt {
            wrong.push("receipt".to_string());
        }
        if c.epoch != a.epoch {
            wrong.push("epoch".to_string());
        }
    }
    if asked.time.abs_diff(held.time) > TIME_TOLERANCE_SECS {
        wrong.push(format!("times {} s apart", asked.time.abs_diff(held.time)));
    }
    if wrong.is_empty() {
        None
    } else {
        Some(format!("the two logs disagree on: {}", wrong.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_protocol::audit::entry::Actor;

    fn e(node: &str, partner: &str, kind: EntryKind, id: &str, t: u64) -> Entry {
        let mut e = Entry::new(t, kind, node, Actor::node(node));
        e.partner = Some(partner.into());
        e.exchange_id = Some(id.into());
        e.items = Some(5);
        e.collection = Some("phones".into());
        e.epoch = Some(1);
        if matches!(kind, EntryKind::QueryCompleted | EntryKind::QueryAnswered) {
            e.receipt = Some(format!("receipt {id}"));
        }
        e
    }

    fn pair(id: &str, t: u64) -> (Vec<Entry>, Vec<Entry>) {
        (
            vec![
                e("th", "jp", EntryKind::QuerySent, id, t),
                e("th", "jp", EntryKind::QueryCompleted, id, t + 1),
            ],
            vec![e("jp", "th", EntryKind::QueryAnswered, id, t)],
        )
    }

    #[test]
    fn matching_logs_have_no_differences_and_each_gap_is_named() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..20 {
            let (x, y) = pair(&format!("{i:02}"), 100 + i);
            a.extend(x);
            b.extend(y);
        }
        // jp asks th too.
        a.push(e("th", "jp", EntryKind::QueryAnswered, "x1", 200));
        b.push(e("jp", "th", EntryKind::QuerySent, "x1", 200));
        b.push(e("jp", "th", EntryKind::QueryCompleted, "x1", 200));
        let r = reconcile(("th", &a), ("jp", &b), 1000);
        assert_eq!(r.compared, 21);
        assert!(r.differences.is_empty(), "{:?}", r.differences);

        // Remove the holder's entry of exchange 07: exactly that exchange is reported.
        let b2: Vec<Entry> = b
            .iter()
            .filter(|x| x.exchange_id.as_deref() != Some("07"))
            .cloned()
            .collect();
        let r = reconcile(("th", &a), ("jp", &b2), 1000);
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].exchange, "07");
        assert!(
            r.differences[0].problem.contains("only th"),
            "{}",
            r.differences[0].problem
        );

        // A count that disagrees.
        let mut b3 = b.clone();
        b3[3].items = Some(6);
        let r = reconcile(("th", &a), ("jp", &b3), 1000);
        assert_eq!(r.differences.len(), 1);
        assert!(r.differences[0].problem.contains("items 5 vs 6"));

        // Exchanges after the cutoff are not compared.
        let r = reconcile(("th", &a), ("jp", &b2), 106);
        assert!(r.differences.is_empty());
    }
}
