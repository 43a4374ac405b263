//! A lying holder against the querier: descriptors swapped or replayed, epochs at the top of
//! the range, deltas and filters cut in odd ways, answers replayed or computed for another
//! batch, receipts bent, refusals used to loop or to smuggle text, forks shown to concurrent
//! syncs, and a count raised with planted multiples.

use std::cell::Cell;
use std::rc::Rc;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::Scalar;

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::audit::note::sign_note;
use cordon_protocol::audit::receipt::Receipt;
use cordon_protocol::error::{ErrorCode, RemoteError};
use cordon_protocol::filter::chain_delta;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::{pack, unpack, PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::oprf::{self, Tag};
use cordon_protocol::session::holder::evaluate;
use cordon_protocol::session::querier::ExchangeError;
use cordon_protocol::session::sync::{FilterSource, Rollback};
use cordon_sim::{about, always, liar, Federation, Lie, PartnerOutcome, Reply};

use super::support::*;
use crate::support::*;

fn refusal(code: ErrorCode, message: &str) -> PartnerResponse {
    PartnerResponse::Error(RemoteError::new(code, message))
}

/// A count of requests a script saw, readable after the query.
fn counter() -> (Rc<Cell<usize>>, Rc<Cell<usize>>) {
    let c = Rc::new(Cell::new(0));
    (c.clone(), c)
}

// ---- descriptors ----

#[test]
fn genuine_descriptors_of_another_collection_or_partner_are_refused() {
    // jp's own descriptor of its other collection, signed by jp.
    let mut fed = federation(200);
    fed.import("jp", "phones", Kind::Phone, &["+66812345678".into()])
        .unwrap();
    let phones = fed
        .node("jp")
        .unwrap()
        .collection("phones")
        .unwrap()
        .epoch()
        .signed
        .clone();
    fed.lie(
        "jp",
        always(liar::descriptor, vec![PartnerResponse::Descriptor(phones)]),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "signed for collection `phones`, expected `emails`",
    );
    // us's descriptor of the same collection, served by jp: not under jp's key.
    let mut fed = federation(201);
    let (theirs, _) = signed(&fed, "us");
    fed.lie(
        "jp",
        always(liar::descriptor, vec![PartnerResponse::Descriptor(theirs)]),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "does not verify under the pinned signing key of `jp`",
    );
}

#[test]
fn the_retry_descriptor_of_another_kind_is_refused() {
    // The first descriptor is of the items' kind; after a stale_epoch, the fresh one is not.
    let mut fed = federation(202);
    fed.lie(
        "jp",
        about(liar::descriptor, |mut l| {
            if l.seen == 0 {
                let frames = l.honest.clone();
                l.rotate("emails").unwrap();
                return Reply::Frames(frames);
            }
            let PartnerResponse::Descriptor(s) = &l.honest[0] else {
                return l.honest();
            };
            let mut d = s.descriptor_unverified().unwrap();
            d.kind = "phone".into();
            let key = l.holder.keys().descriptor();
            Reply::Frames(vec![PartnerResponse::Descriptor(
                cordon_protocol::descriptor::SignedDescriptor::sign(&d, key).unwrap(),
            )])
        }),
    );
    let o = ask_jp(&mut fed);
    assert_eq!(o.attempts, 2);
    assert!(
        matches!(o.result, Err(ExchangeError::KindMismatch { .. })),
        "{:?}",
        o.result
    );
    assert!(fed.node("th").unwrap().cached("jp", "emails").is_none());
}

#[test]
fn a_stale_epoch_answered_with_the_same_epoch_again_is_refused() {
    // jp refuses the evaluation as stale, then signs the very epoch it refused: the retry
    // would send the same evaluation again.
    let mut fed = federation(203);
    fed.lie(
        "jp",
        about(liar::evaluate, |_| {
            Reply::Frames(vec![refusal(
                ErrorCode::StaleEpoch,
                "epoch 1 of `emails` is no longer current",
            )])
        }),
    );
    let o = ask_jp(&mut fed);
    assert_eq!(o.attempts, 2);
    assert!(
        matches!(
            o.result,
            Err(ExchangeError::Rollback(Rollback::StaleNotNewer {
                refused: 1,
                signed: 1
            }))
        ),
        "{:?}",
        o.result
    );
    assert_failed(
        &o,
        "invalid_answer",
        "it refused epoch 1 as no longer current, then signed epoch 1",
    );
    // One evaluation only was sent.
    assert_eq!(
        fed.node("th").unwrap().entries(EntryKind::QuerySent).len(),
        1
    );
}

#[test]
fn a_stale_epoch_answered_with_an_older_epoch_cannot_bring_back_a_deleted_record() {
    // jp deletes user 8 (which rotates its key), but kept the old epoch: it signs the new
    // epoch, calls it stale when the querier asks for its filter, and serves the old one on
    // the retry. The querier holds no cache, so no rollback rule of §6.4 sees it; the
    // descriptor it verified moments before does.
    let mut fed = federation(204);
    let old = jp_epoch(&fed);
    assert_eq!(fed.delete("jp", "emails", &emails(8, 1)).unwrap(), 1);
    let (fetched, _) = counter();
    let seen = fetched.clone();
    fed.lie(
        "jp",
        about(
            |_| true,
            move |mut l| {
                let n = seen.get();
                seen.set(n + 1);
                match (n, l.request) {
                    (0, _) => l.honest(),
                    (1, Some(PartnerRequest::GetFilter { .. })) => Reply::Frames(vec![refusal(
                        ErrorCode::StaleEpoch,
                        "epoch 2 of `emails` is no longer current",
                    )]),
                    _ => serve_old(&old, &mut l).unwrap_or_else(|| l.honest()),
                }
            },
        ),
    );
    let o = ask_jp(&mut fed);
    assert!(
        matches!(
            o.result,
            Err(ExchangeError::Rollback(Rollback::StaleNotNewer {
                refused: 2,
                signed: 1
            }))
        ),
        "{:?}",
        o.result
    );
    assert_eq!(fetched.get(), 3, "nothing asked of the old epoch");
    assert!(fed.node("th").unwrap().cached("jp", "emails").is_none());
}

#[test]
fn an_epoch_at_the_top_of_the_range_works_and_pins_the_partner() {
    // jp numbers its epoch u64::MAX (serving epoch 1 under that number): nothing overflows,
    // and the honest epoch 1 that follows is a rollback.
    let mut fed = federation(205);
    fed.lie(
        "jp",
        Box::new(|l: Lie<'_>| {
            let Lie {
                from,
                request,
                honest,
                holder,
                now,
                rng,
                ..
            } = l;
            let at_max = |r: &PartnerRequest| -> PartnerRequest {
                let mut r = r.clone();
                match &mut r {
                    PartnerRequest::GetFilter { epoch, .. }
                    | PartnerRequest::GetDelta { epoch, .. } => *epoch = 1,
                    PartnerRequest::Evaluate(e) => e.epoch = 1,
                    _ => {}
                }
                r
            };
            let Some(req) = request else {
                return Reply::Frames(honest);
            };
            let frames = match req {
                PartnerRequest::GetDescriptor { .. } => {
                    let PartnerResponse::Descriptor(s) = &honest[0] else {
                        return Reply::Frames(honest);
                    };
                    let mut d = s.descriptor_unverified().unwrap();
                    d.epoch = u64::MAX;
                    let key = holder.keys().descriptor();
                    vec![PartnerResponse::Descriptor(
                        cordon_protocol::descriptor::SignedDescriptor::sign(&d, key).unwrap(),
                    )]
                }
                _ => holder
                    .serve(from, at_max(req), now, rng)
                    .into_iter()
                    .map(|r| match (r, req) {
                        (PartnerResponse::FilterStart { total_bytes, .. }, _) => {
                            PartnerResponse::FilterStart {
                                epoch: u64::MAX,
                                total_bytes,
                            }
                        }
                        (PartnerResponse::Evaluated(mut ev), PartnerRequest::Evaluate(e)) => {
                            ev.epoch = u64::MAX;
                            ev.receipt = evaluate::receipt(e, "jp", from, now)
                                .sign(&holder.keys().receipt)
                                .unwrap();
                            PartnerResponse::Evaluated(ev)
                        }
                        (r, _) => r,
                    })
                    .collect(),
            };
            Reply::Frames(frames)
        }),
    );
    let o = ask_jp(&mut fed);
    let a = answered(&o);
    assert_eq!((a.epoch, hit_lines(a)), (u64::MAX, vec![1, 2]));
    fed.stop_lying("jp");
    let o = ask_jp(&mut fed);
    assert!(
        matches!(
            o.result,
            Err(ExchangeError::Rollback(Rollback::OlderEpoch {
                signed: 1,
                cached: u64::MAX
            }))
        ),
        "{:?}",
        o.result
    );
}

// ---- deltas and filters ----

/// What `jp` answers, signing `delta` (in place of its own, empty one) and serving it in
/// pieces of `piece`: its descriptor and delta requests (others are left to the caller).
fn planted(fed: &Federation, delta: Vec<Tag>, piece: usize) -> impl Fn(&Lie<'_>) -> Option<Reply> {
    let (_, mut d) = signed(fed, "jp");
    d.delta_count = delta.len() as u64;
    d.delta_chain = serde_bytes::ByteArray::new(chain_delta([0; 32], &delta));
    let desc = resign(fed, "jp", &d);
    move |l: &Lie<'_>| match l.request? {
        PartnerRequest::GetDelta { epoch, from, .. } => {
            let at = (*from as usize).min(delta.len());
            let end = (at + piece).min(delta.len());
            Some(Reply::Frames(vec![PartnerResponse::Delta {
                epoch: *epoch,
                from: *from,
                tags: pack(&delta[at..end]),
            }]))
        }
        PartnerRequest::GetDescriptor { .. } => Some(Reply::Frames(vec![desc.clone()])),
        _ => None,
    }
}

/// `jp` lies as [`planted`] says.
fn planted_delta(fed: &mut Federation, delta: Vec<Tag>, piece: usize) {
    let lie = planted(fed, delta, piece);
    fed.lie(
        "jp",
        Box::new(move |l| lie(&l).unwrap_or_else(|| l.honest())),
    );
}

/// The tags of `values` (e-mail addresses) under `jp`'s current key.
fn tags_at_jp(fed: &Federation, values: &[String]) -> Vec<Tag> {
    let inputs: Vec<String> = values.iter().map(|v| format!("email:{v}")).collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    tags_at(fed, "jp", "emails", &inputs)
}

#[test]
fn a_delta_of_exactly_the_bound_is_fetched_and_used() {
    // 10 records: a filter of 1,024, a delta of at most 2,048 (one more is refused before
    // anything is fetched: sync::every_check_of_the_signed_filter_parameters).
    let mut fed = federation(206);
    let mut delta = tags_at_jp(&fed, &emails(10, 2));
    delta.extend((0..2046u32).map(|i| {
        let mut t = [0xd0; 32];
        t[..4].copy_from_slice(&i.to_be_bytes());
        t
    }));
    planted_delta(&mut fed, delta, 1000);
    let o = ask_jp(&mut fed);
    assert_eq!(hit_lines(answered(&o)), vec![1, 2, 3, 4]);
    let th = fed.node("th").unwrap();
    assert_eq!(th.cached("jp", "emails").unwrap().delta_list.len(), 2048);
}

#[test]
fn delta_pieces_duplicated_or_reordered_do_not_chain() {
    let mut fed = federation(207);
    let honest = tags_at_jp(&fed, &emails(10, 2));
    planted_delta(&mut fed, honest.clone(), 1);
    // Signed [a, b]; a liar answering each one-tag piece with the tag of the other position,
    // or with the first tag twice.
    for (seed, lie) in [
        (208u64, [honest[1], honest[0]]),
        (209, [honest[0], honest[0]]),
    ] {
        let mut fed = federation(seed);
        let (_, mut d) = signed(&fed, "jp");
        d.delta_count = 2;
        d.delta_chain = serde_bytes::ByteArray::new(chain_delta([0; 32], &honest));
        let desc = resign(&fed, "jp", &d);
        fed.lie(
            "jp",
            about(
                |r| liar::descriptor(r) || liar::delta(r),
                move |l| match l.request {
                    Some(PartnerRequest::GetDelta { epoch, from, .. }) => {
                        Reply::Frames(vec![PartnerResponse::Delta {
                            epoch: *epoch,
                            from: *from,
                            tags: lie[*from as usize].to_vec(),
                        }])
                    }
                    _ => Reply::Frames(vec![desc.clone()]),
                },
            ),
        );
        assert_failed(&ask_jp(&mut fed), "invalid_answer", "do not chain");
    }
    // The control: the same pieces in order.
    assert_eq!(hit_lines(answered(&ask_jp(&mut fed))), vec![1, 2, 3, 4]);
}

#[test]
fn a_filter_in_one_byte_and_empty_chunks_is_put_together_and_checked() {
    let mut fed = federation(210);
    fed.lie(
        "jp",
        about(liar::filter, |l| {
            let mut frames = vec![l.honest[0].clone()];
            for f in &l.honest[1..] {
                let PartnerResponse::FilterChunk { bytes } = f else {
                    continue;
                };
                for b in bytes {
                    frames.push(PartnerResponse::FilterChunk { bytes: vec![] });
                    frames.push(PartnerResponse::FilterChunk { bytes: vec![*b] });
                }
            }
            Reply::Frames(frames)
        }),
    );
    let o = ask_jp(&mut fed);
    assert_eq!(
        (answered(&o).filter, hit_lines(answered(&o))),
        (FilterSource::Full, vec![1, 2])
    );
    // A second filter_start in the stream is no chunk.
    let mut fed = federation(211);
    fed.lie(
        "jp",
        about(liar::filter, |l| {
            let mut frames = l.honest.clone();
            frames.insert(1, l.honest[0].clone());
            Reply::Frames(frames)
        }),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "expected a `filter_chunk` answer, got `filter_start`",
    );
}

// ---- answers ----

#[test]
fn an_earlier_answer_replayed_for_a_new_query_is_refused() {
    let mut fed = federation(212);
    let kept = Rc::new(std::cell::RefCell::new(None));
    let keep = kept.clone();
    fed.lie(
        "jp",
        about(liar::evaluate, move |l| {
            let PartnerResponse::Evaluated(ev) = &l.honest[0] else {
                return l.honest();
            };
            let Some(PartnerRequest::Evaluate(req)) = l.request else {
                return l.honest();
            };
            let earlier = keep.borrow_mut().replace(ev.clone());
            match earlier {
                None => l.honest(),
                // The first answer, made to look like one to this request.
                Some(mut old) => {
                    old.query_id = req.query_id;
                    old.epoch = req.epoch;
                    Reply::Frames(vec![PartnerResponse::Evaluated(old)])
                }
            }
        }),
    );
    answered(&ask_jp(&mut fed));
    let o = ask_jp(&mut fed);
    assert_failed(
        &o,
        "invalid_answer",
        "it disagrees with the request on: exchange id, request digest",
    );
}

#[test]
fn a_proved_answer_to_another_batch_is_refused() {
    // jp evaluates and proves a batch whose first element is its own choice (a record it
    // wants to see hit), with a receipt of that batch or of the one sent.
    for (seed, receipt_of_sent) in [(213u64, true), (214, false)] {
        let mut fed = federation(seed);
        fed.lie(
            "jp",
            about(liar::evaluate, move |l| {
                let Some(PartnerRequest::Evaluate(sent)) = l.request else {
                    return l.honest();
                };
                let mut other = sent.clone();
                let p = oprf::hash_to_group(oprf::Mode::Voprf, b"email:user0@example.org");
                other.blinded[..32].copy_from_slice(p.compress().as_bytes());
                let e = l.holder.collection("emails").unwrap().epoch().clone();
                let out = evaluate::evaluate(&e.sk, &e.pk, &other, &mut *l.rng).unwrap();
                let which = if receipt_of_sent { sent } else { &other };
                let receipt = evaluate::receipt(which, "jp", l.from, l.now)
                    .sign(&l.holder.keys().receipt)
                    .unwrap();
                Reply::Frames(vec![PartnerResponse::Evaluated(evaluate::answer(
                    sent, out, receipt, None,
                ))])
            }),
        );
        let o = ask_jp(&mut fed);
        let needle = if receipt_of_sent {
            "the holder's proof does not verify"
        } else {
            "it disagrees with the request on: request digest"
        };
        assert_failed(&o, "invalid_answer", needle);
    }
}

/// `th` asks `jp` in count mode about `items`, `jp` answering every evaluation by `lie`.
fn count_lie(
    seed: u64,
    items: Vec<String>,
    lie: impl Fn(&mut Lie<'_>) -> Option<Reply> + 'static,
) -> (Federation, PartnerOutcome) {
    let mut fed = federation(seed);
    fed.lie(
        "jp",
        about(liar::evaluate, move |mut l| {
            lie(&mut l).unwrap_or_else(|| l.honest())
        }),
    );
    let mut q = query(items, &["jp"]);
    q.mode = QueryMode::Count;
    let out = fed.query("th", &q).unwrap();
    let o = out.of("jp").unwrap().clone();
    (fed, o)
}

/// The honest count answer's elements, changed by `change`.
fn count_answer(
    l: &Lie<'_>,
    change: impl Fn(Vec<RistrettoPoint>) -> Vec<[u8; 32]>,
) -> Option<Reply> {
    let PartnerResponse::Evaluated(mut ev) = l.honest[0].clone() else {
        return None;
    };
    let e = oprf::decode_elements(&unpack("e", &ev.evaluated).ok()?).ok()?;
    ev.evaluated = pack(&change(e));
    Some(Reply::Frames(vec![PartnerResponse::Evaluated(ev)]))
}

#[test]
fn count_answers_reversed_count_the_same_and_bad_elements_are_refused() {
    // Any order of the honest answers is an honest answer.
    let (_, o) = count_lie(215, emails(8, 4), |l| {
        count_answer(l, |mut e| {
            e.reverse();
            oprf::compress_batch(&e)
        })
    });
    assert_eq!(answered(&o).count, Some(2));
    // The identity, or bytes that are no element, in place of an answer.
    for (seed, bad) in [(216u64, [0u8; 32]), (217, [0xff; 32])] {
        let (_, o) = count_lie(seed, emails(8, 4), move |l| {
            count_answer(l, |e| {
                let mut b = oprf::compress_batch(&e);
                b[0] = bad;
                b
            })
        });
        assert_failed(&o, "invalid_answer", "invalid field `evaluated`");
    }
}

#[test]
fn count_mode_can_be_raised_by_a_holder_that_plants_multiples_of_its_records() {
    // What the sum proof does not give (spec §5.2 claims a count cannot be raised): jp puts in
    // its delta the tags of j·k·H(x), j = 2..8, for each of its records x, and answers a count
    // query with j·E_1 (j = 1..n−1) and one compensating element, keeping the sum and so the
    // honest proof. If the first item it multiplies is held, the querier counts it n−1 times.
    // Asserted so that a change of this property is seen.
    let mut fed = federation(218);
    let e = jp_epoch(&fed);
    let k = scalar(&e.sk);
    let mut planted_tags = Vec::new();
    for x in emails(0, 10) {
        let u = oprf::hash_to_group(oprf::Mode::Voprf, format!("email:{x}").as_bytes()) * k;
        for j in 2..=8u64 {
            planted_tags.push(oprf::tag_of_element(&(u * Scalar::from(j))));
        }
    }
    let sync = planted(&fed, planted_tags, 1000);
    let multiply = move |l: &mut Lie<'_>| {
        let Some(PartnerRequest::Evaluate(req)) = l.request else {
            return None;
        };
        let c = oprf::decode_elements(&unpack("b", &req.blinded).ok()?).ok()?;
        let evaluated: Vec<RistrettoPoint> = c.iter().map(|c| c * k).collect();
        let sum: RistrettoPoint = evaluated.iter().sum();
        let n = evaluated.len();
        let mut f: Vec<RistrettoPoint> = (1..n as u64)
            .map(|j| evaluated[0] * Scalar::from(j))
            .collect();
        let rest: RistrettoPoint = f.iter().sum();
        f.push(sum - rest);
        count_answer(l, |_| oprf::compress_batch(&f))
    };
    fed.lie(
        "jp",
        Box::new(move |mut l: Lie<'_>| {
            let lie = sync(&l).or_else(|| multiply(&mut l));
            lie.unwrap_or_else(|| l.honest())
        }),
    );
    // User 8 held, users 100..103 not: an honest count is 1.
    let mut items = emails(8, 1);
    items.extend(emails(100, 4));
    let mut q = query(items, &["jp"]);
    q.mode = QueryMode::Count;
    let out = fed.query("th", &q).unwrap();
    assert_eq!(answered(out.of("jp").unwrap()).count, Some(4));
}

// ---- receipts ----

#[test]
fn receipts_with_extra_lines_spaces_or_other_line_ends_are_refused() {
    type Bend = fn(String) -> String;
    let bends: [(Bend, &str); 5] = [
        (|b| format!("{b}note hello\n"), "expected the line"),
        (|b| b.replace("\ntime ", "\ntime  "), "has a space"),
        (
            |b| b.replace("\nquerier ", "\nquerier\u{a0}"),
            "expected the field `querier`",
        ),
        (|b| format!("\n{b}"), "expected the line"),
        (|b| b.replace("\nitems ", "\nitems 0"), "not canonical"),
    ];
    for (i, (bend, needle)) in bends.into_iter().enumerate() {
        let mut fed = federation(220 + i as u64);
        fed.lie(
            "jp",
            about(liar::evaluate, move |l| {
                let (Some(PartnerRequest::Evaluate(req)), PartnerResponse::Evaluated(ev)) =
                    (l.request, &l.honest[0])
                else {
                    return l.honest();
                };
                let body = evaluate::receipt(req, "jp", l.from, l.now)
                    .to_body()
                    .unwrap();
                let mut ev = ev.clone();
                ev.receipt = sign_note(&bend(body), &[&l.holder.keys().receipt]).unwrap();
                Reply::Frames(vec![PartnerResponse::Evaluated(ev)])
            }),
        );
        let o = ask_jp(&mut fed);
        assert_failed(&o, "invalid_answer", "the holder's receipt is not valid");
        assert_failed(&o, "invalid_answer", needle);
    }
    // The receipt's parser is the one the querier trusts: a well-formed one passes it.
    let r = Receipt::parse(
        &evaluate::receipt(
            &evaluation(&mut federation(225), "emails", 1, 1, 1),
            "jp",
            "th",
            1,
        )
        .to_body()
        .unwrap(),
    );
    assert!(r.is_ok());
}

// ---- refusals and peer text ----

#[test]
fn stale_epoch_on_every_request_ends_after_one_retry() {
    // jp rotates on every descriptor asked and calls everything else stale: descriptor,
    // filter, descriptor, filter, and the second refusal is reported.
    let mut fed = federation(226);
    let (asked, seen) = counter();
    fed.lie(
        "jp",
        about(
            |_| true,
            move |mut l| {
                seen.set(seen.get() + 1);
                match l.request {
                    Some(PartnerRequest::GetDescriptor { .. }) => {
                        let frames = l.honest.clone();
                        l.rotate("emails").unwrap();
                        Reply::Frames(frames)
                    }
                    _ => Reply::Frames(vec![refusal(ErrorCode::StaleEpoch, "again")]),
                }
            },
        ),
    );
    let o = ask_jp(&mut fed);
    assert_eq!((o.attempts, asked.get()), (2, 4));
    assert_refused(&o, "stale_epoch");
    // Without rotating, the retry's descriptor is the refused epoch: no more is asked.
    let mut fed = federation(227);
    let (asked, seen) = counter();
    fed.lie(
        "jp",
        about(
            |_| true,
            move |l| {
                seen.set(seen.get() + 1);
                match l.request {
                    Some(PartnerRequest::GetDescriptor { .. }) => l.honest(),
                    _ => Reply::Frames(vec![refusal(ErrorCode::StaleEpoch, "again")]),
                }
            },
        ),
    );
    let o = ask_jp(&mut fed);
    assert_eq!((o.attempts, asked.get()), (2, 3));
    assert_failed(
        &o,
        "invalid_answer",
        "it refused epoch 1 as no longer current",
    );
    // Refusing the descriptor itself with stale_epoch is no reason to retry at all.
    let mut fed = federation(228);
    let (asked, seen) = counter();
    fed.lie(
        "jp",
        about(
            |_| true,
            move |_| {
                seen.set(seen.get() + 1);
                Reply::Frames(vec![refusal(ErrorCode::StaleEpoch, "again")])
            },
        ),
    );
    let o = ask_jp(&mut fed);
    assert_eq!((o.attempts, asked.get()), (1, 1));
}

#[test]
fn a_huge_refusal_with_escapes_is_cut_and_cleaned() {
    let mut fed = federation(234);
    let message = format!(
        "\u{1b}[2J\u{1b}]0;owned\u{7}\u{202e}evil\u{0}{}",
        "x".repeat(1 << 20)
    );
    fed.lie(
        "jp",
        about(liar::evaluate, move |_| {
            Reply::Frames(vec![refusal(ErrorCode::Internal, &message)])
        }),
    );
    let o = ask_jp(&mut fed);
    let f = o.failure.as_ref().unwrap();
    assert!(f.message.len() < 1000, "{} bytes", f.message.len());
    assert!(!unclean(&f.message), "{:?}", f.message);
    let logged = fed.node("th").unwrap().entries(EntryKind::QueryFailed)[0]
        .reason
        .clone()
        .unwrap();
    assert!(logged.len() < 1000 && !unclean(&logged));
}

#[test]
fn peer_text_quoted_by_a_rejection_is_cut_and_cleaned() {
    let dirty = format!("\u{1b}]0;owned\u{7}\u{2066}{}", "y".repeat(100_000));
    // A message kind that does not exist, named by the partner (the decoder quotes up to
    // 4 KiB of it).
    let mut payload = vec![0xa1];
    payload.extend(cbor_text(&dirty.as_bytes()[..4000]));
    payload.push(0);
    let bytes = frame(&payload);
    let mut fed = federation(229);
    fed.lie(
        "jp",
        about(liar::descriptor, move |_| Reply::Bytes(bytes.clone())),
    );
    let o = ask_jp(&mut fed);
    // A signed descriptor naming the partner (or its kind) in escapes.
    type Dirty = fn(&mut cordon_protocol::descriptor::EpochDescriptor, String);
    let changes: [(u64, Dirty, &str); 2] = [
        (230, |d, s| d.node = s, "invalid_answer"),
        (231, |d, s| d.kind = s, "kind_mismatch"),
    ];
    let mut outcomes = vec![(o, "invalid_answer")];
    for (seed, change, code) in changes {
        let mut fed = federation(seed);
        let (_, mut d) = signed(&fed, "jp");
        change(&mut d, dirty.clone());
        let desc = resign(&fed, "jp", &d);
        fed.lie("jp", always(liar::descriptor, vec![desc]));
        outcomes.push((ask_jp(&mut fed), code));
    }
    for (o, code) in outcomes {
        let f = o.failure.as_ref().unwrap();
        assert_eq!(f.code.to_string(), code, "{}", f.message);
        assert!(f.message.len() < 1000, "{} bytes", f.message.len());
        assert!(!unclean(&f.message), "{:?}", &f.message[..100]);
    }
}

// ---- concurrent syncs ----

#[test]
fn two_forks_of_one_epoch_shown_to_concurrent_syncs_are_refused() {
    // th asks jp twice at once (two exchanges from one cache). jp signs its real delta to the
    // first and another delta of the same length to the second: each verifies against the
    // cache as it was, so only the store can see that they contradict each other.
    let mut fed = federation(232);
    answered(&ask_jp(&mut fed));
    fed.import("jp", "emails", Kind::Email, &emails(10, 2))
        .unwrap();
    let (_, mut d) = signed(&fed, "jp");
    let forged: Vec<Tag> = vec![[0xf1; 32], [0xf2; 32]];
    d.delta_chain = serde_bytes::ByteArray::new(chain_delta([0; 32], &forged));
    let fork = resign(&fed, "jp", &d);
    let (descriptors, deltas) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    fed.lie(
        "jp",
        about(
            |r| liar::descriptor(r) || liar::delta(r),
            move |l| {
                let count = match l.request {
                    Some(PartnerRequest::GetDelta { .. }) => &deltas,
                    _ => &descriptors,
                };
                let second = count.get() == 1;
                count.set(count.get() + 1);
                match (second, l.request) {
                    (false, _) => l.honest(),
                    (true, Some(PartnerRequest::GetDelta { epoch, from, .. })) => {
                        Reply::Frames(vec![PartnerResponse::Delta {
                            epoch: *epoch,
                            from: *from,
                            tags: pack(&forged),
                        }])
                    }
                    (true, _) => Reply::Frames(vec![fork.clone()]),
                }
            },
        ),
    );
    let out = fed
        .query("th", &query(emails(8, 4), &["jp", "jp"]))
        .unwrap();
    answered(&out.partners[0]);
    let second = &out.partners[1];
    assert!(
        matches!(
            second.result,
            Err(ExchangeError::Rollback(Rollback::ChainForked))
        ),
        "{:?}",
        second.result
    );
    // The cache keeps the state first stored, not the fork.
    let th = fed.node("th").unwrap();
    let cached = th.cached("jp", "emails").unwrap();
    assert_eq!(cached.delta_list, tags_at_jp(&fed, &emails(10, 2)));
    // And a later honest query goes on from it.
    fed.stop_lying("jp");
    assert_eq!(answered(&ask_jp(&mut fed)).filter, FilterSource::Cached);
}
