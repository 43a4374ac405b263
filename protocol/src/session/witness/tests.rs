use super::exchange::take_checkpoint;
use super::*;
use crate::audit::merkle::{leaf_hash, node_hash, root};
use crate::audit::note::{sign_note, Signer};
use crate::messages::pack;

fn note(s: &Signer, size: u64, root: Hash) -> String {
    let c = Checkpoint {
        origin: s.name().into(),
        size,
        root,
        extensions: vec![],
    };
    sign_note(&c.to_body().unwrap(), &[s]).unwrap()
}

#[test]
fn an_inflated_size_does_not_silence_later_checks() {
    let s = Signer::from_seed("th/audit", &[1; 32]).unwrap();
    let key = s.verifier_key();
    let leaves: Vec<Hash> = (0..4u8).map(|i| leaf_hash(&[i])).collect();
    let kept = note(&s, 4, root(&leaves));
    // A made-up proof extending size 4 to 2^40: it verifies, so the claim is kept...
    let proof: Vec<Hash> = (2..40u8).map(|i| [i; 32]).collect();
    let mut r = root(&leaves);
    for c in &proof {
        r = node_hash(&r, c);
    }
    let jam = note(&s, 1 << 40, r);
    assert!(matches!(
        check(Some(&kept), &jam, 4, &pack(&proof), &key),
        Checked::Extends(_)
    ));
    // ...but the partner's real, much smaller checkpoints are then flagged.
    let other: Vec<Hash> = (10..15u8).map(|i| leaf_hash(&[i])).collect();
    let real = note(&s, 5, root(&other));
    assert!(matches!(
        check(Some(&jam), &real, 0, &[], &key),
        Checked::Inconsistent(_)
    ));
    // A checkpoint only a little older than the kept one is just late.
    let six: Vec<Hash> = (0..6u8).map(|i| leaf_hash(&[i])).collect();
    let kept6 = note(&s, 6, root(&six));
    assert!(matches!(
        check(Some(&kept6), &kept, 0, &[], &key),
        Checked::Unverifiable(_)
    ));
    // Checkpoints whose proofs always start elsewhere are counted until one verifies.
    let keys = PartnerLogKeys {
        log: key.clone(),
        witness: Signer::from_seed("th", &[2; 32])
            .unwrap()
            .cosignature_verifier_key(),
        receipt: Signer::from_seed("th", &[3; 32]).unwrap().verifier_key(),
    };
    let me = Signer::from_seed("jp", &[4; 32]).unwrap();
    let mut state = PartnerAudit {
        theirs: Some(kept.clone()),
        ..Default::default()
    };
    let mut notes = Vec::new();
    for i in 1..=3 {
        let (cosig, alert) = take_checkpoint(
            &mut state,
            "th",
            (&kept6, 1, &[]),
            &keys,
            &me,
            9,
            &mut notes,
        )
        .unwrap();
        assert!(cosig.is_none() && alert.is_none());
        assert_eq!(state.unverified, i);
    }
    assert!(matches!(&notes[0], Note::NotCosigned(w) if w.contains("the proof starts at size 1")));
    let proof = pack(&crate::audit::merkle::consistency_proof(&six, 4).unwrap());
    let (cosig, _) = take_checkpoint(
        &mut state,
        "th",
        (&kept6, 4, &proof),
        &keys,
        &me,
        9,
        &mut notes,
    )
    .unwrap();
    assert!(cosig.is_some());
    assert_eq!(state.unverified, 0);
    assert_eq!(state.theirs.as_deref(), Some(kept6.as_str()));
    // Same size, another root: inconsistent.
    let fork = note(&s, 4, root(&other[..4]));
    assert!(matches!(
        check(Some(&kept), &fork, 4, &[], &key),
        Checked::Inconsistent(_)
    ));
}

#[test]
fn the_stored_shape_is_unchanged() {
    let state = PartnerAudit {
        theirs: Some("t".into()),
        my_cosignature: None,
        cosigned_by_them: Some("c".into()),
        known_by_them: 7,
        alerts: 1,
        unverified: 2,
    };
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(
        json,
        r#"{"theirs":"t","my_cosignature":null,"cosigned_by_them":"c","known_by_them":7,"alerts":1,"unverified":2}"#
    );
    // States written before `unverified` existed still read.
    let old: PartnerAudit = serde_json::from_str(
        r#"{"theirs":null,"my_cosignature":null,"cosigned_by_them":null,"known_by_them":0,"alerts":0}"#,
    )
    .unwrap();
    assert_eq!(old, PartnerAudit::default());
    assert_eq!(state.their_size(), 0);
    assert_eq!(note_size("o\n12\nroot\n"), Some(12));
}
