//! Honest federations: exact hits, both modes, the cache reused, extended and replaced, and
//! both logs agreeing.

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::QueryMode;
use cordon_protocol::session::sync::FilterSource;

use crate::support::*;

#[test]
fn hits_are_exact_for_every_partner() {
    let mut fed = federation(1);
    let out = fed
        .query("th", &query(emails(3, 10), &["jp", "us"]))
        .unwrap();
    // Items 3..13: jp holds 3..10 (lines 1..7), us holds 5..13 (lines 3..10).
    assert_eq!(
        hit_lines(answered(out.of("jp").unwrap())),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        hit_lines(answered(out.of("us").unwrap())),
        (3..=10).collect::<Vec<u64>>()
    );
    let a = answered(out.of("jp").unwrap());
    assert_eq!(
        (a.filter, a.epoch, a.partner_records),
        (FilterSource::Full, 1, 10)
    );
    assert_eq!(a.hits[0].reference.collection, "emails");
}

#[test]
fn count_mode_counts_and_says_no_more() {
    let mut fed = federation(2);
    let mut q = query(emails(3, 10), &["jp", "us"]);
    q.mode = QueryMode::Count;
    let out = fed.query("th", &q).unwrap();
    let a = answered(out.of("us").unwrap());
    assert_eq!((a.count, a.hits.len(), a.matches.len()), (Some(8), 0, 0));
}

#[test]
fn the_cache_is_reused_extended_and_replaced() {
    let mut fed = federation(3);
    assert_eq!(answered(&ask_jp(&mut fed)).filter, FilterSource::Full);
    assert_eq!(answered(&ask_jp(&mut fed)).filter, FilterSource::Cached);
    fed.import("jp", "emails", Kind::Email, &emails(10, 2))
        .unwrap();
    let a = ask_jp(&mut fed);
    assert_eq!(answered(&a).filter, FilterSource::Delta);
    // Users 8..12: now 8, 9, 10, 11 are held (10 and 11 in the delta).
    assert_eq!(hit_lines(answered(&a)), vec![1, 2, 3, 4]);
    fed.rotate("jp", "emails").unwrap();
    let a = ask_jp(&mut fed);
    assert_eq!(
        (answered(&a).filter, answered(&a).epoch),
        (FilterSource::Full, 2)
    );
    assert_eq!(hit_lines(answered(&a)), vec![1, 2, 3, 4]);
    let cached = fed.node("th").unwrap().cached("jp", "emails").unwrap();
    assert_eq!(cached.version(), (2, 0));
}

#[test]
fn both_logs_hold_the_same_receipt() {
    let mut fed = federation(4);
    let a = answered(&ask_jp(&mut fed)).clone();
    let th = fed.node("th").unwrap();
    let jp = fed.node("jp").unwrap();
    let sent = th.entries(EntryKind::QuerySent);
    let done = th.entries(EntryKind::QueryCompleted);
    let answered_at_jp = jp.entries(EntryKind::QueryAnswered);
    assert_eq!((sent.len(), done.len(), answered_at_jp.len()), (1, 1, 1));
    let id = hex::encode(a.exchange_id);
    assert_eq!(sent[0].exchange_id.as_deref(), Some(id.as_str()));
    assert_eq!(done[0].receipt, answered_at_jp[0].receipt);
    assert_eq!(done[0].hits, Some(2));
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let mut fed = federation(seed);
        let a = answered(&ask_jp(&mut fed)).clone();
        (a.exchange_id, a.receipt, fed.clock_ms())
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).0, run(10).0);
}
