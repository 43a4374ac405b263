//! The checks `crash.rs` runs after every restart (split out to keep each file short).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use cordon_protocol::audit::bundle::Bundle;
use cordon_protocol::audit::entry::{Entry, EntryKind};

use super::{cordon, text, Node, Op, Role, COLLECTION};

/// The checks run after every restart, over every operation so far.
pub struct Checker {
    pub seed: u64,
    pub dir: PathBuf,
    pub vkeys: BTreeMap<Node, String>,
    pub auditors: BTreeMap<Node, PathBuf>,
    pub operators: BTreeMap<Node, PathBuf>,
    /// Each node's entry lines at the previous check.
    pub previous: BTreeMap<Node, Vec<Vec<u8>>>,
    /// jp's budget day and th's use of it at the previous check.
    pub budget: Option<(u64, u64)>,
    /// When the test began (Unix seconds).
    pub started: u64,
}

impl Checker {
    pub fn check(&mut self, round: usize, ops: &[Op]) {
        let at = format!("after round {round} (seed {})", self.seed);
        let th_bundle = self.bundle_path(round, "th");
        let jp_bundle = self.bundle_path(round, "jp");
        let th = self.check_log(&at, "th", &th_bundle, ops);
        let jp = self.check_log(&at, "jp", &jp_bundle, ops);
        check_queries(&at, ops, &th);
        check_exchanges(&at, &th, &jp);
        self.check_budget(&at, ops, &jp);
        let o = cordon(
            None,
            &["audit", "reconcile", &th_bundle, &jp_bundle, "--json"],
        );
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{at}: `cordon audit reconcile` failed: {}",
            text(&o.stderr)
        );
        let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("{at}: reconcile printed no JSON ({e}): {}", text(&o.stdout))
        });
        let completed: BTreeSet<&str> = th
            .iter()
            .filter(|e| e.kind == EntryKind::QueryCompleted)
            .filter_map(|e| e.exchange_id.as_deref())
            .collect();
        for d in r["differences"].as_array().into_iter().flatten() {
            let problem = d["problem"].as_str().unwrap_or_default();
            let exchange = d["exchange"].as_str().unwrap_or_default();
            assert!(
                !completed.contains(exchange) && !problem.contains("disagree"),
                "{at}: reconcile reports exchange {exchange}: {problem}"
            );
        }
    }

    /// Check 6: a crash never refunds budget. jp's count of th's items today is at least what
    /// every query it logged as answered and every answer th's CLI printed evaluated, and never
    /// goes down (within one UTC day).
    fn check_budget(&mut self, at: &str, ops: &[Op], jp: &[Entry]) {
        let o = cordon(
            Some(&self.operators["jp"]),
            &["partner", "status", "--json"],
        );
        assert!(
            o.status.success(),
            "{at}: `cordon partner status` on jp: {}",
            text(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).expect("partner status JSON");
        let day_started = v["day_started"].as_u64().unwrap_or_default();
        let used = v["partners"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["partner"] == "th")
            .flat_map(|p| p["collections"].as_array().cloned().unwrap_or_default())
            .find(|c| c["collection"] == COLLECTION)
            .and_then(|c| c["used_today"].as_u64())
            .unwrap_or(0);
        let today = |t: u64| t >= day_started && t < day_started + 86_400;
        let logged: u64 = jp
            .iter()
            .filter(|e| e.kind == EntryKind::QueryAnswered && e.partner.as_deref() == Some("th"))
            .filter(|e| e.collection.as_deref() == Some(COLLECTION) && today(e.time))
            .filter_map(|e| e.items)
            .sum();
        assert!(
            used >= logged,
            "{at}: jp counts {used} of th's items today, fewer than the {logged} its query_answered entries evaluated: a crash refunded budget"
        );
        // What th's CLI saw answered (when the day began before the test, all of it counts).
        let acked: u64 = ops
            .iter()
            .filter(|o| o.role == Role::Query && matches!(o.code, Some(0 | 2)))
            .filter(|o| o.stdout.contains("\"answered\""))
            .map(|o| o.rows)
            .sum();
        if day_started <= self.started {
            assert!(
                used >= acked,
                "{at}: jp counts {used} of th's items today, fewer than the {acked} of queries th's CLI got answers to: a crash refunded budget"
            );
        }
        if let Some((day, before)) = self.budget {
            assert!(
                day != day_started || used >= before,
                "{at}: jp's count of th's items went down from {before} to {used} across a restart"
            );
        }
        self.budget = Some((day_started, used));
    }

    fn bundle_path(&self, round: usize, node: Node) -> String {
        let p = self
            .dir
            .join("bundles")
            .join(format!("r{round}-{node}.bundle"));
        p.display().to_string()
    }

    /// Checks 1, 2 and 4 on one node; returns its entries.
    fn check_log(&mut self, at: &str, node: Node, bundle: &str, ops: &[Op]) -> Vec<Entry> {
        let o = cordon(Some(&self.operators[node]), &["status", "--json"]);
        assert!(
            o.status.success(),
            "{at}: `cordon status` on {node}: {}",
            text(&o.stderr)
        );
        let status: Value = serde_json::from_slice(&o.stdout).expect("status JSON");
        let alerts = &status["audit"]["alerts"];
        assert!(
            alerts.as_array().is_some_and(Vec::is_empty),
            "{at}: {node} reports audit alerts: {alerts}"
        );
        let records = status["collections"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == COLLECTION)
            .and_then(|c| c["records"].as_u64())
            .unwrap_or(0);

        let o = cordon(
            Some(&self.auditors[node]),
            &["audit", "export", "--out", bundle],
        );
        assert!(
            o.status.success(),
            "{at}: `cordon audit export` on {node}: {}",
            text(&o.stderr)
        );
        let o = cordon(
            None,
            &["audit", "verify", bundle, "--key", &self.vkeys[node]],
        );
        assert!(
            o.status.success(),
            "{at}: {node}'s exported log {bundle} does not verify: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let b = Bundle::parse(&std::fs::read(bundle).expect("read bundle")).expect("parse bundle");
        assert_eq!(
            b.header.first, 0,
            "{at}: {node}'s export is not the whole log"
        );
        let prev = self.previous.remove(node).unwrap_or_default();
        assert!(
            b.entries.len() >= prev.len(),
            "{at}: {node}'s log went back from {} to {} entries",
            prev.len(),
            b.entries.len()
        );
        for (i, (old, new)) in prev.iter().zip(&b.entries).enumerate() {
            assert!(
                old == new,
                "{at}: {node}'s entry #{i} changed across the restart: was {}, now {}",
                text(old),
                text(new)
            );
        }
        let entries = b.parsed_entries().expect("entries parse");
        self.previous.insert(node, b.entries);

        let imported: BTreeMap<&str, &Entry> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::DataImported)
            .filter_map(|e| e.detail.as_deref().map(|d| (d, e)))
            .collect();
        let mut acked_rows = 0;
        for op in ops
            .iter()
            .filter(|o| o.acked() && o.role == Role::Import(node))
        {
            acked_rows += op.rows;
            let Some(e) = imported.get(op.file.as_str()) else {
                panic!(
                    "{at}: {node}'s log has no data_imported entry for the acknowledged {}, whose CLI said: {}",
                    op.label(),
                    op.stdout.trim()
                );
            };
            assert!(
                e.collection.as_deref() == Some(COLLECTION)
                    && e.added == Some(op.rows)
                    && e.items == Some(op.rows),
                "{at}: {node}'s entry for {} says collection {:?}, {:?} rows, {:?} added",
                op.label(),
                e.collection,
                e.items,
                e.added
            );
        }
        let rotations = ops
            .iter()
            .filter(|o| o.acked() && o.role == Role::Rotate(node))
            .count();
        let rotated = entries
            .iter()
            .filter(|e| e.kind == EntryKind::KeyRotated)
            .filter(|e| e.collection.as_deref() == Some(COLLECTION))
            .count();
        assert!(
            rotated >= rotations,
            "{at}: {node} acknowledged {rotations} key rotations but logged {rotated}"
        );
        let logged: u64 = imported
            .values()
            .filter(|e| e.collection.as_deref() == Some(COLLECTION))
            .filter_map(|e| e.added)
            .sum();
        assert_eq!(
            records, logged,
            "{at}: {node} holds {records} records but its data_imported entries add {logged}: records and entries did not commit together"
        );
        assert!(
            records >= acked_rows,
            "{at}: {node} holds {records} records, fewer than the {acked_rows} acknowledged"
        );
        entries
    }
}

/// Check 3 and the hits part of check 2, on th's log.
fn check_queries(at: &str, ops: &[Op], th: &[Entry]) {
    for op in ops
        .iter()
        .filter(|o| o.role == Role::Query && matches!(o.code, Some(0 | 2)))
    {
        let v: Value = serde_json::from_str(&op.stdout).unwrap_or_else(|e| {
            panic!("{at}: {} printed no JSON ({e}): {}", op.label(), op.stdout)
        });
        let qid = v["query_id"].as_str().unwrap_or_default();
        let parts = v["partners"].as_array().cloned().unwrap_or_default();
        assert!(
            !parts.is_empty(),
            "{at}: {} lists no partner: {v}",
            op.label()
        );
        for p in parts {
            let partner = p["partner"].as_str().unwrap_or_default();
            let answer = p["outcome"].get("answered");
            let (kind, outcome) = match answer {
                Some(_) => (EntryKind::QueryCompleted, "an answer".to_string()),
                None => (EntryKind::QueryFailed, p["outcome"].to_string()),
            };
            assert!(
                th.iter().any(|e| e.kind == kind
                    && e.query_id.as_deref() == Some(qid)
                    && e.partner.as_deref() == Some(partner)),
                "{at}: th's log has no {kind} entry with query_id {qid:?} and partner {partner}, yet {} (exit {:?}) reported {outcome} from {partner}",
                op.label(),
                op.code
            );
            let hits: BTreeSet<&str> = answer
                .and_then(|a| a["hits"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|h| h["item"].as_str())
                .collect();
            let missed: Vec<&String> = op
                .expect
                .iter()
                .filter(|x| !hits.contains(x.as_str()))
                .collect();
            assert!(
                answer.is_none() || missed.is_empty(),
                "{at}: {} (query {qid}) got no hit on {missed:?}, whose import into jp was acknowledged before it started",
                op.label()
            );
        }
    }
}

/// Check 5: every answer th logged, jp logged before sending it, with the same receipt.
fn check_exchanges(at: &str, th: &[Entry], jp: &[Entry]) {
    let answered: BTreeMap<&str, &Entry> = jp
        .iter()
        .filter(|e| e.kind == EntryKind::QueryAnswered && e.partner.as_deref() == Some("th"))
        .filter_map(|e| e.exchange_id.as_deref().map(|x| (x, e)))
        .collect();
    let completed =
        |e: &&Entry| e.kind == EntryKind::QueryCompleted && e.partner.as_deref() == Some("jp");
    for c in th.iter().filter(completed) {
        let x = c.exchange_id.as_deref().unwrap_or_default();
        let Some(a) = answered.get(x) else {
            panic!(
                "{at}: th logged exchange {x:?} of query {:?} as answered by jp, but jp's log has no query_answered for it",
                c.query_id
            );
        };
        assert_eq!(
            a.receipt, c.receipt,
            "{at}: exchange {x}: th logged another receipt than jp"
        );
    }
}
