//! Every refusal the holder's admission produces (spec/PROTOCOL.md §6.6, §7), in its order,
//! as an honest querier meets it (reported as `refused:<code>`, never retried) or as a lying
//! querier provokes it.

use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::followup::{FollowupRequest, FollowupState};
use cordon_protocol::frame;
use cordon_protocol::messages::{
    pack, EvaluateRequest, PartnerRequest, PartnerResponse, QueryMode,
};
use cordon_protocol::oprf::Tag;
use cordon_protocol::session::policy::Grant;
use cordon_sim::Federation;

use crate::support::*;

/// The refusal `jp` sends `th` for `req`.
fn refusal(fed: &mut Federation, req: &PartnerRequest) -> RemoteError {
    match fed.send("th", "jp", req).unwrap().as_slice() {
        [PartnerResponse::Error(e)] => e.clone(),
        other => panic!("not a refusal: {other:?}"),
    }
}

fn evaluate(fed: &mut Federation, n: usize, id: u8) -> PartnerRequest {
    PartnerRequest::Evaluate(evaluation(fed, "emails", 1, n, id))
}

#[track_caller]
fn assert_code(e: &RemoteError, code: ErrorCode, message: &str) {
    assert_eq!(e.code, code, "{}", e.message);
    assert!(
        e.message.contains(message),
        "{:?} lacks {message:?}",
        e.message
    );
}

/// `jp`'s grant to `th` replaced by `g`.
fn granting(seed: u64, g: Grant) -> Federation {
    let mut fed = federation(seed);
    fed.node_mut("jp").unwrap().set_grants(vec![g]);
    fed
}

#[test]
fn not_shared_without_a_grant_whether_or_not_the_collection_exists() {
    let mut fed = granting(100, grant("us", &[QueryMode::Match], 10));
    let o = ask_jp(&mut fed);
    assert_refused(&o, "not_shared");
    assert_failed(
        &o,
        "refused:not_shared",
        "jp does not share collection `emails` with th",
    );
    assert_eq!(o.attempts, 1);
    let jp = fed.node("jp").unwrap();
    let refused = jp.entries(EntryKind::QueryRefused);
    assert_eq!(
        refused[0].reason.as_deref(),
        Some("get_descriptor: not_shared: jp does not share collection `emails` with th")
    );
    assert!(fed
        .node("th")
        .unwrap()
        .entries(EntryKind::QuerySent)
        .is_empty());
    // Every request naming a collection, held or not: the same refusal.
    for c in ["emails", "nothing"] {
        let reqs = [
            PartnerRequest::GetDescriptor {
                collection: c.into(),
            },
            PartnerRequest::GetFilter {
                collection: c.into(),
                epoch: 1,
            },
            PartnerRequest::GetDelta {
                collection: c.into(),
                epoch: 1,
                from: 0,
            },
            PartnerRequest::Evaluate(evaluation(&mut fed, c, 1, 2, 1)),
        ];
        for r in &reqs {
            let e = refusal(&mut fed, r);
            assert_code(
                &e,
                ErrorCode::NotShared,
                &format!("jp does not share collection `{c}` with th"),
            );
        }
    }
}

#[test]
fn mode_not_allowed_is_reported_and_not_retried() {
    let mut fed = granting(101, grant("th", &[QueryMode::Match], 100));
    let mut q = query(emails(8, 4), &["jp"]);
    q.mode = QueryMode::Count;
    let out = fed.query("th", &q).unwrap();
    let o = out.of("jp").unwrap();
    assert_failed(o, "refused:mode_not_allowed", "jp shares collection `emails` with th, but not in this mode: jp shares collection `emails` with th only in match mode, not count");
    assert_eq!(o.attempts, 1);
    assert_eq!(
        fed.node("th").unwrap().entries(EntryKind::QuerySent).len(),
        1
    );
}

#[test]
fn unknown_collection_once_shared() {
    let mut fed = federation(102);
    let mut g = grant("th", &[QueryMode::Match], 100);
    g.collections = vec!["*".into()];
    fed.node_mut("jp").unwrap().set_grants(vec![g]);
    let mut q = query(emails(8, 4), &["jp"]);
    q.collection = "phones".into();
    let out = fed.query("th", &q).unwrap();
    assert_failed(
        out.of("jp").unwrap(),
        "refused:unknown_collection",
        "jp refused: jp holds no collection named `phones`",
    );
    let e = refusal(
        &mut fed,
        &PartnerRequest::GetFilter {
            collection: "phones".into(),
            epoch: 1,
        },
    );
    assert_code(&e, ErrorCode::UnknownCollection, "holds no collection");
}

#[test]
fn stale_epoch_for_every_request_naming_an_epoch() {
    let mut fed = federation(103);
    fed.rotate("jp", "emails").unwrap();
    let stale = "epoch 1 of `emails` is no longer current (now 2); fetch the descriptor again";
    let mut reqs = vec![
        PartnerRequest::GetFilter {
            collection: "emails".into(),
            epoch: 1,
        },
        PartnerRequest::GetDelta {
            collection: "emails".into(),
            epoch: 1,
            from: 0,
        },
    ];
    reqs.push(evaluate(&mut fed, 2, 1));
    for r in &reqs {
        assert_code(&refusal(&mut fed, r), ErrorCode::StaleEpoch, stale);
    }
}

#[test]
fn too_many_items_for_the_grant_or_the_node() {
    let mut g = grant("th", &[QueryMode::Match], 100);
    g.max_items_per_query = Some(3);
    let mut fed = granting(104, g);
    let o = ask_jp(&mut fed);
    assert_failed(
        &o,
        "refused:too_many_items",
        "jp refused: 4 items in one request; jp accepts at most 3 per request from th",
    );
    let mut fed = federation(105);
    fed.node_mut("jp").unwrap().limits_mut().max_items_per_query = 2;
    assert_failed(
        &ask_jp(&mut fed),
        "refused:too_many_items",
        "at most 2 per request",
    );
    // Nothing was counted against the budget.
    assert_eq!(
        fed.node("jp")
            .unwrap()
            .spent(fed.now() / 86_400, "th", "emails"),
        0
    );
}

#[test]
fn bad_requests() {
    let mut fed = federation(106);
    // An invalid collection name: refused before anything is looked up.
    let e = refusal(
        &mut fed,
        &PartnerRequest::GetDescriptor {
            collection: "A B".repeat(100),
        },
    );
    assert_code(
        &e,
        ErrorCode::BadRequest,
        "the collection name (300 bytes) is not a valid collection name: 1 to 64",
    );
    let unnamed = PartnerRequest::Evaluate(evaluation(&mut fed, "", 1, 2, 1));
    let e = refusal(&mut fed, &unnamed);
    assert_code(
        &e,
        ErrorCode::BadRequest,
        "the collection name (0 bytes) is not a valid collection name",
    );
    let refused = fed.node("jp").unwrap().entries(EntryKind::QueryRefused);
    assert_eq!(
        refused[0].collection.as_deref(),
        Some("<invalid name of 300 bytes>")
    );
    // Bytes that are no request.
    let reply = fed
        .send_bytes("th", "jp", frame::encode(&7u32).unwrap())
        .unwrap();
    assert!(
        matches!(&reply[..], [PartnerResponse::Error(e)] if e.code == ErrorCode::BadRequest && e.message.starts_with("malformed request: "))
    );
    // Blinded elements: ragged, none, the identity, not canonical.
    for (blinded, message) in [
        (vec![7u8; 33], "not a multiple of 32"),
        (vec![], "no elements"),
        (vec![0u8; 32], "blinded"),
        (vec![0xffu8; 32], "blinded"),
    ] {
        let mut r = evaluation(&mut fed, "emails", 1, 1, 9);
        r.blinded = blinded;
        assert_code(
            &refusal(&mut fed, &PartnerRequest::Evaluate(r)),
            ErrorCode::BadRequest,
            message,
        );
    }
    // A delta position beyond the delta.
    let e = refusal(
        &mut fed,
        &PartnerRequest::GetDelta {
            collection: "emails".into(),
            epoch: 1,
            from: 1,
        },
    );
    assert_code(
        &e,
        ErrorCode::BadRequest,
        "delta position 1 is beyond the 0 tags of epoch 1",
    );
    // None of them used the query id or the budget.
    let good = evaluate(&mut fed, 2, 9);
    assert!(matches!(
        fed.send("th", "jp", &good).unwrap()[..],
        [PartnerResponse::Evaluated(_)]
    ));
    assert_eq!(
        fed.node("jp")
            .unwrap()
            .spent(fed.now() / 86_400, "th", "emails"),
        2
    );
}

#[test]
fn a_request_over_the_size_limit_is_refused_as_a_limit() {
    let mut fed = federation(107);
    fed.node_mut("jp").unwrap().limits_mut().max_request_bytes = 100;
    let o = ask_jp(&mut fed);
    assert_failed(
        &o,
        "refused:limit_exceeded",
        "exceeds this node's limit of 100 bytes per request (`limits.max_request_bytes`)",
    );
}

#[test]
fn a_replayed_query_id_is_refused_for_two_days() {
    let mut fed = federation(108);
    let req = evaluate(&mut fed, 2, 5);
    assert!(matches!(
        fed.send("th", "jp", &req).unwrap()[..],
        [PartnerResponse::Evaluated(_)]
    ));
    let again = evaluate(&mut fed, 3, 5);
    let e = refusal(&mut fed, &again);
    assert_code(&e, ErrorCode::ReplayedQuery, &format!("query id {} was already answered for th by jp; every request needs a fresh random query id", "05".repeat(16)));
    // Another partner's identical id is its own.
    fed.connect("us", "jp").unwrap();
    fed.node_mut("jp")
        .unwrap()
        .grant(grant("us", &[QueryMode::Match], 100));
    assert!(matches!(
        fed.send("us", "jp", &again).unwrap()[..],
        [PartnerResponse::Evaluated(_)]
    ));
    fed.advance(86_400_000);
    assert_code(
        &refusal(&mut fed, &again),
        ErrorCode::ReplayedQuery,
        "already answered",
    );
    fed.advance(86_400_000);
    assert!(matches!(
        fed.send("th", "jp", &again).unwrap()[..],
        [PartnerResponse::Evaluated(_)]
    ));
}

#[test]
fn the_budget_is_spent_and_opens_again_the_next_day() {
    let mut fed = granting(109, grant("th", &[QueryMode::Match], 6));
    answered(&ask_jp(&mut fed));
    let o = ask_jp(&mut fed);
    assert_eq!(o.attempts, 1);
    // The simulation starts at 10:13:20 UTC.
    assert_failed(&o, "refused:budget_exhausted", "th's budget at jp for collection `emails` is spent: th has used 4 of its 6 items a day for collection `emails` at jp, and this request asks for 4 more; the budget opens again at 00:00 UTC, in 13h46m");
    let o = fed.query("th", &query(emails(0, 7), &["jp"])).unwrap();
    assert_failed(
        o.of("jp").unwrap(),
        "refused:budget_exhausted",
        "a request of 7 items can never fit, split it",
    );
    let day = fed.now() / 86_400;
    assert_eq!(fed.node("jp").unwrap().spent(day, "th", "emails"), 4);
    fed.advance(86_400_000);
    assert_eq!(hit_lines(answered(&ask_jp(&mut fed))), vec![1, 2]);
}

// ---- follow-ups (§4.8) ----

fn followup(id: u8, epoch: u64, tags: &[Tag]) -> PartnerRequest {
    PartnerRequest::Followup(FollowupRequest {
        id: ByteArray::new([id; 16]),
        collection: "emails".into(),
        epoch,
        references: pack(tags),
        case_ref: "C-1".into(),
        purpose: "fraud ring".into(),
        requested_by: "investigator".into(),
    })
}

/// The tags of th's hits at jp (users 8 and 9).
fn hit_tags(fed: &mut Federation) -> Vec<Tag> {
    answered(&ask_jp(fed))
        .hits
        .iter()
        .map(|h| h.reference.tag)
        .collect()
}

#[test]
fn followups_are_accepted_only_on_resolvable_references_of_the_current_epoch() {
    let mut fed = federation(110);
    let tags = hit_tags(&mut fed);
    match fed
        .send("th", "jp", &followup(1, 1, &tags))
        .unwrap()
        .as_slice()
    {
        [PartnerResponse::FollowupAccepted(a)] => assert_eq!(a.records, 2),
        other => panic!("{other:?}"),
    }
    // A forged reference: the whole request is refused, naming it.
    let e = refusal(&mut fed, &followup(2, 1, &[tags[0], [7; 32]]));
    assert_code(&e, ErrorCode::UnknownReference, "1 of the 2 references match no record of `emails` in epoch 1; the request is refused as a whole: the references at positions 2 of 2 (counted from 1)");
    // A reference of an epoch rotated away.
    fed.rotate("jp", "emails").unwrap();
    let e = refusal(&mut fed, &followup(3, 1, &tags));
    assert_code(
        &e,
        ErrorCode::UnknownReference,
        "epoch 1 of `emails` is no longer current (now 2)",
    );
    // Fields out of range, no references, a used id.
    let mut bad = followup(4, 2, &tags);
    if let PartnerRequest::Followup(f) = &mut bad {
        f.purpose = " ".into();
    }
    assert_code(
        &refusal(&mut fed, &bad),
        ErrorCode::BadRequest,
        "the purpose must be 1 to 1000 bytes",
    );
    assert_code(
        &refusal(&mut fed, &followup(4, 2, &[])),
        ErrorCode::BadRequest,
        "cites 1 to 1000 references",
    );
    let tags = hit_tags(&mut fed);
    let e = refusal(&mut fed, &followup(1, 2, &tags));
    assert_code(
        &e,
        ErrorCode::BadRequest,
        &format!("follow-up identifier {} is already used", "01".repeat(16)),
    );
    // Every request, accepted or refused, is logged.
    assert_eq!(
        fed.node("jp")
            .unwrap()
            .entries(EntryKind::FollowupRequested)
            .len(),
        6
    );
}

#[test]
fn followups_need_a_grant_that_allows_them_and_room_in_the_queue() {
    let mut g = grant("th", &[QueryMode::Match], 100);
    g.followup = false;
    let mut fed = granting(111, g);
    let tags = hit_tags(&mut fed);
    let e = refusal(&mut fed, &followup(1, 1, &tags));
    assert_code(
        &e,
        ErrorCode::FollowupNotAllowed,
        "jp does not accept follow-up requests from th on collection `emails`",
    );
    let mut fed = federation(112);
    fed.node_mut("jp").unwrap().set_grants(vec![]);
    assert_code(
        &refusal(&mut fed, &followup(1, 1, &[[1; 32]])),
        ErrorCode::NotShared,
        "does not share",
    );
    let mut fed = federation(113);
    fed.node_mut("jp")
        .unwrap()
        .limits_mut()
        .max_pending_followups = 1;
    let tags = hit_tags(&mut fed);
    assert!(matches!(
        fed.send("th", "jp", &followup(1, 1, &tags)).unwrap()[..],
        [PartnerResponse::FollowupAccepted(_)]
    ));
    let e = refusal(&mut fed, &followup(2, 1, &tags));
    assert_code(&e, ErrorCode::LimitExceeded, "th already has 1 follow-up requests awaiting review at jp (`limits.max_pending_followups_per_partner`)");
    // A decision makes room.
    let now = fed.now();
    fed.node_mut("jp").unwrap().decide_followup(
        &[1; 16],
        FollowupState::Denied {
            reason: "no".into(),
        },
        now,
    );
    assert!(matches!(
        fed.send("th", "jp", &followup(2, 1, &tags)).unwrap()[..],
        [PartnerResponse::FollowupAccepted(_)]
    ));
}

#[test]
fn followup_status_tells_a_partner_of_its_own_requests_only() {
    let mut fed = federation(114);
    fed.connect("us", "jp").unwrap();
    fed.node_mut("jp")
        .unwrap()
        .grant(grant("us", &[QueryMode::Match], 100));
    let tags = hit_tags(&mut fed);
    assert!(matches!(
        fed.send("th", "jp", &followup(1, 1, &tags)).unwrap()[..],
        [PartnerResponse::FollowupAccepted(_)]
    ));
    let ask = |ids: Vec<[u8; 16]>| PartnerRequest::FollowupStatus {
        ids: ids.into_iter().map(ByteArray::new).collect(),
    };
    let mine = fed.send("th", "jp", &ask(vec![[1; 16], [2; 16]])).unwrap();
    assert!(
        matches!(&mine[..], [PartnerResponse::FollowupStatus { decisions }] if decisions.len() == 1 && decisions[0].state == FollowupState::Pending)
    );
    let theirs = fed.send("us", "jp", &ask(vec![[1; 16]])).unwrap();
    assert!(
        matches!(&theirs[..], [PartnerResponse::FollowupStatus { decisions }] if decisions.is_empty())
    );
    let e = refusal(&mut fed, &ask(vec![[0; 16]; 1001]));
    assert_code(
        &e,
        ErrorCode::TooManyItems,
        "ask about at most 1000 follow-up requests at a time",
    );
    // Withdrawn follow-ups: no answer goes out.
    let mut g = grant("th", &[QueryMode::Match], 100);
    g.followup = false;
    fed.node_mut("jp").unwrap().set_grants(vec![g]);
    assert_code(
        &refusal(&mut fed, &ask(vec![[1; 16]])),
        ErrorCode::FollowupNotAllowed,
        "does not accept follow-up requests",
    );
}

#[test]
fn admission_checks_come_in_their_order() {
    // Each request fails two checks; the earlier one is the refusal (spec §6.6, §4.5).
    let mut fed = federation(115);
    let mut g = grant("th", &[QueryMode::Match], 4);
    g.max_items_per_query = Some(3);
    fed.node_mut("jp").unwrap().set_grants(vec![g]);
    fed.rotate("jp", "emails").unwrap();
    let mut req = |collection: &str, epoch, n, id, change: fn(&mut EvaluateRequest)| {
        let mut r = evaluation(&mut fed, collection, epoch, n, id);
        change(&mut r);
        PartnerRequest::Evaluate(r)
    };
    let cases = [
        // An invalid name and no grant for it.
        (req("No Such", 2, 2, 1, |_| {}), ErrorCode::BadRequest),
        // No grant, and no such collection.
        (req("nothing", 2, 2, 2, |_| {}), ErrorCode::NotShared),
        // A mode not granted, at a stale epoch.
        (
            req("emails", 1, 2, 3, |r| r.mode = QueryMode::Count),
            ErrorCode::ModeNotAllowed,
        ),
        // A stale epoch, with too many items.
        (req("emails", 1, 5, 4, |_| {}), ErrorCode::StaleEpoch),
        // Too many items, ragged.
        (
            req("emails", 2, 5, 5, |r| r.blinded.push(0)),
            ErrorCode::TooManyItems,
        ),
    ];
    for (r, code) in &cases {
        assert_eq!(refusal(&mut fed, r).code, *code);
    }
    // 3 of the 4 items of the day spent.
    let first = PartnerRequest::Evaluate(evaluation(&mut fed, "emails", 2, 3, 7));
    assert!(matches!(
        fed.send("th", "jp", &first).unwrap()[..],
        [PartnerResponse::Evaluated(_)]
    ));
    // Ragged, and more than the budget left: the elements first.
    let mut ragged = evaluation(&mut fed, "emails", 2, 3, 6);
    ragged.blinded.push(0);
    let e = refusal(&mut fed, &PartnerRequest::Evaluate(ragged));
    assert_eq!(e.code, ErrorCode::BadRequest);
    // Replayed, and over the budget: the replay first.
    let replayed = PartnerRequest::Evaluate(evaluation(&mut fed, "emails", 2, 3, 7));
    assert_eq!(refusal(&mut fed, &replayed).code, ErrorCode::ReplayedQuery);
    let fresh = PartnerRequest::Evaluate(evaluation(&mut fed, "emails", 2, 3, 8));
    assert_eq!(refusal(&mut fed, &fresh).code, ErrorCode::BudgetExhausted);
}
