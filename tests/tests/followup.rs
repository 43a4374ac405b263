//! Follow-up requests between real nodes: request → approve (only releasable, only approved
//! fields reach the querier), deny (the reason reaches it), forged and rotated references,
//! a partner without the follow-up grant, and the roles.

use std::path::Path;

use cordon_node::client;
use cordon_node::control::{ImportHeader, ImportRow, PartnerOutcome, QueryReply};
use cordon_node::followup::{FollowupCommand, FollowupReply, HeldView, SentView};
use cordon_node::profile::Profile;
use cordon_node::NodeError;
use cordon_protocol::ErrorCode;
use cordon_tests::{outcome, phones, query, Fed};

/// jp's grant to us does not allow follow-ups; th's does (the default `cordon partner add`
/// writes).
fn no_followups_for_us(cfg: &str) -> String {
    match cfg.find("partner = \"us\"\ncollections") {
        Some(at) => {
            let (head, tail) = cfg.split_at(at);
            format!(
                "{head}{}",
                tail.replacen("followup = true", "followup = false", 1)
            )
        }
        None => cfg.to_string(),
    }
}

async fn import_with_fields(
    profile: &Path,
    values: &[String],
) -> cordon_node::control::ImportReply {
    let rows = values
        .iter()
        .enumerate()
        .map(|(i, v)| ImportRow {
            line: i as u64 + 2,
            value: v.clone(),
            fields: vec![
                ("case_no".into(), format!("K-{i:04}")),
                ("unit".into(), "fraud-3".into()),
                ("officer".into(), format!("Officer {i}")),
            ],
        })
        .collect();
    let header = ImportHeader {
        collection: "phones".into(),
        kind: "phone".into(),
        read: Default::default(),
        skip_invalid: false,
        source: "phones.csv".into(),
        releasable: vec!["case_no".into(), "unit".into()],
    };
    client::import_records(&Profile::load(profile).unwrap(), header, rows)
        .await
        .unwrap()
}

async fn fu(profile: &Path, cmd: FollowupCommand) -> Result<FollowupReply, NodeError> {
    client::followup_once(&Profile::load(profile).unwrap(), cmd).await
}

fn refs(r: &QueryReply, partner: &str) -> Vec<(u64, String)> {
    match outcome(r, partner) {
        PartnerOutcome::Answered { hits, .. } => hits
            .iter()
            .map(|h| (h.index, h.reference.clone()))
            .collect(),
        PartnerOutcome::Failed { message, .. } => panic!("{partner} failed: {message}"),
    }
}

fn request(partner: &str, references: Vec<String>) -> FollowupCommand {
    FollowupCommand::Request {
        partner: partner.into(),
        references,
        case_ref: "CASE-77".into(),
        purpose: "identify the account holder".into(),
    }
}

fn code(e: &NodeError) -> ErrorCode {
    match e {
        NodeError::Control { code, .. } => *code,
        other => panic!("expected a refusal, got {other}"),
    }
}

fn sent(r: FollowupReply) -> SentView {
    match r {
        FollowupReply::Requested(s) => s,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn shown(r: FollowupReply) -> HeldView {
    match r {
        FollowupReply::Show(v) => v,
        other => panic!("expected a request view, got {other:?}"),
    }
}

async fn status_of(profile: &Path, id: &str) -> SentView {
    match fu(
        profile,
        FollowupCommand::Status {
            id: Some(id[..8].to_string()),
        },
    )
    .await
    .unwrap()
    {
        FollowupReply::Status(mut v) => {
            assert_eq!(v.len(), 1);
            v.remove(0)
        }
        other => panic!("expected status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_review_and_answer() {
    let f = Fed::start(&["th", "jp", "us"], no_followups_for_us);
    let jp = f.fed.agency("jp").unwrap().clone();
    let th = f.fed.agency("th").unwrap().clone();
    let us = f.fed.agency("us").unwrap().clone();
    let held = phones(0..100);
    assert_eq!(import_with_fields(&jp.operator, &held).await.added, 100);

    // th finds 50..99 at jp; each reference names collection and epoch by itself.
    let asked = phones(50..150);
    let r = query(&th.investigator, "phones", &asked, &["jp"])
        .await
        .unwrap();
    let hits = refs(&r, "jp");
    assert_eq!(hits.len(), 50);
    assert!(hits
        .iter()
        .all(|(_, h)| h.starts_with("phones:1:") && h.len() == 9 + 64));
    let ref_of = |item: usize| {
        hits.iter()
            .find(|(i, _)| *i as usize == item)
            .map(|(_, h)| h.clone())
            .unwrap()
    };
    // asked[0] is held[50], asked[1] is held[51].
    let (r50, r51) = (ref_of(0), ref_of(1));

    // Roles: a supervisor cannot request, an investigator cannot review.
    let e = fu(&th.supervisor, request("jp", vec![r50.clone()]))
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::NotAuthorized);
    let e = fu(&jp.investigator, FollowupCommand::List)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::NotAuthorized);

    let s = sent(
        fu(
            &th.investigator,
            request("jp", vec![r50.clone(), r51.clone()]),
        )
        .await
        .unwrap(),
    );
    assert_eq!((s.state.as_str(), s.records), ("pending", 2));
    let e = fu(
        &jp.investigator,
        FollowupCommand::Approve {
            id: s.id.clone(),
            fields: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), ErrorCode::NotAuthorized);

    // The supervisor sees the request, the records hit and all their fields.
    let FollowupReply::List(list) = fu(&jp.supervisor, FollowupCommand::List).await.unwrap() else {
        panic!()
    };
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].state.as_str(), list[0].partner.as_str()),
        ("pending", "th")
    );
    assert_eq!(list[0].case_ref, "CASE-77");
    let v = shown(
        fu(&jp.supervisor, FollowupCommand::Show { id: s.id.clone() })
            .await
            .unwrap(),
    );
    assert_eq!(v.references.len(), 2);
    assert_eq!(v.references[0].reference, r50);
    let rec = &v.references[0].records[0];
    assert_eq!(rec.value, held[50]);
    let marks: Vec<(&str, bool)> = rec
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.releasable))
        .collect();
    assert_eq!(
        marks,
        vec![("case_no", true), ("unit", true), ("officer", false)]
    );

    // Not pending yet at the querier.
    assert_eq!(status_of(&th.investigator, &s.id).await.state, "pending");

    // A non-releasable field cannot be released; approve only case_no.
    let e = fu(
        &jp.supervisor,
        FollowupCommand::Approve {
            id: s.id.clone(),
            fields: Some(vec!["officer".into()]),
        },
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("`officer` was not marked releasable"),
        "{e}"
    );
    let v = shown(
        fu(
            &jp.supervisor,
            FollowupCommand::Approve {
                id: s.id[..10].to_string(),
                fields: Some(vec!["case_no".into()]),
            },
        )
        .await
        .unwrap(),
    );
    assert_eq!(v.decision.unwrap().fields, vec!["case_no".to_string()]);
    let e = fu(
        &jp.supervisor,
        FollowupCommand::Deny {
            id: s.id.clone(),
            reason: "late".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("already approved"), "{e}");

    let got = status_of(&th.supervisor, &s.id).await;
    assert_eq!(got.state, "approved");
    assert_eq!(
        got.released,
        vec![
            (
                r50.clone(),
                vec![vec![("case_no".to_string(), "K-0050".to_string())]]
            ),
            (
                r51.clone(),
                vec![vec![("case_no".to_string(), "K-0051".to_string())]]
            ),
        ]
    );

    // Deny: the reason reaches the querier.
    let s2 = sent(
        fu(&th.investigator, request("jp", vec![ref_of(2)]))
            .await
            .unwrap(),
    );
    let e = fu(
        &jp.supervisor,
        FollowupCommand::Deny {
            id: s2.id.clone(),
            reason: " ".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("reason"), "{e}");
    fu(
        &jp.supervisor,
        FollowupCommand::Deny {
            id: s2.id.clone(),
            reason: "no mutual legal assistance request on file".into(),
        },
    )
    .await
    .unwrap();
    let got = status_of(&th.investigator, &s2.id).await;
    assert_eq!(got.state, "denied");
    assert_eq!(
        got.reason.as_deref(),
        Some("no mutual legal assistance request on file")
    );
    assert!(got.released.is_empty());

    // A forged reference, even beside a real one, refuses the whole request, naming it.
    let forged = format!("phones:1:{}", "5a".repeat(32));
    let e = fu(
        &th.investigator,
        request("jp", vec![ref_of(3), forged.clone()]),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownReference);
    assert!(e.to_string().contains(&forged), "{e}");
    assert!(!e.to_string().contains(&ref_of(3)), "{e}");

    // A partner whose grant does not allow follow-ups is refused.
    let r = query(&us.investigator, "phones", &asked, &["jp"])
        .await
        .unwrap();
    let us_refs = refs(&r, "jp");
    let e = fu(&us.investigator, request("jp", vec![us_refs[0].1.clone()]))
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::FollowupNotAllowed);

    // Rotation: importing more than half again rebuilds the epoch; old references are refused.
    let more = jp_more(&jp.operator).await;
    assert!(more.rebuilt && more.epoch == 2);
    let e = fu(&th.investigator, request("jp", vec![ref_of(4)]))
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownReference);
    assert!(e.to_string().contains("no longer current"), "{e}");

    // th's own list of requests: two answered, two refused.
    let FollowupReply::Status(all) = fu(&th.investigator, FollowupCommand::Status { id: None })
        .await
        .unwrap()
    else {
        panic!()
    };
    let mut states: Vec<&str> = all.iter().map(|s| s.state.as_str()).collect();
    states.sort();
    assert_eq!(states, vec!["approved", "denied", "refused", "refused"]);

    // Both logs hold every step, and never a released value or a phone number.
    for (a, kinds) in [
        (&jp, &["followup_requested", "followup_answered"][..]),
        (&th, &["followup_requested", "followup_answered"][..]),
    ] {
        let c = client::ControlClient::connect(&Profile::load(&a.auditor).unwrap())
            .await
            .unwrap();
        let bundle =
            String::from_utf8_lossy(&c.audit_export(None, None).await.unwrap()).to_string();
        c.close().await;
        for k in kinds {
            assert!(bundle.contains(k), "{} lacks {k}", a.name);
        }
        assert!(bundle.contains("fields=case_no"), "{}", a.name);
        assert!(
            !bundle.contains("K-0050"),
            "{} logged a released value",
            a.name
        );
        assert!(!bundle.contains(&held[50]), "{} logged a record", a.name);
    }
    f.fed.shutdown().await.unwrap();
}

async fn jp_more(operator: &Path) -> cordon_node::control::ImportReply {
    cordon_tests::import(operator, "phones", "phone", &phones(1000..1100))
        .await
        .unwrap()
}
