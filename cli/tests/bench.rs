//! `cordon bench` argument errors and `--compare` without a usable Python: one clear sentence
//! and a non-zero exit, before any node starts. (Nothing here installs from PyPI or runs
//! OpenMined PSI: CI has no network guarantee.)

use std::process::{Command, Output};

fn cordon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .env_remove("CORDON_PROFILE")
        .output()
        .expect("run cordon")
}

/// A failure is an `error:` sentence, after the bench's progress lines (`[bench] ...`) if any.
fn assert_clear_failure(o: &Output, must_mention: &str) {
    let all = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "succeeded: {all}");
    assert!(!all.contains("panicked"), "panicked: {all}");
    let e: String = all
        .lines()
        .skip_while(|l| l.starts_with("[bench] "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(e.starts_with("error:"), "not an error sentence: {all}");
    assert!(
        e.contains(must_mention),
        "{e:?} does not mention {must_mention:?}"
    );
}

#[test]
fn compare_without_python_fails_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv").display().to_string();
    let work = dir.path().join("work").display().to_string();
    let o = cordon(&[
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
    ]);
    assert_clear_failure(&o, "cannot run `/nonexistent/python3`");
    assert_clear_failure(&o, "--python");
    // It failed before creating anything but its work folder: no environment, no nodes.
    assert!(!dir.path().join("venv").exists());
    assert!(!dir.path().join("work/compare/run1-2000").exists());
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
        assert_clear_failure(&cordon(&all), mention);
    }
}
