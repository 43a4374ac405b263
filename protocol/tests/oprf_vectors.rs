// RFC 9497 test vectors (ristretto255-SHA512) and Cordon-specific checks of the OPRF module:
// strict decoding, proof soundness against tampering, and agreement between the querier's
// path (blind → evaluate → unblind → tag) and the holder's path (`holder_tags`).

use cordon_protocol::oprf::*;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use serde_json::Value;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/vectors/oprf/ristretto255-sha512.json"
));

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s)
        .try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("expected {N} bytes, got {}", v.len()))
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {name}"))
}

/// Batched vectors hold comma-separated lists.
fn list(v: &Value, name: &str) -> Vec<String> {
    field(v, name).split(',').map(str::to_owned).collect()
}

fn scalar(s: &str) -> Scalar {
    Option::from(Scalar::from_canonical_bytes(arr::<32>(s))).expect("canonical scalar in vector")
}

#[derive(Default, Debug)]
struct Counts {
    vectors: usize,
    outputs: usize,
    proofs: usize,
    batched_proofs: usize,
}

fn check_suite(suite: &Value, counts: &mut Counts) {
    let mode = match suite["mode"].as_u64() {
        Some(0) => Mode::Oprf,
        Some(1) => Mode::Voprf,
        // Mode 2 is POPRF (public metadata), which Cordon does not implement.
        Some(2) => return,
        other => panic!("unexpected mode {other:?}"),
    };
    assert_eq!(field(suite, "identifier"), SUITE_ID);
    let group_dst = [b"HashToGroup-".as_slice(), &context_string(mode)].concat();
    assert_eq!(unhex(field(suite, "groupDST")), group_dst);

    let seed = arr::<32>(field(suite, "seed"));
    let info = unhex(field(suite, "keyInfo"));
    let (sk, pk) = derive_key_pair(mode, &seed, &info).unwrap();
    assert_eq!(
        hex::encode(sk.to_bytes()),
        field(suite, "skSm"),
        "{mode:?} skSm"
    );
    if mode == Mode::Voprf {
        assert_eq!(
            hex::encode(pk.to_bytes()),
            field(suite, "pkSm"),
            "{mode:?} pkSm"
        );
        assert_eq!(
            PublicKey::from_bytes(&arr(field(suite, "pkSm"))).unwrap(),
            pk
        );
    }
    assert_eq!(SecretKey::from_bytes(&sk.to_bytes()).unwrap(), sk);

    let vectors = suite["vectors"].as_array().expect("vectors array");
    for v in vectors {
        let batch = v["Batch"].as_u64().expect("Batch") as usize;
        let inputs: Vec<Vec<u8>> = list(v, "Input").iter().map(|s| unhex(s)).collect();
        let blinds: Vec<Scalar> = list(v, "Blind").iter().map(|s| scalar(s)).collect();
        let blinded_hex = list(v, "BlindedElement");
        let evaluated_hex = list(v, "EvaluationElement");
        let outputs = list(v, "Output");
        for n in [
            inputs.len(),
            blinds.len(),
            blinded_hex.len(),
            evaluated_hex.len(),
            outputs.len(),
        ] {
            assert_eq!(n, batch, "batch size of {mode:?} vector");
        }

        // Blind
        let blinded: Vec<RistrettoPoint> = inputs
            .iter()
            .zip(&blinds)
            .map(|(input, b)| blind_with(mode, input, *b).unwrap())
            .collect();
        assert_eq!(
            compress_batch(&blinded)
                .iter()
                .map(hex::encode)
                .collect::<Vec<_>>(),
            blinded_hex,
            "{mode:?} BlindedElement"
        );
        // The wire form decodes back to the same elements.
        let wire: Vec<[u8; 32]> = blinded_hex.iter().map(|s| arr(s)).collect();
        assert_eq!(decode_elements(&wire).unwrap(), blinded);

        // BlindEvaluate
        let evaluated = blind_evaluate(&sk, &blinded);
        assert_eq!(
            compress_batch(&evaluated)
                .iter()
                .map(hex::encode)
                .collect::<Vec<_>>(),
            evaluated_hex,
            "{mode:?} EvaluationElement"
        );

        // Proof (VOPRF)
        if mode == Mode::Voprf {
            let p = &v["Proof"];
            let r = scalar(field(p, "r"));
            let want = arr::<64>(field(p, "proof"));
            let proof = generate_proof_with(mode, &sk, &pk, &blinded, &evaluated, r).unwrap();
            assert_eq!(
                hex::encode(proof.to_bytes()),
                field(p, "proof"),
                "{mode:?} Proof"
            );
            let decoded = Proof::from_bytes(&want).unwrap();
            assert_eq!(decoded, proof);
            verify_proof(mode, &pk, &blinded, &evaluated, &decoded).unwrap();

            // A modified proof is rejected, whichever half is changed.
            let bumped_s = Proof {
                c: proof.c,
                s: proof.s + Scalar::ONE,
            };
            let bumped_c = Proof {
                c: proof.c + Scalar::ONE,
                s: proof.s,
            };
            for bad in [bumped_s, bumped_c] {
                assert_eq!(
                    verify_proof(mode, &pk, &blinded, &evaluated, &bad),
                    Err(OprfError::ProofInvalid)
                );
            }
            // So is a bit flip in the encoding (either non-canonical, or a different proof).
            let mut flipped = want;
            flipped[40] ^= 0x01;
            match Proof::from_bytes(&flipped) {
                Err(e) => assert_eq!(e, OprfError::InvalidScalar),
                Ok(bad) => assert_eq!(
                    verify_proof(mode, &pk, &blinded, &evaluated, &bad),
                    Err(OprfError::ProofInvalid)
                ),
            }
            // The proof is bound to the mode (context string).
            assert_eq!(
                verify_proof(Mode::Oprf, &pk, &blinded, &evaluated, &proof),
                Err(OprfError::ProofInvalid)
            );
            if batch > 1 {
                let mut swapped = evaluated.clone();
                swapped.swap(0, 1);
                assert_eq!(
                    verify_proof(mode, &pk, &blinded, &swapped, &proof),
                    Err(OprfError::ProofInvalid)
                );
                counts.batched_proofs += 1;
            }
            counts.proofs += 1;
        }

        // Finalize, and the server-side Evaluate
        for i in 0..batch {
            let out = finalize(&inputs[i], &blinds[i], &evaluated[i]).unwrap();
            assert_eq!(hex::encode(out), outputs[i], "{mode:?} Output");
            let direct = evaluate(mode, &sk, &inputs[i]).unwrap();
            assert_eq!(hex::encode(direct), outputs[i], "{mode:?} Evaluate");
            counts.outputs += 1;
        }
        counts.vectors += 1;
    }
}

#[test]
fn rfc9497_vectors() {
    let suites: Value = serde_json::from_str(VECTORS).expect("vector JSON");
    let suites = suites.as_array().expect("array of suites");
    let mut counts = Counts::default();
    for suite in suites {
        check_suite(suite, &mut counts);
    }
    println!("RFC 9497 ristretto255-SHA512 vectors checked: {counts:?}");
    // The file has 2 OPRF and 3 VOPRF vectors (one of them a batch of 2): make sure none was
    // silently skipped.
    assert_eq!(counts.vectors, 5, "{counts:?}");
    assert_eq!(counts.outputs, 6, "{counts:?}");
    assert_eq!(counts.proofs, 3, "{counts:?}");
    assert_eq!(counts.batched_proofs, 1, "{counts:?}");
}

#[test]
fn decode_rejects_identity_and_non_canonical() {
    assert_eq!(
        decode_element(&[0u8; 32]),
        Err(OprfError::IdentityElement { index: 0 })
    );
    assert_eq!(
        decode_element(&[0xff; 32]),
        Err(OprfError::InvalidElement { index: 0 })
    );
    // A "negative" field element (odd low bit) is not a canonical encoding.
    let mut negative = [0u8; 32];
    negative[0] = 1;
    assert_eq!(
        decode_element(&negative),
        Err(OprfError::InvalidElement { index: 0 })
    );
    // p = 2^255 - 19 encodes zero non-canonically.
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    assert_eq!(
        decode_element(&p),
        Err(OprfError::InvalidElement { index: 0 })
    );

    let good = RistrettoPoint::mul_base(&cordon_protocol::oprf::random_scalar(&mut OsRng))
        .compress()
        .to_bytes();
    assert!(decode_element(&good).is_ok());
    // Large lists go through the parallel path; the error names the lowest bad index.
    let mut list = vec![good; 500];
    list[321] = [0xff; 32];
    list[400] = [0u8; 32];
    assert_eq!(
        decode_elements(&list),
        Err(OprfError::InvalidElement { index: 321 })
    );
    list[321] = good;
    assert_eq!(
        decode_elements(&list),
        Err(OprfError::IdentityElement { index: 400 })
    );
    list[400] = good;
    assert_eq!(decode_elements(&list).unwrap().len(), 500);

    assert!(PublicKey::from_bytes(&[0u8; 32]).is_err());
    assert!(PublicKey::from_bytes(&[0xff; 32]).is_err());
}

#[test]
fn scalar_encodings_are_strict() {
    assert_eq!(
        SecretKey::from_bytes(&[0u8; 32]).unwrap_err(),
        OprfError::InvalidScalar
    );
    assert_eq!(
        SecretKey::from_bytes(&[0xff; 32]).unwrap_err(),
        OprfError::InvalidScalar
    );
    assert_eq!(
        Proof::from_bytes(&[0xff; 64]).unwrap_err(),
        OprfError::InvalidScalar
    );
    let (sk, pk) = generate_key_pair(&mut OsRng);
    assert_eq!(sk.public_key(), pk);
    assert!(!format!("{sk:?}").contains(&hex::encode(sk.to_bytes())));
    assert_eq!(
        blind_with(Mode::Voprf, b"x", Scalar::ZERO),
        Err(OprfError::InvalidScalar)
    );
    let long = vec![0u8; MAX_INPUT_LEN + 1];
    assert_eq!(
        blind(Mode::Voprf, &long, &mut OsRng).unwrap_err(),
        OprfError::InputTooLong {
            index: 0,
            len: MAX_INPUT_LEN + 1
        }
    );
    assert!(evaluate(Mode::Voprf, &sk, &long).is_err());
    let too_long: Vec<&[u8]> = vec![b"a", b"b", &long];
    assert_eq!(
        holder_tags(&sk, &too_long).unwrap_err(),
        OprfError::InputTooLong {
            index: 2,
            len: MAX_INPUT_LEN + 1
        }
    );
}

/// The querier's tags (blind → holder evaluates and proves → verify → unblind → tag) equal
/// the holder's own tags for the same inputs, in match mode and in count mode.
#[test]
fn querier_and_holder_tags_agree() {
    let mut rng = OsRng;
    let (sk, pk) = generate_key_pair(&mut rng);
    let owned: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("+66 81 000 {i:04}").into_bytes())
        .collect();
    let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let holder = holder_tags(&sk, &inputs).unwrap();
    assert_eq!(holder.len(), 100);
    let unique: std::collections::HashSet<_> = holder.iter().collect();
    assert_eq!(unique.len(), 100, "distinct inputs give distinct tags");

    // Match mode, single-item API.
    for (input, want) in inputs.iter().zip(&holder).take(5) {
        let (b, blinded) = blind(Mode::Voprf, input, &mut rng).unwrap();
        let evaluated = blind_evaluate(&sk, &[blinded]);
        let proof =
            generate_proof(Mode::Voprf, &sk, &pk, &[blinded], &evaluated, &mut rng).unwrap();
        verify_proof(Mode::Voprf, &pk, &[blinded], &evaluated, &proof).unwrap();
        assert_eq!(tag_of_element(&unblind(&b, &evaluated[0])), *want);
        // RFC Finalize and the server's Evaluate still agree on the same blinded exchange.
        assert_eq!(
            finalize(input, &b, &evaluated[0]).unwrap(),
            evaluate(Mode::Voprf, &sk, input).unwrap()
        );
    }

    // Match mode, batch API.
    let (blinds, blinded) = blind_batch(Mode::Voprf, &inputs, &mut rng).unwrap();
    let wire = compress_batch(&blinded);
    let received = decode_elements(&wire).unwrap();
    let evaluated = blind_evaluate(&sk, &received);
    let proof = generate_proof(Mode::Voprf, &sk, &pk, &received, &evaluated, &mut rng).unwrap();
    let evaluated = decode_elements(&compress_batch(&evaluated)).unwrap();
    let proof = Proof::from_bytes(&proof.to_bytes()).unwrap();
    verify_proof(Mode::Voprf, &pk, &blinded, &evaluated, &proof).unwrap();
    let unblinded = unblind_batch(&blinds, &evaluated).unwrap();
    assert_eq!(tags_of_elements(&unblinded), holder);
    for (u, t) in unblinded.iter().zip(&holder) {
        assert_eq!(tag_of_element(u), *t);
    }

    // Swapped evaluations, a wrong key, or a dropped item make the proof fail.
    let mut swapped = evaluated.clone();
    swapped.swap(10, 57);
    assert_eq!(
        verify_proof(Mode::Voprf, &pk, &blinded, &swapped, &proof),
        Err(OprfError::ProofInvalid)
    );
    let (other_sk, other_pk) = generate_key_pair(&mut rng);
    assert_eq!(
        verify_proof(Mode::Voprf, &other_pk, &blinded, &evaluated, &proof),
        Err(OprfError::ProofInvalid)
    );
    let wrong = blind_evaluate(&other_sk, &blinded);
    let wrong_proof = generate_proof(
        Mode::Voprf,
        &other_sk,
        &other_pk,
        &blinded,
        &wrong,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        verify_proof(Mode::Voprf, &pk, &blinded, &wrong, &wrong_proof),
        Err(OprfError::ProofInvalid)
    );
    // One element evaluated with another key, proof made with the right key: rejected.
    let mut mixed = evaluated.clone();
    mixed[99] = wrong[99];
    let mixed_proof = generate_proof(Mode::Voprf, &sk, &pk, &blinded, &mixed, &mut rng).unwrap();
    assert_eq!(
        verify_proof(Mode::Voprf, &pk, &blinded, &mixed, &mixed_proof),
        Err(OprfError::ProofInvalid)
    );
    assert_eq!(
        verify_proof(Mode::Voprf, &pk, &blinded[..99], &evaluated, &proof),
        Err(OprfError::LengthMismatch {
            blinded: 99,
            evaluated: 100
        })
    );
    assert_eq!(
        verify_proof(Mode::Voprf, &pk, &blinded[..99], &evaluated[..99], &proof),
        Err(OprfError::ProofInvalid)
    );
    assert!(verify_proof(Mode::Voprf, &pk, &[], &[], &proof).is_err());
    assert!(unblind_batch(&blinds[..99], &evaluated).is_err());

    // Count mode: one blind for the batch; the holder proves, then shuffles its answers.
    let shared = blinds[0];
    let blinded = blind_batch_shared(Mode::Voprf, &inputs[..60], &shared).unwrap();
    let evaluated = blind_evaluate(&sk, &blinded);
    let proof = generate_proof(Mode::Voprf, &sk, &pk, &blinded, &evaluated, &mut rng).unwrap();
    verify_proof(Mode::Voprf, &pk, &blinded, &evaluated, &proof).unwrap();
    let mut shuffled = evaluated.clone();
    shuffled.shuffle(&mut rand::thread_rng());
    let mut got = tags_of_elements(&unblind_shared(&shared, &shuffled).unwrap());
    let mut want = holder[..60].to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// Batches large enough to take the parallel paths (multiscalar multiplication split across
/// threads, parallel composites) still verify, and still catch a swap.
#[test]
fn large_batch_proof() {
    let mut rng = OsRng;
    let (sk, pk) = generate_key_pair(&mut rng);
    let owned: Vec<Vec<u8>> = (0..5000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let inputs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let (blinds, blinded) = blind_batch(Mode::Voprf, &inputs, &mut rng).unwrap();
    let evaluated = blind_evaluate(&sk, &blinded);
    let proof = generate_proof(Mode::Voprf, &sk, &pk, &blinded, &evaluated, &mut rng).unwrap();
    verify_proof(Mode::Voprf, &pk, &blinded, &evaluated, &proof).unwrap();
    let mut swapped = evaluated.clone();
    swapped.swap(1, 4999);
    assert_eq!(
        verify_proof(Mode::Voprf, &pk, &blinded, &swapped, &proof),
        Err(OprfError::ProofInvalid)
    );
    let tags = tags_of_elements(&unblind_batch(&blinds, &evaluated).unwrap());
    assert_eq!(tags, holder_tags(&sk, &inputs).unwrap());
}
