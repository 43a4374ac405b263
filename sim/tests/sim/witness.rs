//! The checkpoint exchange (spec/AUDIT.md §5): cosignatures over several queries, and
//! partners whose checkpoints contradict what they signed before — flagged, with both
//! checkpoints kept as evidence, while the query itself goes on.

use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::entry::{Actor, Entry, EntryKind};
use cordon_protocol::audit::note::{open_note, sign_note};
use cordon_protocol::messages::{AuditReply, PartnerRequest, PartnerResponse};
use cordon_protocol::session::witness::{self, Note, UNVERIFIED_WARNING};
use cordon_sim::{about, liar, Federation, Lie, Reply, SimNode};

use crate::support::*;

/// A checkpoint of `node`'s log of `size` entries and root `root`, signed with its log key.
pub fn forged(node: &SimNode, size: u64, root: [u8; 32]) -> String {
    let c = Checkpoint {
        origin: node.log().signer().name().to_string(),
        size,
        root,
        extensions: vec![],
    };
    sign_note(&c.to_body().unwrap(), &[node.log().signer()]).unwrap()
}

/// `jp` answers honestly but replaces its side of the checkpoint exchange by `lie`.
pub fn reply_lie(fed: &mut Federation, lie: impl Fn(&SimNode, AuditReply) -> AuditReply + 'static) {
    fed.lie(
        "jp",
        about(liar::evaluate, move |l: Lie<'_>| {
            let holder: &SimNode = l.holder;
            let frames = l
                .honest
                .iter()
                .cloned()
                .map(|r| match r {
                    PartnerResponse::Evaluated(mut ev) => {
                        ev.audit = ev.audit.take().map(|a| lie(holder, a));
                        PartnerResponse::Evaluated(ev)
                    }
                    other => other,
                })
                .collect();
            Reply::Frames(frames)
        }),
    );
}

#[test]
fn partners_cosign_each_other_over_several_queries() {
    let mut fed = federation(120);
    for _ in 0..3 {
        answered(&ask_jp(&mut fed));
    }
    let th = fed.node("th").unwrap();
    let jp = fed.node("jp").unwrap();
    let (at_th, at_jp) = (th.audit_of("jp"), jp.audit_of("th"));
    // Each keeps the other's newest checkpoint: th the one jp sent with its last answer.
    assert_eq!(at_th.their_size(), jp.log().size());
    assert_eq!(
        at_jp.their_size(),
        th.entries(EntryKind::QuerySent).len() as u64 * 2 - 1
    );
    assert_eq!(
        (
            at_th.unverified,
            at_jp.unverified,
            at_th.alerts,
            at_jp.alerts
        ),
        (0, 0, 0, 0)
    );
    assert!(th.alerts().is_empty() && jp.alerts().is_empty());
    assert!(
        th.notes().is_empty() && jp.notes().is_empty(),
        "{:?} {:?}",
        th.notes(),
        jp.notes()
    );
    // What each partner cosigned of the other's log verifies with both keys.
    let th_keys = [
        th.keys().log.verifier_key(),
        jp.keys().witness.cosignature_verifier_key(),
    ];
    let (_, names) = open_note(
        at_th.cosigned_by_them.as_ref().unwrap().as_bytes(),
        &th_keys,
    )
    .unwrap();
    assert_eq!(names, vec!["th/audit".to_string(), "jp".into()]);
    let jp_keys = [
        jp.keys().log.verifier_key(),
        th.keys().witness.cosignature_verifier_key(),
    ];
    let (_, names) = open_note(
        at_jp.cosigned_by_them.as_ref().unwrap().as_bytes(),
        &jp_keys,
    )
    .unwrap();
    assert_eq!(names, vec!["jp/audit".to_string(), "th".into()]);
    // And each knows how much of its own log the other holds.
    assert_eq!(at_jp.known_by_them, jp.log().size());
}

#[test]
fn a_checkpoint_that_does_not_extend_the_kept_one_raises_an_alert() {
    let mut fed = federation(121);
    answered(&ask_jp(&mut fed));
    let kept = fed
        .node("th")
        .unwrap()
        .audit_of("jp")
        .theirs
        .clone()
        .unwrap();
    reply_lie(&mut fed, |jp, mut a| {
        a.checkpoint = forged(jp, jp.log().size() + 5, [9; 32]);
        a
    });
    // The answer itself is still good: the query goes on.
    answered(&ask_jp(&mut fed));
    let th = fed.node("th").unwrap();
    let alert = &th.alerts()[0];
    assert!(
        alert.reason.contains("does not extend the one of size"),
        "{}",
        alert.reason
    );
    assert_eq!(alert.old, kept);
    assert_eq!(
        th.audit_of("jp").theirs.as_ref(),
        Some(&kept),
        "the kept one stays"
    );
    assert_eq!(th.audit_of("jp").alerts, 1);
    let flags = th.entries(EntryKind::PartnerInconsistent);
    assert_eq!(flags[0].reason.as_ref(), Some(&alert.reason));
}

#[test]
fn a_log_that_shrank_raises_an_alert() {
    let mut fed = federation(122);
    // jp once claims a log of 10,000 entries (the first checkpoint th sees is kept)...
    reply_lie(&mut fed, |jp, mut a| {
        a.checkpoint = forged(jp, 10_000, [1; 32]);
        a
    });
    answered(&ask_jp(&mut fed));
    assert_eq!(fed.node("th").unwrap().audit_of("jp").their_size(), 10_000);
    // ...then shows its real one.
    fed.stop_lying("jp");
    answered(&ask_jp(&mut fed));
    let th = fed.node("th").unwrap();
    assert!(th.alerts()[0]
        .reason
        .starts_with("its log shrank from 10000 entries (signed before) to "));
}

#[test]
fn two_roots_for_one_size_raise_an_alert() {
    let mut fed = federation(123);
    answered(&ask_jp(&mut fed));
    let size = fed.node("th").unwrap().audit_of("jp").their_size();
    reply_lie(&mut fed, move |jp, mut a| {
        a.checkpoint = forged(jp, size, [2; 32]);
        a
    });
    answered(&ask_jp(&mut fed));
    let alerts = fed.node("th").unwrap().alerts();
    assert_eq!(
        alerts[0].reason,
        format!("it signed two different roots for the same size {size}")
    );
}

#[test]
fn checkpoints_that_cannot_be_checked_are_counted_until_one_can() {
    let mut fed = federation(124);
    answered(&ask_jp(&mut fed));
    answered(&ask_jp(&mut fed));
    // jp sends an older checkpoint of its log each time: late news, not a contradiction.
    reply_lie(&mut fed, |jp, mut a| {
        use cordon_protocol::session::witness::CheckpointLog;
        a.checkpoint = jp.log().checkpoint_at(1).unwrap().unwrap();
        a
    });
    for i in 1..=3 {
        answered(&ask_jp(&mut fed));
        assert_eq!(fed.node("th").unwrap().audit_of("jp").unverified, i);
    }
    let notes = fed.node("th").unwrap().notes();
    assert!(
        matches!(&notes[0].1, Note::NotCosigned(w) if w.contains("is older than the kept one"))
    );
    assert!(fed.node("th").unwrap().alerts().is_empty());
    fed.stop_lying("jp");
    answered(&ask_jp(&mut fed));
    assert_eq!(fed.node("th").unwrap().audit_of("jp").unverified, 0);
}

#[test]
fn a_querier_that_always_proves_from_the_wrong_size_is_counted_by_the_holder() {
    let mut fed = federation(125);
    answered(&ask_jp(&mut fed));
    for i in 1..=UNVERIFIED_WARNING {
        // th's log grows, and its hello claims a proof from a size jp does not hold.
        let now = fed.now();
        let kept = fed.node("jp").unwrap().audit_of("th").their_size();
        let th = fed.node_mut("th").unwrap();
        let e = Entry::new(
            now,
            EntryKind::AuditRead,
            "th",
            Actor {
                name: "a".into(),
                role: "auditor".into(),
                fingerprint: String::new(),
            },
        );
        th.log_mut().append(e).unwrap();
        let mut hello = witness::hello(th.log(), &th.audit_of("jp")).unwrap();
        hello.proof_from = kept + 1;
        let mut req = evaluation(&mut fed, "emails", 1, 2, i as u8);
        req.audit = Some(hello);
        let reply = fed
            .send("th", "jp", &PartnerRequest::Evaluate(req))
            .unwrap();
        assert!(
            matches!(reply[..], [PartnerResponse::Evaluated(_)]),
            "answered all the same"
        );
        assert_eq!(fed.node("jp").unwrap().audit_of("th").unverified, i);
    }
    // An honest exchange can be checked again.
    answered(&ask_jp(&mut fed));
    assert_eq!(fed.node("jp").unwrap().audit_of("th").unverified, 0);
}

#[test]
fn a_querier_whose_checkpoint_forks_is_flagged_by_the_holder() {
    let mut fed = federation(126);
    answered(&ask_jp(&mut fed));
    let size = fed.node("jp").unwrap().audit_of("th").their_size();
    let th = fed.node("th").unwrap();
    let mut hello = witness::hello(th.log(), &th.audit_of("jp")).unwrap();
    hello.checkpoint = forged(th, size, [3; 32]);
    let mut req = evaluation(&mut fed, "emails", 1, 2, 1);
    req.audit = Some(hello);
    let reply = fed
        .send("th", "jp", &PartnerRequest::Evaluate(req))
        .unwrap();
    assert!(matches!(reply[..], [PartnerResponse::Evaluated(_)]));
    let jp = fed.node("jp").unwrap();
    assert_eq!(
        jp.alerts()[0].reason,
        format!("it signed two different roots for the same size {size}")
    );
    assert_eq!(jp.entries(EntryKind::PartnerInconsistent).len(), 1);
}

#[test]
fn bad_cosignatures_and_foreign_checkpoints_are_ignored() {
    let mut fed = federation(127);
    reply_lie(&mut fed, |_, mut a| {
        a.cosignature = Some("— jp AAAA\n".into());
        a
    });
    answered(&ask_jp(&mut fed));
    assert!(matches!(
        fed.node("th").unwrap().notes()[0].1,
        Note::CosignatureInvalid
    ));
    let mut fed = federation(128);
    reply_lie(&mut fed, |_, mut a| {
        a.cosignature = Some("a\nb\n".repeat(3000));
        a
    });
    answered(&ask_jp(&mut fed));
    assert!(matches!(
        fed.node("th").unwrap().notes()[0].1,
        Note::CosignatureMalformed
    ));
    assert!(fed
        .node("th")
        .unwrap()
        .audit_of("jp")
        .cosigned_by_them
        .is_none());
    // A checkpoint signed by another log's key is not jp's.
    let mut fed = federation(129);
    let us_note = forged(fed.node("us").unwrap(), 3, [4; 32]);
    reply_lie(&mut fed, move |_, mut a| {
        a.checkpoint = us_note.clone();
        a
    });
    answered(&ask_jp(&mut fed));
    let th = fed.node("th").unwrap();
    assert!(th
        .notes()
        .iter()
        .any(|(_, n)| *n == Note::CheckpointIgnored));
    assert!(th.audit_of("jp").theirs.is_none());
}
