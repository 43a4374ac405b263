//! Audit logs of real nodes: cosigning on every exchange, a rogue operator who rewrites
//! history (holding the log key) caught by the partner that cosigned the old history, a node
//! that refuses to start on a log altered under it, and a tree that never shrinks across
//! restarts.

use cordon_node::client::ControlClient;
use cordon_node::profile::Profile;
use cordon_node::{admin, audit, Config};
use cordon_protocol::audit::bundle::{self, Bundle, BundleKeys};
use cordon_protocol::audit::entry::{Entry, EntryKind};
use cordon_protocol::audit::note::Signer;
use cordon_tests::{import, phones, query, Fed};

async fn export(f: &Fed, node: &str) -> Bundle {
    let profile = f.fed.agency(node).unwrap().auditor.clone();
    let c = ControlClient::connect(&Profile::load(&profile).unwrap())
        .await
        .unwrap();
    let bytes = c.audit_export(None, None).await.unwrap();
    c.close().await;
    Bundle::parse(&bytes).unwrap()
}

async fn status(f: &Fed, node: &str) -> cordon_node::control::StatusReply {
    let profile = f.fed.agency(node).unwrap().auditor.clone();
    let c = ControlClient::connect(&Profile::load(&profile).unwrap())
        .await
        .unwrap();
    let s = c.status().await.unwrap();
    c.close().await;
    s
}

fn log_signer(f: &Fed, node: &str) -> (Config, Signer) {
    let cfg = Config::load(&f.fed.agency(node).unwrap().config_path).unwrap();
    let kp = admin::load_signing_key(&cfg.path(&cfg.tls.log_key)).unwrap();
    let s = Signer::new(&audit::origin_of(node), kp).unwrap();
    (cfg, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_history_is_caught_by_the_partner_that_cosigned_it() {
    let mut f = Fed::start(&["th", "jp"], |c| c.to_string());
    import(&f.operator("jp"), "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    import(&f.operator("th"), "phones", "phone", &phones(50..150))
        .await
        .unwrap();
    // Two rounds each way: each side verifies, cosigns and keeps the other's checkpoint.
    for _ in 0..2 {
        query(&f.investigator("th"), "phones", &phones(0..10), &[])
            .await
            .unwrap();
        query(&f.investigator("jp"), "phones", &phones(0..10), &[])
            .await
            .unwrap();
    }
    let th_status = status(&f, "th").await;
    assert!(th_status.audit.alerts.is_empty());
    assert!(
        th_status
            .audit
            .partners
            .iter()
            .any(|(p, s)| p == "jp" && *s > 0),
        "th verified jp's log: {:?}",
        th_status.audit
    );
    let before = export(&f, "th").await;
    let (_, th_key) = log_signer(&f, "th");
    let r = bundle::verify(&before, &th_key.verifier_key(), &BundleKeys::default()).unwrap();
    assert!(r.cosigned_by.iter().any(|(p, _)| p == "jp"), "{r:?}");

    // th's operator, holding the log key, rewrites an old query entry and re-signs.
    f.fed.stop("th").await.unwrap();
    let (cfg, signer) = log_signer(&f, "th");
    let index = before
        .parsed_entries()
        .unwrap()
        .iter()
        .position(|e| e.kind == EntryKind::QuerySent)
        .unwrap() as u64;
    let mut e: Entry = Entry::parse(&before.entries[index as usize]).unwrap();
    e.case_ref = Some("NOTHING-TO-SEE".into());
    audit::tamper::rewrite_entry(
        &audit::db_path(&cfg.db_path()),
        &signer,
        index,
        &e.to_line(),
    )
    .unwrap();
    // th starts without complaint: its own signatures match the rewritten log.
    f.fed.start("th").unwrap();
    let after = export(&f, "th").await;
    assert!(
        after.header.count > before.header.count,
        "the tree never shrinks"
    );
    // But the checkpoint jp cosigned does not extend to the rewritten log.
    let err = bundle::verify(&after, &th_key.verifier_key(), &BundleKeys::default()).unwrap_err();
    assert!(err.to_string().contains("jp cosigned"), "{err}");

    // The next exchange shows jp the rewritten history: jp flags it loudly.
    query(&f.investigator("th"), "phones", &phones(0..10), &[])
        .await
        .unwrap();
    let jp_status = status(&f, "jp").await;
    assert_eq!(jp_status.audit.alerts.len(), 1, "{:?}", jp_status.audit);
    assert!(
        jp_status.audit.alerts[0].contains("th"),
        "{:?}",
        jp_status.audit.alerts
    );
    let jp_log = export(&f, "jp").await;
    let flagged: Vec<Entry> = jp_log
        .parsed_entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EntryKind::PartnerInconsistent)
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].partner.as_deref(), Some("th"));
    // Both signed checkpoints are kept as evidence, and travel in jp's export.
    assert_eq!(jp_log.header.alerts.len(), 1);
    assert!(jp_log.header.alerts[0].old.starts_with("th/audit\n"));
    assert!(jp_log.header.alerts[0].new.starts_with("th/audit\n"));
    assert_ne!(jp_log.header.alerts[0].old, jp_log.header.alerts[0].new);
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_altered_without_the_key_stops_the_node_from_starting() {
    let mut f = Fed::start(&["th", "jp"], |c| c.to_string());
    import(&f.operator("jp"), "phones", "phone", &phones(0..50))
        .await
        .unwrap();
    query(&f.investigator("th"), "phones", &phones(0..5), &[])
        .await
        .unwrap();
    let size = export(&f, "th").await.header.count;
    f.fed.stop("th").await.unwrap();
    // Restarting an untouched log works, and the tree only grows.
    f.fed.start("th").unwrap();
    let again = export(&f, "th").await;
    assert!(again.header.count > size);
    f.fed.stop("th").await.unwrap();
    // Someone without the log key edits an entry: the node refuses to start and says why.
    let (cfg, _) = log_signer(&f, "th");
    let wrong = Signer::from_seed(&audit::origin_of("th"), &[9; 32]).unwrap();
    let mut e = Entry::parse(&again.entries[1]).unwrap();
    e.time += 1;
    audit::tamper::rewrite_entry(&audit::db_path(&cfg.db_path()), &wrong, 1, &e.to_line()).unwrap();
    let err = match f.fed.start("th") {
        Err(e) => e.to_string(),
        Ok(()) => panic!("a node with an altered log started"),
    };
    assert!(
        err.contains("does not verify with this node's log key") || err.contains("altered"),
        "{err}"
    );
    f.fed.shutdown().await.unwrap();
}
