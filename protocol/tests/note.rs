//! C2SP signed-note, tlog-checkpoint and tlog-cosignature: known answers from the Go and C2SP
//! sources, round trips, refusals and properties.
//!
//! Known-answer sources:
//! - golang.org/x/mod sumdb/note note.go (package doc) and note_test.go (TestOpen, examples):
//!   PeterNeumann and EnochRoot keys and signatures. EnochRoot is the key the Go example
//!   generates from an all-zero random source, i.e. seed = 32 zero bytes.
//! - c2sp.org/signed-note (example.com/foo key and note).
//! - cmd/go's sum.golang.org verifier key.
//! - transparency-dev/formats note/note_cosigv1_test.go: type 0x01 key whose base64 holds a
//!   '+', the type 0x04 key remora.n621.de, and a cosignature with timestamp 1727964367.
//! - c2sp.org/tlog-cosignature and tlog-checkpoint: the example checkpoint and its cosignature
//!   line, whose timestamp is the "time 1679315147" of the spec's example signed message.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::cosignature::{cosign, cosignature_message, verify_cosignature};
use cordon_protocol::audit::note::{
    key_id, open_note, sign_note, KeyType, NoteError, Signer, VerifierKey, MAX_NOTE_LEN,
};
use proptest::prelude::*;

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// Go's `PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)>`, the base64 part.
const PETER_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
const FOO_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const FOO_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const PLUS_VKEY: &str = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6";
const REMORA_VKEY: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

fn peter() -> Signer {
    let raw = STANDARD.decode(PETER_SKEY_B64).unwrap();
    assert_eq!(raw[0], 0x01);
    Signer::from_seed("PeterNeumann", raw[1..].try_into().unwrap()).unwrap()
}

fn enoch() -> Signer {
    Signer::from_seed("EnochRoot", &[0u8; 32]).unwrap()
}

fn vk(s: &str) -> VerifierKey {
    VerifierKey::parse(s).unwrap()
}

fn is_malformed<T: std::fmt::Debug>(r: Result<T, NoteError>) -> bool {
    matches!(r, Err(NoteError::Malformed(_)))
}
fn is_verification<T: std::fmt::Debug>(r: Result<T, NoteError>) -> bool {
    matches!(r, Err(NoteError::Verification(_)))
}
fn is_misuse<T: std::fmt::Debug>(r: Result<T, NoteError>) -> bool {
    matches!(r, Err(NoteError::Misuse(_)))
}

// ---- known answers -------------------------------------------------------------------------

#[test]
fn go_signed_note_opens_with_published_key() {
    let note = format!("{GO_TEXT}\n{PETER_SIG}");
    let (text, names) = open_note(note.as_bytes(), &[vk(PETER_VKEY)]).unwrap();
    assert_eq!(text, GO_TEXT);
    assert_eq!(names, ["PeterNeumann"]);
}

#[test]
fn go_doubly_signed_note() {
    let note = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // One known key: Enoch's line is ignored.
    let (_, names) = open_note(note.as_bytes(), &[vk(PETER_VKEY)]).unwrap();
    assert_eq!(names, ["PeterNeumann"]);
    let (_, names) = open_note(note.as_bytes(), &[vk(ENOCH_VKEY), vk(PETER_VKEY)]).unwrap();
    assert_eq!(names, ["PeterNeumann", "EnochRoot"]);
    // No known key.
    assert!(is_verification(open_note(note.as_bytes(), &[vk(FOO_VKEY)])));
}

#[test]
fn signing_reproduces_go_signatures_byte_for_byte() {
    // Ed25519 is deterministic (RFC 8032), so the Go outputs are known answers for signing.
    let (p, e) = (peter(), enoch());
    assert_eq!(
        sign_note(GO_TEXT, &[&p]).unwrap(),
        format!("{GO_TEXT}\n{PETER_SIG}")
    );
    assert_eq!(
        sign_note(GO_TEXT, &[&p, &e]).unwrap(),
        format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}")
    );
    assert_eq!(p.verifier_key().to_string(), PETER_VKEY);
    assert_eq!(e.verifier_key().to_string(), ENOCH_VKEY);
}

#[test]
fn c2sp_example_note_opens() {
    let (text, names) = open_note(FOO_NOTE.as_bytes(), &[vk(FOO_VKEY)]).unwrap();
    assert_eq!(text, "This is an example message.\n");
    assert_eq!(names, ["example.com/foo"]);
}

#[test]
fn key_id_known_answers() {
    for (vkey, id, ty) in [
        (PETER_VKEY, 0xc74f20a3, KeyType::Ed25519),
        (ENOCH_VKEY, 0xaf0cfe78, KeyType::Ed25519),
        (FOO_VKEY, 0x530d903a, KeyType::Ed25519),
        (SUMDB_VKEY, 0x033de0ae, KeyType::Ed25519),
        (PLUS_VKEY, 0x7997405c, KeyType::Ed25519),
        (REMORA_VKEY, 0xda77ade7, KeyType::CosignatureV1),
    ] {
        let k = vk(vkey);
        assert_eq!(k.key_id(), id, "{vkey}");
        assert_eq!(k.key_type(), ty, "{vkey}");
        // The ID is recomputed from name, type and key, not copied from the text.
        assert_eq!(key_id(k.name(), ty, k.public_key()), id, "{vkey}");
        assert_eq!(k.to_string(), vkey, "vkey round trip");
    }
    // Same key, type 0x04: a different ID (domain separation of the type byte).
    let p = peter();
    assert_ne!(p.cosignature_verifier_key().key_id(), 0xc74f20a3);
    assert_eq!(
        p.cosignature_verifier_key().key_type(),
        KeyType::CosignatureV1
    );
}

#[test]
fn published_cosignature_layout() {
    // tlog-cosignature example line: key ID || u64 BE timestamp || 64-byte signature, and the
    // timestamp is the one of the spec's example signed message ("time 1679315147").
    let raw = STANDARD
        .decode("jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==")
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(
        u64::from_be_bytes(raw[4..12].try_into().unwrap()),
        1679315147
    );
    // transparency-dev/formats TestCosignatureTimestamp.
    let raw = STANDARD
        .decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")
        .unwrap();
    assert_eq!(
        u64::from_be_bytes(raw[4..12].try_into().unwrap()),
        1727964367
    );
    // The spec's example message, built from its example checkpoint.
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(
        cosignature_message(1679315147, body),
        format!("cosignature/v1\ntime 1679315147\n{body}").into_bytes()
    );
}

#[test]
fn c2sp_example_checkpoint_parses() {
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let c = Checkpoint::parse(body).unwrap();
    assert_eq!(c.origin, "example.com/behind-the-sofa");
    assert_eq!(c.size, 20852163);
    assert!(c.extensions.is_empty());
    assert_eq!(c.to_body().unwrap(), body);
}

// ---- round trips ---------------------------------------------------------------------------

fn sample_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "cordon.example/audit/node-a".into(),
        size: 42,
        root: [7u8; 32],
        extensions: vec!["epoch 3".into()],
    }
}

#[test]
fn checkpoint_round_trip_signed_and_cosigned() {
    let log = Signer::from_seed("cordon.example/audit/node-a", &[1u8; 32]).unwrap();
    let w1 = Signer::from_seed("partner-b.example/witness", &[2u8; 32]).unwrap();
    let w2 = Signer::from_seed("partner-c.example/witness", &[3u8; 32]).unwrap();
    let body = sample_checkpoint().to_body().unwrap();
    assert_eq!(Checkpoint::parse(&body).unwrap(), sample_checkpoint());

    let mut note = sign_note(&body, &[&log]).unwrap();
    let line1 = cosign(&body, 1_700_000_000, &w1).unwrap();
    let line2 = cosign(&body, 1_700_000_005, &w2).unwrap();
    assert!(line1.starts_with("\u{2014} partner-b.example/witness ") && line1.ends_with('\n'));
    note.push_str(&line1);
    note.push_str(&line2);

    let k1 = w1.cosignature_verifier_key();
    let k1 = VerifierKey::parse(&k1.to_string()).unwrap(); // vkey text round trip
    assert_eq!(
        verify_cosignature(&body, &line1, &k1).unwrap(),
        1_700_000_000
    );
    let keys = [
        log.verifier_key(),
        k1.clone(),
        w2.cosignature_verifier_key(),
    ];
    let (text, names) = open_note(note.as_bytes(), &keys).unwrap();
    assert_eq!(text, body);
    assert_eq!(
        names,
        [
            "cordon.example/audit/node-a",
            "partner-b.example/witness",
            "partner-c.example/witness"
        ]
    );

    // A cosignature is not a note signature and vice versa: the type byte changes the key ID,
    // so the line is simply from an unknown key.
    assert!(is_verification(open_note(
        note.as_bytes(),
        &[w1.verifier_key()]
    )));
    // Cosignature from another witness, or over another body.
    assert!(is_verification(verify_cosignature(&body, &line2, &k1)));
    let other = Checkpoint {
        size: 43,
        ..sample_checkpoint()
    }
    .to_body()
    .unwrap();
    assert!(is_verification(verify_cosignature(&other, &line1, &k1)));
    // Wrong key type.
    assert!(is_misuse(verify_cosignature(
        &body,
        &line1,
        &w1.verifier_key()
    )));
    // Time above 2^63 - 1.
    assert!(is_misuse(cosign(&body, 1 << 63, &w1)));
    assert!(cosign(&body, (1 << 63) - 1, &w1).is_ok());
    // Only checkpoints are cosigned.
    assert!(is_misuse(cosign("not a checkpoint\n", 1, &w1)));
}

#[test]
fn zero_size_checkpoint() {
    let c = Checkpoint {
        size: 0,
        extensions: vec![],
        ..sample_checkpoint()
    };
    let body = c.to_body().unwrap();
    assert!(body.contains("\n0\n"));
    assert_eq!(Checkpoint::parse(&body).unwrap(), c);
}

// ---- refusals ------------------------------------------------------------------------------

#[test]
fn refuses_tampered_text_wrong_key_truncated_signature() {
    let note = format!("{GO_TEXT}\n{PETER_SIG}");
    let tampered = note.replace("cryptography", "cryptographY");
    assert!(is_verification(open_note(
        tampered.as_bytes(),
        &[vk(PETER_VKEY)]
    )));
    // Wrong key with the right name and ID is impossible (ID is derived), so a same-name key
    // with another ID is just unknown.
    let other = Signer::from_seed("PeterNeumann", &[9u8; 32])
        .unwrap()
        .verifier_key();
    assert!(is_verification(open_note(note.as_bytes(), &[other])));
    // Truncated signature: still valid base64, too short for Ed25519.
    let raw = STANDARD
        .decode(&PETER_SIG[17..PETER_SIG.len() - 1])
        .unwrap();
    let short = format!(
        "{GO_TEXT}\n\u{2014} PeterNeumann {}\n",
        STANDARD.encode(&raw[..raw.len() - 3])
    );
    assert!(is_verification(open_note(
        short.as_bytes(),
        &[vk(PETER_VKEY)]
    )));
    // A bad signature from a known key fails the note even if another known key verifies.
    let mut sig = STANDARD
        .decode(&ENOCH_SIG[14..ENOCH_SIG.len() - 1])
        .unwrap();
    sig[10] ^= 1;
    let note2 = format!(
        "{GO_TEXT}\n{PETER_SIG}\u{2014} EnochRoot {}\n",
        STANDARD.encode(&sig)
    );
    assert!(open_note(note2.as_bytes(), &[vk(PETER_VKEY)]).is_ok());
    assert!(is_verification(open_note(
        note2.as_bytes(),
        &[vk(PETER_VKEY), vk(ENOCH_VKEY)]
    )));
    // A repeated line from a known key is verified too.
    let note3 = format!("{GO_TEXT}\n{PETER_SIG}\u{2014} PeterNeumann {}\n", {
        let mut s = STANDARD
            .decode(&PETER_SIG[17..PETER_SIG.len() - 1])
            .unwrap();
        s[20] ^= 1;
        STANDARD.encode(&s)
    });
    assert!(is_verification(open_note(
        note3.as_bytes(),
        &[vk(PETER_VKEY)]
    )));
    // Identical repeated line: verified twice, listed once.
    let note4 = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}");
    assert_eq!(
        open_note(note4.as_bytes(), &[vk(PETER_VKEY)]).unwrap().1,
        ["PeterNeumann"]
    );
}

#[test]
fn refuses_malformed_notes() {
    let keys = [vk(PETER_VKEY)];
    let good = format!("{GO_TEXT}\n{PETER_SIG}");
    let cases: Vec<Vec<u8>> = vec![
        good.trim_end_matches('\n').into(),     // missing final newline
        format!("{GO_TEXT}{PETER_SIG}").into(), // no blank line
        format!("{GO_TEXT}\n").into(),          // no signature
        format!("{GO_TEXT}\n{PETER_SIG}\n").into(), // trailing blank line
        good.replace('\u{2014}', "-").into(),   // hyphen instead of em dash
        good.replace("\u{2014} ", "\u{2014}").into(), // no space after em dash
        good.replace("PeterNeumann ", "PeterNeumann  ").into(), // two spaces
        good.replace("AM=", "AM").into(),       // unpadded base64
        good.replace("AM=", "AN=").into(),      // stray bits in base64
        good.replace("\n\n", "\n\r\n").into(),  // control character
        good.replace("PeterNeumann x", "Peter+Neumann x").into(), // '+' in name
        format!("{GO_TEXT}\n\u{2014} PeterNeumann AAAA\n").into(), // shorter than key ID + 1
        {
            let mut b = good.clone().into_bytes();
            b[3] = 0xff; // bad UTF-8
            b
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        assert!(
            is_malformed(open_note(c, &keys)),
            "case {i}: {:?}",
            String::from_utf8_lossy(c)
        );
    }
    // Over-long: refused before parsing.
    let huge = vec![b'a'; MAX_NOTE_LEN + 1];
    assert!(is_malformed(open_note(&huge, &keys)));
    // Too many signature lines.
    let many = format!("{GO_TEXT}\n{}", ENOCH_SIG.repeat(101));
    assert!(is_malformed(open_note(many.as_bytes(), &keys)));
}

#[test]
fn refuses_bad_sign_inputs() {
    let p = peter();
    assert!(is_misuse(sign_note("no newline", &[&p])));
    assert!(is_misuse(sign_note("", &[&p])));
    assert!(is_misuse(sign_note("tab\there\n", &[&p])));
    assert!(is_misuse(sign_note("x\n", &[])));
    assert!(is_misuse(sign_note("x\n", &[&p, &p])));
    assert!(is_misuse(Signer::from_seed("has space", &[0; 32])));
    assert!(is_misuse(Signer::from_seed("", &[0; 32])));
    assert!(is_misuse(Signer::from_seed("a+b", &[0; 32])));
    // Text with empty lines, and text that is only a newline, are fine.
    for t in ["a\n\nb\n", "\n", "a\n\n"] {
        let n = sign_note(t, &[&p]).unwrap();
        assert_eq!(open_note(n.as_bytes(), &[p.verifier_key()]).unwrap().0, t);
    }
}

#[test]
fn refuses_bad_vkeys() {
    for bad in [
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // uppercase
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", // wrong ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // 7 digits
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  // bad base64
        "PeterNeumann+c74f20a3+",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "rekor.sigstore.dev+12345678+AwEB", // unsupported type
    ] {
        assert!(is_malformed(VerifierKey::parse(bad)), "{bad}");
    }
}

#[test]
fn refuses_bad_checkpoints() {
    let root = STANDARD.encode([7u8; 32]);
    for bad in [
        format!("origin\n007\n{root}\n"), // non-canonical size
        format!("origin\n00\n{root}\n"),
        format!("origin\n+7\n{root}\n"),
        format!("origin\n-1\n{root}\n"),
        format!("origin\n18446744073709551616\n{root}\n"), // 2^64
        format!("origin\n7 \n{root}\n"),
        format!("origin\n7\n{root}"),     // missing newline
        format!("\n7\n{root}\n"),         // empty origin
        format!("origin\n7\n{root}\n\n"), // empty extension
        format!("origin\n7\n{}\n", &root[..root.len() - 1]),
        format!("origin\n7\n{}\n", STANDARD.encode([7u8; 31])),
        "origin\n7\n".to_string(),
        format!("origin\t\n7\n{root}\n"),
    ] {
        assert!(is_malformed(Checkpoint::parse(&bad)), "{bad:?}");
    }
    assert_eq!(
        Checkpoint::parse(&format!("origin\n18446744073709551615\n{root}\n"))
            .unwrap()
            .size,
        u64::MAX
    );
    for c in [
        Checkpoint {
            origin: String::new(),
            ..sample_checkpoint()
        },
        Checkpoint {
            origin: "a\nb".into(),
            ..sample_checkpoint()
        },
        Checkpoint {
            extensions: vec![String::new()],
            ..sample_checkpoint()
        },
        Checkpoint {
            extensions: vec!["x\ny".into()],
            ..sample_checkpoint()
        },
    ] {
        assert!(is_misuse(c.to_body()));
    }
}

#[test]
fn refuses_ambiguous_key_configuration() {
    // Two different keys cannot share name and ID in practice; an identical duplicate is fine.
    let note = format!("{GO_TEXT}\n{PETER_SIG}");
    assert!(open_note(note.as_bytes(), &[vk(PETER_VKEY), vk(PETER_VKEY)]).is_ok());
}

// ---- properties ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any valid text signed then opened returns it.
    #[test]
    fn sign_then_open(text in "([^\\x00-\\x1f]{0,40}\n){1,5}") {
        let s = Signer::from_seed("prop.example/log", &[5u8; 32]).unwrap();
        let note = sign_note(&text, &[&s]).unwrap();
        let (got, names) = open_note(note.as_bytes(), &[s.verifier_key()]).unwrap();
        prop_assert_eq!(got, text);
        prop_assert_eq!(names, vec!["prop.example/log".to_string()]);
    }

    /// Any single-byte change to a signed note makes it fail to open.
    #[test]
    fn any_byte_change_fails(text in "([a-z0-9 ]{0,20}\n){1,4}", pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let s = Signer::from_seed("prop.example/log", &[5u8; 32]).unwrap();
        let mut note = sign_note(&text, &[&s]).unwrap().into_bytes();
        let i = pos.index(note.len());
        note[i] = note[i].wrapping_add(delta);
        prop_assert!(open_note(&note, &[s.verifier_key()]).is_err());
    }

    /// Arbitrary bytes never panic, as a note, vkey, checkpoint or cosignature line.
    #[test]
    fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&bytes);
        let key = vk(REMORA_VKEY);
        let _ = open_note(&bytes, &[vk(PETER_VKEY), key.clone()]);
        let _ = VerifierKey::parse(&s);
        let _ = Checkpoint::parse(&s);
        let _ = verify_cosignature("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", &s, &key);
    }

    /// Checkpoints round trip through their body.
    #[test]
    fn checkpoint_round_trip(origin in "[^\\x00-\\x1f]{1,30}", size in any::<u64>(), root in any::<[u8; 32]>(),
                             ext in prop::collection::vec("[^\\x00-\\x1f]{1,10}", 0..3)) {
        let c = Checkpoint { origin, size, root, extensions: ext };
        prop_assert_eq!(Checkpoint::parse(&c.to_body().unwrap()).unwrap(), c);
    }
}
