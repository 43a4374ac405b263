//! The audit log through the `cordon` binary against real nodes: exports by an auditor verify
//! with nothing but the log key; every kind of tampering with an export is caught and named;
//! two nodes' exports reconcile, and a deleted entry is reported as exactly its exchange;
//! single-entry proofs and consistency proofs check; roles are enforced; exports hold no
//! queried identifier.

mod support;

use support::{cordon, ok, text};

use std::path::{Path, PathBuf};

use cordon_node::local::LocalFederation;
use cordon_protocol::audit::checkpoint::Checkpoint;
use cordon_protocol::audit::note::{sign_note, Signer};

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Verifies `bundle` with `key`; returns (success, stdout + stderr).
fn verify(bundle: &Path, key: &str) -> (bool, String) {
    let o = cordon(None, &["audit", "verify", &p(bundle), "--key", key]);
    (
        o.status.success(),
        format!("{}{}", text(&o.stdout), text(&o.stderr)),
    )
}

/// Writes a bundle made of `header` and `lines`.
fn write_bundle(path: &Path, header: &str, lines: &[&str]) {
    let mut s = format!("{header}\n");
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn index_of(lines: &[&str], pat: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(pat))
        .unwrap_or_else(|| panic!("no entry with {pat}"))
}

#[test]
fn the_audit_log_end_to_end() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut fed = LocalFederation::create(dir.path(), &["th", "jp"], Some("TH")).unwrap();
    {
        let _g = rt.enter();
        fed.start_all().unwrap();
    }
    let th = fed.agency("th").unwrap().clone();
    let jp = fed.agency("jp").unwrap().clone();
    let d = dir.path();

    // Watch-lists and queries. The raw values must never reach an export.
    let held: Vec<String> = (0..40)
        .map(|i| format!("+66 81 234 {:04}", 1000 + i))
        .collect();
    let asked: Vec<String> = (0..30)
        .map(|i| format!("081-234-{:04}", 1020 + i))
        .collect();
    std::fs::write(d.join("held.txt"), held.join("\n")).unwrap();
    std::fs::write(d.join("asked.txt"), asked.join("\n")).unwrap();
    for a in [&th, &jp] {
        ok(&cordon(
            Some(&a.operator),
            &[
                "data",
                "import",
                "--collection",
                "phones",
                "--kind",
                "phone",
                &p(&d.join("held.txt")),
            ],
        ));
    }
    let query = |inv: &Path, case: &str| {
        ok(&cordon(
            Some(inv),
            &[
                "query",
                "--collection",
                "phones",
                "--file",
                &p(&d.join("asked.txt")),
                "--case",
                case,
                "--purpose",
                "scam compound payments",
                "--json",
            ],
        ))
    };
    for case in ["TH-1", "TH-2", "TH-3"] {
        let out = query(&th.investigator, case);
        assert!(out.contains("\"hits\""), "{out}");
    }
    query(&jp.investigator, "JP-1");
    query(&jp.investigator, "JP-2");

    // Roles: an investigator cannot read the log, an auditor cannot query or import.
    let o = cordon(
        Some(&th.investigator),
        &["audit", "export", "--out", &p(&d.join("x"))],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("auditor"), "{}", text(&o.stderr));
    let o = cordon(
        Some(&th.auditor),
        &[
            "query",
            "--collection",
            "phones",
            "--file",
            &p(&d.join("asked.txt")),
            "--case",
            "A",
            "--purpose",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("investigator role"),
        "{}",
        text(&o.stderr)
    );
    let o = cordon(
        Some(&th.auditor),
        &[
            "data",
            "import",
            "--collection",
            "x",
            "--kind",
            "phone",
            &p(&d.join("held.txt")),
        ],
    );
    assert_eq!(o.status.code(), Some(1));

    // Exports by the auditors, verified with the log keys printed from the configurations.
    let key = |cfg: &PathBuf| {
        ok(&cordon(None, &["audit", "key", "--config", &p(cfg)]))
            .trim()
            .to_string()
    };
    let (th_key, jp_key) = (key(&th.config_path), key(&jp.config_path));
    assert!(th_key.starts_with("th/audit+"), "{th_key}");
    let th_b = d.join("th.bundle");
    let jp_b = d.join("jp.bundle");
    ok(&cordon(
        Some(&th.auditor),
        &["audit", "export", "--out", &p(&th_b)],
    ));
    ok(&cordon(
        Some(&jp.auditor),
        &["audit", "export", "--out", &p(&jp_b)],
    ));
    let (good, out) = verify(&th_b, &th_key);
    assert!(good, "{out}");
    // 3 answers th received and 2 th gave, each with a receipt.
    assert!(out.contains("receipts verified: 5"), "{out}");
    assert!(out.contains("cosigned by jp"), "{out}");
    let (good, out) = verify(&jp_b, &jp_key);
    assert!(good, "{out}");
    assert!(out.contains("cosigned by th"), "{out}");
    // Time ranges: one covering everything, and one before any entry.
    let range = d.join("range.bundle");
    ok(&cordon(
        Some(&th.auditor),
        &[
            "audit",
            "export",
            "--out",
            &p(&range),
            "--since",
            "2020-01-01",
            "--until",
            "2099-01-01",
        ],
    ));
    let (good, out) = verify(&range, &th_key);
    assert!(good && out.contains("(a time range: 2020-01-01"), "{out}");
    ok(&cordon(
        Some(&th.auditor),
        &[
            "audit",
            "export",
            "--out",
            &p(&range),
            "--until",
            "2000-01-01T00:00:00Z",
        ],
    ));
    let (good, out) = verify(&range, &th_key);
    assert!(good && out.contains("(0)"), "{out}");
    let o = cordon(
        Some(&th.auditor),
        &[
            "audit",
            "export",
            "--out",
            &p(&range),
            "--since",
            "yesterday",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("\"yesterday\" is not a date"),
        "{}",
        text(&o.stderr)
    );
    // The wrong key is refused.
    let (good, out) = verify(&th_b, &jp_key);
    assert!(!good && out.contains("th/audit"), "{out}");

    // Privacy: neither the raw values asked about nor their canonical form are in any export.
    for b in [&th_b, &jp_b] {
        let s = std::fs::read_to_string(b).unwrap();
        for v in asked.iter().chain(held.iter()) {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            assert!(
                !s.contains(&digits[digits.len() - 7..]),
                "{} holds {v}",
                b.display()
            );
        }
        assert!(
            !s.contains("+66812341"),
            "{} holds a canonical number",
            b.display()
        );
    }

    // Tampering with th's export: each kind of change is caught and the entry named.
    let bundle = std::fs::read_to_string(&th_b).unwrap();
    let mut lines: Vec<&str> = bundle.lines().collect();
    let header = lines.remove(0);
    let t = d.join("tampered.bundle");
    let completed = index_of(&lines, "\"query_completed\"");
    // Flip one byte: the item count of an answered query.
    let flipped = lines[completed].replacen("\"items\":", "\"items\":9", 1);
    let mut v = lines.clone();
    v[completed] = &flipped;
    write_bundle(&t, header, &v);
    let (good, out) = verify(&t, &th_key);
    assert!(
        !good && out.contains(&format!("entry #{completed}")),
        "flip: {out}"
    );
    // Drop one entry.
    let mut v = lines.clone();
    v.remove(completed);
    write_bundle(&t, header, &v);
    let (good, out) = verify(&t, &th_key);
    assert!(
        !good && out.contains(&format!("entry #{completed}")),
        "drop: {out}"
    );
    // Reorder two.
    let mut v = lines.clone();
    v.swap(completed, completed + 1);
    write_bundle(&t, header, &v);
    let (good, out) = verify(&t, &th_key);
    assert!(
        !good && out.contains(&format!("entry #{completed}")),
        "swap: {out}"
    );
    // Truncate the tail.
    let v = &lines[..lines.len() - 2];
    write_bundle(&t, header, v);
    let (good, out) = verify(&t, &th_key);
    let missing = lines.len() - 2;
    assert!(
        !good && out.contains(&format!("entry #{missing}")) && out.contains("truncated"),
        "truncate: {out}"
    );
    // Replace the latest checkpoint with one signed by another key of the same name.
    let mut h: serde_json::Value = serde_json::from_str(header).unwrap();
    let other = Signer::from_seed("th/audit", &[7; 32]).unwrap();
    let latest = Checkpoint {
        origin: "th/audit".into(),
        size: lines.len() as u64,
        root: [1; 32],
        extensions: vec![],
    };
    h["latest"] = sign_note(&latest.to_body().unwrap(), &[&other])
        .unwrap()
        .into();
    let forged = h.to_string();
    write_bundle(&t, &forged, &lines);
    let (good, out) = verify(&t, &th_key);
    assert!(
        !good && out.contains("not signed by the log key"),
        "forged checkpoint: {out}"
    );

    // Reconcile: the two exports agree; deleting jp's entry of one exchange reports exactly it.
    let o = cordon(None, &["audit", "reconcile", &p(&th_b), &p(&jp_b)]);
    let out = ok(&o);
    assert!(
        out.contains("5 exchanges between th and jp compared") && out.contains("0 differ"),
        "{out}"
    );
    let jp_text = std::fs::read_to_string(&jp_b).unwrap();
    let mut jp_lines: Vec<&str> = jp_text.lines().collect();
    let jp_header = jp_lines.remove(0);
    let answered = index_of(&jp_lines, "\"query_answered\"");
    let entry: serde_json::Value = serde_json::from_str(jp_lines[answered]).unwrap();
    let exchange = entry["exchange_id"].as_str().unwrap().to_string();
    jp_lines.remove(answered);
    let jp_t = d.join("jp-missing.bundle");
    write_bundle(&jp_t, jp_header, &jp_lines);
    let o = cordon(
        None,
        &["audit", "reconcile", &p(&th_b), &p(&jp_t), "--json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let diffs = r["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{r}");
    assert_eq!(diffs[0]["exchange"], exchange.as_str());

    // `show` with filters.
    let out = ok(&cordon(
        None,
        &[
            "audit",
            "show",
            &p(&th_b),
            "--case",
            "TH-2",
            "--kind",
            "query_sent,query_completed",
        ],
    ));
    assert!(out.contains("2 of "), "{out}");
    let out = ok(&cordon(
        None,
        &[
            "audit",
            "show",
            &p(&th_b),
            "--investigator",
            "investigator",
            "--json",
        ],
    ));
    let shown: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(shown.len(), 6, "3 queries x (sent + completed): {out}");
    let out = ok(&cordon(
        Some(&th.auditor),
        &["audit", "show", "--node", "--kind", "audit_read"],
    ));
    assert!(
        out.contains("auditor (auditor)"),
        "reads of the log are logged: {out}"
    );

    // A single-entry proof, checked offline; a changed entry fails it.
    let proof = d.join("e.tlog-proof");
    ok(&cordon(
        Some(&th.auditor),
        &[
            "audit",
            "prove",
            &completed.to_string(),
            "--out",
            &p(&proof),
        ],
    ));
    let entry_file = d.join("e.tlog-proof.entry");
    let out = ok(&cordon(
        None,
        &[
            "audit",
            "verify-proof",
            &p(&proof),
            "--key",
            &th_key,
            "--entry",
            &p(&entry_file),
        ],
    ));
    assert!(
        out.contains(&format!("entry #{completed} is in the log")),
        "{out}"
    );
    std::fs::write(&entry_file, &flipped).unwrap();
    let o = cordon(
        None,
        &[
            "audit",
            "verify-proof",
            &p(&proof),
            "--key",
            &th_key,
            "--entry",
            &p(&entry_file),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));

    // Consistency between the exported checkpoint and the node's latest, after more activity.
    let old = d.join("old.checkpoint");
    std::fs::write(&old, h_latest(&bundle)).unwrap();
    query(&th.investigator, "TH-4");
    let out = ok(&cordon(
        Some(&th.auditor),
        &["audit", "consistency", &p(&old)],
    ));
    assert!(out.contains("is a prefix of"), "{out}");

    // The oversight report.
    let html = d.join("report.html");
    ok(&cordon(
        None,
        &[
            "audit",
            "report",
            &p(&th_b),
            "--html",
            &p(&html),
            "--key",
            &th_key,
        ],
    ));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("investigator") && page.contains("TH-2"));
    assert!(page.contains("Verified with log key"));

    rt.block_on(fed.shutdown()).unwrap();
}

fn h_latest(bundle: &str) -> String {
    let h: serde_json::Value = serde_json::from_str(bundle.lines().next().unwrap()).unwrap();
    h["latest"].as_str().unwrap().to_string()
}
