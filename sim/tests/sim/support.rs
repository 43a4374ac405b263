//! A federation for the tests: querier `th`, holders `jp` and `us`, each granting `th` its
//! `emails` collection.

use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use serde_bytes::ByteArray;

use cordon_protocol::exchange::{BlindedBatch, HashedInputs};
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::{EvaluateRequest, PartnerResponse, QueryMode};
use cordon_protocol::session::policy::Grant;
use cordon_protocol::session::querier::{Answer, FailureCode};
use cordon_sim::{Federation, PartnerOutcome, QueryRequest};

/// `n` e-mail addresses starting at `from`.
pub fn emails(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| format!("user{i}@example.org"))
        .collect()
}

/// A grant of `emails` to `partner` in `modes`.
pub fn grant(partner: &str, modes: &[QueryMode], daily: u64) -> Grant {
    Grant {
        partner: partner.into(),
        collections: vec!["emails".into()],
        modes: modes.to_vec(),
        daily_items: daily,
        max_items_per_query: None,
        followup: true,
    }
}

/// `th` asking `jp` (and `us`), which hold users 0..10 and 5..15.
pub fn federation(seed: u64) -> Federation {
    let mut fed = Federation::new(seed);
    for n in ["th", "jp", "us"] {
        fed.add_node(n).unwrap();
    }
    fed.connect("th", "jp").unwrap();
    fed.connect("th", "us").unwrap();
    for (h, from) in [("jp", 0), ("us", 5)] {
        let modes = [QueryMode::Match, QueryMode::Count];
        fed.node_mut(h)
            .unwrap()
            .grant(grant("th", &modes, 1_000_000));
        fed.import(h, "emails", Kind::Email, &emails(from, 10))
            .unwrap();
    }
    fed
}

/// A query of `items` to `partners` about `emails`.
pub fn query(items: Vec<String>, partners: &[&str]) -> QueryRequest {
    QueryRequest {
        collection: "emails".into(),
        kind: Kind::Email,
        mode: QueryMode::Match,
        items,
        partners: partners.iter().map(|p| p.to_string()).collect(),
    }
}

/// `th` asks `jp` about users 8..12 (8 and 9 held).
pub fn ask_jp(fed: &mut Federation) -> PartnerOutcome {
    let out = fed.query("th", &query(emails(8, 4), &["jp"])).unwrap();
    out.of("jp").unwrap().clone()
}

/// The answer, which must be there.
pub fn answered(o: &PartnerOutcome) -> &Answer {
    o.answer().unwrap()
}

/// The lines (1-based) of the items that hit.
pub fn hit_lines(a: &Answer) -> Vec<u64> {
    a.hits.iter().map(|h| h.line).collect()
}

/// Asserts the partner failed with `code` and a sentence containing `needle`.
#[track_caller]
pub fn assert_failed(o: &PartnerOutcome, code: &str, needle: &str) {
    let f = o
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("{} answered; expected {code}", o.partner));
    assert_eq!(f.code.to_string(), code, "{}", f.message);
    assert!(
        f.message.contains(needle),
        "{:?} lacks {needle:?}",
        f.message
    );
}

/// Asserts the failure is a refusal with `code`.
#[track_caller]
pub fn assert_refused(o: &PartnerOutcome, code: &str) {
    let f = o.failure.as_ref().expect("a refusal");
    assert_eq!(
        f.code.to_string(),
        format!("refused:{code}"),
        "{}",
        f.message
    );
    assert!(matches!(f.code, FailureCode::Refused(_)));
}

/// The holder's current signed descriptor of `emails`.
pub fn signed(fed: &Federation, holder: &str) -> (SignedDescriptor, EpochDescriptor) {
    let e = fed
        .node(holder)
        .unwrap()
        .collection("emails")
        .unwrap()
        .epoch();
    (e.signed.clone(), e.descriptor.clone())
}

/// Re-signs `d` with `holder`'s descriptor key.
pub fn resign(fed: &Federation, holder: &str, d: &EpochDescriptor) -> PartnerResponse {
    let key = fed.node(holder).unwrap().keys().descriptor();
    PartnerResponse::Descriptor(SignedDescriptor::sign(d, key).unwrap())
}

/// A lying querier's evaluation: `n` valid blinded elements about `collection`, epoch `epoch`,
/// query id `[id; 16]`.
pub fn evaluation(
    fed: &mut Federation,
    collection: &str,
    epoch: u64,
    n: usize,
    id: u8,
) -> EvaluateRequest {
    let inputs: Vec<Vec<u8>> = emails(100, n).into_iter().map(String::into_bytes).collect();
    let batch = BlindedBatch::new(&HashedInputs::new(&inputs), fed.rng());
    EvaluateRequest {
        query_id: ByteArray::new([id; 16]),
        collection: collection.into(),
        epoch,
        blinded: batch.request_bytes(),
        mode: QueryMode::Match,
        audit: None,
    }
}
