//! The policy commands through the `cordon` binary against a node running as its own process:
//! `partner status`, a reload by SIGHUP and by `cordon policy reload`, and `user revoke`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cordon_node::local::LocalFederation;

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_cordon")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cordon(profile: &Path, args: &[&str]) -> Output {
    Command::new(exe())
        .arg("--profile")
        .arg(profile)
        .args(args)
        .env_remove("CORDON_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("run cordon")
}

/// A node process whose stderr lines arrive on a channel; killed when dropped.
struct NodeProc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl NodeProc {
    fn start(config: &Path) -> NodeProc {
        let mut child = Command::new(exe())
            .args(["node", "run", "--config"])
            .arg(config)
            .env_remove("CORDON_PROFILE")
            .env("RUST_LOG", "info,quinn=warn,rustls=warn")
            // Logs as journald gets them from deploy/cordon-node.service.
            .env("CORDON_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a node");
        let err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = NodeProc { child, lines };
        p.wait_for("cordon node listening on");
        p
    }

    /// Waits for the node to print a line containing `what` (an event, not a sleep; the
    /// bound only turns a hang into a failure).
    fn wait_for(&mut self, what: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(l) if l.contains(what) => return l,
                Ok(_) => {}
                Err(e) => panic!("the node never printed `{what}`: {e}"),
            }
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn partner_status_reload_by_sighup_and_by_command_and_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let agencies = LocalFederation::create(tmp.path(), &["th", "jp"], Some("TH"))
        .unwrap()
        .into_agencies();
    let jp = agencies.iter().find(|a| a.name == "jp").unwrap().clone();
    let mut node = NodeProc::start(&jp.config_path);
    // CORDON_LOG_FORMAT=json: one JSON object per line, the message at the top level.
    let started = node.wait_for("node started");
    let v: serde_json::Value = serde_json::from_str(&started).expect("a JSON log line");
    assert_eq!(v["message"], "node started", "{started}");
    assert_eq!(v["level"], "INFO", "{started}");

    // `cordon status`: operators see activity, budgets and handshake failures; investigators not.
    let o = cordon(&jp.operator, &["status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Since the node started"), "{out}");
    assert!(out.contains("QUERIES IN: ANSWERED"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("th ")), "{out}");
    assert!(out.contains("Handshake failures: none"), "{out}");
    let o = cordon(&jp.operator, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["operations"]["started_at"].as_u64().unwrap() > 0, "{v}");
    let o = cordon(&jp.investigator, &["status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains("Since the node started"));

    let o = cordon(&jp.operator, &["partner", "status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("PARTNER"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("th ")), "{out}");
    let o = cordon(&jp.operator, &["partner", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["partners"][0]["partner"], "th");
    // An investigator may not read partners' budgets: one sentence, exit 1.
    let o = cordon(&jp.investigator, &["partner", "status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("needs the operator or supervisor role"),
        "{}",
        text(&o.stderr)
    );

    // SIGHUP applies an edited grant without a restart.
    let cfg = std::fs::read_to_string(&jp.config_path).unwrap();
    std::fs::write(
        &jp.config_path,
        cfg.replace("daily_items = 1000000", "daily_items = 777"),
    )
    .unwrap();
    let kill = Command::new("kill")
        .args(["-HUP", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    node.wait_for("SIGHUP: policy reloaded");
    let o = cordon(&jp.operator, &["partner", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cols = v["partners"][0]["collections"].as_array().unwrap().clone();
    // No collection is held and the grant names none: nothing is listed yet. That SIGHUP
    // applied the 777 shows below: a reload of the same file finds the grants unchanged.
    assert!(cols.is_empty(), "{v}");

    // `cordon policy reload`: unchanged grants are said to be unchanged; a narrowed one applies.
    let o = cordon(&jp.operator, &["policy", "reload"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("unchanged"), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("777 items/day"),
        "{}",
        text(&o.stdout)
    );
    let cfg = std::fs::read_to_string(&jp.config_path).unwrap();
    std::fs::write(
        &jp.config_path,
        cfg.replace("collections = [\"*\"]", "collections = [\"phones\"]"),
    )
    .unwrap();
    let o = cordon(&jp.operator, &["policy", "reload"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("reloaded and logged"),
        "{}",
        text(&o.stdout)
    );
    let o = cordon(&jp.operator, &["partner", "status"]);
    let out = text(&o.stdout);
    assert!(out.contains("phones (not held)"), "{out}");
    assert!(out.contains("0 of 777"), "{out}");
    // A grant naming an unknown partner is refused with the reason; the old policy stays.
    std::fs::write(
        &jp.config_path,
        cfg.replace(
            "partner = \"th\"\ncollections",
            "partner = \"xx\"\ncollections",
        ),
    )
    .unwrap();
    let o = cordon(&jp.operator, &["policy", "reload"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("`xx` is not a configured [[partner]]"),
        "{}",
        text(&o.stderr)
    );

    // Revocation through the CLI: the investigator's next command is refused.
    let o = cordon(
        &jp.operator,
        &[
            "user",
            "revoke",
            "investigator",
            "--reason",
            "left the unit",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = cordon(&jp.investigator, &["status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("was revoked"),
        "{}",
        text(&o.stderr)
    );
}
