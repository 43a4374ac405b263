//! Imports streamed frame by frame: duplicates are counted across frames, an import that fails
//! mid-stream (an invalid row, a client that goes away) leaves nothing, and while a client is
//! still sending, the node holds no lock: queries, rotations and other imports go on.

use cordon_node::client::ControlClient;
use cordon_node::control::ImportHeader;
use cordon_node::profile::Profile;
use cordon_tests::{hit_items, import, phones, query, Fed};

fn header(collection: &str) -> ImportHeader {
    ImportHeader {
        collection: collection.into(),
        kind: "phone".into(),
        read: Default::default(),
        skip_invalid: false,
        source: "frames.csv".into(),
        releasable: Vec::new(),
    }
}

fn numbered(values: &[String], first_line: u64) -> Vec<(u64, String)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (first_line + i as u64, v.clone()))
        .collect()
}

/// Records `collection` holds at `c`'s node (0 if it holds no such collection).
async fn records(c: &ControlClient, collection: &str) -> u64 {
    let s = c.status().await.unwrap();
    s.collections
        .iter()
        .find(|x| x.name == collection)
        .map_or(0, |x| x.records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_across_frames_are_counted_once_each() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    let op = ControlClient::connect(&Profile::load(&f.operator("jp")).unwrap())
        .await
        .unwrap();
    let all = phones(0..30);
    let mut s = op.import(header("phones")).await.unwrap();
    // Frame 1: 0..20 with 5 repeated inside it; frame 2: 10..30, half of it seen in frame 1;
    // frame 3: the national form of numbers already sent.
    let mut first: Vec<String> = all[0..20].to_vec();
    first.extend_from_slice(&all[0..5]);
    s.send(numbered(&first, 1)).await.unwrap();
    s.send(numbered(&all[10..30], 26)).await.unwrap();
    let national: Vec<String> = all[0..3].iter().map(|p| format!("0{}", &p[3..])).collect();
    s.send(numbered(&national, 46)).await.unwrap();
    let r = s.finish().await.unwrap();
    assert_eq!((r.rows, r.added, r.duplicates), (48, 30, 18));
    assert_eq!((r.records, r.epoch, r.rebuilt), (30, 1, true));
    // A second import: one new, one held; it extends the epoch with a delta.
    let r = import(&f.operator("jp"), "phones", "phone", &phones(29..31))
        .await
        .unwrap();
    assert_eq!((r.added, r.duplicates, r.records), (1, 1, 31));
    assert!(!r.rebuilt);
    let asked = phones(28..33);
    let q = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    assert_eq!(
        hit_items(&q, "jp", &asked).unwrap(),
        phones(28..31).into_iter().collect()
    );
    op.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_fails_mid_stream_leaves_nothing() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    let op = ControlClient::connect(&Profile::load(&f.operator("jp")).unwrap())
        .await
        .unwrap();

    // An invalid row in the last frame: the valid frames before it are not applied.
    let mut s = op.import(header("phones")).await.unwrap();
    s.send(numbered(&phones(0..100), 1)).await.unwrap();
    s.send(numbered(&phones(100..200), 101)).await.unwrap();
    s.send(vec![
        (201, "+66 81 234 567".into()),
        (202, "+66812345999".into()),
    ])
    .await
    .unwrap();
    let r = s.finish().await.unwrap();
    assert_eq!((r.rows, r.added, r.rejected_count), (202, 0, 1));
    assert_eq!(r.rejected[0].0, 201);
    assert_eq!(records(&op, "phones").await, 0);

    // A client that goes away after two frames: nothing is stored, and the node is not left
    // holding anything (the next import goes through).
    let gone = ControlClient::connect(&Profile::load(&f.operator("jp")).unwrap())
        .await
        .unwrap();
    let mut s = gone.import(header("phones")).await.unwrap();
    s.send(numbered(&phones(0..100), 1)).await.unwrap();
    s.send(numbered(&phones(100..200), 101)).await.unwrap();
    drop(s);
    gone.close().await;
    assert_eq!(records(&op, "phones").await, 0);
    let r = import(&f.operator("jp"), "phones", "phone", &phones(500..510))
        .await
        .unwrap();
    assert_eq!((r.added, r.records, r.epoch), (10, 10, 1));
    assert_eq!(records(&op, "phones").await, 10);
    op.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_receiving_an_import_holds_no_lock() {
    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    import(&f.operator("jp"), "phones", "phone", &phones(0..50))
        .await
        .unwrap();
    let op = ControlClient::connect(&Profile::load(&f.operator("jp")).unwrap())
        .await
        .unwrap();
    // A large import in progress: frames sent, no end yet.
    let mut big = op.import(header("phones")).await.unwrap();
    big.send(numbered(&phones(1000..6000), 1)).await.unwrap();
    // Meanwhile: a query is answered, a rotation (which takes the import lock) completes,
    // and another import commits.
    let asked = phones(48..52);
    let q = query(&f.investigator("th"), "phones", &asked, &[])
        .await
        .unwrap();
    assert_eq!(hit_items(&q, "jp", &asked).unwrap().len(), 2);
    let rot = op.rotate("phones").await.unwrap();
    assert_eq!((rot.old_epoch, rot.new_epoch), (1, 2));
    let r = import(&f.operator("jp"), "phones", "phone", &phones(50..60))
        .await
        .unwrap();
    assert_eq!(r.records, 60);
    // The large import then ends, and applies on top of what committed meanwhile.
    big.send(numbered(&phones(55..65), 5001)).await.unwrap();
    let r = big.finish().await.unwrap();
    assert_eq!((r.added, r.duplicates, r.records), (5005, 5, 5065));
    assert!(r.rebuilt);
    op.close().await;
}
