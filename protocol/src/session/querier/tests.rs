use super::*;
use crate::audit::note::KeyType;
use crate::error::VerifyError;
use crate::ident::Options;
use crate::session::testing::{signed_epoch, signing_public, TestHolder};

fn params(mode: QueryMode, items: &[&str]) -> ExchangeParams {
    let rows: Vec<(u64, String)> = items
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1, v.to_string()))
        .collect();
    let (hashed, map) = prepare(Kind::Phone, &rows, &Options::default()).expect("items");
    ExchangeParams {
        me: "th".into(),
        partner: "jp".into(),
        collection: CollectionName::parse("phones").expect("name"),
        kind: Kind::Phone,
        mode,
        descriptor_key: signing_public(),
        receipt_key: VerifierKey::new("jp", KeyType::Ed25519, signing_public()).expect("key"),
        inputs: Arc::new(hashed),
        items: Arc::new(map),
    }
}

fn hello() -> AuditHello {
    AuditHello {
        checkpoint: "c".into(),
        proof_from: 0,
        proof: vec![],
        seen: 0,
        cosignature: None,
    }
}

/// Drives `ex` against `holder` until it ends.
fn drive(ex: &mut Exchange, holder: &TestHolder) -> Result<Answer, ExchangeError> {
    let mut frames = std::collections::VecDeque::new();
    loop {
        match ex.poll() {
            Step::Send(req) => frames = holder.serve(&req).into(),
            Step::Receive => match frames.pop_front() {
                Some(f) => ex.handle(f, 1_500),
                None => ex.fail(ExchangeError::ConnectionLost("closed".into())),
            },
            Step::LoadCache => ex.load_cache(None),
            Step::Persist(_) => ex.persisted(),
            Step::Blind => ex.blind(&mut rand::rngs::OsRng),
            Step::LogSent(_) => ex.logged(hello()),
            Step::Verify => ex.verify(),
            Step::Done(a) => return Ok(*a),
            Step::Failed(e) => return Err(e),
        }
    }
}

#[test]
fn an_honest_exchange_finds_the_held_items_in_both_modes() {
    let holder = TestHolder::new(&["+66812345678", "+66812345679"]);
    let items = ["+66812345678", "+66899999999", "+66812345679"];
    let mut ex = Exchange::new(params(QueryMode::Match, &items), None);
    let a = drive(&mut ex, &holder).unwrap();
    assert_eq!(a.filter, FilterSource::Full);
    let lines: Vec<u64> = a.hits.iter().map(|h| h.line).collect();
    assert_eq!(lines, vec![1, 3]);
    assert_eq!((a.found, a.count, a.items), (2, None, 3));
    let mut ex = Exchange::new(params(QueryMode::Count, &items), None);
    let a = drive(&mut ex, &holder).unwrap();
    assert_eq!((a.count, a.hits.len()), (Some(2), 0));
    // Driving a finished exchange is refused, never a panic.
    assert!(matches!(ex.poll(), Step::Failed(ExchangeError::Local(_))));
}

#[test]
fn steps_out_of_order_fail_the_exchange() {
    let mut ex = Exchange::new(params(QueryMode::Match, &["+66812345678"]), None);
    assert!(matches!(
        ex.poll(),
        Step::Send(PartnerRequest::GetDescriptor { .. })
    ));
    ex.persisted();
    assert!(
        matches!(ex.poll(), Step::Failed(ExchangeError::Local(m)) if m.contains("out of order"))
    );
}

#[test]
fn sessions_can_move_between_threads() {
    fn movable<T: Send + 'static>() {}
    movable::<Exchange>();
    movable::<Step>();
    movable::<PartnerEpoch>();
    movable::<crate::session::witness::PartnerAudit>();
}

#[test]
fn filter_fetch_checks_the_size_first_and_every_chunk() {
    let (_, d, filter) = signed_epoch(&[[1; 32]], &[]);
    let bytes = filter.as_bytes().to_vec();
    let total = bytes.len() as u64;
    let mut f = FilterFetch::new(&d);
    let wrong = f.handle(PartnerResponse::FilterStart {
        epoch: d.epoch,
        total_bytes: total - 1,
    });
    assert!(
        matches!(wrong, Err(ExchangeError::Invalid(VerifyError::FilterMismatch(m))) if m.contains("announced"))
    );
    let mut f = FilterFetch::new(&d);
    f.handle(PartnerResponse::FilterStart {
        epoch: d.epoch,
        total_bytes: total,
    })
    .unwrap();
    let over = f.handle(PartnerResponse::FilterChunk {
        bytes: vec![0; total as usize + 1],
    });
    assert!(
        matches!(over, Err(ExchangeError::Invalid(VerifyError::FilterMismatch(m))) if m.contains("overrun"))
    );
    let mut f = FilterFetch::new(&d);
    f.handle(PartnerResponse::FilterStart {
        epoch: d.epoch,
        total_bytes: total,
    })
    .unwrap();
    assert_eq!(
        f.handle(PartnerResponse::FilterChunk {
            bytes: bytes[..10].to_vec()
        })
        .unwrap(),
        None
    );
    let got = f
        .handle(PartnerResponse::FilterChunk {
            bytes: bytes[10..].to_vec(),
        })
        .unwrap();
    assert_eq!(got, Some(bytes));
}

#[test]
fn delta_fetch_checks_echoes_pieces_and_the_chain() {
    let tags = [[1u8; 32], [2; 32], [3; 32]];
    let (_, d, _) = signed_epoch(&[[9; 32]], &tags[..2]);
    let piece = |from, t: &[[u8; 32]]| PartnerResponse::Delta {
        epoch: d.epoch,
        from,
        tags: crate::messages::pack(t),
    };
    // Pieces, and a last piece beyond the signed count, cut to it.
    let mut f = DeltaFetch::new(&d, 0, [0; 32]);
    f.handle(piece(0, &tags[..1])).unwrap();
    assert!(matches!(
        f.request(),
        Some(PartnerRequest::GetDelta { from: 1, .. })
    ));
    f.handle(piece(1, &tags[1..])).unwrap();
    assert!(f.request().is_none());
    assert_eq!(f.finish().unwrap(), tags[..2].to_vec());
    // Another position, an empty piece, another chain.
    let mut f = DeltaFetch::new(&d, 0, [0; 32]);
    assert!(matches!(
        f.handle(piece(1, &tags[..1])),
        Err(ExchangeError::Malformed(_))
    ));
    let mut f = DeltaFetch::new(&d, 0, [0; 32]);
    assert!(matches!(
        f.handle(piece(0, &[])),
        Err(ExchangeError::Invalid(VerifyError::DeltaMismatch(m))) if m.contains("no tags from position 0")
    ));
    let mut f = DeltaFetch::new(&d, 0, [0; 32]);
    f.handle(piece(0, &[tags[1], tags[0]])).unwrap();
    assert!(matches!(
        f.finish(),
        Err(ExchangeError::Invalid(VerifyError::DeltaMismatch(_)))
    ));
}

#[test]
fn receipts_are_checked_field_by_field() {
    let holder = TestHolder::new(&["+66812345678"]);
    let key = VerifierKey::new("jp", KeyType::Ed25519, signing_public()).unwrap();
    let req = EvaluateRequest {
        query_id: ByteArray::new([4; 16]),
        collection: "phones".into(),
        epoch: 3,
        blinded: vec![7; 64],
        mode: QueryMode::Match,
        audit: None,
    };
    let note = crate::session::holder::evaluate::receipt(&req, "jp", "th", 1)
        .sign(&TestHolder::receipt_signer())
        .unwrap();
    let digest = request_digest(&req.blinded);
    let want = ExpectedReceipt {
        exchange_id: &[4; 16],
        querier: "th",
        collection: "phones",
        epoch: 3,
        items: 2,
        request_digest: &digest,
        mode: QueryMode::Match,
    };
    check_receipt(&note, &key, &want).unwrap();
    let wrong = ExpectedReceipt {
        querier: "us",
        items: 3,
        mode: QueryMode::Count,
        ..want
    };
    let e = check_receipt(&note, &key, &wrong).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the holder's receipt is not valid: it disagrees with the request on: querier, item count, mode"
    );
    assert!(check_receipt("", &key, &want).is_err());
    drop(holder);
}
