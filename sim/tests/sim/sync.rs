//! The sync (spec/PROTOCOL.md §4.2–§4.4, §5.5, §5.8, §6.5): the descriptor's checks, the
//! filter's and the delta's, and the retry after `stale_epoch`.

use serde_bytes::ByteArray;

use cordon_protocol::audit::entry::EntryKind;
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::filter::filter_capacity;
use cordon_protocol::ident::Kind;
use cordon_protocol::messages::{pack, unpack, PartnerRequest, PartnerResponse};
use cordon_protocol::session::querier::ExchangeError;
use cordon_protocol::session::sync::FilterSource;
use cordon_protocol::VerifyError;
use cordon_sim::{about, always, liar, Reply};
use sha2::{Digest, Sha256};

use crate::support::*;

// ---- stale_epoch: the whole attempt once more (§6.5) ----

/// After answering its first descriptor request honestly, `jp` rotates.
fn rotate_after_first_descriptor(fed: &mut cordon_sim::Federation, every: bool) {
    fed.lie(
        "jp",
        about(liar::descriptor, move |mut l| {
            let frames = l.honest.clone();
            if every || l.seen == 0 {
                l.rotate("emails").unwrap();
            }
            Reply::Frames(frames)
        }),
    );
}

#[test]
fn a_rotation_before_the_evaluation_is_retried_once_from_a_fresh_descriptor() {
    let mut fed = federation(21);
    answered(&ask_jp(&mut fed));
    rotate_after_first_descriptor(&mut fed, false);
    let o = ask_jp(&mut fed);
    let a = answered(&o);
    assert_eq!((o.attempts, a.epoch, a.filter), (2, 2, FilterSource::Full));
    assert_eq!(hit_lines(a), vec![1, 2]);
    // The holder refused the first evaluation; the querier sent two, with unrelated ids.
    let jp = fed.node("jp").unwrap();
    let refused = jp.entries(EntryKind::QueryRefused);
    assert!(refused[0]
        .reason
        .as_ref()
        .unwrap()
        .starts_with("stale_epoch: "));
    let th = fed.node("th").unwrap();
    let sent = th.entries(EntryKind::QuerySent);
    assert_eq!(sent.len(), 3);
    assert_ne!(sent[1].exchange_id, sent[2].exchange_id);
    assert_eq!((sent[1].epoch, sent[2].epoch), (Some(1), Some(2)));
    assert_eq!(refused[0].exchange_id, sent[1].exchange_id);
}

#[test]
fn a_rotation_during_the_sync_is_retried_too() {
    let mut fed = federation(22);
    rotate_after_first_descriptor(&mut fed, false);
    // No cache: the filter of epoch 1 is asked, and refused as stale.
    let o = ask_jp(&mut fed);
    assert_eq!((o.attempts, answered(&o).epoch), (2, 2));
    assert_eq!(
        fed.node("th").unwrap().entries(EntryKind::QuerySent).len(),
        1
    );
}

#[test]
fn the_retry_blinds_afresh_and_its_descriptor_refusal_is_reported() {
    // The blinded elements of both attempts, as jp received them.
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut fed = federation(24);
    answered(&ask_jp(&mut fed));
    let log = seen.clone();
    fed.lie(
        "jp",
        about(
            |_| true,
            move |mut l| {
                if let Some(PartnerRequest::Evaluate(r)) = l.request {
                    log.borrow_mut().push(r.blinded.clone());
                }
                let frames = l.honest.clone();
                if matches!(l.request, Some(PartnerRequest::GetDescriptor { .. })) && l.seen == 0 {
                    l.rotate("emails").unwrap();
                }
                Reply::Frames(frames)
            },
        ),
    );
    assert_eq!(ask_jp(&mut fed).attempts, 2);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0], seen[1], "fresh blinds per attempt");
    // The retry's descriptor refused: reported with its code.
    let mut fed = federation(25);
    answered(&ask_jp(&mut fed));
    fed.lie(
        "jp",
        about(liar::descriptor, |mut l| {
            if l.seen == 0 {
                let frames = l.honest.clone();
                l.rotate("emails").unwrap();
                return Reply::Frames(frames);
            }
            Reply::Frames(vec![PartnerResponse::Error(
                cordon_protocol::RemoteError::new(
                    cordon_protocol::ErrorCode::Internal,
                    "re-signing failed",
                ),
            )])
        }),
    );
    let o = ask_jp(&mut fed);
    assert_eq!(o.attempts, 2);
    assert_failed(&o, "refused:internal", "jp refused: re-signing failed");
}

#[test]
fn a_second_stale_epoch_is_reported() {
    let mut fed = federation(23);
    rotate_after_first_descriptor(&mut fed, true);
    let o = ask_jp(&mut fed);
    assert_eq!(o.attempts, 2);
    assert_refused(&o, "stale_epoch");
    assert_failed(
        &o,
        "refused:stale_epoch",
        "jp refused: epoch 2 of `emails` is no longer current (now 3)",
    );
}

// ---- the descriptor (§5.8) ----

/// A change a liar makes to its descriptor before re-signing it.
type Change = fn(&mut EpochDescriptor);

/// `jp` serves its descriptor changed by `change` and re-signed with its key.
fn descriptor_lie(seed: u64, change: impl Fn(&mut EpochDescriptor)) -> cordon_sim::PartnerOutcome {
    let mut fed = federation(seed);
    let (_, mut d) = signed(&fed, "jp");
    change(&mut d);
    let desc = resign(&fed, "jp", &d);
    fed.lie("jp", always(liar::descriptor, vec![desc]));
    ask_jp(&mut fed)
}

#[test]
fn every_check_of_the_descriptor() {
    // 1. The signature, under the pinned key.
    let mut fed = federation(24);
    fed.lie(
        "jp",
        about(liar::descriptor, |l| {
            l.map(|r| match r {
                PartnerResponse::Descriptor(mut d) => {
                    d.signature[0] ^= 1;
                    PartnerResponse::Descriptor(d)
                }
                other => other,
            })
        }),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "does not verify under the pinned signing key of `jp`",
    );
    // ...and a descriptor signed well, by another key.
    let mut fed = federation(24);
    let (_, d) = signed(&fed, "jp");
    let other = SignedDescriptor::sign(&d, fed.node("us").unwrap().keys().descriptor()).unwrap();
    fed.lie(
        "jp",
        always(liar::descriptor, vec![PartnerResponse::Descriptor(other)]),
    );
    assert_failed(&ask_jp(&mut fed), "invalid_answer", "pinned signing key");
    // 2. A body that is no descriptor, signed.
    let mut fed = federation(24);
    let body = serde_bytes::ByteBuf::from(vec![0xa0]);
    let key = fed.node("jp").unwrap().keys().descriptor();
    let mut msg = cordon_protocol::descriptor::DESCRIPTOR_CONTEXT.to_vec();
    msg.extend_from_slice(&body);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(key.sign(&msg).as_ref());
    let garbage = SignedDescriptor {
        body,
        signature: ByteArray::new(sig),
    };
    fed.lie(
        "jp",
        always(liar::descriptor, vec![PartnerResponse::Descriptor(garbage)]),
    );
    assert_failed(&ask_jp(&mut fed), "invalid_answer", "body does not decode");
    // 3.–7. Version, node, collection, capacity, validity.
    let cases: [(u64, Change, &str); 6] = [
        (25, |d| d.version = 2, "descriptor version 2"),
        (
            26,
            |d| d.node = "us".into(),
            "signed for node `us`, expected `jp`",
        ),
        (
            27,
            |d| d.collection = "phones".into(),
            "signed for collection `phones`",
        ),
        (
            28,
            |d| d.filter.capacity = 10,
            "filter sized for 10 records",
        ),
        (
            29,
            |d| d.not_after = d.issued_at - 1,
            "outside its validity period",
        ),
        (30, |d| d.issued_at += 400, "outside its validity period"),
    ];
    for (seed, change, needle) in cases {
        assert_failed(&descriptor_lie(seed, change), "invalid_answer", needle);
    }
    // An issue time up to 300 s ahead is clock skew, not a lie.
    answered(&descriptor_lie(31, |d| d.issued_at += 300));
}

#[test]
fn the_kind_is_checked_before_anything_is_fetched() {
    let mut fed = federation(32);
    let mut q = query(vec!["hello".into()], &["jp"]);
    q.kind = Kind::Text;
    let o = fed.query("th", &q).unwrap();
    let o = o.of("jp").unwrap();
    assert!(matches!(o.result, Err(ExchangeError::KindMismatch { .. })));
    assert_failed(
        o,
        "kind_mismatch",
        "jp's collection `emails` holds `email` identifiers, but the items were read as `text`",
    );
    assert!(fed.node("th").unwrap().cached("jp", "emails").is_none());
}

#[test]
fn every_check_of_the_signed_filter_parameters() {
    let cases: [(Change, &str); 6] = [
        (|d| d.filter.bitmap_bytes = 0, "out of range"),
        (|d| d.filter.bitmap_bytes = (1 << 30) + 1, "out of range"),
        (
            |d| d.filter.seed = ByteArray::new([1; 32]),
            "the seed is not derived",
        ),
        (|d| d.filter.fp_rate = 1e-5, "weaker than the accepted"),
        (|d| d.filter.bitmap_bytes += 1, "bitmap bytes declared"),
        (|d| d.filter.hashes -= 1, "hash functions declared"),
    ];
    for (i, (change, needle)) in cases.into_iter().enumerate() {
        let o = descriptor_lie(40 + i as u64, change);
        assert!(matches!(
            o.result,
            Err(ExchangeError::Invalid(VerifyError::FilterMismatch(_)))
        ));
        assert_failed(&o, "invalid_answer", needle);
    }
    // A delta longer than a holder that rebuilds at its threshold ever signs.
    let o = descriptor_lie(46, |d| {
        d.delta_count = 2 * filter_capacity(d.record_count) + 1
    });
    assert_failed(
        &o,
        "invalid_answer",
        "delta records signed for a filter of 10; at most 2048 are accepted",
    );
}

// ---- the filter (§4.3, §5.5) ----

fn filter_lie(
    seed: u64,
    lie: impl Fn(Vec<PartnerResponse>) -> Vec<PartnerResponse> + 'static,
) -> cordon_sim::PartnerOutcome {
    let mut fed = federation(seed);
    fed.lie(
        "jp",
        about(liar::filter, move |l| Reply::Frames(lie(l.honest))),
    );
    let o = ask_jp(&mut fed);
    assert!(
        fed.node("th").unwrap().cached("jp", "emails").is_none(),
        "nothing cached"
    );
    assert!(
        fed.node("th")
            .unwrap()
            .entries(EntryKind::QuerySent)
            .is_empty(),
        "nothing sent"
    );
    o
}

fn start_of(frames: &[PartnerResponse]) -> (u64, u64) {
    match frames.first() {
        Some(PartnerResponse::FilterStart { epoch, total_bytes }) => (*epoch, *total_bytes),
        _ => panic!("no filter_start"),
    }
}

#[test]
fn a_filter_announced_with_another_size_or_epoch_is_refused_before_anything_is_read() {
    for (seed, dsize, depoch) in [(50, -1i64, 0u64), (51, 1, 0), (52, 0, 1)] {
        let o = filter_lie(seed, move |mut f| {
            let (epoch, total) = start_of(&f);
            f[0] = PartnerResponse::FilterStart {
                epoch: epoch + depoch,
                total_bytes: (total as i64 + dsize) as u64,
            };
            f
        });
        assert_failed(&o, "invalid_answer", "filter of epoch");
        assert_failed(&o, "invalid_answer", "announced; the descriptor signs");
    }
}

#[test]
fn filter_chunks_that_overrun_are_refused() {
    let o = filter_lie(53, |mut f| {
        if let Some(PartnerResponse::FilterChunk { bytes }) = f.last_mut() {
            bytes.push(0);
        }
        f
    });
    assert_failed(&o, "invalid_answer", "filter chunks overrun the announced");
}

#[test]
fn filter_bytes_that_do_not_match_the_digest_are_refused() {
    let o = filter_lie(54, |mut f| {
        if let Some(PartnerResponse::FilterChunk { bytes }) = f.last_mut() {
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
        }
        f
    });
    assert_failed(&o, "invalid_answer", "digest differs from the signed one");
}

#[test]
fn a_filter_whose_header_disagrees_with_its_signed_parameters_is_refused() {
    // The liar signs the digest of a filter whose header states another hash count.
    let mut fed = federation(55);
    let e = fed
        .node("jp")
        .unwrap()
        .collection("emails")
        .unwrap()
        .epoch()
        .clone();
    let mut bytes = e.filter.clone();
    bytes[9] ^= 1;
    let mut d = e.descriptor.clone();
    d.filter_digest = ByteArray::new(Sha256::digest(&bytes).into());
    let desc = resign(&fed, "jp", &d);
    let frames = cordon_protocol::session::holder::filter_frames(1, &bytes);
    fed.lie(
        "jp",
        about(
            |_| true,
            move |l| match l.request {
                Some(PartnerRequest::GetFilter { .. }) => Reply::Frames(frames.clone()),
                Some(PartnerRequest::GetDescriptor { .. }) => Reply::Frames(vec![desc.clone()]),
                _ => l.honest(),
            },
        ),
    );
    assert_failed(
        &ask_jp(&mut fed),
        "invalid_answer",
        "header disagrees with the signed parameters",
    );
}

#[test]
fn another_message_instead_of_the_filter_is_malformed() {
    let o = filter_lie(56, |_| {
        vec![PartnerResponse::FilterChunk { bytes: vec![1] }]
    });
    assert_failed(
        &o,
        "invalid_answer",
        "expected a `filter_start` answer, got `filter_chunk`",
    );
    let o = filter_lie(57, |mut f| {
        f.truncate(1);
        f.push(PartnerResponse::Delta {
            epoch: 1,
            from: 0,
            tags: vec![],
        });
        f
    });
    assert_failed(
        &o,
        "invalid_answer",
        "expected a `filter_chunk` answer, got `delta`",
    );
    // A refusal in the middle of the chunks.
    let o = filter_lie(59, |mut f| {
        f.truncate(1);
        f.push(PartnerResponse::Error(cordon_protocol::RemoteError::new(
            cordon_protocol::ErrorCode::Internal,
            "disk",
        )));
        f
    });
    assert_failed(&o, "refused:internal", "jp refused: disk");
    // A stream that ends before the whole filter arrived.
    let o = filter_lie(58, |mut f| {
        f.truncate(1);
        f
    });
    assert_failed(
        &o,
        "connection_lost",
        "jp dropped the exchange before answering (the peer closed the stream without answering)",
    );
}

// ---- the delta (§4.4, §5.7) ----

/// `jp` with two records added to its epoch (a delta of 2), and `th` with epoch 1 cached
/// before (`cached`) or nothing.
fn with_delta(seed: u64, cached: bool) -> cordon_sim::Federation {
    let mut fed = federation(seed);
    if cached {
        answered(&ask_jp(&mut fed));
    }
    fed.import("jp", "emails", Kind::Email, &emails(10, 2))
        .unwrap();
    fed
}

fn delta_lie(
    seed: u64,
    cached: bool,
    lie: impl Fn(u64, u64, Vec<[u8; 32]>) -> PartnerResponse + 'static,
) -> cordon_sim::PartnerOutcome {
    let mut fed = with_delta(seed, cached);
    let before = fed
        .node("th")
        .unwrap()
        .cached("jp", "emails")
        .map(|c| c.version());
    fed.lie(
        "jp",
        about(liar::delta, move |l| {
            let honest = l.honest.clone();
            match honest.as_slice() {
                [PartnerResponse::Delta { epoch, from, tags }] => {
                    Reply::Frames(vec![lie(*epoch, *from, unpack("tags", tags).unwrap())])
                }
                _ => l.honest(),
            }
        }),
    );
    let o = ask_jp(&mut fed);
    let after = fed
        .node("th")
        .unwrap()
        .cached("jp", "emails")
        .map(|c| c.version());
    assert_eq!(before, after, "cache unchanged");
    o
}

#[test]
fn a_delta_with_no_tags_is_refused() {
    for cached in [false, true] {
        let o = delta_lie(60, cached, |epoch, from, _| PartnerResponse::Delta {
            epoch,
            from,
            tags: vec![],
        });
        assert_failed(&o, "invalid_answer", "but the descriptor signs 2");
    }
}

#[test]
fn a_short_delta_is_asked_again_and_a_forged_one_refused() {
    // One tag per piece: the querier asks again from where it ended, and accepts.
    let mut fed = with_delta(61, true);
    fed.lie(
        "jp",
        about(liar::delta, |l| {
            l.map(|r| match r {
                PartnerResponse::Delta { epoch, from, tags } => PartnerResponse::Delta {
                    epoch,
                    from,
                    tags: tags[..32].to_vec(),
                },
                other => other,
            })
        }),
    );
    let o = ask_jp(&mut fed);
    assert_eq!(
        (answered(&o).filter, hit_lines(answered(&o))),
        (FilterSource::Delta, vec![1, 2, 3, 4])
    );
    assert_eq!(
        fed.node("jp").unwrap().log().entries().len(),
        2,
        "two answers only"
    );
    // Tags swapped, replaced, or one of another delta: the chain does not hold.
    for cached in [false, true] {
        let o = delta_lie(62, cached, |epoch, from, mut tags| {
            tags.swap(0, 1);
            PartnerResponse::Delta {
                epoch,
                from,
                tags: pack(&tags),
            }
        });
        assert_failed(
            &o,
            "invalid_answer",
            "the delta tags do not chain to the signed digest",
        );
        let o = delta_lie(63, cached, |epoch, from, mut tags| {
            tags[1] = [9; 32];
            PartnerResponse::Delta {
                epoch,
                from,
                tags: pack(&tags),
            }
        });
        assert_failed(&o, "invalid_answer", "do not chain");
    }
}

#[test]
fn a_delta_for_another_position_or_epoch_is_malformed() {
    let o = delta_lie(64, true, |epoch, from, tags| PartnerResponse::Delta {
        epoch,
        from: from + 1,
        tags: pack(&tags),
    });
    assert_failed(
        &o,
        "invalid_answer",
        "delta for position 1 of epoch 1, asked position 0 of epoch 1",
    );
    let o = delta_lie(65, false, |epoch, from, tags| PartnerResponse::Delta {
        epoch: epoch + 1,
        from,
        tags: pack(&tags),
    });
    assert_failed(
        &o,
        "invalid_answer",
        "delta for position 0 of epoch 2, asked position 0 of epoch 1",
    );
    let o = delta_lie(66, true, |epoch, from, tags| PartnerResponse::Delta {
        epoch,
        from,
        tags: pack(&tags)[1..].to_vec(),
    });
    assert_failed(&o, "invalid_answer", "not a multiple of 32");
    let o = delta_lie(67, true, |_, _, _| PartnerResponse::FilterChunk {
        bytes: vec![],
    });
    assert_failed(
        &o,
        "invalid_answer",
        "expected a `delta` answer, got `filter_chunk`",
    );
}

#[test]
fn a_delta_beyond_the_signed_count_is_cut_to_it() {
    // jp signs a delta of 2, then imports 2 more; a querier holding that descriptor receives
    // 4 tags and keeps the 2 signed.
    let mut fed = with_delta(68, false);
    let (signed2, _) = signed(&fed, "jp");
    fed.import("jp", "emails", Kind::Email, &emails(12, 2))
        .unwrap();
    fed.lie(
        "jp",
        always(liar::descriptor, vec![PartnerResponse::Descriptor(signed2)]),
    );
    let o = fed.query("th", &query(emails(9, 5), &["jp"])).unwrap();
    let a = answered(o.of("jp").unwrap());
    // Users 9..14: 9 in the filter, 10 and 11 in the signed delta; 12 and 13 not signed.
    assert_eq!(hit_lines(a), vec![1, 2, 3]);
    assert_eq!(
        fed.node("th")
            .unwrap()
            .cached("jp", "emails")
            .unwrap()
            .delta_list
            .len(),
        2
    );
}
