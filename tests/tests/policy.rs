//! The federation policy on real nodes: grants, exact daily budgets under concurrent queries
//! (with a manual clock for the day boundary), policy reloads, and immediate user revocation.

use std::sync::Arc;

use cordon_node::client::ControlClient;
use cordon_node::control::{ControlRequest, ControlResponse, PartnerOutcome, PartnerStatusReply};
use cordon_node::local::LocalFederation;
use cordon_node::profile::Profile;
use cordon_node::{ManualClock, NodeError};
use cordon_protocol::ErrorCode;
use cordon_tests::{import, outcome, phones, query};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A federation on a manual clock, with `edit(name, text)` applied to each node.toml.
fn federation(
    dir: &std::path::Path,
    names: &[&str],
    clock: Arc<ManualClock>,
    edit: impl Fn(&str, &str) -> String,
) -> LocalFederation {
    let mut fed = LocalFederation::create_with_clock(dir, names, Some("TH"), clock).unwrap();
    for a in &fed.agencies {
        let text = std::fs::read_to_string(&a.config_path).unwrap();
        std::fs::write(&a.config_path, edit(&a.name, &text)).unwrap();
    }
    fed.start_all().unwrap();
    fed
}

async fn call(
    profile: &std::path::Path,
    req: ControlRequest,
) -> Result<ControlResponse, NodeError> {
    let c = ControlClient::connect(&Profile::load(profile).unwrap()).await?;
    let r = c.call(&req).await;
    c.close().await;
    r
}

async fn partner_status(profile: &std::path::Path) -> PartnerStatusReply {
    match call(profile, ControlRequest::PartnerStatus).await.unwrap() {
        ControlResponse::PartnerStatus(s) => s,
        other => panic!("{other:?}"),
    }
}

fn used_today(s: &PartnerStatusReply, partner: &str, collection: &str) -> u64 {
    s.partners
        .iter()
        .find(|p| p.partner == partner)
        .and_then(|p| p.collections.iter().find(|c| c.collection == collection))
        .map(|c| c.used_today)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_queries_never_overspend_and_the_next_day_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    // The manual clock stands still: the day changes only when the test says so.
    let clock = Arc::new(ManualClock::new(now()));
    let mut fed = federation(dir.path(), &["th", "jp"], clock.clone(), |name, t| {
        if name == "jp" {
            t.replace("daily_items = 1000000", "daily_items = 50")
        } else {
            t.to_string()
        }
    });
    let (th, jp) = (
        fed.agency("th").unwrap().clone(),
        fed.agency("jp").unwrap().clone(),
    );
    import(&jp.operator, "phones", "phone", &phones(0..200))
        .await
        .unwrap();

    // 20 queries of 10 items at once against a budget of 50: exactly five are answered.
    let tasks: Vec<_> = (0..20u32)
        .map(|i| {
            let p = th.investigator.clone();
            tokio::spawn(
                async move { query(&p, "phones", &phones(i * 10..i * 10 + 10), &["jp"]).await },
            )
        })
        .collect();
    let mut answered = 0;
    let mut refused = 0;
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        match outcome(&r, "jp") {
            PartnerOutcome::Answered { hits, .. } => {
                assert_eq!(hits.len(), 10);
                answered += 1;
            }
            PartnerOutcome::Failed { code, message } => {
                assert_eq!(code, "refused:budget_exhausted", "{message}");
                assert!(message.contains("budget at jp"), "{message}");
                assert!(message.contains("of its 50 items a day"), "{message}");
                refused += 1;
            }
        }
    }
    assert_eq!((answered, refused), (5, 15));
    assert_eq!(
        used_today(&partner_status(&jp.operator).await, "th", "phones"),
        50
    );

    // The budget is persisted: a restarted holder still refuses today.
    fed.stop("jp").await.unwrap();
    fed.start("jp").unwrap();
    let r = query(&th.investigator, "phones", &phones(0..1), &["jp"])
        .await
        .unwrap();
    assert!(
        matches!(outcome(&r, "jp"), PartnerOutcome::Failed { code, .. } if code == "refused:budget_exhausted")
    );
    assert_eq!(
        used_today(&partner_status(&jp.operator).await, "th", "phones"),
        50
    );

    // The next UTC day opens the budget again.
    clock.advance(86_400);
    let r = query(&th.investigator, "phones", &phones(0..10), &["jp"])
        .await
        .unwrap();
    assert!(matches!(outcome(&r, "jp"), PartnerOutcome::Answered { .. }));
    assert_eq!(
        used_today(&partner_status(&jp.operator).await, "th", "phones"),
        10
    );
    fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_refuse_what_is_not_shared_and_reload_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    // jp shares only `phones` with th, in match mode, at most 5 items per query.
    let fed = federation(dir.path(), &["th", "jp"], clock, |name, t| {
        if name == "jp" {
            t.replace(
                "collections = [\"*\"]\nmodes = [\"match\", \"count\"]",
                "collections = [\"phones\"]\nmodes = [\"match\"]\nmax_items_per_query = 5",
            )
        } else {
            t.to_string()
        }
    });
    let (th, jp) = (
        fed.agency("th").unwrap().clone(),
        fed.agency("jp").unwrap().clone(),
    );
    import(&jp.operator, "phones", "phone", &phones(0..20))
        .await
        .unwrap();
    import(&jp.operator, "wallets", "phone", &phones(0..20))
        .await
        .unwrap();

    // Not shared: the querier's sentence names both agencies and the collection.
    let r = query(&th.investigator, "wallets", &phones(0..3), &["jp"])
        .await
        .unwrap();
    match outcome(&r, "jp") {
        PartnerOutcome::Failed { code, message } => {
            assert_eq!(code, "refused:not_shared");
            assert_eq!(message, "jp does not share collection `wallets` with th");
        }
        other => panic!("{other:?}"),
    }
    // A collection that does not exist is refused the same way (its absence is not told).
    let r = query(&th.investigator, "nothing", &phones(0..3), &["jp"])
        .await
        .unwrap();
    assert!(
        matches!(outcome(&r, "jp"), PartnerOutcome::Failed { code, .. } if code == "refused:not_shared")
    );
    // Over the per-query limit.
    let r = query(&th.investigator, "phones", &phones(0..6), &["jp"])
        .await
        .unwrap();
    match outcome(&r, "jp") {
        PartnerOutcome::Failed { code, message } => {
            assert_eq!(code, "refused:too_many_items", "{message}");
            assert!(
                message.contains("at most 5 per request from th"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcome(
            &query(&th.investigator, "phones", &phones(0..5), &["jp"])
                .await
                .unwrap(),
            "jp"
        ),
        PartnerOutcome::Answered { .. }
    ));

    // Both refusals are in both logs: jp's query_refused, th's query_failed.
    let jp_log = export(&jp.auditor).await;
    let th_log = export(&th.auditor).await;
    assert_eq!(
        count(&jp_log, "\"query_refused\"", "not_shared"),
        2,
        "{jp_log}"
    );
    assert_eq!(
        count(&th_log, "\"query_failed\"", "not_shared"),
        2,
        "{th_log}"
    );

    // The operator widens the grant and reloads: it applies at once, and is logged.
    let text = std::fs::read_to_string(&jp.config_path).unwrap();
    std::fs::write(
        &jp.config_path,
        text.replace(
            "collections = [\"phones\"]",
            "collections = [\"phones\", \"wallets\"]",
        ),
    )
    .unwrap();
    // An investigator may not reload the policy.
    let e = call(&jp.investigator, ControlRequest::PolicyReload)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            NodeError::Control {
                code: ErrorCode::NotAuthorized,
                ..
            }
        ),
        "{e}"
    );
    match call(&jp.operator, ControlRequest::PolicyReload)
        .await
        .unwrap()
    {
        ControlResponse::PolicyReloaded(r) => {
            assert!(r.changed);
            assert!(r.restart_needed.is_empty(), "{:?}", r.restart_needed);
            assert!(r.grants[0].contains("phones,wallets"), "{:?}", r.grants);
        }
        other => panic!("{other:?}"),
    }
    let r = query(&th.investigator, "wallets", &phones(0..3), &["jp"])
        .await
        .unwrap();
    assert!(
        matches!(outcome(&r, "jp"), PartnerOutcome::Answered { .. }),
        "{r:?}"
    );
    assert_eq!(
        count(&export(&jp.auditor).await, "\"policy_changed\"", "wallets"),
        1
    );

    // A broken file is refused with its line, and the policy in force stays.
    std::fs::write(
        &jp.config_path,
        text.replace("daily_items = 1000000", "daily_items = \"lots\""),
    )
    .unwrap();
    let e = call(&jp.operator, ControlRequest::PolicyReload)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("daily_items"), "{e}");
    let r = query(&th.investigator, "wallets", &phones(0..3), &["jp"])
        .await
        .unwrap();
    assert!(matches!(outcome(&r, "jp"), PartnerOutcome::Answered { .. }));
    fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_user_is_refused_at_once_even_on_an_open_connection() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    let fed = federation(dir.path(), &["th", "jp"], clock, |_, t| t.to_string());
    let th = fed.agency("th").unwrap().clone();
    // The investigator's connection is open before the revocation.
    let inv = ControlClient::connect(&Profile::load(&th.investigator).unwrap())
        .await
        .unwrap();
    inv.status().await.unwrap();
    // Only operators revoke; nobody revokes themselves; a reason is required.
    let e = call(
        &th.auditor,
        ControlRequest::UserRevoke {
            name: "investigator".into(),
            reason: "x".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            NodeError::Control {
                code: ErrorCode::NotAuthorized,
                ..
            }
        ),
        "{e}"
    );
    let e = call(
        &th.operator,
        ControlRequest::UserRevoke {
            name: "ops".into(),
            reason: "x".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("your own user"), "{e}");
    let e = call(
        &th.operator,
        ControlRequest::UserRevoke {
            name: "investigator".into(),
            reason: " ".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("reason is required"), "{e}");
    match call(
        &th.operator,
        ControlRequest::UserRevoke {
            name: "investigator".into(),
            reason: "laptop stolen".into(),
        },
    )
    .await
    .unwrap()
    {
        ControlResponse::UserRevoked { name } => assert_eq!(name, "investigator"),
        other => panic!("{other:?}"),
    }
    let e = inv.status().await.unwrap_err();
    assert!(
        matches!(&e, NodeError::Control { code: ErrorCode::NotAuthorized, message, .. } if message.contains("revoked") && message.contains("laptop stolen")),
        "{e}"
    );
    inv.close().await;
    let e = query(&th.investigator, "phones", &phones(0..3), &[])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    assert_eq!(
        count(
            &export(&th.auditor).await,
            "\"user_revoked\"",
            "laptop stolen"
        ),
        1
    );
    fed.shutdown().await.unwrap();
}

async fn export(auditor: &std::path::Path) -> String {
    let c = ControlClient::connect(&Profile::load(auditor).unwrap())
        .await
        .unwrap();
    let b = c.audit_export(None, None).await.unwrap();
    c.close().await;
    String::from_utf8(b).unwrap()
}

/// Lines of a bundle holding both `kind` and `needle`.
fn count(bundle: &str, kind: &str, needle: &str) -> usize {
    bundle
        .lines()
        .filter(|l| l.contains(kind) && l.contains(needle))
        .count()
}
