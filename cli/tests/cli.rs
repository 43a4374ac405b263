//! The `cordon` binary as a person uses it: one clear sentence and a non-zero exit for bad
//! input, never a panic; the offline commands (`init`, `user add`, `partner add`, `ident`) work.

mod support;

use support::{cordon, text};

use std::process::Output;

/// A failure is one `error:` line (plus optional indented details), a non-zero status, no panic.
/// `cordon bench` may print progress lines (`[bench] ...`) before it.
fn assert_clear_failure(o: &Output, must_mention: &str) {
    let all = text(&o.stderr);
    let e: String = all
        .lines()
        .skip_while(|l| l.starts_with("[bench] "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!o.status.success(), "succeeded: {all}");
    assert!(!all.contains("panicked"), "panicked: {all}");
    assert!(e.starts_with("error:"), "not an error sentence: {all}");
    assert!(
        e.contains(must_mention),
        "{e:?} does not mention {must_mention:?}"
    );
}

#[test]
fn offline_commands_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();

    let o = cordon(
        None,
        &[
            "init",
            "--name",
            "th",
            "--dir",
            &d("th"),
            "--listen",
            "127.0.0.1:0",
            "--region",
            "TH",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = cordon(
        None,
        &[
            "init",
            "--name",
            "jp",
            "--dir",
            &d("jp"),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Initialising the same folder twice is refused, naming the file.
    assert_clear_failure(
        &cordon(None, &["init", "--name", "th", "--dir", &d("th")]),
        "already exists",
    );
    // A bad node name is quoted with what is allowed.
    assert_clear_failure(
        &cordon(None, &["init", "--name", "TH!", "--dir", &d("x")]),
        "\"TH!\"",
    );

    let th_cfg = d("th/node.toml");
    let o = cordon(
        None,
        &[
            "partner",
            "add",
            "--config",
            &th_cfg,
            "--card",
            &d("jp/card.toml"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Adding it again, or our own card, is refused.
    assert_clear_failure(
        &cordon(
            None,
            &[
                "partner",
                "add",
                "--config",
                &th_cfg,
                "--card",
                &d("jp/card.toml"),
            ],
        ),
        "already a partner",
    );
    assert_clear_failure(
        &cordon(
            None,
            &[
                "partner",
                "add",
                "--config",
                &th_cfg,
                "--card",
                &d("th/card.toml"),
            ],
        ),
        "own",
    );
    let o = cordon(None, &["partner", "list", "--config", &th_cfg]);
    assert!(text(&o.stdout).contains("jp"));

    let o = cordon(
        None,
        &[
            "user",
            "add",
            "--config",
            &th_cfg,
            "--name",
            "somchai",
            "--role",
            "investigator",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Issued an investigator certificate"));
    assert!(dir.path().join("th/users/somchai/profile.toml").exists());
    assert_clear_failure(
        &cordon(
            None,
            &[
                "user", "add", "--config", &th_cfg, "--name", "somchai", "--role", "operator",
            ],
        ),
        "already exists",
    );

    // A malformed configuration names the line and the key's value.
    let bad = d("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&th_cfg)
            .unwrap()
            .replace("fp_rate = 1e-9", "fp_rate = \"high\""),
    )
    .unwrap();
    assert_clear_failure(&cordon(None, &["node", "run", "--config", &bad]), "fp_rate");
    assert_clear_failure(
        &cordon(None, &["node", "run", "--config", &d("missing.toml")]),
        "missing.toml",
    );
    assert_clear_failure(
        &cordon(
            None,
            &[
                "node",
                "run",
                "--config",
                &th_cfg,
                "--log-level",
                "info,[[nope",
            ],
        ),
        "--log-level",
    );

    // Commands that need a node say how to find one.
    assert_clear_failure(&cordon(None, &["status"]), "--profile");
    let items = d("items.txt");
    std::fs::write(&items, "").unwrap();
    let profile = d("th/users/somchai/profile.toml");
    assert_clear_failure(
        &cordon(
            None,
            &[
                "--profile",
                &profile,
                "query",
                "--collection",
                "phones",
                "--file",
                &items,
                "--case",
                "C-1",
                "--purpose",
                "test",
            ],
        ),
        "holds no items",
    );
    assert_clear_failure(
        &cordon(
            None,
            &[
                "--profile",
                &profile,
                "query",
                "--collection",
                "phones",
                "--file",
                &d("nope.txt"),
                "--case",
                "C-1",
                "--purpose",
                "test",
            ],
        ),
        "nope.txt",
    );
    // The node is not running: a clear sentence, after the connect time-out at most.
    std::fs::write(&items, "+66812345678\n").unwrap();
    let o = cordon(
        None,
        &[
            "--profile",
            &profile,
            "query",
            "--collection",
            "phones",
            "--file",
            &items,
            "--case",
            "C-1",
            "--purpose",
            "test",
        ],
    );
    assert!(
        !o.status.success() && !text(&o.stderr).contains("panicked"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn ident_normalize() {
    let o = cordon(
        None,
        &[
            "ident",
            "normalize",
            "--kind",
            "phone",
            "--region",
            "TH",
            "081-234-5678",
            "+66 81 234 5678",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "+66812345678\n+66812345678\n");
    let o = cordon(
        None,
        &[
            "ident",
            "normalize",
            "--kind",
            "iban",
            "--json",
            "GB82 WEST 1234 5698 7654 32",
            "GB00 0000",
        ],
    );
    assert!(!o.status.success());
    let out = text(&o.stdout);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["canonical"], "GB82WEST12345698765432");
    assert!(lines[1]["error"].as_str().unwrap().contains("GB00 0000"));
    assert_clear_failure(
        &cordon(None, &["ident", "normalize", "--kind", "phon", "1"]),
        "phone, email",
    );
    // Every kind the war room exchanges, with its options, through the same command.
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--kind",
                "crypto",
                "0x52908400098527886E0F7030069857D2E4169EE7",
            ],
            "eth:0x52908400098527886e0f7030069857d2e4169ee7",
        ),
        (
            &[
                "--kind",
                "crypto",
                "--chain",
                "btc",
                "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            ],
            "btc:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        ),
        (
            &[
                "--kind",
                "ip",
                "--window",
                "2025-08-23T14",
                "::ffff:203.0.113.7",
            ],
            "203.0.113.7@2025-08-23T14",
        ),
        (
            &["--kind", "domain", "https://www.Scam-Site.co.th/login"],
            "scam-site.co.th",
        ),
        (
            &[
                "--kind",
                "url",
                "HTTPS://www.Scam-Site.co.th:443/a/../login?x=1#f",
            ],
            "www.scam-site.co.th/login",
        ),
        (
            &["--kind", "bank-account", "TH 004 123-4-56789-0"],
            "TH:004:1234567890",
        ),
        (
            &["--kind", "ewallet", "PromptPay: 081-234-5678"],
            "promptpay:+66812345678",
        ),
        (
            &["--kind", "national-id", "TH 1-1017-00230-70-8"],
            "THA:1101700230708",
        ),
        (&["--kind", "imei", "35-209900-176148-1"], "352099001761481"),
        (
            &[
                "--kind",
                "email",
                "--provider-rules",
                "Somchai.J+scam@GoogleMail.com",
            ],
            "somchaij@gmail.com",
        ),
        (&["--kind", "passport", "tha/aa 123 4567"], "THA:AA1234567"),
    ];
    for (args, want) in cases {
        let mut full = vec!["ident", "normalize"];
        full.extend_from_slice(args);
        let o = cordon(None, &full);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout).trim(), *want, "{args:?}");
    }
    // A checksum failure is one sentence naming the value and what to do.
    assert_clear_failure(
        &cordon(
            None,
            &[
                "ident",
                "normalize",
                "--kind",
                "crypto",
                "0x52908400098527886E0F7030069857D2E4169Ee7",
            ],
        ),
        "EIP-55",
    );
    assert_clear_failure(
        &cordon(
            None,
            &[
                "ident",
                "normalize",
                "--kind",
                "national-id",
                "TH 1101700230709",
            ],
        ),
        "1101700230709",
    );
    // Unknown flags: clap's own error, non-zero.
    let o = cordon(None, &["--bogus"]);
    assert!(!o.status.success() && text(&o.stderr).contains("--bogus"));
}

/// `cordon bench --compare` without a usable Python fails with the fix, before any node starts.
/// (No test installs from PyPI or runs OpenMined PSI: CI has no network guarantee.)
#[test]
fn compare_without_python_fails_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv").display().to_string();
    let work = dir.path().join("work").display().to_string();
    let o = cordon(
        None,
        &[
            "bench",
            "--compare",
            "--records",
            "2000",
            "--query-items",
            "100",
            "--runs",
            "1",
            "--venv",
            &venv,
            "--python",
            "/nonexistent/python3",
            "--keep",
            &work,
        ],
    );
    assert_clear_failure(&o, "cannot run `/nonexistent/python3`");
    assert_clear_failure(&o, "--python");
    // It failed before creating anything but its work folder: no environment, no nodes.
    assert!(!dir.path().join("venv").exists());
    assert!(!dir.path().join("work/compare/run1-2000").exists());

    // An environment whose Python cannot install the package (standing in for PyPI out of
    // reach) names the command to run by hand.
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.path().join("broken/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("python"),
        "#!/bin/sh\necho 'No matching distribution' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(bin.join("python"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let broken = dir.path().join("broken").display().to_string();
    let o = cordon(
        None,
        &[
            "bench",
            "--compare",
            "--records",
            "2000",
            "--query-items",
            "100",
            "--venv",
            &broken,
        ],
    );
    assert_clear_failure(&o, "`pip install openmined-psi` into");
    assert_clear_failure(&o, "No matching distribution");
    assert_clear_failure(&o, "-m pip install openmined-psi`");
}

#[test]
fn bench_argument_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/B.md").display().to_string();
    for (args, mention) in [
        (
            vec!["--compare", "--runs", "0"],
            "--runs must be at least 1",
        ),
        (vec!["--runs", "2"], "--compare"),
        (vec!["--write", "B.md"], "--compare"),
        (vec!["--venv", "v"], "--compare"),
        (vec!["--records", "0"], "--records needs one or more counts"),
        (
            vec!["--records", "20000,30000"],
            "--records takes one count without --compare (2 given)",
        ),
        (
            vec!["--compare", "--records", "100", "--query-items", "1000"],
            "--records 100 is too small to plant 500 hits",
        ),
        (
            vec!["--query-items", "0"],
            "--query-items needs one or more sizes",
        ),
        (vec!["--repeats", "0"], "--repeats must be at least 1"),
        (
            vec!["--compare", "--write", &missing],
            "is not a file in an existing folder",
        ),
    ] {
        let mut all = vec!["bench"];
        all.extend(args);
        assert_clear_failure(&cordon(None, &all), mention);
    }
}
