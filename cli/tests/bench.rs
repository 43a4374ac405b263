//! `cordon bench`'s load modes end to end, at a tiny scale: partners querying one holder at
//! once, and the scaling series with its charts. Loopback only; no figure is asserted, only
//! that every query was answered correctly and the files hold what they should.

mod support;

use support::{cordon, text};

/// `cordon bench ARGS`.
fn bench(args: &[&str]) -> Output {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    cordon(None, &all)
}

use std::path::Path;
use std::process::Output;

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "cordon bench failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn partners_query_at_once_without_errors() {
    let out = bench(&[
        "--partners",
        "2",
        "--duration",
        "2",
        "--records",
        "2000",
        "--query-items",
        "100",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["partners"], 2);
    assert!(v["queries"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["failures"], serde_json::json!({}), "{v}");
    let per: Vec<u64> = v["queries_per_partner"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_u64().unwrap())
        .collect();
    assert_eq!(per.len(), 2);
    assert!(per.iter().all(|q| *q > 0), "{v}");
    assert_eq!(
        v["first_query_filters"],
        serde_json::json!(["full", "full"])
    );
}

fn svg_points(path: &Path) -> usize {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.starts_with("<svg"), "{} is not an SVG", path.display());
    assert!(s.trim_end().ends_with("</svg>"));
    s.matches("<circle").count()
}

#[test]
fn scaling_series_draws_its_charts_and_writes_its_section() {
    let dir = tempfile::tempdir().unwrap();
    let charts = dir.path().join("bench");
    let md = dir.path().join("BENCHMARKS.md");
    std::fs::write(&md, "# Benchmarks\n\nkept\n").unwrap();
    let out = bench(&[
        "--scaling",
        "--records-steps",
        "1000,2000",
        "--partners-steps",
        "1,2",
        "--duration",
        "1",
        "--records",
        "2000",
        "--query-items",
        "100",
        "--chart-dir",
        charts.to_str().unwrap(),
        "--write",
        md.to_str().unwrap(),
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["build"].as_array().unwrap().len(), 2);
    let loads = v["partners"].as_array().unwrap();
    assert_eq!(loads.len(), 2);
    for l in loads {
        assert!(l["queries"].as_u64().unwrap() > 0, "{l}");
        assert_eq!(l["failures"], serde_json::json!({}), "{l}");
    }
    // Two panels (time, memory) of two points; two series (p50, p99) of two points.
    assert_eq!(svg_points(&charts.join("scaling-build.svg")), 4);
    assert_eq!(svg_points(&charts.join("scaling-partners.svg")), 4);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(charts.join("scaling.json")).unwrap())
            .unwrap();
    assert_eq!(saved["build"], v["build"]);
    let doc = std::fs::read_to_string(&md).unwrap();
    assert!(doc.starts_with("# Benchmarks\n\nkept\n"));
    assert!(doc.contains("<!-- scaling:begin -->") && doc.contains("<!-- scaling:end -->"));
    assert!(doc.contains("(bench/scaling-build.svg)"), "{doc}");
    assert!(doc.contains("(bench/scaling-partners.svg)"), "{doc}");
}

#[test]
fn load_arguments_are_checked_before_anything_runs() {
    for (args, says) in [
        (&["--partners", "0"][..], "partners"),
        (
            &["--partners", "2", "--query-items", "100,200"][..],
            "one query size",
        ),
        (&["--scaling"][..], "--chart-dir"),
        (
            &["--partners", "2", "--records", "10", "--query-items", "100"][..],
            "too small",
        ),
        (&["--partners", "2", "--duration", "0"][..], "--duration"),
    ] {
        let out = bench(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
