//! Partners that never answer, answer late, drop messages or close the stream: each fails
//! alone, in virtual time, and holds up no other partner (spec/PROTOCOL.md §6.5).

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::session::querier::ExchangeError;
use cordon_sim::{about, liar, Link, Reply};

use crate::support::*;

#[test]
fn a_partner_that_never_answers_times_out_alone() {
    let mut fed = federation(90);
    fed.lie("jp", about(|_| true, |_| Reply::Silence));
    let start = fed.clock_ms();
    let out = fed
        .query("th", &query(emails(8, 4), &["jp", "us"]))
        .unwrap();
    let jp = out.of("jp").unwrap();
    assert!(matches!(jp.result, Err(ExchangeError::Timeout(_))));
    assert_failed(jp, "timeout", "jp did not answer within 30s");
    assert_eq!(jp.elapsed_ms, 30_000);
    // us answered as fast as without jp: three round trips (descriptor, filter, evaluation)
    // of 2 × 5 ms.
    let us = out.of("us").unwrap();
    assert_eq!(hit_lines(answered(us)), vec![1, 2, 3, 4]);
    assert_eq!(us.elapsed_ms, 30);
    assert_eq!(fed.clock_ms() - start, 30_000, "virtual time only");
}

#[test]
fn a_partner_that_hangs_after_the_descriptor_times_out_with_the_exchange_logged() {
    let mut fed = federation(91);
    answered(&ask_jp(&mut fed));
    fed.lie("jp", about(liar::evaluate, |_| Reply::Silence));
    let o = ask_jp(&mut fed);
    assert_failed(&o, "timeout", "within 30s");
    let th = fed.node("th").unwrap();
    let failed = th.entries(EntryKind::QueryFailed);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].exchange_id,
        th.entries(EntryKind::QuerySent)[1].exchange_id
    );
    assert!(failed[0]
        .reason
        .as_ref()
        .unwrap()
        .starts_with("timeout: jp did not answer"));
}

#[test]
fn an_answer_after_the_time_out_is_too_late() {
    let mut fed = federation(92);
    fed.lie(
        "jp",
        about(liar::evaluate, |l| {
            Reply::After(29_990, Box::new(l.honest()))
        }),
    );
    assert_failed(&ask_jp(&mut fed), "timeout", "within 30s");
    // Within the time-out, a slow answer is an answer.
    let mut fed = federation(92);
    fed.lie(
        "jp",
        about(liar::evaluate, |l| {
            Reply::After(29_000, Box::new(l.honest()))
        }),
    );
    let o = ask_jp(&mut fed);
    assert_eq!(hit_lines(answered(&o)), vec![1, 2]);
    assert_eq!(o.elapsed_ms, 29_030);
}

#[test]
fn lost_messages_and_slow_links() {
    // Every answer from jp is lost: a time-out, never a hang.
    let mut fed = federation(93);
    fed.network_mut().set(
        "jp",
        "th",
        Link {
            latency_ms: 5,
            loss: 1.0,
        },
    );
    assert_failed(&ask_jp(&mut fed), "timeout", "within 30s");
    // Every request to jp is lost.
    let mut fed = federation(94);
    fed.network_mut().set(
        "th",
        "jp",
        Link {
            latency_ms: 5,
            loss: 1.0,
        },
    );
    assert_failed(&ask_jp(&mut fed), "timeout", "within 30s");
    // 6 s each way: two round trips fit in 30 s, not the third.
    let mut fed = federation(95);
    fed.network_mut().set_default(Link {
        latency_ms: 6_000,
        loss: 0.0,
    });
    assert_failed(&ask_jp(&mut fed), "timeout", "within 30s");
    // 5 s each way: three round trips in 30 s exactly.
    let mut fed = federation(96);
    fed.network_mut().set_default(Link {
        latency_ms: 5_000,
        loss: 0.0,
    });
    assert_eq!(ask_jp(&mut fed).elapsed_ms, 30_000);
}

#[test]
fn a_lossy_link_fails_some_queries_and_never_corrupts_an_answer() {
    let mut fed = federation(97);
    fed.network_mut().set_default(Link {
        latency_ms: 20,
        loss: 0.1,
    });
    let (mut ok, mut timeouts) = (0, 0);
    for _ in 0..30 {
        let o = ask_jp(&mut fed);
        match &o.result {
            Ok(a) => {
                assert_eq!(hit_lines(a), vec![1, 2]);
                ok += 1;
            }
            Err(ExchangeError::Timeout(_)) => timeouts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        ok > 5 && timeouts > 5,
        "{ok} answered, {timeouts} timed out"
    );
}

#[test]
fn a_stream_closed_without_an_answer_is_a_lost_connection() {
    let mut fed = federation(98);
    fed.lie("jp", about(liar::evaluate, |_| Reply::Close));
    let o = ask_jp(&mut fed);
    assert!(matches!(o.result, Err(ExchangeError::ConnectionLost(_))));
    assert_failed(
        &o,
        "connection_lost",
        "jp dropped the exchange before answering",
    );
}
