//! Person files through the `cordon` binary against real nodes: CSV with a header imported by
//! an operator, bad rows reported by line with only their first characters, and a query file
//! recognised as persons by its field names, with strengths in the table.

mod support;

use support::{cordon, text};

use cordon_node::local::LocalFederation;

#[test]
fn person_files_import_and_query_through_the_cli() {
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
    let jp_ops = fed.agency("jp").unwrap().operator.clone();
    let th_inv = fed.agency("th").unwrap().investigator.clone();

    let wanted = dir.path().join("wanted.csv");
    std::fs::write(
        &wanted,
        "name,aliases,dob,sex,nationality,passport,national_id,reference\n\
         Kittisak Wongsawat,Kit; Big K,1979-12-24,M,TH,THA:ZZ9876543,TH 1-1017-00230-70-8,W-001\n\
         Li Qiang,,1983-05-05,M,CN,,,W-002\n\
         Secret Person,,24/12/1979,,TH,,,W-003\n",
    )
    .unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec![
            "data",
            "import",
            "--collection",
            "persons",
            "--kind",
            "person",
        ];
        args.extend_from_slice(extra);
        let w = wanted.display().to_string();
        args.push(&w);
        cordon(Some(&jp_ops), &args)
    };
    // One bad row: reported by line, only its first characters, nothing imported.
    let o = import(&[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("line 4: "), "{err}");
    assert!(
        err.contains("24/12/1979"),
        "the reason names the bad field: {err}"
    );
    assert!(
        !err.contains("Secret Person"),
        "the value is not quoted whole: {err}"
    );
    assert!(err.contains("--skip-invalid"), "{err}");
    // With --skip-invalid the two valid persons are.
    let o = import(&["--skip-invalid"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Imported 2 new records"),
        "{}",
        text(&o.stdout)
    );

    // th has no `persons` collection: the file's field names say these are persons.
    let ask = dir.path().join("ask.csv");
    std::fs::write(
        &ask,
        "name,dob,nationality,passport\n\
         Kitisak Wongsawad,1979-12-24,TH,\n\
         \"Lee, Chiang\",1983-05-05,CN,\n\
         Someone Else,1990-01-01,TH,\n\
         Anyone,1970-01-01,TH,tha zz 987 6543\n",
    )
    .unwrap();
    let a = ask.display().to_string();
    let o = cordon(
        Some(&th_inv),
        &[
            "query",
            "--collection",
            "persons",
            "--file",
            &a,
            "--case",
            "C-1",
            "--purpose",
            "test",
        ],
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}{}", out, text(&o.stderr));
    assert!(out.contains("STRENGTH"), "{out}");
    let line = |n: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{n} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("2").contains("fuzzy-name+dob"), "{out}");
    assert!(line("3").contains("fuzzy-name+dob"), "{out}");
    assert!(line("4").is_empty(), "{out}");
    assert!(line("5").contains("document"), "{out}");

    rt.block_on(fed.shutdown()).unwrap();
}
