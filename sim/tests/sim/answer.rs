//! The evaluation's answer (spec/PROTOCOL.md §4.5 and AUDIT.md §4): for this query id and
//! epoch, a receipt that describes the request field by field, as many elements as were sent,
//! each decoding, a proof that verifies (count mode: over the sums, and no repeated tag) —
//! and answers that are not even that.

use curve25519_dalek::ristretto::RistrettoPoint;

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::audit::note::Signer;
use cordon_protocol::audit::receipt::Receipt;
use cordon_protocol::messages::{
    pack, unpack, EvaluateRequest, EvaluateResponse, PartnerRequest, PartnerResponse, QueryMode,
};
use cordon_protocol::oprf;
use cordon_protocol::session::holder::evaluate::receipt;
use cordon_protocol::session::querier::ExchangeError;
use cordon_protocol::VerifyError;
use cordon_sim::{about, liar, Federation, Lie, PartnerOutcome, Reply};

use crate::support::*;

/// `jp` answers every evaluation with `lie(request, honest answer, holder's receipt signer)`.
fn evaluation_lie(
    seed: u64,
    mode: QueryMode,
    lie: impl Fn(&EvaluateRequest, EvaluateResponse, &Signer) -> PartnerResponse + 'static,
) -> (Federation, PartnerOutcome) {
    let mut fed = federation(seed);
    fed.lie(
        "jp",
        about(liar::evaluate, move |l: Lie<'_>| {
            let (Some(PartnerRequest::Evaluate(req)), [PartnerResponse::Evaluated(ev)]) =
                (l.request, l.honest.as_slice())
            else {
                return l.honest();
            };
            Reply::Frames(vec![lie(req, ev.clone(), &l.holder.keys().receipt)])
        }),
    );
    let mut q = query(emails(8, 4), &["jp"]);
    q.mode = mode;
    let out = fed.query("th", &q).unwrap();
    let o = out.of("jp").unwrap().clone();
    // A rejected answer is logged as failed against the exchange it ended; nothing completed.
    if o.failure.is_some() {
        let th = fed.node("th").unwrap();
        assert!(th.entries(EntryKind::QueryCompleted).is_empty());
        let failed = th.entries(EntryKind::QueryFailed);
        assert_eq!(
            failed[0].exchange_id,
            th.entries(EntryKind::QuerySent)[0].exchange_id
        );
    }
    (fed, o)
}

fn matching(
    lie: impl Fn(&EvaluateRequest, EvaluateResponse, &Signer) -> PartnerResponse + 'static,
) -> PartnerOutcome {
    evaluation_lie(70, QueryMode::Match, lie).1
}

/// The answer with the receipt of `r` (altered by `change`), signed by `signer`.
fn with_receipt(
    change: impl Fn(&mut Receipt) + 'static,
) -> impl Fn(&EvaluateRequest, EvaluateResponse, &Signer) -> PartnerResponse {
    move |req, mut ev, signer| {
        let mut r = receipt(req, "jp", "th", 1);
        change(&mut r);
        ev.receipt = r.sign(signer).unwrap();
        PartnerResponse::Evaluated(ev)
    }
}

#[test]
fn an_honest_receipt_built_by_the_liar_passes() {
    // The control: the receipt as the liar rebuilds it is the honest one.
    answered(&matching(with_receipt(|_| {})));
}

/// A change a liar makes to an honest receipt before signing it.
type ReceiptChange = fn(&mut Receipt);

#[test]
fn every_field_of_the_receipt_is_checked() {
    let cases: [(ReceiptChange, &str); 7] = [
        (|r| r.exchange_id[0] ^= 1, "exchange id"),
        (|r| r.querier = "us".into(), "querier"),
        (|r| r.collection = "phones".into(), "collection"),
        (|r| r.epoch += 1, "epoch"),
        (|r| r.items += 1, "item count"),
        (|r| r.request_digest[0] ^= 1, "request digest"),
        (|r| r.mode = "count".into(), "mode"),
    ];
    for (change, field) in cases {
        let o = matching(with_receipt(change));
        assert!(matches!(
            o.result,
            Err(ExchangeError::Invalid(VerifyError::Receipt(_)))
        ));
        assert_failed(
            &o,
            "invalid_answer",
            &format!(
                "the holder's receipt is not valid: it disagrees with the request on: {field}"
            ),
        );
    }
}

#[test]
fn a_missing_or_foreign_receipt_is_refused() {
    let o = matching(|_, mut ev, _| {
        ev.receipt.clear();
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "the answer carries no receipt");
    // Signed by another key under jp's name, or by jp's key under another name.
    let o = matching(|req, mut ev, _| {
        let other = Signer::from_seed("jp", &[9; 32]).unwrap();
        ev.receipt = receipt(req, "jp", "th", 1).sign(&other).unwrap();
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "the holder's receipt is not valid");
    let o = matching(|req, mut ev, _| {
        let us = Signer::from_seed("us", &[9; 32]).unwrap();
        ev.receipt = receipt(req, "us", "th", 1).sign(&us).unwrap();
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "the holder's receipt is not valid");
    let o = matching(|_, mut ev, _| {
        ev.receipt = "x".repeat(5000);
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "over the 2048-byte limit");
}

#[test]
fn an_answer_for_another_query_or_epoch_is_refused() {
    let o = matching(|_, mut ev, _| {
        ev.query_id[0] ^= 1;
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(
        &o,
        "invalid_answer",
        "the answer is for another query or epoch",
    );
    let o = matching(|_, mut ev, _| {
        ev.epoch += 1;
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(
        &o,
        "invalid_answer",
        "the answer is for another query or epoch",
    );
}

#[test]
fn a_proof_that_does_not_verify_is_refused() {
    let o = matching(|_, mut ev, _| {
        ev.proof[1] ^= 1;
        PartnerResponse::Evaluated(ev)
    });
    assert!(matches!(
        o.result,
        Err(ExchangeError::Invalid(VerifyError::Proof))
    ));
    assert_failed(&o, "invalid_answer", "the holder's proof does not verify");
    // Two answers swapped: every element valid, the proof no longer holds.
    let o = matching(|_, mut ev, _| {
        let mut e = unpack("e", &ev.evaluated).unwrap();
        e.swap(0, 1);
        ev.evaluated = pack(&e);
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "the holder's proof does not verify");
    // A proof whose scalar is not canonical.
    let o = matching(|_, mut ev, _| {
        ev.proof[63] = 0xff;
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "proof does not verify");
}

#[test]
fn an_answer_computed_with_another_key_is_refused() {
    // Evaluated and proved correctly, but with a key that is not the descriptor's: the proof is
    // checked against the signed key only, never one the answer brings.
    let o = matching(|req, mut ev, _| {
        let mut rng = rand::rngs::OsRng;
        let (sk, pk) = oprf::generate_key_pair(&mut rng);
        let (evaluated, proof) =
            cordon_protocol::session::holder::evaluate::evaluate(&sk, &pk, req, &mut rng).unwrap();
        ev.evaluated = evaluated;
        ev.proof = serde_bytes::ByteArray::new(proof);
        PartnerResponse::Evaluated(ev)
    });
    assert!(matches!(
        o.result,
        Err(ExchangeError::Invalid(VerifyError::Proof))
    ));
}

#[test]
fn answers_of_another_count_or_that_do_not_decode_are_refused() {
    let o = matching(|_, mut ev, _| {
        ev.evaluated.truncate(ev.evaluated.len() - 32);
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "answer has 3 items but 4 were asked");
    let o = matching(|_, mut ev, _| {
        ev.evaluated.extend_from_slice(&[0x11; 32]);
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "answer has 5 items but 4 were asked");
    let o = matching(|_, mut ev, _| {
        ev.evaluated.pop();
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "not a multiple of 32");
    for bad in [[0u8; 32], [0xff; 32]] {
        let o = matching(move |_, mut ev, _| {
            ev.evaluated[..32].copy_from_slice(&bad);
            PartnerResponse::Evaluated(ev)
        });
        assert!(
            matches!(o.result, Err(ExchangeError::Malformed(_))),
            "{:?}",
            o.result
        );
        assert_failed(&o, "invalid_answer", "invalid field `evaluated`");
    }
}

fn points(ev: &EvaluateResponse) -> Vec<RistrettoPoint> {
    oprf::decode_elements(&unpack("e", &ev.evaluated).unwrap()).unwrap()
}

#[test]
fn count_mode_answers_that_repeat_a_tag_or_do_not_prove_their_sum_are_refused() {
    let counting = |lie: fn(&EvaluateRequest, EvaluateResponse, &Signer) -> PartnerResponse| {
        evaluation_lie(71, QueryMode::Count, lie).1
    };
    // The control.
    assert_eq!(
        answered(&counting(|_, ev, _| PartnerResponse::Evaluated(ev))).count,
        Some(2)
    );
    // Answer 0 twice, compensated in answer 2: the sum (and so the proof) holds, but a held
    // item would be counted twice.
    let o = counting(|_, mut ev, _| {
        let e = points(&ev);
        let mut twice = e.clone();
        twice[2] += e[1] - e[0];
        twice[1] = e[0];
        ev.evaluated = pack(&oprf::compress_batch(&twice));
        PartnerResponse::Evaluated(ev)
    });
    assert!(matches!(
        o.result,
        Err(ExchangeError::Invalid(VerifyError::CountAnswer(_)))
    ));
    assert_failed(
        &o,
        "invalid_answer",
        "two answers unblind to the same element",
    );
    // One answer changed: the sum no longer matches the proof.
    let o = counting(|_, mut ev, _| {
        let mut e = points(&ev);
        let one = e[1];
        e[0] += one;
        ev.evaluated = pack(&oprf::compress_batch(&e));
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "the holder's proof does not verify");
    let o = counting(|_, mut ev, _| {
        ev.evaluated.truncate(32);
        PartnerResponse::Evaluated(ev)
    });
    assert_failed(&o, "invalid_answer", "answer has 1 items but 4 were asked");
}

#[test]
fn count_mode_can_be_lowered_undetected() {
    // What the sum proof gives up (spec §5.2): garbage in compensating pairs goes undetected and
    // lowers the count. Asserted so that a change of this property is seen.
    let (_, o) = evaluation_lie(72, QueryMode::Count, |_, mut ev, _| {
        let mut e = points(&ev);
        let d = oprf::hash_to_group(oprf::Mode::Voprf, b"garbage");
        for (i, p) in e.iter_mut().enumerate() {
            *p += if i % 2 == 0 { d } else { -d };
        }
        ev.evaluated = pack(&oprf::compress_batch(&e));
        PartnerResponse::Evaluated(ev)
    });
    assert_eq!(answered(&o).count, Some(0));
}

#[test]
fn garbage_and_unexpected_messages_are_malformed() {
    let cases: [(Reply, &str); 6] = [
        (
            Reply::Bytes(b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
            "unsupported frame version 72",
        ),
        (Reply::Bytes(vec![1, 0, 0, 0, 9, 0xa0]), "invalid_answer"),
        (Reply::Bytes(vec![1, 0, 0, 0, 0]), "empty frame"),
        (Reply::Bytes(vec![1, 0xff, 0xff, 0xff, 0xff]), "exceeds the"),
        (
            Reply::Frames(vec![PartnerResponse::FilterChunk { bytes: vec![] }]),
            "expected an evaluation",
        ),
        (
            Reply::Frames(vec![PartnerResponse::FollowupStatus { decisions: vec![] }]),
            "expected an evaluation",
        ),
    ];
    for (i, (reply, needle)) in cases.into_iter().enumerate() {
        let mut fed = federation(73 + i as u64);
        fed.lie("jp", about(liar::evaluate, move |_| reply.clone()));
        let o = ask_jp(&mut fed);
        assert_failed(&o, "invalid_answer", "");
        let f = o.failure.as_ref().unwrap();
        assert!(
            f.message.contains(needle) || f.code.to_string() == needle,
            "{f:?}"
        );
    }
    // A frame whose payload is the honest answer followed by one more byte.
    let mut fed = federation(80);
    fed.lie(
        "jp",
        about(liar::descriptor, |l| {
            let honest = cordon_protocol::frame::encode(&l.honest[0]).unwrap();
            let mut payload = honest[5..].to_vec();
            payload.push(0);
            let mut bytes = vec![1];
            bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            bytes.extend(payload);
            Reply::Bytes(bytes)
        }),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "jp sent a malformed answer: 1 unexpected bytes after the message",
    );
    // Another message instead of the descriptor.
    let mut fed = federation(81);
    fed.lie(
        "jp",
        about(liar::descriptor, |_| {
            Reply::Frames(vec![PartnerResponse::FilterStart {
                epoch: 1,
                total_bytes: 1,
            }])
        }),
    );
    assert_failed(&ask_jp(&mut fed), "invalid_answer", "expected a descriptor");
    // A frame cut short by the end of the stream.
    let mut fed = federation(82);
    fed.lie(
        "jp",
        about(liar::descriptor, |l| {
            let mut b = cordon_protocol::frame::encode(&l.honest[0]).unwrap();
            b.truncate(b.len() - 3);
            Reply::Bytes(b)
        }),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "incomplete frame: need 3 more bytes",
    );
}
