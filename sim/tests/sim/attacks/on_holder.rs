//! A lying querier against the holder: query ids replayed in another collection or mode,
//! batches past what one proof holds, modes that do not exist, numbers at the top of their
//! range, follow-ups citing what they should not, and requests made to be echoed into the
//! holder's log.

use std::cell::RefCell;
use std::convert::Infallible;

use serde_bytes::ByteArray;

use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::followup::FollowupRequest;
use cordon_protocol::frame;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::{pack, PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::oprf::Tag;
use cordon_protocol::session::holder::evaluate::{admit_evaluate, Budgets, ReplayGuard, Spent};
use cordon_protocol::session::holder::{CurrentEpoch, HolderView};
use cordon_protocol::session::policy::Policy;
use cordon_sim::Federation;

use super::support::*;
use crate::support::*;

/// `jp`'s one answer to `th`'s `req`.
fn answer(fed: &mut Federation, req: &PartnerRequest) -> PartnerResponse {
    let mut frames = fed.send("th", "jp", req).unwrap();
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames.remove(0)
}

#[track_caller]
fn refused(r: &PartnerResponse, code: ErrorCode, needle: &str) -> String {
    match r {
        PartnerResponse::Error(RemoteError { code: c, message }) => {
            assert_eq!(*c, code, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            message.clone()
        }
        other => panic!("not a refusal: {other:?}"),
    }
}

fn evaluated(r: &PartnerResponse) -> bool {
    matches!(r, PartnerResponse::Evaluated(_))
}

/// `jp` holding `phones` too, shared with `th` like `emails`.
fn with_phones(seed: u64) -> Federation {
    let mut fed = federation(seed);
    let mut g = grant("th", &[QueryMode::Match, QueryMode::Count], 1_000_000);
    g.collections.push("phones".into());
    fed.node_mut("jp").unwrap().set_grants(vec![g]);
    fed.import("jp", "phones", Kind::Phone, &["+66812345678".into()])
        .unwrap();
    fed
}

#[test]
fn a_query_id_is_answered_once_whatever_the_collection_or_mode() {
    let mut fed = with_phones(300);
    let first = PartnerRequest::Evaluate(evaluation(&mut fed, "emails", 1, 2, 7));
    assert!(evaluated(&answer(&mut fed, &first)));
    let mut other = evaluation(&mut fed, "phones", 1, 2, 7);
    let r = answer(&mut fed, &PartnerRequest::Evaluate(other.clone()));
    refused(&r, ErrorCode::ReplayedQuery, "was already answered");
    other.collection = "emails".into();
    other.mode = QueryMode::Count;
    let r = answer(&mut fed, &PartnerRequest::Evaluate(other));
    refused(&r, ErrorCode::ReplayedQuery, "was already answered");
    // Only the first was counted.
    let day = fed.now() / 86_400;
    let jp = fed.node("jp").unwrap();
    assert_eq!(
        (jp.spent(day, "th", "emails"), jp.spent(day, "th", "phones")),
        (2, 0)
    );
}

#[test]
fn more_elements_than_one_proof_holds_are_too_many_whatever_the_limit() {
    // A node limit set above 65,536 (or a grant's): one request is still one proof.
    let mut fed = federation(301);
    fed.node_mut("jp").unwrap().limits_mut().max_items_per_query = 100_000;
    let mut req = evaluation(&mut fed, "emails", 1, 1, 3);
    req.blinded = req.blinded.repeat(65_537);
    let r = answer(&mut fed, &PartnerRequest::Evaluate(req));
    refused(
        &r,
        ErrorCode::TooManyItems,
        "65537 items in one request; jp accepts at most 65536 per request from th",
    );
    // Nothing claimed or spent: the same id goes through with a proper batch.
    assert_eq!(
        fed.node("jp")
            .unwrap()
            .spent(fed.now() / 86_400, "th", "emails"),
        0
    );
    let ok = PartnerRequest::Evaluate(evaluation(&mut fed, "emails", 1, 2, 3));
    assert!(evaluated(&answer(&mut fed, &ok)));
}

/// `bytes` (one frame) with its payload's `from` replaced by `to`.
fn rewritten(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let payload = &bytes[frame::HEADER_LEN..];
    let at = payload
        .windows(from.len())
        .position(|w| w == from)
        .expect("the bytes to replace");
    let mut p = payload[..at].to_vec();
    p.extend_from_slice(to);
    p.extend_from_slice(&payload[at + from.len()..]);
    super::support::frame(&p)
}

#[test]
fn modes_that_do_not_exist_are_bad_requests() {
    let mut fed = federation(302);
    let mut req = evaluation(&mut fed, "emails", 1, 2, 4);
    req.mode = QueryMode::Count;
    let bytes = frame::encode(&PartnerRequest::Evaluate(req)).unwrap();
    for to in [&b"\x65cOunt"[..], b"\x63sum", b"\xf6", b"\x01", b"\x60"] {
        let r = fed
            .send_bytes("th", "jp", rewritten(&bytes, b"\x65count", to))
            .unwrap();
        refused(&r[0], ErrorCode::BadRequest, "malformed request: ");
    }
    // The control: the bytes as they were.
    assert!(evaluated(&fed.send_bytes("th", "jp", bytes).unwrap()[0]));
}

#[test]
fn numbers_at_the_top_of_their_range_are_refused_without_arithmetic() {
    let mut fed = federation(303);
    let r = answer(
        &mut fed,
        &PartnerRequest::GetDelta {
            collection: "emails".into(),
            epoch: 1,
            from: u64::MAX,
        },
    );
    refused(
        &r,
        ErrorCode::BadRequest,
        &format!("delta position {} is beyond the 0 tags", u64::MAX),
    );
    for epoch in [0, u64::MAX] {
        let req = PartnerRequest::Evaluate(evaluation(&mut fed, "emails", epoch, 2, 5));
        let r = answer(&mut fed, &req);
        refused(&r, ErrorCode::StaleEpoch, "is no longer current (now 1)");
        let r = answer(
            &mut fed,
            &PartnerRequest::GetFilter {
                collection: "emails".into(),
                epoch,
            },
        );
        refused(&r, ErrorCode::StaleEpoch, "is no longer current (now 1)");
        let r = answer(&mut fed, &followup(6, epoch, &[[1; 32]]));
        refused(
            &r,
            ErrorCode::UnknownReference,
            "is no longer current (now 1)",
        );
    }
}

// ---- follow-ups ----

fn followup(id: u8, epoch: u64, tags: &[Tag]) -> PartnerRequest {
    followup_in("emails", id, epoch, tags)
}

fn followup_in(collection: &str, id: u8, epoch: u64, tags: &[Tag]) -> PartnerRequest {
    PartnerRequest::Followup(FollowupRequest {
        id: ByteArray::new([id; 16]),
        collection: collection.into(),
        epoch,
        references: pack(tags),
        case_ref: "C-1".into(),
        purpose: "fraud ring".into(),
        requested_by: "investigator".into(),
    })
}

#[test]
fn references_found_in_another_collection_resolve_to_nothing() {
    let mut fed = with_phones(304);
    let phone = tags_at(&fed, "jp", "phones", &["phone:+66812345678"]);
    let email = tags_at(&fed, "jp", "emails", &["email:user8@example.org"]);
    // A phone's tag cited as an e-mail's, and the other way round.
    let r = answer(
        &mut fed,
        &followup_in("emails", 1, 1, &[email[0], phone[0]]),
    );
    refused(&r, ErrorCode::UnknownReference, "positions 2 of 2");
    let r = answer(&mut fed, &followup_in("phones", 2, 1, &email));
    refused(&r, ErrorCode::UnknownReference, "positions 1 of 1");
    assert!(fed.node("jp").unwrap().followups().is_empty());
}

#[test]
fn duplicated_references_are_one_record_and_over_a_thousand_are_refused() {
    let mut fed = federation(305);
    let t = tags_at(&fed, "jp", "emails", &["email:user8@example.org"])[0];
    match answer(&mut fed, &followup(1, 1, &[t; 1000])) {
        PartnerResponse::FollowupAccepted(a) => assert_eq!(a.records, 1),
        other => panic!("{other:?}"),
    }
    let r = answer(&mut fed, &followup(2, 1, &[t; 1001]));
    refused(&r, ErrorCode::BadRequest, "cites 1 to 1000 references");
    let mut ragged = followup(3, 1, &[t]);
    if let PartnerRequest::Followup(f) = &mut ragged {
        f.references.push(0);
    }
    refused(
        &answer(&mut fed, &ragged),
        ErrorCode::BadRequest,
        "not a multiple of 32",
    );
}

#[test]
fn a_refused_followup_leaves_no_tag_in_the_holders_log_or_answer() {
    // The querier cites a hit, the tag of one of its misses (an identifier jp does not hold,
    // which jp's key could test against a dictionary) and a made-up tag.
    let mut fed = federation(306);
    let cited = tags_at(
        &fed,
        "jp",
        "emails",
        &["email:user8@example.org", "email:user100@example.org"],
    );
    let cited = [cited[0], cited[1], [7; 32]];
    let r = answer(&mut fed, &followup(1, 1, &cited));
    let message = refused(
        &r,
        ErrorCode::UnknownReference,
        "2 of the 3 references match no record of `emails` in epoch 1; the request is refused as a whole: the references at positions 2, 3 of 3 (counted from 1)",
    );
    // Cited again after a rotation: refused as a whole, naming none.
    fed.rotate("jp", "emails").unwrap();
    let stale = refused(
        &answer(&mut fed, &followup(2, 1, &cited)),
        ErrorCode::UnknownReference,
        "none of the 3 references found in it can be resolved",
    );
    let jp = fed.node("jp").unwrap();
    let log: Vec<String> = jp
        .log()
        .entries()
        .iter()
        .map(|e| String::from_utf8_lossy(&e.to_line()).into_owned())
        .collect();
    assert_eq!(log.len(), 2, "both refusals logged");
    for t in &cited {
        let hex = hex::encode(t);
        for text in log.iter().chain([&message, &stale]) {
            assert!(!text.contains(&hex), "a cited tag in {text}");
        }
    }
    // Beyond 20 positions, the rest is counted.
    let many: Vec<Tag> = (0..30u8).map(|i| [i; 32]).collect();
    let epoch = 2;
    let r = answer(&mut fed, &followup(3, epoch, &many));
    refused(
        &r,
        ErrorCode::UnknownReference,
        "positions 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, and 10 more of 30",
    );
}

#[test]
fn made_up_references_and_a_full_queue_cost_the_holder_no_scan() {
    // Resolving a reference recomputes the tag of every record: a partner must not make the
    // holder do that for references that cannot resolve, or beyond its queue.
    let mut fed = federation(311);
    fed.node_mut("jp")
        .unwrap()
        .limits_mut()
        .max_pending_followups = 1;
    let scans = |fed: &Federation| {
        fed.node("jp")
            .unwrap()
            .collection("emails")
            .unwrap()
            .scans()
    };
    let hit = tags_at(&fed, "jp", "emails", &["email:user8@example.org"]);
    let miss = tags_at(&fed, "jp", "emails", &["email:user100@example.org"]);
    for (id, cited) in [(1u8, vec![[7u8; 32]; 1000]), (2, vec![hit[0], miss[0]])] {
        refused(
            &answer(&mut fed, &followup(id, 1, &cited)),
            ErrorCode::UnknownReference,
            "match no record",
        );
    }
    assert_eq!(scans(&fed), 0);
    assert!(matches!(
        answer(&mut fed, &followup(3, 1, &hit)),
        PartnerResponse::FollowupAccepted(_)
    ));
    assert_eq!(scans(&fed), 1);
    refused(
        &answer(&mut fed, &followup(4, 1, &hit)),
        ErrorCode::LimitExceeded,
        "awaiting review",
    );
    assert_eq!(scans(&fed), 1);
}

#[test]
fn followup_text_with_control_characters_is_refused() {
    let mut fed = federation(307);
    let t = tags_at(&fed, "jp", "emails", &["email:user8@example.org"]);
    for (i, bad) in ["fraud\u{1b}[2J", "line\nbreak", "nul\u{0}"]
        .iter()
        .enumerate()
    {
        let mut req = followup(i as u8 + 1, 1, &t);
        if let PartnerRequest::Followup(f) = &mut req {
            f.purpose = bad.to_string();
        }
        refused(
            &answer(&mut fed, &req),
            ErrorCode::BadRequest,
            "the purpose must be one line of text, without control characters",
        );
    }
    let mut req = followup(9, 1, &t);
    if let PartnerRequest::Followup(f) = &mut req {
        f.requested_by = "\u{9b}31m".into();
        f.case_ref = "C-1".into();
    }
    refused(
        &answer(&mut fed, &req),
        ErrorCode::BadRequest,
        "the requester must",
    );
    assert!(fed.node("jp").unwrap().followups().is_empty());
    // Unicode text is text.
    let mut req = followup(10, 1, &t);
    if let PartnerRequest::Followup(f) = &mut req {
        f.purpose = "ฉ้อโกง — fraude".into();
    }
    assert!(matches!(
        answer(&mut fed, &req),
        PartnerResponse::FollowupAccepted(_)
    ));
}

#[test]
fn a_status_request_repeating_an_id_gets_one_answer() {
    let mut fed = federation(308);
    let t = tags_at(&fed, "jp", "emails", &["email:user8@example.org"]);
    assert!(matches!(
        answer(&mut fed, &followup(1, 1, &t)),
        PartnerResponse::FollowupAccepted(_)
    ));
    let ids = vec![ByteArray::new([1u8; 16]); 1000];
    match answer(&mut fed, &PartnerRequest::FollowupStatus { ids }) {
        PartnerResponse::FollowupStatus { decisions } => assert_eq!(decisions.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_malformed_request_quoting_the_peer_is_refused_in_a_short_clean_sentence() {
    let mut fed = federation(309);
    // The decoder quotes an unknown message name of up to 4 KiB (escaped).
    let dirty = format!("\u{1b}]0;owned\u{7}\u{202e}{}", "z".repeat(4000));
    let mut payload = vec![0xa1];
    payload.extend(cbor_text(dirty.as_bytes()));
    payload.push(0);
    let r = fed.send_bytes("th", "jp", frame(&payload)).unwrap();
    let message = refused(&r[0], ErrorCode::BadRequest, "malformed request: ");
    assert!(message.len() < 1000, "{} bytes", message.len());
    assert!(!unclean(&message), "{:?}", &message[..80]);
}

// ---- admission, as a concurrent driver sees it ----

/// A holder of `emails` at epoch 1 granting `th` 4 items a day, 3 per request.
struct OneEpoch(Policy);

impl HolderView for OneEpoch {
    type Epoch = ();
    fn node(&self) -> &str {
        "jp"
    }
    fn policy(&self) -> &Policy {
        &self.0
    }
    fn max_items_per_query(&self) -> u64 {
        65_536
    }
    fn current_epoch(&self, _: &str) -> Option<CurrentEpoch<()>> {
        Some(CurrentEpoch {
            number: 1,
            delta_len: 0,
            epoch: (),
        })
    }
}

/// Ids claimed (in flight or answered).
struct Claims(RefCell<Vec<[u8; 16]>>);

impl ReplayGuard for Claims {
    type Claim<'a>
        = [u8; 16]
    where
        Self: 'a;
    type Error = Infallible;
    fn claim(&self, _: u64, _: &str, id: &[u8; 16]) -> Result<Option<[u8; 16]>, Infallible> {
        let mut c = self.0.borrow_mut();
        if c.contains(id) {
            return Ok(None);
        }
        c.push(*id);
        Ok(Some(*id))
    }
}

/// Items reserved today.
struct Reserved(RefCell<u64>);

impl Budgets for Reserved {
    type Reservation = u64;
    type Error = Infallible;
    fn reserve(
        &self,
        _: u64,
        _: &str,
        _: &str,
        items: u64,
        limit: u64,
    ) -> Result<Result<u64, Spent>, Infallible> {
        let mut used = self.0.borrow_mut();
        if *used + items > limit {
            return Ok(Err(Spent {
                used: *used,
                limit,
                asked: items,
            }));
        }
        *used += items;
        Ok(Ok(items))
    }
}

#[test]
fn a_budget_is_reserved_at_admission_so_concurrent_requests_cannot_overspend_it() {
    let mut fed = federation(310);
    let mut g = grant("th", &[QueryMode::Match], 4);
    g.max_items_per_query = Some(3);
    let view = OneEpoch(Policy::new("jp", vec![g]));
    let (claims, budget) = (Claims(RefCell::default()), Reserved(RefCell::new(0)));
    let now = fed.now();
    let a = evaluation(&mut fed, "emails", 1, 3, 1);
    let b = evaluation(&mut fed, "emails", 1, 3, 2);
    // Both admitted before either is answered: the second sees the first's reservation.
    let first = admit_evaluate(&view, &claims, &budget, "th", &a, now).unwrap();
    assert_eq!(first.reservation, 3);
    let second = admit_evaluate(&view, &claims, &budget, "th", &b, now);
    let e = second.err().expect("the second overspends");
    assert_eq!(
        e.error.code,
        ErrorCode::BudgetExhausted,
        "{}",
        e.error.message
    );
    assert_eq!(*budget.0.borrow(), 3);
    // A refusal before the budget reserves nothing.
    let c = evaluation(&mut fed, "emails", 1, 4, 3);
    let e = admit_evaluate(&view, &claims, &budget, "th", &c, now)
        .err()
        .unwrap();
    assert_eq!(e.error.code, ErrorCode::TooManyItems);
    assert_eq!(*budget.0.borrow(), 3);
}
