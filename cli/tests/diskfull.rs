//! Disk full while importing, through the `cordon` binary against a real node process.
//!
//! The node runs as a child process whose file size limit (RLIMIT_FSIZE) sits just above its
//! database files after a first import, with SIGXFSZ ignored, so the second import's writes fail
//! with EFBIG exactly as they would with ENOSPC on a full disk (a tmpfs would need root and a
//! mount; a file size limit works for any user on any Linux or macOS machine). Checked: the CLI
//! gets one clear sentence saying the disk is full or the file size limit was hit and what to
//! do; after a restart without the limit the database opens and holds exactly the first
//! import's records, the audit log verifies and has no entry for the failed import, and the
//! same import then succeeds.
#![cfg(unix)]

mod support;

use support::{cordon, exe, text};

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cordon_node::local::{Agency, LocalFederation};
use cordon_node::Config;
use cordon_protocol::audit::bundle::Bundle;
use cordon_protocol::audit::entry::EntryKind;

/// Rows per import: enough that the second import needs far more room than the margin.
const ROWS: usize = 20_000;
/// Room left above the largest database file: enough for the node to start (its start entry),
/// far too little for another import of [`ROWS`] addresses.
const MARGIN: u64 = 256 * 1024;
const UP_WITHIN: Duration = Duration::from_secs(60);

/// A node child process, SIGKILLed when dropped.
struct NodeProc(Child);

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cordon node run`, with a file size limit if given; returns once it listens.
fn start(agency: &Agency, fsize_limit: Option<u64>) -> NodeProc {
    let mut cmd = Command::new(exe());
    cmd.args(["node", "run", "--config"])
        .arg(&agency.config_path)
        .env_remove("CORDON_PROFILE")
        .env("RUST_LOG", "info,quinn=warn,rustls=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(limit) = fsize_limit {
        // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // A write past the limit then fails with EFBIG instead of killing the process.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("start the node");
    let err = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if line.contains("cordon node listening on") {
                let _ = tx.send(Ok(()));
            }
            seen.push(line);
        }
        let _ = tx.send(Err(seen.join("\n")));
    });
    match rx.recv_timeout(UP_WITHIN) {
        Ok(Ok(())) => NodeProc(child),
        Ok(Err(out)) => panic!("the node exited before it listened; its output:\n{out}"),
        Err(_) => panic!("the node did not say it listens within {UP_WITHIN:?}"),
    }
}

fn import(agency: &Agency, file: &Path) -> Output {
    let f = file.display().to_string();
    cordon(
        Some(&agency.operator),
        &[
            "data",
            "import",
            "--collection",
            "mail",
            "--kind",
            "email",
            &f,
        ],
    )
}

fn records(agency: &Agency) -> u64 {
    let o = cordon(Some(&agency.operator), &["status", "--json"]);
    assert!(o.status.success(), "status: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status JSON");
    v["collections"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "mail")
        .and_then(|c| c["records"].as_u64())
        .unwrap_or(0)
}

fn write_rows(path: &Path, tag: &str) {
    let rows: Vec<String> = (0..ROWS)
        .map(|i| format!("user{i}.{tag}@diskfull.example"))
        .collect();
    std::fs::write(path, rows.join("\n") + "\n").unwrap();
}

fn largest_file(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

#[test]
fn an_import_that_fills_the_disk_fails_clearly_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let agency = LocalFederation::create(&tmp.path().join("fed"), &["th"], Some("TH"))
        .unwrap()
        .into_agencies()
        .remove(0);
    let data_dir: PathBuf = Config::load(&agency.config_path)
        .unwrap()
        .db_path()
        .parent()
        .unwrap()
        .to_path_buf();
    let (first, second) = (tmp.path().join("first.txt"), tmp.path().join("second.txt"));
    write_rows(&first, "a");
    write_rows(&second, "b");

    let node = start(&agency, None);
    let o = import(&agency, &first);
    assert!(o.status.success(), "first import: {}", text(&o.stderr));
    assert_eq!(records(&agency), ROWS as u64);
    drop(node);

    let limit = largest_file(&data_dir) + MARGIN;
    eprintln!("disk-full test: file size limit {limit} bytes");
    let node = start(&agency, Some(limit));
    let o = import(&agency, &second);
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the import past the file size limit did not fail as it should: {}{err}",
        text(&o.stdout)
    );
    eprintln!("disk-full test: the operator sees: {}", err.trim());
    for words in [
        "disk",
        "full",
        "file size limit",
        "nothing of this",
        "free disk space",
    ] {
        assert!(
            err.contains(words),
            "the operator is not told plainly that the disk is full (no {words:?}): {err}"
        );
    }
    drop(node);

    // Without the limit: the database opens and holds exactly the first import.
    let _node = start(&agency, None);
    assert_eq!(
        records(&agency),
        ROWS as u64,
        "the failed import left records behind, or the first one's were lost"
    );
    let bundle = tmp.path().join("audit.bundle").display().to_string();
    let o = cordon(
        Some(&agency.auditor),
        &["audit", "export", "--out", &bundle],
    );
    assert!(o.status.success(), "audit export: {}", text(&o.stderr));
    let cfg = agency.config_path.display().to_string();
    let key = text(&cordon(None, &["audit", "key", "--config", &cfg]).stdout);
    let o = cordon(None, &["audit", "verify", &bundle, "--key", key.trim()]);
    assert!(
        o.status.success(),
        "the audit log does not verify after the failed import: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let b = Bundle::parse(&std::fs::read(&bundle).unwrap()).unwrap();
    let imports: Vec<_> = b
        .parsed_entries()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EntryKind::DataImported)
        .collect();
    assert_eq!(
        imports.len(),
        1,
        "the log should hold the first import only: {imports:?}"
    );

    let o = import(&agency, &second);
    assert!(
        o.status.success(),
        "the import failed again once there was room: {}",
        text(&o.stderr)
    );
    assert_eq!(records(&agency), 2 * ROWS as u64);
}
