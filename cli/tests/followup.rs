//! Follow-up requests through the `cordon` binary: person records imported with extra columns
//! and `--releasable`, a hit cited by an investigator, reviewed and approved by the holder's
//! supervisor, and the released fields shown at the querier.

mod support;

use support::{cordon, ok, text};

use cordon_node::local::LocalFederation;

#[test]
fn followup_through_the_cli() {
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
    let jp = fed.agency("jp").unwrap().clone();
    let th = fed.agency("th").unwrap().clone();

    let held = dir.path().join("held.csv");
    std::fs::write(
        &held,
        "name,dob,nationality,reference,case_no,officer\n\
         Kittisak Wongsawat,1979-12-24,TH,W-001,NPA-2025-118,Sgt. Tanaka\n\
         Li Qiang,1983-05-05,CN,W-002,NPA-2025-119,Sgt. Mori\n",
    )
    .unwrap();
    let h = held.display().to_string();
    let import = |releasable: &str| {
        cordon(
            Some(&jp.operator),
            &[
                "data",
                "import",
                "--collection",
                "persons",
                "--kind",
                "person",
                "--releasable",
                releasable,
                &h,
            ],
        )
    };
    // A releasable field the file does not hold: one sentence naming it and the fields.
    let o = import("case_no,badge");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("`badge`"), "{err}");
    assert!(err.contains("reference, case_no, officer"), "{err}");
    let out = ok(&import("case_no,reference"));
    assert!(out.contains("Imported 2 new records"), "{out}");
    assert!(
        out.contains("releasable on follow-up: case_no, reference"),
        "{out}"
    );

    let ask = dir.path().join("ask.csv");
    std::fs::write(
        &ask,
        "name,dob,nationality\nKitisak Wongsawad,1979-12-24,TH\n",
    )
    .unwrap();
    let a = ask.display().to_string();
    let out = ok(&cordon(
        Some(&th.investigator),
        &[
            "query",
            "--collection",
            "persons",
            "--file",
            &a,
            "--case",
            "C-9",
            "--purpose",
            "t",
            "--json",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reference = v["partners"][0]["outcome"]["answered"]["hits"][0]["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no hit: {out}"))
        .to_string();
    assert!(reference.starts_with("persons:1:"), "{reference}");

    let out = ok(&cordon(
        Some(&th.investigator),
        &[
            "followup",
            "request",
            "--partner",
            "jp",
            "--hit",
            &reference,
            "--case",
            "C-9",
            "--purpose",
            "identify the suspect",
        ],
    ));
    assert!(out.contains("resolved to 1 of its records"), "{out}");
    let id = out
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .trim_end_matches(':')
        .to_string();
    assert_eq!(id.len(), 32, "{out}");

    // A malformed reference is refused before anything is sent.
    let o = cordon(
        Some(&th.investigator),
        &[
            "followup",
            "request",
            "--partner",
            "jp",
            "--hit",
            "persons:1:abc",
            "--case",
            "C",
            "--purpose",
            "p",
        ],
    );
    assert!(
        text(&o.stderr).contains("collection:epoch:tag"),
        "{}",
        text(&o.stderr)
    );

    let sup = &jp.supervisor;
    let out = ok(&cordon(Some(sup), &["followup", "list"]));
    assert!(
        out.contains("pending") && out.contains("1 pending"),
        "{out}"
    );
    let out = ok(&cordon(Some(sup), &["followup", "show", &id[..8]]));
    assert!(out.contains("* case_no: NPA-2025-118"), "{out}");
    assert!(out.contains("  officer: Sgt. Tanaka"), "{out}");
    assert!(out.contains("identify the suspect"), "{out}");
    let o = cordon(
        Some(sup),
        &["followup", "approve", &id[..8], "--fields", "officer"],
    );
    assert!(
        text(&o.stderr).contains("`officer` was not marked releasable"),
        "{}",
        text(&o.stderr)
    );
    ok(&cordon(
        Some(sup),
        &["followup", "approve", &id[..8], "--fields", "case_no"],
    ));

    let out = ok(&cordon(Some(&th.investigator), &["followup", "status"]));
    assert!(out.contains("APPROVED"), "{out}");
    assert!(out.contains("case_no=NPA-2025-118"), "{out}");
    assert!(!out.contains("W-001") && !out.contains("Tanaka"), "{out}");

    rt.block_on(fed.shutdown()).unwrap();
}
