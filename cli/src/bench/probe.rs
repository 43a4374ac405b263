//! What the bench reads off the machine: memory and CPU time of processes, CPU model, load, and the one-thread crypto and canonicalisation rates.

use super::*;

/// `VmHWM` and `VmRSS` of a process, in bytes.
pub(super) fn memory(pid: u32) -> (Option<u64>, Option<u64>) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
pub(super) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU seconds (user + system, all threads) a process has used so far.
pub(super) fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// CPU seconds the calling thread has used so far.
pub(super) fn thread_cpu_seconds(ticks: f64) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// Per-core rates of the two operations an epoch build does per record, on one thread of this
/// process: hash-to-group (RFC 9497, ristretto255-SHA512) and the constant-time variable-base
/// scalar multiplication `k·P`. Rates are per CPU-second of the thread (so other load on the
/// machine does not lower them), with the wall-clock rates alongside.
pub(super) struct CryptoRates {
    pub(super) hash_cpu: f64,
    pub(super) hash_wall: f64,
    pub(super) mul_cpu: f64,
    pub(super) mul_wall: f64,
}

pub(super) fn crypto_rates(ticks: f64) -> CryptoRates {
    use cordon_protocol::oprf::{self, Mode};
    const HASHES: usize = 40_000;
    const MULS: usize = 25_000;
    let inputs: Vec<Vec<u8>> = (0..HASHES as u64)
        .map(|i| cordon_node::epoch::oprf_input("email", &email_value(i)))
        .collect();
    let (sk, _) = oprf::generate_key_pair(&mut rand::rngs::OsRng);
    let c0 = thread_cpu_seconds(ticks).unwrap_or(f64::NAN);
    let t0 = Instant::now();
    let points: Vec<_> = inputs
        .iter()
        .map(|i| oprf::hash_to_group(Mode::Voprf, i))
        .collect();
    let hash_wall = t0.elapsed().as_secs_f64();
    let c1 = thread_cpu_seconds(ticks).unwrap_or(f64::NAN);
    let t1 = Instant::now();
    // Batches below rayon's threshold run on this thread.
    for chunk in points[..MULS].chunks(32) {
        std::hint::black_box(oprf::blind_evaluate(&sk, chunk));
    }
    let mul_wall = t1.elapsed().as_secs_f64();
    let c2 = thread_cpu_seconds(ticks).unwrap_or(f64::NAN);
    CryptoRates {
        hash_cpu: HASHES as f64 / (c1 - c0),
        hash_wall: HASHES as f64 / hash_wall,
        mul_cpu: MULS as f64 / (c2 - c1),
        mul_wall: MULS as f64 / mul_wall,
    }
}

/// CPU seconds used by the two nodes together.
pub(super) struct CpuProbe {
    pub(super) pids: [u32; 2],
    pub(super) ticks: f64,
}

impl CpuProbe {
    /// CPU seconds so far of th, jp, this process, and the whole machine (busy time of all
    /// cores from `/proc/stat`).
    pub(super) fn read(&self) -> [f64; 4] {
        let [th, jp] = self
            .pids
            .map(|p| cpu_seconds(p, self.ticks).unwrap_or(f64::NAN));
        let me = cpu_seconds(std::process::id(), self.ticks).unwrap_or(f64::NAN);
        [
            th,
            jp,
            me,
            machine_busy_seconds(self.ticks).unwrap_or(f64::NAN),
        ]
    }

    /// CPU seconds other processes used between two readings.
    pub(super) fn others(c0: &[f64; 4], c1: &[f64; 4]) -> f64 {
        ((c1[3] - c0[3]) - (c1[0] - c0[0]) - (c1[1] - c0[1]) - (c1[2] - c0[2])).max(0.0)
    }
}

/// Busy seconds of all cores together since boot (`/proc/stat`: user, nice, system, irq,
/// softirq, steal).
pub(super) fn machine_busy_seconds(ticks: f64) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0);
    Some((get(0) + get(1) + get(2) + get(5) + get(6) + get(7)) / ticks)
}

pub(super) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(super) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub(super) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Single-threaded canonicalisation cost of `kind`, in seconds per row, over `n` values.
pub(super) fn canon_cost(kind: BenchKind, n: u64) -> anyhow::Result<f64> {
    let values: Vec<String> = (0..n).map(|i| kind.value(i)).collect();
    let opts = Options::with_region("TH");
    let t = Instant::now();
    for v in &values {
        let c = ident::canonicalize(kind.kind(), v, &opts)
            .with_context(|| format!("generated {} value {v:?} is invalid", kind.name()))?;
        std::hint::black_box(c);
    }
    Ok(t.elapsed().as_secs_f64() / n as f64)
}
