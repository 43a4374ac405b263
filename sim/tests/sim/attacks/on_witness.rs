//! Lying logs against the checkpoint witness (spec/AUDIT.md §5): sizes at the ends of the
//! range, proofs from nothing, cosignatures over another checkpoint, checkpoints of another
//! log, and one log shown two ways to two partners.

use std::cell::Cell;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use cordon_protocol::audit::cosignature::cosign;
use cordon_protocol::messages::{AuditHello, PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::session::witness::{self, Checked, CheckpointLog, Note};
use cordon_sim::Federation;

use crate::support::*;
use crate::witness::{forged, reply_lie};

/// `th`'s evaluation at `jp` with `hello` as its audit hello, answered all the same; then
/// whether `jp` noted what `note` looks for about `th`.
fn hello_noted(fed: &mut Federation, hello: AuditHello, note: impl Fn(&Note) -> bool) -> bool {
    let mut req = evaluation(fed, "emails", 1, 2, 9);
    req.audit = Some(hello);
    let r = fed
        .send("th", "jp", &PartnerRequest::Evaluate(req))
        .unwrap();
    assert!(matches!(r[..], [PartnerResponse::Evaluated(_)]));
    let jp = fed.node("jp").unwrap();
    jp.notes().iter().any(|(p, n)| p == "th" && note(n))
}

/// `jp`'s checkpoints replaced by `forge(holder, n)` for its n-th answer, honest once
/// `forge` gives `None`.
fn forging(
    fed: &mut Federation,
    forge: impl Fn(&cordon_sim::SimNode, usize) -> Option<String> + 'static,
) {
    let n = Rc::new(Cell::new(0));
    reply_lie(fed, move |jp, mut a| {
        if let Some(c) = forge(jp, n.get()) {
            a.checkpoint = c;
        }
        n.set(n.get() + 1);
        a
    });
}

#[test]
fn checkpoints_at_the_top_of_the_size_range_are_flagged_without_overflow() {
    let mut fed = federation(400);
    forging(&mut fed, |jp, n| match n {
        0 => Some(forged(jp, u64::MAX - 1, [1; 32])),
        1 => Some(forged(jp, u64::MAX, [2; 32])),
        _ => None,
    });
    for _ in 0..3 {
        answered(&ask_jp(&mut fed));
    }
    let th = fed.node("th").unwrap();
    assert_eq!(
        th.audit_of("jp").their_size(),
        u64::MAX - 1,
        "the first kept"
    );
    let reasons: Vec<&str> = th.alerts().iter().map(|a| a.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("does not extend"), "{}", reasons[0]);
    assert!(reasons[1].starts_with("its log shrank from 18446744073709551614 entries"));
}

#[test]
fn a_checkpoint_of_an_empty_log_is_flagged_by_every_one_that_follows() {
    // An honest node never shows an empty log (an entry precedes every exchange); one that
    // does can never prove that what follows extends it (RFC 9162 has no proof from size 0),
    // so it is flagged, loudly, rather than trusted.
    let mut fed = federation(401);
    let empty: [u8; 32] = Sha256::digest(b"").into();
    forging(&mut fed, move |jp, n| {
        (n == 0).then(|| forged(jp, 0, empty))
    });
    answered(&ask_jp(&mut fed));
    answered(&ask_jp(&mut fed));
    let th = fed.node("th").unwrap();
    assert_eq!(th.audit_of("jp").their_size(), 0);
    assert_eq!(th.alerts().len(), 1, "{:?}", th.alerts());
    // A querier proving its log from size 0 is not checked, and not flagged.
    let mut fed = federation(402);
    answered(&ask_jp(&mut fed));
    let th = fed.node("th").unwrap();
    let mut hello = witness::hello(th.log(), &th.audit_of("jp")).unwrap();
    hello.proof_from = 0;
    hello.proof = Vec::new();
    assert!(hello_noted(&mut fed, hello, |n| {
        matches!(n, Note::NotCosigned(w) if w.contains("the proof starts at size 0"))
    }));
    let jp = fed.node("jp").unwrap();
    assert_eq!(jp.audit_of("th").unverified, 1);
    assert!(jp.alerts().is_empty());
}

#[test]
fn a_cosignature_over_another_checkpoint_of_the_holder_is_not_kept() {
    let mut fed = federation(403);
    answered(&ask_jp(&mut fed));
    answered(&ask_jp(&mut fed));
    let kept = fed
        .node("jp")
        .unwrap()
        .audit_of("th")
        .cosigned_by_them
        .clone();
    // th claims to cosign jp's checkpoint of the size it holds, with a valid cosignature of
    // the checkpoint one entry earlier.
    let now = fed.now();
    let th = fed.node("th").unwrap();
    let seen = th.audit_of("jp").their_size();
    let earlier = fed
        .node("jp")
        .unwrap()
        .log()
        .checkpoint_at(seen - 1)
        .unwrap()
        .unwrap();
    let body = format!("{}\n", earlier.split_once("\n\n").unwrap().0);
    let mut hello = witness::hello(th.log(), &th.audit_of("jp")).unwrap();
    hello.seen = seen;
    hello.cosignature = Some(cosign(&body, now, &th.keys().witness).unwrap());
    assert!(hello_noted(&mut fed, hello, |n| *n == Note::CosignatureInvalid));
    assert_eq!(
        fed.node("jp").unwrap().audit_of("th").cosigned_by_them,
        kept
    );
}

#[test]
fn a_checkpoint_of_another_log_in_a_hello_is_ignored_by_the_holder() {
    let mut fed = federation(404);
    answered(&ask_jp(&mut fed));
    let before = fed.node("jp").unwrap().audit_of("th").theirs.clone();
    let th = fed.node("th").unwrap();
    let mut hello = witness::hello(th.log(), &th.audit_of("jp")).unwrap();
    hello.checkpoint = forged(fed.node("us").unwrap(), 3, [4; 32]);
    assert!(hello_noted(&mut fed, hello, |n| *n == Note::CheckpointIgnored));
    let jp = fed.node("jp").unwrap();
    assert_eq!(jp.audit_of("th").theirs, before);
    assert!(jp.alerts().is_empty());
}

#[test]
fn a_log_shown_two_ways_to_two_partners_is_caught_only_by_comparing_them() {
    // What one node's witness cannot see (spec/AUDIT.md §5 checks a partner against itself):
    // jp shows th its log, and us another root for the same size. Each keeps what it saw, with
    // no alert; the two kept checkpoints, put side by side, are the proof.
    let mut fed = federation(405);
    fed.connect("us", "jp").unwrap();
    fed.node_mut("jp")
        .unwrap()
        .grant(grant("us", &[QueryMode::Match], 100));
    answered(&ask_jp(&mut fed));
    let size = fed.node("th").unwrap().audit_of("jp").their_size();
    reply_lie(&mut fed, move |jp, mut a| {
        a.checkpoint = forged(jp, size, [9; 32]);
        a
    });
    let out = fed.query("us", &query(emails(8, 4), &["jp"])).unwrap();
    answered(out.of("jp").unwrap());
    let (th, us) = (fed.node("th").unwrap(), fed.node("us").unwrap());
    assert!(th.alerts().is_empty() && us.alerts().is_empty());
    let (at_th, at_us) = (th.audit_of("jp"), us.audit_of("jp"));
    assert_eq!(at_us.their_size(), size);
    let key = fed.node("jp").unwrap().keys().log.verifier_key();
    let compared = witness::check(
        at_th.theirs.as_deref(),
        at_us.theirs.as_deref().unwrap(),
        size,
        &[],
        &key,
    );
    assert!(
        matches!(&compared, Checked::Inconsistent(r) if r.contains("two different roots")),
        "{compared:?}"
    );
}
