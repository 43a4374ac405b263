//! The holder never stores or logs what a partner asked about, nor a plain hash of it; neither
//! node's audit export holds the queried items in any form.
//!
//! Runs in its own test binary because it installs a global log subscriber that captures every
//! node's output at the most verbose level.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use cordon_protocol::ident::{self, Kind, Options};
use cordon_tests::{hit_items, import, phones, query, Fed};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holder_keeps_no_trace_of_the_queried_items() {
    let capture = Capture::default();
    let c2 = capture.clone();
    // Both formats `cordon node run` offers (--log-format text and json), at the most verbose
    // level of Cordon's own code.
    use tracing_subscriber::layer::SubscriberExt;
    let c3 = capture.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(
                "trace,quinn=debug,quinn_proto=debug,rustls=debug",
            ))
            .with(tracing_subscriber::fmt::layer().with_writer(move || c2.clone()))
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(move || c3.clone()),
            ),
    )
    .unwrap();

    let f = Fed::start(&["th", "jp"], |c| c.to_string());
    import(&f.operator("jp"), "phones", "phone", &phones(0..500))
        .await
        .unwrap();
    // th asks about numbers jp does not hold (written in national format) and a few it does.
    let secret: Vec<String> = (0..40u32)
        .map(|i| format!("089-{:03}-{:04}", 700 + i, 1000 + i * 7))
        .collect();
    let mut asked = secret.clone();
    asked.extend(phones(0..5));
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(hit_items(&r, "jp", &asked).unwrap().len(), 5);
    let r = query(&f.investigator("th"), "phones", &asked, &["jp"])
        .await
        .unwrap();
    assert_eq!(hit_items(&r, "jp", &asked).unwrap().len(), 5);
    // Persons: jp holds one; th asks about it and about one jp does not hold.
    let held = r#"{"name":"Somchai Jaidee","dob":"1985-03-02","nationality":"TH"}"#;
    let secret_person = r#"{"name":"Kittisak Wongsawat","dob":"1979-12-24","nationality":"TH","passport":"THA:ZZ9876543"}"#;
    import(&f.operator("jp"), "persons", "person", &[held.to_string()])
        .await
        .unwrap();
    let persons = vec![held.to_string(), secret_person.to_string()];
    let r = query(&f.investigator("th"), "persons", &persons, &["jp"])
        .await
        .unwrap();
    assert_eq!(hit_items(&r, "jp", &persons).unwrap().len(), 1);
    let jp_dir = f.fed.agency("jp").unwrap().dir.clone();
    // Both nodes' audit exports, as an auditor takes them.
    let mut exports = Vec::new();
    for node in ["th", "jp"] {
        let profile = f.fed.agency(node).unwrap().auditor.clone();
        let c = cordon_node::client::ControlClient::connect(
            &cordon_node::profile::Profile::load(&profile).unwrap(),
        )
        .await
        .unwrap();
        let bundle = c.audit_export(None, None).await.unwrap();
        c.close().await;
        assert!(contains(&bundle, b"query_completed") || contains(&bundle, b"query_answered"));
        exports.push((format!("{node}'s audit export"), bundle));
    }
    f.fed.shutdown().await.unwrap();

    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for raw in &secret {
        let canon = ident::canonicalize(Kind::Phone, raw, &Options::with_region("TH")).unwrap();
        let forms = [
            raw.as_bytes().to_vec(),
            canon.value().as_bytes().to_vec(),
            canon.oprf_input(),
        ];
        for form in forms {
            let h: [u8; 32] = Sha256::digest(&form).into();
            needles.push((
                format!("{raw} as {:?}", String::from_utf8_lossy(&form)),
                form.clone(),
            ));
            needles.push((
                format!("SHA-256 of {:?}", String::from_utf8_lossy(&form)),
                h.to_vec(),
            ));
            needles.push((
                format!("hex SHA-256 of {:?}", String::from_utf8_lossy(&form)),
                hex::encode(h).into_bytes(),
            ));
            needles.push((
                format!("base64 SHA-256 of {:?}", String::from_utf8_lossy(&form)),
                base64(&h).into_bytes(),
            ));
        }
        // The national digits alone, as a holder might have logged a fragment.
        let digits: String = canon.value().chars().skip(3).collect();
        needles.push((format!("digits {digits}"), digits.into_bytes()));
    }

    // The person jp does not hold: its name, passport and every match key, plain and hashed.
    let canon = ident::canonicalize(Kind::Person, secret_person, &Options::default()).unwrap();
    let mut forms: Vec<Vec<u8>> = vec![
        b"Kittisak".to_vec(),
        b"kittisak".to_vec(),
        b"Wongsawat".to_vec(),
        b"wongsawat".to_vec(),
        b"ZZ9876543".to_vec(),
        canon.value().as_bytes().to_vec(),
    ];
    forms.extend(
        cordon_protocol::person::match_keys(canon.value())
            .unwrap()
            .into_iter()
            .map(|k| k.input),
    );
    for form in forms {
        let h: [u8; 32] = Sha256::digest(&form).into();
        let label = String::from_utf8_lossy(&form).into_owned();
        needles.push((format!("person {label:?}"), form));
        needles.push((format!("SHA-256 of person {label:?}"), h.to_vec()));
        needles.push((
            format!("hex SHA-256 of person {label:?}"),
            hex::encode(h).into_bytes(),
        ));
        needles.push((
            format!("base64 SHA-256 of person {label:?}"),
            base64(&h).into_bytes(),
        ));
    }

    let mut files = Vec::new();
    files_under(&jp_dir, &mut files);
    files.extend(exports);
    assert!(
        files.iter().any(|(n, _)| n.ends_with("cordon.redb")),
        "the holder's database was scanned"
    );
    // Positive control: the scan does see plaintext, e.g. jp's own records in its database.
    assert!(
        files.iter().any(|(_, b)| contains(b, b"+66810000003")),
        "the scan cannot see stored values"
    );
    let logs = capture.0.lock().unwrap().clone();
    assert!(
        contains(&logs, b"query answered"),
        "the holder's log output was captured"
    );
    assert!(
        contains(&logs, b"\"message\":\"query answered\""),
        "the JSON log output was captured"
    );
    assert!(
        contains(&logs, b"\"level\":\"DEBUG\""),
        "debug-level events were captured"
    );
    for (what, needle) in &needles {
        for (name, bytes) in &files {
            assert!(
                !contains(bytes, needle),
                "{what} found in the holder's file {name}"
            );
        }
        assert!(!contains(&logs, needle), "{what} found in the log output");
    }
}
