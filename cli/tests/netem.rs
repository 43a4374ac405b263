//! Queries across an impaired link, measured twice:
//!
//! - through a user-space link emulator on loopback (always runs): a UDP relay between the
//!   querier and the holder that delays every datagram by half the round trip in each direction
//!   and drops the given share of them, as `tc netem` does on a real interface;
//! - between two network namespaces this test creates, joined by a veth pair whose ends run
//!   `tc netem` (addresses 10.77.0.1 and 10.77.0.2, existing only inside the namespaces). This
//!   needs root, iproute2 and a kernel with netem; where any is missing the test says so and
//!   passes without running.
//!
//! Every query must succeed with the right hits. The latencies are printed and written to
//! `$CARGO_TARGET_TMPDIR/netem-figures.json`, never asserted.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use cordon_node::local::{Agency, LocalFederation};

/// Link conditions: name, one-way delay (ms) on each end, loss (%) on each end.
const SETTINGS: [(&str, u32, u32); 3] = [
    ("no impairment", 0, 0),
    ("150 ms RTT, 2 % loss", 75, 2),
    ("300 ms RTT, 5 % loss", 150, 5),
];
/// Filter-cached queries per setting, after one that fetches or checks the filter.
const REPEATS: usize = 5;
const RECORDS: usize = 2_000;
const PLANTED: usize = 100;

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} exited with {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn ip(args: &[&str]) -> Result<String, String> {
    run(Command::new("ip").args(args))
}

fn in_ns(ns: &str, args: &[&str]) -> Result<String, String> {
    run(Command::new("ip").args(["netns", "exec", ns]).args(args))
}

/// Two namespaces joined by a veth pair; removed (with the pair) on drop.
struct Link {
    ns: [String; 2],
    dev: [String; 2],
}

impl Link {
    /// `Err` says why namespaces cannot be made here (the test is then skipped).
    fn create() -> Result<Link, String> {
        let tag = std::process::id() % 100_000;
        let link = Link {
            ns: [format!("cdn{tag}a"), format!("cdn{tag}b")],
            dev: [format!("cdn{tag}a"), format!("cdn{tag}b")],
        };
        for ns in &link.ns {
            ip(&["netns", "add", ns])?;
        }
        ip(&[
            "link",
            "add",
            &link.dev[0],
            "netns",
            &link.ns[0],
            "type",
            "veth",
            "peer",
            "name",
            &link.dev[1],
            "netns",
            &link.ns[1],
        ])?;
        for (i, (ns, dev)) in link.ns.iter().zip(&link.dev).enumerate() {
            let addr = format!("10.77.0.{}/24", i + 1);
            in_ns(ns, &["ip", "addr", "add", &addr, "dev", dev])?;
            in_ns(ns, &["ip", "link", "set", dev, "up"])?;
            in_ns(ns, &["ip", "link", "set", "lo", "up"])?;
            // Probe netem now, so that a kernel without it skips rather than fails.
            in_ns(
                ns,
                &[
                    "tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "0ms",
                ],
            )?;
        }
        Ok(link)
    }

    /// Sets both ends' one-way delay and loss.
    fn impair(&self, delay_ms: u32, loss_pct: u32) {
        for (ns, dev) in self.ns.iter().zip(&self.dev) {
            in_ns(
                ns,
                &[
                    "tc",
                    "qdisc",
                    "change",
                    "dev",
                    dev,
                    "root",
                    "netem",
                    "delay",
                    &format!("{delay_ms}ms"),
                    "loss",
                    &format!("{loss_pct}%"),
                ],
            )
            .expect("change netem");
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in &self.ns {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// A node process (inside a namespace, or not), killed on drop.
struct NodeProc {
    child: Child,
    addr: String,
    log: mpsc::Receiver<String>,
}

/// `ip netns exec NS cordon ARGS`, or `cordon ARGS` without a namespace.
fn cordon_cmd(ns: Option<&str>, args: &[&str]) -> Command {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_cordon")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_cordon")),
    };
    c.args(args).env_remove("CORDON_PROFILE");
    c
}

impl NodeProc {
    /// Starts `cordon node run` and returns once it says where it is listening.
    fn start(ns: Option<&str>, config: &Path) -> NodeProc {
        let mut child = cordon_cmd(ns, &["node", "run", "--config", path(config)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv() {
                Ok(line) if line.contains("listening on ") => {
                    let rest = line.split("listening on ").nth(1).unwrap_or_default();
                    break rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                }
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "node {config:?} exited before listening: {}",
                    seen.join("\n")
                ),
            }
        };
        NodeProc {
            child,
            addr,
            log: rx,
        }
    }

    fn log(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The holder's records and the query (half planted, half absent), as files under `dir`.
struct Data {
    held: PathBuf,
    queried: PathBuf,
}

fn write_data(dir: &Path) -> Data {
    let records: Vec<String> = (0..RECORDS)
        .map(|i| format!("suspect{i}@example.org"))
        .collect();
    let held = dir.join("held.txt");
    std::fs::write(&held, records.join("\n")).unwrap();
    let mut query: Vec<String> = records.iter().step_by(RECORDS / PLANTED).cloned().collect();
    query.extend((0..PLANTED).map(|i| format!("nobody{i}@example.org")));
    let queried = dir.join("query.txt");
    std::fs::write(&queried, query.join("\n")).unwrap();
    Data { held, queried }
}

fn import(ns: Option<&str>, jp: &Agency, data: &Data, jp_node: &NodeProc) {
    let args = [
        "data",
        "import",
        "--profile",
        path(&jp.operator),
        "--collection",
        "emails",
        "--kind",
        "email",
        path(&data.held),
    ];
    run(cordon_cmd(ns, &args).stdout(Stdio::piped()))
        .unwrap_or_else(|e| panic!("import into jp: {e}\n{}", jp_node.log()));
}

/// Runs the queries under every setting (`impair` applies one) and returns the figures.
fn measure(
    link: &str,
    ns: Option<&str>,
    th: &Agency,
    data: &Data,
    nodes: (&NodeProc, &NodeProc),
    impair: &dyn Fn(u32, u32),
) -> Vec<serde_json::Value> {
    let mut figures = Vec::new();
    for (name, delay, loss) in SETTINGS {
        impair(delay, loss);
        let mut latencies = Vec::new();
        let mut node_ms = Vec::new();
        for i in 0..=REPEATS {
            let started = Instant::now();
            let args = [
                "query",
                "--profile",
                path(&th.investigator),
                "--collection",
                "emails",
                "--kind",
                "email",
                "--file",
                path(&data.queried),
                "--case",
                "NETEM-1",
                "--purpose",
                "impaired-network test",
                "--partners",
                "jp",
                "--json",
            ];
            let out = run(cordon_cmd(ns, &args).stdout(Stdio::piped())).unwrap_or_else(|e| {
                panic!(
                    "query {i} under {name} ({link}) failed: {e}\nth: {}\njp: {}",
                    nodes.0.log(),
                    nodes.1.log()
                )
            });
            let wall = started.elapsed().as_secs_f64();
            let v: serde_json::Value = serde_json::from_str(&out).expect("JSON reply");
            let p = &v["partners"][0];
            let hits = p
                .pointer("/outcome/answered/hits")
                .and_then(|h| h.as_array())
                .unwrap_or_else(|| panic!("jp did not answer under {name} ({link}): {p}"));
            assert_eq!(hits.len(), PLANTED, "hits under {name} ({link}): {p}");
            assert!(hits
                .iter()
                .all(|h| h["item"].as_str().is_some_and(|s| s.starts_with("suspect"))));
            // The first query of a setting may open a new connection; the repeats measure
            // queries over an established one.
            if i > 0 {
                latencies.push(wall);
                node_ms.push(p["elapsed_ms"].as_f64().unwrap_or(f64::NAN));
            }
        }
        let line = serde_json::json!({
            "link": link,
            "setting": name,
            "one_way_delay_ms": delay,
            "loss_percent_each_way": loss,
            "queries": REPEATS + 1,
            "succeeded": REPEATS + 1,
            "items_per_query": 2 * PLANTED,
            "median_wall_s": median(&mut latencies),
            "max_wall_s": latencies.iter().cloned().fold(0.0, f64::max),
            "median_node_ms": median(&mut node_ms),
        });
        eprintln!("{line}");
        figures.push(line);
    }
    figures
}

fn record(name: &str, figures: &[serde_json::Value]) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&out, serde_json::to_string_pretty(figures).unwrap()).unwrap();
    eprintln!("figures written to {}", out.display());
}

/// A UDP relay that emulates a slow, lossy link between a client and one server: every datagram
/// waits `delay` in its direction and is dropped with probability `loss`. Per direction the
/// delay is constant, so order is kept, as with netem's plain `delay`.
struct Relay {
    addr: SocketAddr,
    delay_ms: Arc<AtomicU32>,
    loss_pct: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(server: SocketAddr, seed: u64) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        back.connect(server).unwrap();
        let relay = Relay {
            addr: front.local_addr().unwrap(),
            delay_ms: Arc::new(AtomicU32::new(0)),
            loss_pct: Arc::new(AtomicU32::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let client: Arc<std::sync::Mutex<Option<SocketAddr>>> = Default::default();
        // Client → server.
        relay.direction(front.try_clone().unwrap(), seed, {
            let back = back.try_clone().unwrap();
            let client = client.clone();
            move |from, bytes: &[u8]| {
                *client.lock().unwrap() = Some(from);
                let _ = back.send(bytes);
            }
        });
        // Server → client.
        relay.direction(
            back,
            seed ^ 0x9e37_79b9_7f4a_7c15,
            move |_, bytes: &[u8]| {
                if let Some(to) = *client.lock().unwrap() {
                    let _ = front.send_to(bytes, to);
                }
            },
        );
        relay
    }

    /// Receives on `sock` and hands every surviving datagram to `deliver` after the delay.
    fn direction(
        &self,
        sock: UdpSocket,
        seed: u64,
        deliver: impl Fn(SocketAddr, &[u8]) + Send + 'static,
    ) {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (tx, rx) = mpsc::channel::<(Instant, SocketAddr, Vec<u8>)>();
        let (delay, loss, stop) = (
            self.delay_ms.clone(),
            self.loss_pct.clone(),
            self.stop.clone(),
        );
        std::thread::spawn(move || {
            let mut rng = seed | 1;
            let mut buf = vec![0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                // xorshift64: enough randomness to drop packets, and repeatable per seed.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if rng % 100 < u64::from(loss.load(Ordering::Relaxed)) {
                    continue;
                }
                let due =
                    Instant::now() + Duration::from_millis(delay.load(Ordering::Relaxed).into());
                if tx.send((due, from, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for (due, from, bytes) in rx {
                // The emulated propagation delay itself, not a wait for an event.
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                deliver(from, &bytes);
            }
        });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn queries_succeed_across_a_slow_lossy_link() {
    let dir = tempfile::tempdir().unwrap();
    let agencies = LocalFederation::create(dir.path(), &["th", "jp"], Some("TH"))
        .unwrap()
        .into_agencies();
    let (th, jp) = (&agencies[0], &agencies[1]);
    let data = write_data(dir.path());
    let jp_node = NodeProc::start(None, &jp.config_path);
    let seed = u64::from(std::process::id()) * 0x2545_f491_4f6c_dd1d;
    eprintln!("relay seed {seed}");
    let relay = Relay::start(jp_node.addr.parse().expect("jp address"), seed);
    // th reaches jp only through the relay.
    let config = std::fs::read_to_string(&th.config_path).unwrap();
    let old = format!("address = \"{}\"", jp.addr);
    assert!(config.contains(&old), "th's config names jp at {}", jp.addr);
    let config = config.replace(&old, &format!("address = \"{}\"", relay.addr));
    std::fs::write(&th.config_path, config).unwrap();
    let th_node = NodeProc::start(None, &th.config_path);
    import(None, jp, &data, &jp_node);
    let figures = measure(
        "user-space relay on loopback",
        None,
        th,
        &data,
        (&th_node, &jp_node),
        &|delay, loss| {
            relay.delay_ms.store(delay, Ordering::Relaxed);
            relay.loss_pct.store(loss, Ordering::Relaxed);
        },
    );
    record("relay-figures.json", &figures);
    drop((th_node, jp_node, relay));
}

#[test]
fn queries_succeed_across_netem_between_namespaces() {
    let link = match Link::create() {
        Ok(l) => l,
        Err(why) => {
            eprintln!(
                "skipping the netem test: cannot create network namespaces with netem here ({why})"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let th_addr: SocketAddr = "10.77.0.1:7400".parse().unwrap();
    let jp_addr: SocketAddr = "10.77.0.2:7400".parse().unwrap();
    let agencies =
        cordon_node::local::create_at(dir.path(), &[("th", th_addr), ("jp", jp_addr)], Some("TH"))
            .unwrap();
    let (th, jp) = (&agencies[0], &agencies[1]);
    let data = write_data(dir.path());
    let th_node = NodeProc::start(Some(&link.ns[0]), &th.config_path);
    let jp_node = NodeProc::start(Some(&link.ns[1]), &jp.config_path);
    import(Some(&link.ns[1]), jp, &data, &jp_node);
    let figures = measure(
        "netem on a veth pair between namespaces",
        Some(&link.ns[0]),
        th,
        &data,
        (&th_node, &jp_node),
        &|delay, loss| link.impair(delay, loss),
    );
    record("netem-figures.json", &figures);
    drop((th_node, jp_node));
}
