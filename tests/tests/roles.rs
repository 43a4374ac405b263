//! Every role attempting every control command its role forbids is refused with
//! `not_authorized`, and nothing happens (checked on one real node).

use cordon_node::admin;
use cordon_node::client::ControlClient;
use cordon_node::control::{ControlRequest, ImportHeader, QueryRequest};
use cordon_node::followup::FollowupCommand;
use cordon_node::pki::{Action, Role};
use cordon_node::profile::Profile;
use cordon_node::NodeError;
use cordon_protocol::ErrorCode;
use cordon_tests::Fed;

/// The control requests that perform `action` (every one of them must check the role).
fn requests(action: Action) -> Vec<ControlRequest> {
    match action {
        Action::Status => vec![ControlRequest::Status],
        Action::Import => vec![ControlRequest::Import(ImportHeader {
            collection: "phones".into(),
            kind: "phone".into(),
            read: Default::default(),
            skip_invalid: false,
            source: "roles".into(),
            releasable: Vec::new(),
        })],
        Action::ManageData => vec![
            ControlRequest::Rotate {
                collection: "phones".into(),
            },
            ControlRequest::Delete(ImportHeader {
                collection: "phones".into(),
                kind: "phone".into(),
                read: Default::default(),
                skip_invalid: false,
                source: "roles".into(),
                releasable: Vec::new(),
            }),
        ],
        Action::Query => vec![
            ControlRequest::Followup(FollowupCommand::Request {
                partner: "jp".into(),
                references: vec![format!("phones:1:{}", "ab".repeat(32))],
                case_ref: "C".into(),
                purpose: "p".into(),
            }),
            ControlRequest::Query(QueryRequest {
                collection: "phones".into(),
                kind: None,
                read: Default::default(),
                items: vec![(1, "+66812345678".into())],
                case_ref: "C".into(),
                purpose: "p".into(),
                partners: vec![],
                mode: Default::default(),
            }),
        ],
        Action::ReadAudit => vec![
            ControlRequest::AuditExport {
                since: None,
                until: None,
            },
            ControlRequest::AuditProve { index: 0 },
            ControlRequest::AuditConsistency { old: 1, new: None },
        ],
        Action::ChangePolicy => vec![ControlRequest::PolicyReload],
        Action::PartnerStatus => vec![ControlRequest::PartnerStatus],
        Action::ManageUsers => vec![ControlRequest::UserRevoke {
            name: "investigator".into(),
            reason: "test".into(),
        }],
        Action::FollowupStatus => vec![ControlRequest::Followup(FollowupCommand::Status {
            id: None,
        })],
        Action::FollowupReview => vec![
            ControlRequest::Followup(FollowupCommand::List),
            ControlRequest::Followup(FollowupCommand::Show { id: "ab".into() }),
            ControlRequest::Followup(FollowupCommand::Approve {
                id: "ab".into(),
                fields: None,
            }),
            ControlRequest::Followup(FollowupCommand::Deny {
                id: "ab".into(),
                reason: "no".into(),
            }),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_refused_each_forbidden_command() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    let th = f.fed.agency("th").unwrap().clone();
    let now = time::OffsetDateTime::now_utc();
    let mut profiles = Vec::new();
    for role in Role::ALL {
        let p = admin::add_user(&th.config_path, &format!("r-{role}"), role, now).unwrap();
        profiles.push((role, Profile::load(&p).unwrap()));
    }
    let mut refused = 0;
    for (role, profile) in &profiles {
        let c = ControlClient::connect(profile).await.unwrap();
        for action in Action::ALL {
            if role.may(action) {
                continue;
            }
            for req in requests(action) {
                let e = c.call(&req).await.unwrap_err();
                match &e {
                    NodeError::Control { code, message, .. } => {
                        assert_eq!(*code, ErrorCode::NotAuthorized, "{role} {action:?}: {e}");
                        assert!(
                            message.contains(&format!("has role {role}")),
                            "{role} {action:?}: {message}"
                        );
                    }
                    other => panic!("{role} {action:?}: {other}"),
                }
                refused += 1;
            }
        }
        c.close().await;
    }
    assert!(refused >= 30, "{refused}");
    // Nothing happened: no data, the investigator is not revoked.
    let s = cordon_node::client::query_once(
        &Profile::load(&th.investigator).unwrap(),
        QueryRequest {
            collection: "phones".into(),
            kind: Some("phone".into()),
            read: Default::default(),
            items: vec![(1, "+66812345678".into())],
            case_ref: "C".into(),
            purpose: "p".into(),
            partners: vec![],
            mode: Default::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(s.items, 1);
    let c = ControlClient::connect(&Profile::load(&th.operator).unwrap())
        .await
        .unwrap();
    assert!(c.status().await.unwrap().collections.is_empty());
    c.close().await;
    f.fed.shutdown().await.unwrap();
}
