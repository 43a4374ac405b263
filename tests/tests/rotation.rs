//! Key rotation, deletion and retention on real nodes, with a manual clock: a deleted or
//! expired record is found nowhere afterwards, the old epoch is refused, scheduled rotation
//! fires when due and not before, and a querier re-fetches the whole new filter.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use cordon_node::client::{self, ControlClient};
use cordon_node::control::{ImportHeader, PartnerOutcome};
use cordon_node::local::LocalFederation;
use cordon_node::profile::Profile;
use cordon_node::{ManualClock, NodeError, Shared};
use cordon_protocol::audit::bundle::Bundle;
use cordon_protocol::audit::entry::{Entry, EntryKind};
use cordon_protocol::messages::{EvaluateRequest, PartnerRequest, PartnerResponse};
use cordon_protocol::ErrorCode;
use cordon_tests::{hit_items, import, outcome, phones, query};
use support::{ask, connect};

const HOUR: u64 = 3600;

struct ClockFed {
    fed: LocalFederation,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl ClockFed {
    /// th (querier) and jp (holder), jp with `jp_extra` appended to its node.toml.
    fn start(jp_extra: &str) -> ClockFed {
        let dir = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let clock = Arc::new(ManualClock::new(now));
        let mut fed = LocalFederation::create_with_clock(
            dir.path(),
            &["th", "jp"],
            Some("TH"),
            clock.clone(),
        )
        .unwrap();
        let jp = fed.agency("jp").unwrap().config_path.clone();
        let text = std::fs::read_to_string(&jp).unwrap();
        std::fs::write(&jp, format!("{text}\n{jp_extra}\n")).unwrap();
        fed.start_all().unwrap();
        ClockFed {
            fed,
            clock,
            _dir: dir,
        }
    }
    fn operator(&self, n: &str) -> std::path::PathBuf {
        self.fed.agency(n).unwrap().operator.clone()
    }
    fn investigator(&self, n: &str) -> std::path::PathBuf {
        self.fed.agency(n).unwrap().investigator.clone()
    }
    fn jp(&self) -> Arc<Shared> {
        self.fed.shared("jp").unwrap()
    }
    fn epoch(&self) -> u64 {
        self.jp().holder_epoch("phones").unwrap().epoch
    }
    /// One maintenance pass at jp, on a blocking thread as the node runs it.
    async fn maintain(&self) {
        let s = self.jp();
        tokio::task::spawn_blocking(move || s.maintain())
            .await
            .unwrap()
            .unwrap();
    }
    async fn jp_log(&self) -> Vec<Entry> {
        let p = Profile::load(&self.fed.agency("jp").unwrap().auditor).unwrap();
        let c = ControlClient::connect(&p).await.unwrap();
        let bytes = c.audit_export(None, None).await.unwrap();
        c.close().await;
        Bundle::parse(&bytes).unwrap().parsed_entries().unwrap()
    }
}

fn answered(r: &cordon_node::control::QueryReply) -> (u64, String) {
    match outcome(r, "jp") {
        PartnerOutcome::Answered { epoch, filter, .. } => (*epoch, filter.clone()),
        o => panic!("jp did not answer: {o:?}"),
    }
}

fn header(collection: &str) -> ImportHeader {
    ImportHeader {
        collection: collection.into(),
        kind: "phone".into(),
        read: Default::default(),
        skip_invalid: false,
        source: "gone.txt".into(),
        releasable: Vec::new(),
    }
}

fn stale(r: PartnerResponse) {
    match r {
        PartnerResponse::Error(e) => assert_eq!(e.code, ErrorCode::StaleEpoch, "{e}"),
        other => panic!("expected stale_epoch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_rotates_and_the_old_epoch_is_refused() {
    let f = ClockFed::start("");
    import(&f.operator("jp"), "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    let asked = phones(0..10);
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    let (old, how) = answered(&r);
    assert_eq!(how, "full");
    assert_eq!(hit_items(&r, "jp", &asked).unwrap().len(), 10);
    let (_, how) = answered(
        &query(&f.investigator("th"), "phones", &asked, &["jp"])
            .await
            .unwrap(),
    );
    assert_eq!(how, "cached");

    // Delete 3 and 4 (written another way, canonicalised as an import would) and one value
    // jp never held, listed on line 3.
    let listed = vec![
        "0810000003".to_string(),
        "+66 81 000 0004".to_string(),
        phones(500..501).remove(0),
    ];
    let d = client::delete_rows(
        &Profile::load(&f.operator("jp")).unwrap(),
        header("phones"),
        client::numbered(listed),
    )
    .await
    .unwrap();
    assert_eq!((d.deleted, d.not_found_count), (2, 1));
    assert_eq!(d.not_found, vec![3]);
    assert_eq!(d.epoch, old + 1);
    assert_eq!(d.records, 98);
    assert_eq!(f.epoch(), old + 1);

    // th's next query fetches the whole new filter and no longer finds 3 and 4.
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(answered(&r), (old + 1, "full".to_string()));
    let expect: BTreeSet<String> = asked
        .iter()
        .filter(|p| !p.ends_with("0003") && !p.ends_with("0004"))
        .cloned()
        .collect();
    assert_eq!(hit_items(&r, "jp", &asked).unwrap(), expect);
    // th's cache holds the new epoch only.
    let th = f.fed.shared("th").unwrap();
    let cached = th.store.partner_cache("jp", "phones").unwrap().unwrap();
    assert_eq!(
        cached.descriptor.descriptor_unverified().unwrap().epoch,
        old + 1
    );

    // A querier still holding the old epoch's filter cannot use it: jp refuses to evaluate,
    // or send the filter or delta, under the old epoch.
    let (_ep, conn) = connect(&f.fed, "th", "jp").await;
    let blinded = {
        use cordon_protocol::exchange::{BlindedBatch, HashedInputs};
        let h = HashedInputs::new(&[b"phone:+66810000003".to_vec()]);
        BlindedBatch::new(&h, &mut rand::rngs::OsRng).request_bytes()
    };
    let ev = PartnerRequest::Evaluate(EvaluateRequest {
        query_id: serde_bytes::ByteArray::new([7; 16]),
        collection: "phones".into(),
        epoch: old,
        blinded,
        mode: Default::default(),
        audit: None,
    });
    stale(ask(&conn, &ev).await.unwrap());
    stale(
        ask(
            &conn,
            &PartnerRequest::GetFilter {
                collection: "phones".into(),
                epoch: old,
            },
        )
        .await
        .unwrap(),
    );
    stale(
        ask(
            &conn,
            &PartnerRequest::GetDelta {
                collection: "phones".into(),
                epoch: old,
                from: 0,
            },
        )
        .await
        .unwrap(),
    );

    // Logged: counts and epochs, never the values.
    let log = f.jp_log().await;
    let del = log
        .iter()
        .find(|e| e.kind == EntryKind::DataExpired)
        .expect("data_expired entry");
    assert_eq!(del.items, Some(2));
    assert_eq!(del.actor.role, "operator");
    let rot = log
        .iter()
        .find(|e| e.kind == EntryKind::KeyRotated)
        .expect("key_rotated entry");
    assert_eq!(rot.epoch, Some(old + 1));
    let text = serde_json::to_string(&log).unwrap();
    assert!(rot.detail.as_deref().unwrap().starts_with("after_deletion"));
    assert!(!text.contains("0810000003") && !text.contains("+66810000003"));

    // Deleting what is not held changes nothing, not even the epoch.
    let d = client::delete_rows(
        &Profile::load(&f.operator("jp")).unwrap(),
        header("phones"),
        client::numbered(phones(700..702)),
    )
    .await
    .unwrap();
    assert_eq!(
        (d.deleted, d.not_found.clone(), d.epoch),
        (0, vec![1, 2], old + 1)
    );
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_fires_when_due_and_not_before() {
    let f = ClockFed::start("[[collection]]\nname = \"phones\"\nrotate_every = \"1h\"\n");
    import(&f.operator("jp"), "phones", "phone", &phones(0..50))
        .await
        .unwrap();
    let first = f.epoch();
    let asked = phones(40..60);
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(answered(&r), (first, "full".to_string()));

    f.maintain().await;
    f.clock.advance(HOUR - 1);
    f.maintain().await;
    assert_eq!(f.epoch(), first, "rotated before rotate_every elapsed");
    // A small import only extends the epoch: it does not reset the schedule.
    import(&f.operator("jp"), "phones", "phone", &phones(50..52))
        .await
        .unwrap();
    assert_eq!(f.epoch(), first);
    f.clock.advance(1);
    f.maintain().await;
    assert_eq!(f.epoch(), first + 1, "no rotation after rotate_every");
    let built = f.jp().holder_epoch("phones").unwrap().built_at;
    assert_eq!(built, cordon_node::Clock::now_unix(f.clock.as_ref()));

    // Status shows when the next one is due.
    let c = ControlClient::connect(&Profile::load(&f.operator("jp")).unwrap())
        .await
        .unwrap();
    let s = c.status().await.unwrap();
    c.close().await;
    let col = &s.collections[0];
    assert_eq!(col.epoch_built_at, Some(built));
    assert_eq!(col.next_rotation, Some(built + HOUR));

    // The querier's next query takes the whole new filter and finds what jp still holds.
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(answered(&r), (first + 1, "full".to_string()));
    assert_eq!(
        hit_items(&r, "jp", &asked).unwrap(),
        phones(40..52).into_iter().collect()
    );
    let log = f.jp_log().await;
    let rot = log
        .iter()
        .find(|e| e.kind == EntryKind::KeyRotated)
        .expect("key_rotated entry");
    assert_eq!(rot.actor.role, "node");
    assert!(rot.detail.as_deref().unwrap().starts_with("schedule"));
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_expires_old_records_and_rotates() {
    let f = ClockFed::start("[[collection]]\nname = \"phones\"\nretain = \"2h\"\n");
    import(&f.operator("jp"), "phones", "phone", &phones(0..100))
        .await
        .unwrap();
    f.clock.advance(HOUR);
    // Added an hour later, as a delta of the same epoch.
    let rep = import(&f.operator("jp"), "phones", "phone", &phones(100..110))
        .await
        .unwrap();
    assert!(!rep.rebuilt);
    let first = f.epoch();
    let asked = phones(95..105);
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(hit_items(&r, "jp", &asked).unwrap().len(), 10);

    f.clock.advance(HOUR - 1);
    f.maintain().await;
    assert_eq!(f.epoch(), first, "expired before `retain`");
    assert_eq!(f.jp().store.record_count("phones").unwrap(), 110);
    f.clock.advance(2);
    f.maintain().await;
    assert_eq!(f.epoch(), first + 1);
    assert_eq!(f.jp().store.record_count("phones").unwrap(), 10);

    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(answered(&r), (first + 1, "full".to_string()));
    assert_eq!(
        hit_items(&r, "jp", &asked).unwrap(),
        phones(100..105).into_iter().collect()
    );
    let log = f.jp_log().await;
    let exp = log
        .iter()
        .find(|e| e.kind == EntryKind::DataExpired)
        .expect("data_expired entry");
    assert_eq!(exp.items, Some(100));
    assert!(exp.detail.as_deref().unwrap().starts_with("expired"));
    let rot = log
        .iter()
        .find(|e| e.kind == EntryKind::KeyRotated)
        .expect("key_rotated entry");
    assert!(rot.detail.as_deref().unwrap().starts_with("after_expiry"));

    // The rest expires an hour later: the collection is empty, and still served.
    f.clock.advance(HOUR);
    f.maintain().await;
    assert_eq!(f.jp().store.record_count("phones").unwrap(), 0);
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(answered(&r), (first + 2, "full".to_string()));
    assert!(hit_items(&r, "jp", &asked).unwrap().is_empty());
    f.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_demand_is_for_operators_only() {
    let f = ClockFed::start("");
    import(&f.operator("jp"), "phones", "phone", &phones(0..20))
        .await
        .unwrap();
    let first = f.epoch();
    let inv = ControlClient::connect(&Profile::load(&f.investigator("jp")).unwrap())
        .await
        .unwrap();
    match inv.rotate("phones").await {
        Err(NodeError::Control { code, message, .. }) => {
            assert_eq!(code, ErrorCode::NotAuthorized, "{message}")
        }
        other => panic!("an investigator rotated a key: {other:?}"),
    }
    inv.close().await;
    match client::delete_rows(
        &Profile::load(&f.investigator("jp")).unwrap(),
        header("phones"),
        client::numbered(phones(0..1)),
    )
    .await
    {
        Err(NodeError::Control { code, .. }) => assert_eq!(code, ErrorCode::NotAuthorized),
        other => panic!("an investigator deleted records: {other:?}"),
    }
    assert_eq!(f.jp().store.record_count("phones").unwrap(), 20);
    assert_eq!(f.epoch(), first);

    let op = ControlClient::connect(&Profile::load(&f.operator("jp")).unwrap())
        .await
        .unwrap();
    let r = op.rotate("phones").await.unwrap();
    assert_eq!(
        (r.old_epoch, r.new_epoch, r.records),
        (first, first + 1, 20)
    );
    match op.rotate("nope").await {
        Err(NodeError::Control { code, message, .. }) => {
            assert_eq!(code, ErrorCode::BadRequest);
            assert!(message.contains("nope"), "{message}");
        }
        other => panic!("rotated an unknown collection: {other:?}"),
    }
    op.close().await;
    let asked = phones(10..30);
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(answered(&r), (first + 1, "full".to_string()));
    assert_eq!(hit_items(&r, "jp", &asked).unwrap().len(), 10);
    let log = f.jp_log().await;
    let rot = log
        .iter()
        .find(|e| e.kind == EntryKind::KeyRotated)
        .expect("key_rotated entry");
    assert!(rot.detail.as_deref().unwrap().starts_with("on_demand"));
    assert_eq!(rot.actor.role, "operator");
    f.fed.shutdown().await.unwrap();
}
