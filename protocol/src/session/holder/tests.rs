use super::*;
use crate::session::policy::Grant;

struct View {
    policy: Policy,
    epoch: Option<u64>,
}

impl HolderView for View {
    type Epoch = ();
    fn node(&self) -> &str {
        "th"
    }
    fn policy(&self) -> &Policy {
        &self.policy
    }
    fn max_items_per_query(&self) -> u64 {
        10
    }
    fn current_epoch(&self, _: &str) -> Option<CurrentEpoch<()>> {
        self.epoch.map(|number| CurrentEpoch {
            number,
            delta_len: 3,
            epoch: (),
        })
    }
}

fn view(epoch: Option<u64>) -> View {
    View {
        policy: Policy::new(
            "th",
            vec![Grant {
                partner: "jp".into(),
                collections: vec!["phones".into()],
                modes: vec![crate::messages::QueryMode::Match],
                daily_items: 100,
                max_items_per_query: None,
                followup: false,
            }],
        ),
        epoch,
    }
}

#[test]
fn the_gate_checks_the_name_then_the_grant() {
    let v = view(Some(2));
    let req = |c: &str| PartnerRequest::GetFilter {
        collection: c.into(),
        epoch: 2,
    };
    assert_eq!(
        gate(&v.policy, "jp", &req("Bad Name")).unwrap_err().code,
        ErrorCode::BadRequest
    );
    let e = gate(&v.policy, "jp", &req("emails")).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotShared);
    assert_eq!(e.message, "th does not share collection `emails` with jp");
    assert!(gate(&v.policy, "us", &req("phones")).is_err());
    gate(&v.policy, "jp", &req("phones")).unwrap();
    assert_eq!(named_collection(&req("x")).unwrap().0, "get_filter");
}

#[test]
fn epochs_and_delta_positions() {
    let e = epoch_at(&view(None), "phones", 2).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownCollection);
    assert_eq!(e.message, "th holds no collection named `phones`");
    let e = epoch_at(&view(Some(3)), "phones", 2).unwrap_err();
    assert_eq!(e.code, ErrorCode::StaleEpoch);
    assert_eq!(
        e.message,
        "epoch 2 of `phones` is no longer current (now 3); fetch the descriptor again"
    );
    assert_eq!(epoch_at(&view(Some(2)), "phones", 2).unwrap().delta_len, 3);
    let tags = [[1u8; 32], [2; 32], [3; 32]];
    let PartnerResponse::Delta { tags: t, from, .. } = delta_answer(2, 1, &tags).unwrap() else {
        panic!("not a delta")
    };
    assert_eq!((t.len(), from), (64, 1));
    assert!(matches!(
        delta_answer(2, 3, &tags),
        Ok(PartnerResponse::Delta { tags, .. }) if tags.is_empty()
    ));
    let e = delta_answer(2, 4, &tags).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::BadRequest,
            "delta position 4 is beyond the 3 tags of epoch 2"
        )
    );
    let frames = filter_frames(2, &vec![7u8; FILTER_CHUNK_BYTES + 1]);
    assert_eq!(frames.len(), 3);
}

#[test]
fn unreadable_requests_and_fresh_descriptors() {
    let e = unreadable(&Unreadable::TooSlow(Duration::from_secs(10)));
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(
        e.message,
        "the request did not arrive whole within 10s (limits.request_read_timeout)"
    );
    let e = unreadable(&Unreadable::TooLarge { len: 9, max: 8 });
    assert!(e.message.contains("`limits.max_request_bytes`"));
    let e = unreadable(&Unreadable::Malformed(WireError::TrailingBytes(1)));
    assert_eq!(e.code, ErrorCode::BadRequest);
    let mut d = crate::descriptor::tests_support::sample();
    d.issued_at = 1_000;
    d.not_after = 2_000;
    assert!(descriptor_fresh(&d, 1_400, 1_000));
    assert!(!descriptor_fresh(&d, 1_600, 1_000));
    assert!(!descriptor_fresh(&d, 900, 1_000));
}
