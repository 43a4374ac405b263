//! Every control message round-trips, and its JSON (`--json` output) and CBOR (the frames) spellings are exactly those pinned in `spellings.tsv`: a change of a type must not change a byte.
use super::*;
use crate::messages::QueryMode;
use crate::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The pinned spellings: `name \t JSON \t CBOR frame (hex)`, one value per line.
const PINNED: &str = include_str!("spellings.tsv");

/// Checks one value against its pinned spellings and decodes both back to it.
fn pin<T>(seen: &mut Vec<String>, name: &str, v: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let line = PINNED
        .lines()
        .find(|l| l.split('\t').next() == Some(name))
        .unwrap_or_else(|| panic!("no pinned spelling for {name}"));
    let mut cols = line.split('\t').skip(1);
    let (json, cbor) = (cols.next().unwrap(), cols.next().unwrap());
    assert_eq!(serde_json::to_string(v).unwrap(), json, "JSON of {name}");
    let frame = crate::frame::encode(v).unwrap();
    assert_eq!(hex::encode(&frame), cbor, "CBOR of {name}");
    let back: T = crate::frame::decode_frame(&frame).unwrap();
    assert_eq!(&back, v, "{name} from CBOR");
    let back: T = serde_json::from_str(json).unwrap();
    assert_eq!(&back, v, "{name} from JSON");
    seen.push(name.to_string());
}

/// A name this build knows (the samples must exercise the typed values, not the fallback).
fn known<T: Name>(s: &str) -> Named<T> {
    let n = Named::parse(s);
    assert!(n.known().is_some(), "{s} is not known");
    n
}

fn cname(s: &str) -> crate::collection::CollectionName {
    crate::collection::CollectionName::parse(s).unwrap()
}

fn read_full() -> ReadOptions {
    ReadOptions {
        region: Some("TH".into()),
        chain: Some("auto".into()),
        window: Some("2025-08-23T14".into()),
        provider_rules: true,
    }
}
fn header() -> ImportHeader {
    ImportHeader {
        collection: "phones".into(),
        kind: "phone".into(),
        read: read_full(),
        skip_invalid: true,
        source: "a.csv".into(),
        releasable: vec!["case_no".into()],
    }
}
fn sent() -> SentView {
    SentView {
        id: "ab".into(),
        partner: "jp".into(),
        collection: "phones".into(),
        epoch: 1,
        references: vec!["phones:1:ab".into()],
        case_ref: "C".into(),
        purpose: "p".into(),
        requested_by: "inv".into(),
        sent_at: 3,
        records: 1,
        state: "approved".into(),
        released: vec![(
            "phones:1:ab".into(),
            vec![vec![("case_no".into(), "K".into())]],
        )],
        reason: None,
        answered_at: Some(9),
    }
}
fn summary() -> HeldSummary {
    HeldSummary {
        id: "ab".into(),
        partner: "th".into(),
        collection: "phones".into(),
        epoch: 1,
        references: 1,
        records: 1,
        case_ref: "C".into(),
        purpose: "p".into(),
        requested_by: "inv".into(),
        received_at: 5,
        state: "pending".into(),
    }
}
fn ops() -> Operations {
    Operations {
        started_at: 1_700_000_000,
        metrics_address: Some("127.0.0.1:9464".into()),
        queries_in: vec![PartnerCount {
            partner: "jp".into(),
            outcome: "answered".into(),
            count: 4,
        }],
        queries_out: vec![PartnerCount {
            partner: "us".into(),
            outcome: "timeout".into(),
            count: 1,
        }],
        refusals: vec![RefusalCount {
            direction: "in".into(),
            partner: "jp".into(),
            reason: "not_shared".into(),
            count: 2,
        }],
        budgets: vec![BudgetLeft {
            partner: "jp".into(),
            collection: cname("phones"),
            left: 10,
            daily_items: 20,
        }],
        epoch_ages: vec![EpochAge {
            collection: cname("phones"),
            seconds: 30,
        }],
        handshake_failures: vec![ReasonCount {
            reason: "tls_unknown_ca".into(),
            count: 1,
        }],
    }
}
fn failed(code: &str) -> PartnerResult {
    PartnerResult {
        partner: "us".into(),
        outcome: PartnerOutcome::Failed {
            code: known(code),
            message: "m".into(),
        },
        elapsed_ms: 4,
    }
}

#[test]
fn every_control_message_keeps_its_spellings() {
    let mut o = Vec::new();
    pin(&mut o, "req_status", &ControlRequest::Status);
    pin(&mut o, "req_import", &ControlRequest::Import(header()));
    pin(
        &mut o,
        "req_import_default",
        &ControlRequest::Import(ImportHeader {
            collection: "people".into(),
            kind: "bank-account".into(),
            read: ReadOptions::default(),
            skip_invalid: false,
            source: "".into(),
            releasable: vec![],
        }),
    );
    pin(
        &mut o,
        "req_query_count",
        &ControlRequest::Query(QueryRequest {
            collection: "phones".into(),
            kind: None,
            read: ReadOptions::default(),
            items: vec![(3, "x".into())],
            case_ref: "C".into(),
            purpose: "p".into(),
            partners: vec!["jp".into()],
            mode: QueryMode::Count,
        }),
    );
    pin(
        &mut o,
        "req_query_match",
        &ControlRequest::Query(QueryRequest {
            collection: "persons".into(),
            kind: Some("person".into()),
            read: read_full(),
            items: vec![],
            case_ref: "C-2".into(),
            purpose: "q".into(),
            partners: vec![],
            mode: QueryMode::Match,
        }),
    );
    pin(
        &mut o,
        "req_audit_export",
        &ControlRequest::AuditExport {
            since: Some(1),
            until: None,
        },
    );
    pin(
        &mut o,
        "req_audit_prove",
        &ControlRequest::AuditProve { index: 4 },
    );
    pin(
        &mut o,
        "req_audit_consistency",
        &ControlRequest::AuditConsistency {
            old: 3,
            new: Some(9),
        },
    );
    pin(
        &mut o,
        "req_rotate",
        &ControlRequest::Rotate {
            collection: "phones".into(),
        },
    );
    pin(&mut o, "req_delete", &ControlRequest::Delete(header()));
    pin(&mut o, "req_policy_reload", &ControlRequest::PolicyReload);
    pin(&mut o, "req_partner_status", &ControlRequest::PartnerStatus);
    pin(
        &mut o,
        "req_user_revoke",
        &ControlRequest::UserRevoke {
            name: "k.tanaka".into(),
            reason: "left".into(),
        },
    );
    pin(
        &mut o,
        "fu_request",
        &ControlRequest::Followup(FollowupCommand::Request {
            partner: "jp".into(),
            references: vec!["phones:1:ab".into()],
            case_ref: "C".into(),
            purpose: "p".into(),
        }),
    );
    pin(
        &mut o,
        "fu_list",
        &ControlRequest::Followup(FollowupCommand::List),
    );
    pin(
        &mut o,
        "fu_show",
        &ControlRequest::Followup(FollowupCommand::Show { id: "ab".into() }),
    );
    pin(
        &mut o,
        "fu_approve",
        &ControlRequest::Followup(FollowupCommand::Approve {
            id: "ab".into(),
            fields: Some(vec!["case_no".into()]),
        }),
    );
    pin(
        &mut o,
        "fu_approve_all",
        &ControlRequest::Followup(FollowupCommand::Approve {
            id: "ab".into(),
            fields: None,
        }),
    );
    pin(
        &mut o,
        "fu_deny",
        &ControlRequest::Followup(FollowupCommand::Deny {
            id: "ab".into(),
            reason: "r".into(),
        }),
    );
    pin(
        &mut o,
        "fu_status",
        &ControlRequest::Followup(FollowupCommand::Status { id: None }),
    );
    pin(
        &mut o,
        "fu_status_one",
        &ControlRequest::Followup(FollowupCommand::Status {
            id: Some("ab".into()),
        }),
    );
    pin(
        &mut o,
        "frame_rows",
        &ImportFrame::Rows(vec![(1, "+66812345678".into())]),
    );
    pin(
        &mut o,
        "frame_records",
        &ImportFrame::Records(vec![ImportRow {
            line: 2,
            value: "+66812345678".into(),
            fields: vec![("case_no".into(), "K-1".into())],
        }]),
    );
    pin(&mut o, "frame_end", &ImportFrame::End);
    pin(
        &mut o,
        "resp_status",
        &ControlResponse::Status(StatusReply {
            node: "th".into(),
            user: "u".into(),
            role: known("operator"),
            collections: vec![
                CollectionStatus {
                    name: cname("phones"),
                    kind: known("phone"),
                    records: 3,
                    epoch: Some(1),
                    delta: 0,
                    epoch_built_at: Some(1_700_000_000),
                    next_rotation: None,
                },
                CollectionStatus {
                    name: cname("accounts"),
                    kind: known("bank-account"),
                    records: 0,
                    epoch: None,
                    delta: 2,
                    epoch_built_at: None,
                    next_rotation: Some(5),
                },
            ],
            partners: vec!["jp".into()],
            audit: AuditStatus {
                entries: 12,
                log_key: "th/audit+01234567+AQ".into(),
                partners: vec![("jp".into(), 9)],
                alerts: vec!["ALERT".into()],
                warnings: vec!["WARNING".into()],
            },
            operations: Some(ops()),
        }),
    );
    pin(
        &mut o,
        "resp_status_investigator",
        &ControlResponse::Status(StatusReply {
            node: "th".into(),
            user: "i".into(),
            role: known("investigator"),
            collections: vec![],
            partners: vec![],
            audit: AuditStatus::default(),
            operations: None,
        }),
    );
    for r in ["supervisor", "auditor"] {
        pin(
            &mut o,
            &format!("resp_status_{r}"),
            &ControlResponse::Status(StatusReply {
                node: "th".into(),
                user: "s".into(),
                role: known(r),
                collections: vec![],
                partners: vec![],
                audit: AuditStatus::default(),
                operations: None,
            }),
        );
    }
    pin(
        &mut o,
        "resp_imported",
        &ControlResponse::Imported(ImportReply {
            rows: 3,
            added: 2,
            duplicates: 1,
            rejected: vec![(4, "bad".into())],
            rejected_count: 1,
            epoch: 1,
            rebuilt: true,
            epoch_seconds: 0.5,
            records: 2,
        }),
    );
    pin(
        &mut o,
        "resp_query",
        &ControlResponse::Query(QueryReply {
            query_id: "00ff".into(),
            collection: cname("persons"),
            kind: known("person"),
            items: 2,
            partners: vec![
                PartnerResult {
                    partner: "jp".into(),
                    outcome: PartnerOutcome::Answered {
                        epoch: 1,
                        partner_records: 5,
                        hits: vec![
                            Hit {
                                index: 0,
                                line: 1,
                                reference: "persons:1:ab".into(),
                                class: Some(known("name+dob")),
                            },
                            Hit {
                                index: 1,
                                line: 2,
                                reference: "persons:1:cd".into(),
                                class: Some(known("document")),
                            },
                            Hit {
                                index: 1,
                                line: 2,
                                reference: "persons:1:ef".into(),
                                class: Some(known("fuzzy-name+dob")),
                            },
                            Hit {
                                index: 1,
                                line: 2,
                                reference: "persons:1:01".into(),
                                class: Some(known("fuzzy-name+year+nationality")),
                            },
                        ],
                        matches: vec![
                            ItemMatch {
                                index: 0,
                                line: 1,
                                strength: known("name+dob"),
                                classes: vec![known("name+dob")],
                            },
                            ItemMatch {
                                index: 1,
                                line: 2,
                                strength: known("document"),
                                classes: vec![
                                    known("document"),
                                    known("fuzzy-name+dob"),
                                    known("fuzzy-name+year+nationality"),
                                ],
                            },
                        ],
                        filter: "cached".into(),
                        bytes_sent: 1,
                        bytes_received: 2,
                        count: None,
                    },
                    elapsed_ms: 3,
                },
                PartnerResult {
                    partner: "kr".into(),
                    outcome: PartnerOutcome::Answered {
                        epoch: 2,
                        partner_records: 9,
                        hits: vec![],
                        matches: vec![],
                        filter: "full".into(),
                        bytes_sent: 1,
                        bytes_received: 2,
                        count: Some(3),
                    },
                    elapsed_ms: 3,
                },
                PartnerResult {
                    partner: "us".into(),
                    outcome: PartnerOutcome::Answered {
                        epoch: 2,
                        partner_records: 9,
                        hits: vec![Hit {
                            index: 0,
                            line: 7,
                            reference: "phones:2:aa".into(),
                            class: None,
                        }],
                        matches: vec![ItemMatch {
                            index: 0,
                            line: 7,
                            strength: known("exact"),
                            classes: vec![known("exact")],
                        }],
                        filter: "delta".into(),
                        bytes_sent: 10,
                        bytes_received: 20,
                        count: None,
                    },
                    elapsed_ms: 30,
                },
                failed("timeout"),
                failed("unreachable"),
                failed("connection_lost"),
                failed("invalid_answer"),
                failed("kind_mismatch"),
                failed("error"),
                failed("refused:not_shared"),
                failed("refused:mode_not_allowed"),
                failed("refused:budget_exhausted"),
                failed("refused:stale_epoch"),
                failed("refused:internal"),
                failed("refused:too_many_items"),
            ],
        }),
    );
    for code in [
        ErrorCode::NotAuthorized,
        ErrorCode::BadRequest,
        ErrorCode::TooManyItems,
        ErrorCode::Internal,
    ] {
        pin(
            &mut o,
            &format!("resp_error_{code}"),
            &ControlResponse::Error(ControlError {
                code,
                message: "m".into(),
                details: vec!["d".into()],
            }),
        );
    }
    pin(
        &mut o,
        "resp_audit_chunk",
        &ControlResponse::AuditChunk {
            bytes: vec![1, 2, 3],
        },
    );
    pin(&mut o, "resp_audit_end", &ControlResponse::AuditEnd);
    pin(
        &mut o,
        "resp_fu_requested",
        &ControlResponse::Followup(FollowupReply::Requested(sent())),
    );
    pin(
        &mut o,
        "resp_fu_status",
        &ControlResponse::Followup(FollowupReply::Status(vec![sent()])),
    );
    pin(
        &mut o,
        "resp_fu_list",
        &ControlResponse::Followup(FollowupReply::List(vec![summary()])),
    );
    pin(
        &mut o,
        "resp_fu_show",
        &ControlResponse::Followup(FollowupReply::Show(HeldView {
            summary: summary(),
            references: vec![HeldReference {
                reference: "phones:1:ab".into(),
                records: vec![HeldRecord {
                    value: "+6681".into(),
                    fields: vec![FieldView {
                        name: "case_no".into(),
                        value: "K".into(),
                        releasable: true,
                    }],
                    deleted: false,
                }],
            }],
            decision: Some(DecisionView {
                decision: "denied".into(),
                by: "sup".into(),
                at: 4,
                fields: vec![],
                reason: Some("r".into()),
            }),
        })),
    );
    pin(
        &mut o,
        "resp_audit_proof",
        &ControlResponse::AuditProof {
            proof: "c2sp.org/tlog-proof@v1\n".into(),
            entry: b"{}".to_vec(),
        },
    );
    pin(
        &mut o,
        "resp_audit_consistency",
        &ControlResponse::AuditConsistency {
            checkpoint: "c".into(),
            proof: vec!["AAAA".into()],
        },
    );
    pin(
        &mut o,
        "resp_rotated",
        &ControlResponse::Rotated(RotateReply {
            collection: cname("phones"),
            old_epoch: 3,
            new_epoch: 4,
            records: 10,
            seconds: 0.25,
        }),
    );
    pin(
        &mut o,
        "resp_deleted",
        &ControlResponse::Deleted(DeleteReply {
            rows: 3,
            deleted: 1,
            not_found: vec![2],
            not_found_count: 1,
            rejected: vec![(3, "bad".into())],
            rejected_count: 1,
            epoch: 4,
            records: 9,
        }),
    );
    pin(
        &mut o,
        "resp_policy_reloaded",
        &ControlResponse::PolicyReloaded(PolicyReloadReply {
            changed: true,
            grants: vec!["jp → *".into()],
            restart_needed: vec!["[limits]".into()],
            revoked: 2,
        }),
    );
    pin(
        &mut o,
        "resp_partner_status",
        &ControlResponse::PartnerStatus(PartnerStatusReply {
            day_started: 86_400,
            resets_in: 3_600,
            partners: vec![PartnerPolicy {
                partner: "jp".into(),
                collections: vec![CollectionGrant {
                    collection: cname("phones"),
                    held: true,
                    shared: true,
                    modes: vec!["match".into(), "count".into()],
                    daily_items: 100,
                    used_today: 7,
                    max_per_query: 50,
                    followup: false,
                }],
            }],
        }),
    );
    pin(
        &mut o,
        "resp_user_revoked",
        &ControlResponse::UserRevoked {
            name: "k.tanaka".into(),
        },
    );
    // Every pinned value was checked (none left behind by a renamed sample).
    let pinned: Vec<&str> = PINNED
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(
        pinned, o,
        "the samples and the pinned file list the same values"
    );
}

#[test]
fn names_from_a_newer_node_still_decode_and_show_as_sent() {
    let json = r#"{"query":{"query_id":"01","collection":"phones","kind":"vehicle","items":1,"partners":[{"partner":"jp","outcome":{"failed":{"code":"refused:new_code","message":"m"}},"elapsed_ms":1},{"partner":"us","outcome":{"failed":{"code":"exploded","message":"m"}},"elapsed_ms":1},{"partner":"kr","outcome":{"answered":{"epoch":1,"partner_records":1,"hits":[{"index":0,"line":1,"reference":"r","class":"iris"}],"matches":[{"index":0,"line":1,"strength":"iris","classes":["iris"]}],"filter":"streamed","bytes_sent":1,"bytes_received":1}},"elapsed_ms":1}]}}"#;
    let r: ControlResponse = serde_json::from_str(json).unwrap();
    assert_eq!(serde_json::to_string(&r).unwrap(), json);
    let frame = crate::frame::encode(&r).unwrap();
    assert_eq!(
        crate::frame::decode_frame::<ControlResponse>(&frame).unwrap(),
        r
    );
    let ControlResponse::Query(q) = r else {
        panic!("not a query reply")
    };
    assert_eq!(q.kind, Named::Unknown("vehicle".into()));
    let PartnerOutcome::Failed { code, .. } = &q.partners[0].outcome else {
        panic!("not a failure")
    };
    assert_eq!(code, "refused:new_code");
    assert!(code.known().is_none());
    let status = r#"{"status":{"node":"th","user":"u","role":"director","collections":[],"partners":[],"audit":{"entries":0,"log_key":"","partners":[],"alerts":[],"warnings":[]}}}"#;
    let s: ControlResponse = serde_json::from_str(status).unwrap();
    assert_eq!(serde_json::to_string(&s).unwrap(), status);
}

#[test]
fn typed_outcomes_read_as_their_names() {
    let code: Named<FailureCode> = FailureCode::Refused(ErrorCode::NotShared).into();
    assert_eq!(code, "refused:not_shared");
    assert_eq!(code.to_string(), "refused:not_shared");
    let strength: Named<MatchClass> = MatchClass::Exact.into();
    assert_eq!(strength.as_str(), "exact");
    assert_eq!(FilterSource::Delta.to_string(), "delta");
}
