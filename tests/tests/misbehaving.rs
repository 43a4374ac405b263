//! A holder that lies: a querier rejects its answer with a clear reason, still takes the
//! honest partners' answers in the same query, and keeps nothing of the lie.

use cordon_node::control::PartnerOutcome;
use cordon_node::misbehave::Misbehaviour;
use cordon_protocol::messages::QueryMode;
use cordon_tests::{import, outcome, phones, query_mode, Fed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_holder_is_rejected_and_leaves_no_trace() {
    let f = Fed::start(&["th", "jp", "us"], |c| c.to_string());
    let cases = [
        (
            Misbehaviour::DescriptorSignature,
            "epoch descriptor signature does not verify",
        ),
        (Misbehaviour::Proof, "the holder's proof does not verify"),
        (
            Misbehaviour::FilterBytes,
            "filter does not match its signed descriptor",
        ),
        (
            Misbehaviour::FilterSize,
            "filter does not match its signed descriptor",
        ),
    ];
    let modes = [QueryMode::Match, QueryMode::Count];
    // One collection per case and mode, so that each starts without a cached filter.
    for i in 0..cases.len() {
        for mode in modes {
            for node in ["jp", "us"] {
                import(
                    &f.operator(node),
                    &format!("c{i}{mode}"),
                    "phone",
                    &phones(0..50),
                )
                .await
                .unwrap();
            }
        }
    }
    let jp = f.fed.shared("jp").unwrap();
    let asked = phones(40..60);
    for (i, (lie, fault)) in cases.into_iter().enumerate() {
        for mode in modes {
            let collection = format!("c{i}{mode}");
            jp.set_misbehaviour(lie);
            let r = query_mode(&f.investigator("th"), &collection, &asked, &[], mode)
                .await
                .unwrap();
            match outcome(&r, "jp") {
                PartnerOutcome::Failed { code, message } => {
                    assert_eq!(code, "invalid_answer", "{lie:?}: {message}");
                    assert!(message.contains(fault), "{lie:?}: {message}");
                    assert!(message.starts_with("jp"), "{message}");
                }
                o => panic!("{lie:?} in {mode} mode was accepted: {o:?}"),
            }
            assert_eq!(held(&r, "us"), 10, "{lie:?}: the honest partner");

            // Honest again: the next query succeeds, with nothing of the lie kept.
            jp.set_misbehaviour(Misbehaviour::None);
            let r = query_mode(&f.investigator("th"), &collection, &asked, &[], mode)
                .await
                .unwrap();
            assert_eq!(held(&r, "jp"), 10, "{lie:?} in {mode} mode");
            // A rejected descriptor or filter was not kept: the filter is fetched whole now.
            // (With a bad proof, the filter itself was honest, verified, and kept.)
            let PartnerOutcome::Answered { filter, .. } = outcome(&r, "jp") else {
                unreachable!()
            };
            let want = if lie == Misbehaviour::Proof {
                "cached"
            } else {
                "full"
            };
            assert_eq!(filter, want, "{lie:?} in {mode} mode");
        }
    }
    f.fed.shutdown().await.unwrap();
}

/// How many items the partner holds, in either mode.
fn held(r: &cordon_node::control::QueryReply, partner: &str) -> u64 {
    match outcome(r, partner) {
        PartnerOutcome::Answered { matches, count, .. } => count.unwrap_or(matches.len() as u64),
        o => panic!("{partner} did not answer: {o:?}"),
    }
}
