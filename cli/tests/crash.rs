//! Crash safety of the database, the audit log and budgets, through the `cordon` binary against
//! real node processes.
//!
//! Two agencies, th and jp, run as `cordon node run` processes. Worker threads keep importing
//! (operators of th and jp, each file a unique set of e-mail addresses), querying (th's
//! investigator asks jp) and rotating the key of the victim's collection (an epoch build) while
//! the test SIGKILLs th or jp at a seeded pseudo-random moment, restarts it, and checks after
//! every restart, over every operation so far, that:
//!
//! 1. the node starts again on its database and `cordon status` answers;
//! 2. every import the CLI acknowledged (exit 0) has its `data_imported` entry (matched by its
//!    unique source file name), the logged imports add up to the node's record count (records
//!    and entry commit together), and jp's acknowledged addresses are hits of later queries;
//! 3. every query the CLI completed (exit 0 or 2) has a `query_completed` entry for each
//!    partner that answered and a `query_failed` entry for each that did not;
//! 4. `cordon audit export` and `cordon audit verify --key` succeed, and each export extends
//!    the previous one byte for byte (the log never loses or rewrites an entry);
//! 5. every `query_completed` th logged with jp has jp's `query_answered` with the same
//!    exchange id and receipt, and `cordon audit reconcile` reports neither an exchange th
//!    completed nor a disagreement (exchanges only one side logged as sent or failed are
//!    expected when a node dies mid-exchange);
//! 6. every key rotation the CLI acknowledged has its `key_rotated` entry, and jp's budget count
//!    of th's items (`cordon partner status`) is at least what its `query_answered` entries and
//!    th's answered queries evaluated, and never goes down: a crash refunds no budget.
//!
//! A round kills its node right after the CLI got its k-th acknowledgement from it, the moment
//! it prints its k-th `import committed`, `key rotated`, `query started`, `partner answered`
//! (th) or `query answered` (jp) line (just after a commit, before the reply leaves), or a
//! random 0-200 ms after the k-th operation involving it started (mid-operation). Kills alternate
//! between th and jp; in some rounds the restarted node is killed again as soon as it is up.
//! th keeps its QUIC connection to jp across jp's restarts: the restarted jp resets it with a
//! stateless reset th accepts (the reset key persists with the node), so th's next query
//! reconnects at once instead of waiting out the idle time-out.
//!
//! Not checked: what an operation the CLI did not acknowledge left behind (it may or may not
//! be logged), timing, and graceful stops.
//!
//! `CORDON_CRASH_ROUNDS` (default 50) sets the number of rounds, `CORDON_CRASH_SEED` replays a
//! run (every failure message names the seed), `CORDON_CRASH_KEEP=1` keeps the folder with the
//! nodes, their output and the bundles.

mod support;

use support::{cordon, exe, text};

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::UNIX_EPOCH;
use std::time::{Duration, Instant};

use cordon_node::local::{Agency, LocalFederation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "crash/check.rs"]
mod check;
use check::Checker;

const COLLECTION: &str = "mail";
/// Bounds on waiting for a node or the workers: generous, since only a hang reaches them.
const NODE_UP_WITHIN: Duration = Duration::from_secs(60);
const TRIGGER_WITHIN: Duration = Duration::from_secs(120);
const WORKERS_DONE_WITHIN: Duration = Duration::from_secs(90);

/// Node output lines printed right after a commit and before the reply is sent.
const IMPORT_COMMITTED: &str = "import committed";
/// th: a query is about to log `query_sent` and ask jp.
const QUERY_STARTED: &str = "query started";
/// th: `query_completed` committed; the CLI has no result yet.
const PARTNER_ANSWERED: &str = "partner answered";
/// jp: `query_answered` committed; th has no answer yet.
const QUERY_ANSWERED: &str = "query answered";
/// A key rotation (new epoch) committed; the CLI has no reply yet.
const KEY_ROTATED: &str = "key rotated";
const PRINTED: [&str; 5] = [
    IMPORT_COMMITTED,
    KEY_ROTATED,
    QUERY_STARTED,
    PARTNER_ANSWERED,
    QUERY_ANSWERED,
];

type Node = &'static str;

/// When a round kills its node.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// Right after the CLI got this many acknowledgements from the node in the round (its
    /// imports; for th also its queries): what was just acknowledged must survive.
    Acked(usize),
    /// The moment the node printed this line this many times in the round.
    Printed(&'static str, usize),
    /// This many milliseconds after the k-th operation involving the node started.
    Started(usize, u64),
}

impl Trigger {
    fn reached(&self, st: &State, victim: Node) -> bool {
        match *self {
            Trigger::Acked(k) => st.acked.get(victim).is_some_and(|n| *n >= k),
            Trigger::Printed(l, k) => st.printed.get(&(victim, l)).is_some_and(|n| *n >= k),
            Trigger::Started(k, _) => st.started.get(victim).is_some_and(|n| *n >= k),
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// One node as a child process; SIGKILLed when dropped so a failing test leaves none behind.
struct NodeProc {
    node: Node,
    agency: Agency,
    harness: Arc<Harness>,
    child: Option<Child>,
    starts: u32,
}

impl NodeProc {
    fn log_path(&self) -> PathBuf {
        self.harness
            .dir
            .join("logs")
            .join(format!("{}-{}.log", self.node, self.starts))
    }

    /// Starts the process; the receiver gets `true` once it printed that it listens (its
    /// database opened, its log re-hashed and checked), `false` if its output ended before.
    /// Its output goes to a file, and each [`PRINTED`] line is counted for the triggers.
    fn spawn(&mut self) -> mpsc::Receiver<bool> {
        assert!(self.child.is_none(), "{} is already running", self.node);
        self.starts += 1;
        let mut child = Command::new(exe())
            .args(["node", "run", "--config"])
            .arg(&self.agency.config_path)
            .env_remove("CORDON_PROFILE")
            .env("RUST_LOG", "info,quinn=warn,rustls=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a node");
        let err = child.stderr.take().expect("piped stderr");
        let mut log = File::create(self.log_path()).expect("node log file");
        let (tx, rx) = mpsc::channel();
        let (h, node) = (self.harness.clone(), self.node);
        std::thread::spawn(move || {
            let mut ready = false;
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if let Some(p) = PRINTED.iter().find(|p| line.contains(**p)) {
                    *h.lock().printed.entry((node, *p)).or_default() += 1;
                    h.progress.notify_all();
                }
                if !ready && line.contains("cordon node listening on") {
                    ready = true;
                    let _ = tx.send(true);
                }
            }
            let _ = tx.send(false);
        });
        self.child = Some(child);
        rx
    }

    /// Waits for a spawned node to be up, then checks that `cordon status` answers (check 1).
    fn wait_up(&mut self, rx: mpsc::Receiver<bool>, at: &str) {
        if rx.recv_timeout(NODE_UP_WITHIN) != Ok(true) {
            let why = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(s))) => format!("it exited ({s})"),
                _ => format!("it did not say it listens within {NODE_UP_WITHIN:?}"),
            };
            let log = self.log_path();
            panic!(
                "{at}: node {} does not start again: {why}; the end of its output ({}):\n{}",
                self.node,
                log.display(),
                tail(&log, 30)
            );
        }
        let o = cordon(Some(&self.agency.operator), &["status", "--json"]);
        assert!(
            o.status.success(),
            "{at}: `cordon status` on {} failed after it started (exit {:?}): {}",
            self.node,
            o.status.code(),
            text(&o.stderr)
        );
    }

    fn start(&mut self, at: &str) {
        let rx = self.spawn();
        self.wait_up(rx, at);
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a worker does, over and over.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// An operator imports new addresses into this node.
    Import(Node),
    /// th's investigator asks jp.
    Query,
    /// An operator rotates the key of this node's collection (builds a new epoch).
    Rotate(Node),
}

/// One CLI run and what became of it.
#[derive(Debug, Clone)]
struct Op {
    id: usize,
    round: usize,
    role: Role,
    /// Import: the file (as the entry's `detail` names it) and its number of addresses; query:
    /// its file and number of distinct items.
    file: String,
    rows: u64,
    /// Query: addresses whose import into jp was acknowledged before it started.
    expect: Vec<String>,
    /// Exit code; None if killed by a signal.
    code: Option<i32>,
    /// Killed by the test: it still waited on a killed node after that node restarted.
    abandoned: bool,
    stdout: String,
    stderr: PathBuf,
}

impl Op {
    fn label(&self) -> String {
        let what = match self.role {
            Role::Import(n) => format!("import of {} rows from {} into {n}", self.rows, self.file),
            Role::Query => format!("th's query to jp, expecting hits {:?}", self.expect),
            Role::Rotate(n) => format!("key rotation of {n}'s {COLLECTION}"),
        };
        format!("op #{} of round {} ({what})", self.id, self.round)
    }

    fn acked(&self) -> bool {
        self.code == Some(0)
    }
}

struct Running {
    child: Child,
    involves: &'static [Node],
    abandoned: bool,
}

#[derive(Default)]
struct State {
    stop: bool,
    round: usize,
    /// Operations each node acknowledged in the round.
    acked: BTreeMap<Node, usize>,
    /// Lines of [`PRINTED`] each node printed in the round.
    printed: BTreeMap<(Node, &'static str), usize>,
    /// Operations started in the round, per node they involve.
    started: BTreeMap<Node, usize>,
    next_op: usize,
    running: BTreeMap<usize, Running>,
    ops: Vec<Op>,
    /// Addresses whose import into jp was acknowledged.
    jp_acked: Vec<String>,
}

/// What the workers and node output readers share with the main thread.
struct Harness {
    dir: PathBuf,
    operators: BTreeMap<Node, PathBuf>,
    th_investigator: PathBuf,
    state: Mutex<State>,
    /// Notified when an operation is acknowledged or a node prints one of [`PRINTED`].
    progress: Condvar,
}

impl Harness {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one operation of `role`; false once the round is stopping.
    fn one_op(&self, role: Role, rng: &mut StdRng) -> bool {
        let mut op = {
            let mut st = self.lock();
            if st.stop {
                return false;
            }
            st.next_op += 1;
            let n = st.jp_acked.len();
            let expect = match role {
                Role::Query if n > 0 => (0..3)
                    .map(|_| st.jp_acked[rng.gen_range(0..n)].clone())
                    .collect(),
                _ => Vec::new(),
            };
            let (id, round) = (st.next_op, st.round);
            let stderr = self.dir.join("ops").join(format!("{id}.err"));
            let tag = match role {
                Role::Import(node) => node,
                Role::Query => "query",
                Role::Rotate(_) => "rotate",
            };
            let file = self
                .dir
                .join("data")
                .join(format!("r{round}-op{id}-{tag}.txt"));
            let file = file.display().to_string();
            Op {
                id,
                round,
                role,
                file,
                rows: 0,
                expect,
                code: None,
                abandoned: false,
                stdout: String::new(),
                stderr,
            }
        };
        let (id, round) = (op.id, op.round);
        let (lines, profile, involves, args): (Vec<String>, &Path, &'static [Node], String) =
            match role {
                Role::Import(node) => {
                    op.rows = rng.gen_range(1..=20u64);
                    let lines = (0..op.rows).map(|i| format!("op{id}.n{i}@{node}.crash.example"));
                    let involves: &'static [Node] = if node == "th" { &["th"] } else { &["jp"] };
                    let args = format!("data import --collection {COLLECTION} --kind email");
                    (lines.collect(), &self.operators[node], involves, args)
                }
                Role::Query => {
                    let mut lines = op.expect.clone();
                    lines.extend(["a", "b"].map(|x| format!("absent{id}.{x}@nowhere.example")));
                    let args = format!("query --collection {COLLECTION} --partners jp --json --case CRASH-{round} --file");
                    op.rows = lines.iter().collect::<BTreeSet<_>>().len() as u64;
                    (lines, &self.th_investigator, &["th", "jp"], args)
                }
                Role::Rotate(node) => {
                    let involves: &'static [Node] = if node == "th" { &["th"] } else { &["jp"] };
                    let args = format!("epoch rotate {COLLECTION}");
                    (Vec::new(), &self.operators[node], involves, args)
                }
            };
        std::fs::write(&op.file, lines.join("\n") + "\n").expect("write the operation's file");
        let mut args: Vec<&str> = args.split(' ').collect();
        let file = op.file.clone();
        args.push(&file);
        match role {
            Role::Query => args.extend(["--purpose", "crash test"]),
            Role::Rotate(_) => {
                args.pop();
            }
            Role::Import(_) => {}
        }
        self.run_tracked(&mut op, involves, profile, &args);
        let mut st = self.lock();
        if op.acked() {
            if role == Role::Import("jp") {
                st.jp_acked.extend(lines);
            }
            let node = match role {
                Role::Import(node) | Role::Rotate(node) => node,
                Role::Query => "th",
            };
            *st.acked.entry(node).or_default() += 1;
            self.progress.notify_all();
        }
        st.ops.push(op);
        true
    }

    /// Runs the CLI, registered so the main thread can abandon it, and records its outcome.
    fn run_tracked(&self, op: &mut Op, involves: &'static [Node], profile: &Path, args: &[&str]) {
        let mut child = Command::new(exe())
            .arg("--profile")
            .arg(profile)
            .args(args)
            .env_remove("CORDON_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&op.stderr).expect("stderr file"))
            .spawn()
            .expect("run cordon");
        let mut out = child.stdout.take().expect("piped stdout");
        let r = Running {
            child,
            involves,
            abandoned: false,
        };
        {
            let mut st = self.lock();
            for n in involves {
                *st.started.entry(*n).or_default() += 1;
            }
            st.running.insert(op.id, r);
            self.progress.notify_all();
        }
        // Ends when the CLI exits or is killed: it starts no process of its own.
        let mut stdout = Vec::new();
        let _ = out.read_to_end(&mut stdout);
        let r = self.lock().running.remove(&op.id).expect("registered");
        let mut child = r.child;
        op.code = child.wait().expect("wait for cordon").code();
        op.abandoned = r.abandoned && op.code.is_none();
        op.stdout = text(&stdout);
    }

    /// Kills every CLI still running that involves `node` (it restarted: an answer that had
    /// not reached them by now never will, and they would wait out QUIC's 30 s idle timeout).
    fn abandon(&self, node: Option<Node>) {
        for r in self.lock().running.values_mut() {
            if node.is_none_or(|n| r.involves.contains(&n)) {
                let _ = r.child.kill();
                r.abandoned = true;
            }
        }
    }
}

/// Stops the workers and kills their CLIs if the main thread panics mid-round.
struct StopGuard<'a>(&'a Harness);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.abandon(None);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn killed_nodes_restart_with_every_acknowledged_action_in_a_verifying_log() {
    let rounds = env_u64("CORDON_CRASH_ROUNDS").unwrap_or(50) as usize;
    let seed = env_u64("CORDON_CRASH_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("crash test: {rounds} rounds, seed {seed} (replay with CORDON_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let tmp = tempfile::Builder::new()
        .prefix("cordon-crash")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    for sub in ["ops", "data", "bundles", "logs"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let agencies = LocalFederation::create(&dir.join("fed"), &["th", "jp"], Some("TH"))
        .unwrap()
        .into_agencies();
    let agency = |n: &str| agencies.iter().find(|a| a.name == n).unwrap().clone();
    let names: [Node; 2] = ["th", "jp"];
    let h = Arc::new(Harness {
        dir: dir.clone(),
        operators: names.iter().map(|n| (*n, agency(n).operator)).collect(),
        th_investigator: agency("th").investigator,
        state: Mutex::new(State::default()),
        progress: Condvar::new(),
    });
    let mut nodes: BTreeMap<Node, NodeProc> = BTreeMap::new();
    for node in names {
        let (agency, harness) = (agency(node), h.clone());
        let mut p = NodeProc {
            node,
            agency,
            harness,
            child: None,
            starts: 0,
        };
        p.start(&format!("first start of {node} (seed {seed})"));
        nodes.insert(node, p);
    }
    let mut checker = Checker {
        seed,
        dir: dir.clone(),
        vkeys: BTreeMap::new(),
        auditors: names.iter().map(|n| (*n, agency(n).auditor)).collect(),
        operators: h.operators.clone(),
        previous: BTreeMap::new(),
        budget: None,
        started: std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    for (n, p) in &nodes {
        let cfg = p.agency.config_path.display().to_string();
        let o = cordon(None, &["audit", "key", "--config", &cfg]);
        assert!(
            o.status.success(),
            "`cordon audit key` for {n}: {}",
            text(&o.stderr)
        );
        checker.vkeys.insert(n, text(&o.stdout).trim().to_string());
    }

    // Round 0: both collections exist before anything is killed.
    let mut r0 = StdRng::seed_from_u64(seed ^ 0xc0ffee);
    assert!(h.one_op(Role::Import("th"), &mut r0) && h.one_op(Role::Import("jp"), &mut r0));
    let ops = h.lock().ops.clone();
    for op in &ops {
        assert!(op.acked(), "setup {}: {}", op.label(), tail(&op.stderr, 10));
    }
    checker.check(0, &ops);

    for round in 1..=rounds {
        let victim: Node = if round % 2 == 1 { "th" } else { "jp" };
        let trigger = match (victim, rng.gen_range(0..8)) {
            (_, 0) => Trigger::Acked(rng.gen_range(1..=6)),
            (_, 1 | 2) => Trigger::Started(rng.gen_range(1..=6), rng.gen_range(0..=200)),
            (_, 3) => Trigger::Printed(IMPORT_COMMITTED, rng.gen_range(1..=4)),
            (_, 4) => Trigger::Printed(KEY_ROTATED, rng.gen_range(1..=2)),
            ("th", 5) => Trigger::Printed(QUERY_STARTED, rng.gen_range(1..=3)),
            ("th", _) => Trigger::Printed(PARTNER_ANSWERED, rng.gen_range(1..=3)),
            _ => Trigger::Printed(QUERY_ANSWERED, rng.gen_range(1..=3)),
        };
        let kill_again_when_up = rng.gen_range(0..3) == 0;
        let at = format!("round {round} (seed {seed})");
        eprintln!("{at}: killing {victim} {trigger:?}, again when up: {kill_again_when_up}");
        {
            let mut st = h.lock();
            st.stop = false;
            st.round = round;
            st.acked.clear();
            st.printed.clear();
            st.started.clear();
        }
        let guard = StopGuard(&h);
        let (done_tx, done_rx) = mpsc::channel();
        let roles = [
            Role::Import("th"),
            Role::Import("jp"),
            Role::Query,
            Role::Rotate(victim),
        ];
        for (i, role) in roles.into_iter().enumerate() {
            let (h, tx) = (h.clone(), done_tx.clone());
            let mut rng = StdRng::seed_from_u64(seed ^ ((round as u64) << 8) ^ i as u64);
            std::thread::spawn(move || {
                while h.one_op(role, &mut rng) {}
                let _ = tx.send(());
            });
        }
        {
            let deadline = Instant::now() + TRIGGER_WITHIN;
            let mut st = h.lock();
            while !trigger.reached(&st, victim) {
                let now = Instant::now();
                assert!(
                    now < deadline,
                    "{at}: {victim} was to be killed at {trigger:?}, but within {TRIGGER_WITHIN:?} the nodes acknowledged {:?} and printed {:?}; the last operations: {:#?}",
                    st.acked,
                    st.printed,
                    st.ops.iter().rev().take(6).map(|o| (o.label(), o.code, tail(&o.stderr, 3))).collect::<Vec<_>>()
                );
                st = h
                    .progress
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            st.stop = true;
        }
        if let Trigger::Started(_, ms) = trigger {
            // The random moment of the kill: mid-operation, whatever the node is doing.
            std::thread::sleep(Duration::from_millis(ms));
        }
        let node = nodes.get_mut(victim).unwrap();
        node.kill();
        if kill_again_when_up {
            let rx = node.spawn();
            node.wait_up(rx, &format!("{at}, first restart of {victim}"));
            node.kill();
        }
        node.start(&format!("{at}, restart of {victim}"));
        h.abandon(Some(victim));
        for _ in roles {
            if done_rx.recv_timeout(WORKERS_DONE_WITHIN).is_err() {
                let stuck: Vec<usize> = h.lock().running.keys().copied().collect();
                panic!(
                    "{at}: operations {stuck:?} (not involving the killed {victim}) did not finish within {WORKERS_DONE_WITHIN:?}; see {}",
                    dir.join("ops").display()
                );
            }
        }
        drop(guard);
        let ops = h.lock().ops.clone();
        for op in ops.iter().filter(|o| o.round == round) {
            assert!(
                (op.code.is_some() || op.abandoned) && op.code != Some(101),
                "{at}: the CLI crashed in {} (exit {:?}): {}",
                op.label(),
                op.code,
                tail(&op.stderr, 10)
            );
        }
        checker.check(round, &ops);
    }

    let ops = h.lock().ops.clone();
    let count = |f: &dyn Fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
    let answered = count(&|o| o.role == Role::Query && o.stdout.contains("\"answered\""));
    eprintln!(
        "crash test: {} operations: {} imports acknowledged, {} key rotations acknowledged, {answered} queries answered by jp, {} ended in errors, {} abandoned",
        ops.len(),
        count(&|o| matches!(o.role, Role::Import(_)) && o.acked()),
        count(&|o| matches!(o.role, Role::Rotate(_)) && o.acked()),
        count(&|o| o.code.is_some_and(|c| c != 0)),
        count(&|o| o.abandoned)
    );
    assert!(
        answered > 0,
        "seed {seed}: jp answered no query, so checks 3 and 5 checked nothing"
    );
    let rotated = count(&|o| matches!(o.role, Role::Rotate(_)) && o.acked());
    assert!(
        rotated > 0,
        "seed {seed}: no key rotation was acknowledged, so check 6 checked none"
    );
    assert!(
        checker.budget.is_some_and(|(_, used)| used > 0),
        "seed {seed}: jp counted none of th's items, so the budget check checked nothing"
    );
    if std::env::var("CORDON_CRASH_KEEP").is_ok_and(|v| v == "1") {
        eprintln!("crash test: kept {}", tmp.keep().display());
    }
}
