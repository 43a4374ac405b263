//! The four rollback rules (spec/PROTOCOL.md §6.4): a holder whose new descriptor goes back on
//! what it signed before is refused (`invalid_answer`), nothing is evaluated, and the cache
//! stays as it was.

use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::filter::seed_for;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::PartnerResponse;
use cordon_protocol::session::querier::ExchangeError;
use cordon_protocol::session::sync::Rollback;
use cordon_sim::{always, liar, Federation};

use crate::support::*;

/// Serves `desc` to every descriptor request of `jp`, asks once, and checks that the answer
/// was refused for `rule` with nothing evaluated and the cache unchanged.
fn refused_for(fed: &mut Federation, desc: PartnerResponse, rule: Rollback) {
    let before = fed
        .node("th")
        .unwrap()
        .cached("jp", "emails")
        .unwrap()
        .version();
    let answered = fed
        .node("jp")
        .unwrap()
        .entries(EntryKind::QueryAnswered)
        .len();
    fed.lie("jp", always(liar::descriptor, vec![desc]));
    let o = ask_jp(fed);
    assert!(
        matches!(&o.result, Err(ExchangeError::Rollback(r)) if *r == rule),
        "{:?}",
        o.result
    );
    assert_failed(
        &o,
        "invalid_answer",
        "the partner went back on what it signed before",
    );
    assert_failed(&o, "invalid_answer", &rule.to_string());
    let jp = fed.node("jp").unwrap();
    assert_eq!(
        jp.entries(EntryKind::QueryAnswered).len(),
        answered,
        "nothing evaluated"
    );
    let th = fed.node("th").unwrap();
    assert_eq!(
        th.cached("jp", "emails").unwrap().version(),
        before,
        "cache unchanged"
    );
    assert!(th
        .entries(EntryKind::QueryFailed)
        .last()
        .unwrap()
        .reason
        .as_ref()
        .unwrap()
        .starts_with("invalid_answer: "));
}

#[test]
fn an_older_epoch_is_refused() {
    let mut fed = federation(11);
    answered(&ask_jp(&mut fed));
    let (old, _) = signed(&fed, "jp");
    fed.rotate("jp", "emails").unwrap();
    assert_eq!(answered(&ask_jp(&mut fed)).epoch, 2);
    refused_for(
        &mut fed,
        PartnerResponse::Descriptor(old),
        Rollback::OlderEpoch {
            signed: 1,
            cached: 2,
        },
    );
}

#[test]
fn the_same_epoch_with_another_key_filter_or_count_is_refused() {
    for change in 0..3 {
        let mut fed = federation(12);
        answered(&ask_jp(&mut fed));
        let (_, mut d) = signed(&fed, "jp");
        match change {
            0 => d.record_count += 1,
            1 => d.filter_digest = ByteArray::new([7; 32]),
            _ => {
                // Another key whose filter seed is derived from it, so that the parameters
                // pass their own checks and only the rollback rule is left to refuse it.
                d.public_key = ByteArray::new([0xe2; 32]);
                d.filter.seed = ByteArray::new(seed_for(&d.public_key));
            }
        }
        let desc = resign(&fed, "jp", &d);
        refused_for(&mut fed, desc, Rollback::Resigned { epoch: 1 });
    }
}

#[test]
fn a_shorter_delta_is_refused() {
    let mut fed = federation(13);
    let (before, _) = signed(&fed, "jp");
    fed.import("jp", "emails", Kind::Email, &emails(20, 2))
        .unwrap();
    assert_eq!(answered(&ask_jp(&mut fed)).partner_records, 12);
    refused_for(
        &mut fed,
        PartnerResponse::Descriptor(before),
        Rollback::DeltaShrank {
            epoch: 1,
            signed: 0,
            cached: 2,
        },
    );
}

#[test]
fn the_same_delta_count_with_another_chain_is_refused() {
    let mut fed = federation(14);
    fed.import("jp", "emails", Kind::Email, &emails(20, 2))
        .unwrap();
    answered(&ask_jp(&mut fed));
    let (_, mut d) = signed(&fed, "jp");
    d.delta_chain = ByteArray::new([3; 32]);
    let desc = resign(&fed, "jp", &d);
    refused_for(&mut fed, desc, Rollback::ChainForked);
}

#[test]
fn a_rolled_back_partner_stays_refused_until_it_signs_a_newer_epoch() {
    let mut fed = federation(15);
    answered(&ask_jp(&mut fed));
    let (old, _) = signed(&fed, "jp");
    fed.rotate("jp", "emails").unwrap();
    answered(&ask_jp(&mut fed));
    let desc = PartnerResponse::Descriptor(old);
    fed.lie("jp", always(liar::descriptor, vec![desc]));
    for _ in 0..2 {
        assert_failed(&ask_jp(&mut fed), "invalid_answer", "epoch 1 after epoch 2");
    }
    fed.stop_lying("jp");
    fed.rotate("jp", "emails").unwrap();
    assert_eq!(answered(&ask_jp(&mut fed)).epoch, 3);
}
