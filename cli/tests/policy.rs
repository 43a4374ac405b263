//! The policy commands through the `cordon` binary against a node running as its own process:
//! `partner status`, a reload by SIGHUP and by `cordon policy reload`, and `user revoke`.

mod support;

use support::{cordon, exe, fails_saying, text};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cordon_node::local::{Agency, LocalFederation};

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

/// A federation of th and jp in `dir`, with jp's node running as its own process.
fn jp_running(dir: &Path) -> (Agency, NodeProc) {
    let agencies = LocalFederation::create(dir, &["th", "jp"], Some("TH"))
        .unwrap()
        .into_agencies();
    let jp = agencies.into_iter().find(|a| a.name == "jp").unwrap();
    let node = NodeProc::start(&jp.config_path);
    (jp, node)
}

#[test]
fn partner_status_reload_by_sighup_and_by_command_and_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let (jp, mut node) = jp_running(tmp.path());
    // CORDON_LOG_FORMAT=json: one JSON object per line, the message at the top level.
    let started = node.wait_for("node started");
    let v: serde_json::Value = serde_json::from_str(&started).expect("a JSON log line");
    assert_eq!(v["message"], "node started", "{started}");
    assert_eq!(v["level"], "INFO", "{started}");

    // `cordon status`: operators see activity, budgets and handshake failures; investigators not.
    let o = cordon(Some(&jp.operator), &["status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Since the node started"), "{out}");
    assert!(out.contains("QUERIES IN: ANSWERED"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("th ")), "{out}");
    assert!(out.contains("Handshake failures: none"), "{out}");
    let o = cordon(Some(&jp.operator), &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["operations"]["started_at"].as_u64().unwrap() > 0, "{v}");
    let o = cordon(Some(&jp.investigator), &["status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains("Since the node started"));

    let o = cordon(Some(&jp.operator), &["partner", "status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("PARTNER"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("th ")), "{out}");
    let o = cordon(Some(&jp.operator), &["partner", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["partners"][0]["partner"], "th");
    // An investigator may not read partners' budgets: one sentence, exit 1.
    let o = cordon(Some(&jp.investigator), &["partner", "status"]);
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
    let o = cordon(Some(&jp.operator), &["partner", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cols = v["partners"][0]["collections"].as_array().unwrap().clone();
    // No collection is held and the grant names none: nothing is listed yet. That SIGHUP
    // applied the 777 shows below: a reload of the same file finds the grants unchanged.
    assert!(cols.is_empty(), "{v}");

    // `cordon policy reload`: unchanged grants are said to be unchanged; a narrowed one applies.
    let o = cordon(Some(&jp.operator), &["policy", "reload"]);
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
    let o = cordon(Some(&jp.operator), &["policy", "reload"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("reloaded and logged"),
        "{}",
        text(&o.stdout)
    );
    let o = cordon(Some(&jp.operator), &["partner", "status"]);
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
    let o = cordon(Some(&jp.operator), &["policy", "reload"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("`xx` is not a configured [[partner]]"),
        "{}",
        text(&o.stderr)
    );

    // Revocation through the CLI: the investigator's next command is refused.
    let o = cordon(
        Some(&jp.operator),
        &[
            "user",
            "revoke",
            "investigator",
            "--reason",
            "left the unit",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = cordon(Some(&jp.investigator), &["status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("was revoked"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn cert_revoke_refuses_mistakes_and_a_reload_applies_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (jp, _node) = jp_running(tmp.path());
    let cert_of = |profile: &Path| {
        let p = cordon_node::profile::Profile::load(profile).unwrap();
        p.path(&p.cert)
    };
    let config = jp.config_path.to_str().unwrap();
    let revoke = |profile: &Path, what: &[&str]| {
        let mut args = vec![
            "cert",
            "revoke",
            "--config",
            config,
            "--reason",
            "laptop lost",
        ];
        args.extend_from_slice(what);
        cordon(Some(profile), &args)
    };
    let investigator = cert_of(&jp.investigator);
    let investigator = investigator.to_str().unwrap();

    let o = cordon(Some(&jp.operator), &["cert", "fingerprint", investigator]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let fp = text(&o.stdout).trim().to_string();
    assert_eq!(fp.len(), 64, "{fp}");

    // Mistakes, each one sentence and exit 1, node.toml untouched.
    let before = std::fs::read_to_string(&jp.config_path).unwrap();
    let o = revoke(&jp.operator, &["--fingerprint", "zz"]);
    fails_saying(&o, "--fingerprint \"zz\"");
    let own = cert_of(&jp.operator);
    let o = revoke(&jp.operator, &["--cert", own.to_str().unwrap()]);
    fails_saying(&o, "is your own certificate");
    let node_cert = jp.dir.join("node.pem");
    assert!(
        node_cert.exists(),
        "the node's certificate is {}",
        node_cert.display()
    );
    let o = revoke(&jp.operator, &["--cert", node_cert.to_str().unwrap()]);
    fails_saying(&o, "this node's own certificate");
    let ca = jp.dir.join("ca.pem");
    let o = revoke(&jp.operator, &["--cert", ca.to_str().unwrap()]);
    fails_saying(&o, "is this node's CA certificate");
    let o = cordon(
        Some(&jp.operator),
        &[
            "cert",
            "revoke",
            "--config",
            config,
            "--cert",
            investigator,
            "--reason",
            " ",
        ],
    );
    fails_saying(&o, "a reason is required");
    assert_eq!(std::fs::read_to_string(&jp.config_path).unwrap(), before);

    // The investigator's certificate: listed, then applied by a reload.
    let o = revoke(&jp.operator, &["--cert", investigator]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains(&format!("Revoked certificate {fp}")),
        "{}",
        text(&o.stdout)
    );
    assert!(std::fs::read_to_string(&jp.config_path)
        .unwrap()
        .contains(&fp));
    let o = revoke(&jp.operator, &["--fingerprint", &fp]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("already revoked"),
        "{}",
        text(&o.stdout)
    );
    // Listed is not yet in force: the running node still serves the investigator.
    let o = cordon(Some(&jp.investigator), &["status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = cordon(Some(&jp.operator), &["policy", "reload"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("reloaded and logged"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stdout).contains("1 certificate is revoked"),
        "{}",
        text(&o.stdout)
    );
    let o = cordon(Some(&jp.investigator), &["status"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("lists our certificate as revoked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // The operator, whose certificate is not listed, still is served.
    let o = cordon(Some(&jp.operator), &["status"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}
