//! OpenMined PSI for `cordon bench --compare`: its Python virtual environment (created, and
//! `openmined-psi` installed from PyPI, when missing) and the driver script that measures it.

use serde::Deserialize;

use super::*;

/// The driver, written into the work folder at run time.
const DRIVER: &str = include_str!("openmined.py");

/// A ready OpenMined PSI: the environment's Python and the driver script.
pub(super) struct OpenMined {
    python: PathBuf,
    script: PathBuf,
    pub(super) venv: PathBuf,
    pub(super) version: String,
    pub(super) python_version: String,
}

/// One holder's run of the driver (see openmined.py).
#[derive(Clone, Deserialize)]
pub(super) struct OmRun {
    pub(super) records: u64,
    pub(super) fpr: f64,
    pub(super) num_client_inputs: u64,
    pub(super) setup_s: f64,
    pub(super) setup_cpu_s: f64,
    pub(super) maxrss_bytes: u64,
    pub(super) setup_bytes: u64,
    pub(super) queries: Vec<OmQuery>,
}

#[derive(Clone, Deserialize)]
pub(super) struct OmQuery {
    pub(super) items: usize,
    pub(super) request_s: f64,
    pub(super) process_s: f64,
    pub(super) intersect_s: f64,
    pub(super) total_s: f64,
    pub(super) cpu_s: f64,
    pub(super) request_bytes: u64,
    pub(super) response_bytes: u64,
    /// Indices into the query's items (0-based).
    pub(super) hits: Vec<u64>,
}

impl OmQuery {
    /// What one query moves when the holder re-sends its set-up with it.
    pub(super) fn bytes_with_setup(&self, setup_bytes: u64) -> u64 {
        setup_bytes + self.request_bytes + self.response_bytes
    }
}

/// OpenMined's two set-up data structures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Structure {
    Bloom,
    Gcs,
}

impl Structure {
    pub(super) const BOTH: [Structure; 2] = [Structure::Bloom, Structure::Gcs];
    pub(super) fn arg(self) -> &'static str {
        match self {
            Structure::Bloom => "bloom",
            Structure::Gcs => "gcs",
        }
    }
    pub(super) fn label(self) -> &'static str {
        match self {
            Structure::Bloom => "OpenMined (Bloom)",
            Structure::Gcs => "OpenMined (GCS)",
        }
    }
}

/// `$XDG_CACHE_HOME/cordon/openmined-venv`, else `~/.cache/cordon/openmined-venv`.
pub(super) fn default_venv() -> anyhow::Result<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        });
    match cache {
        Some(c) => Ok(c.join("cordon").join("openmined-venv")),
        None => bail!(
            "neither XDG_CACHE_HOME nor HOME is set, so there is no default place for OpenMined's virtual environment; pass --venv DIR"
        ),
    }
}

/// The last lines of a process's stderr, for an error message.
fn last_lines(bytes: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let v: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    v[v.len().saturating_sub(n)..].join(" | ")
}

/// Makes OpenMined PSI ready in `venv` (creating the environment with `python -m venv` and
/// installing `openmined-psi` with pip when missing) and writes the driver into `work`.
pub(super) fn prepare(python: &Path, venv: &Path, work: &Path) -> anyhow::Result<OpenMined> {
    let py = venv.join("bin").join("python");
    if !py.exists() {
        progress!(
            "creating a Python virtual environment for OpenMined PSI in {}...",
            venv.display()
        );
        if let Some(parent) = venv.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let out = match Command::new(python).arg("-m").arg("venv").arg(venv).output() {
            Ok(o) => o,
            Err(e) => bail!(
                "cannot run `{}` ({e}): the comparison runs OpenMined PSI in Python 3; install it (e.g. `apt-get install python3 python3-venv`) or name one with --python",
                python.display()
            ),
        };
        if !out.status.success() {
            bail!(
                "`{} -m venv {}` failed ({}); install Python's venv module (e.g. `apt-get install python3-venv`) or pass --venv DIR of an environment that has openmined-psi",
                python.display(),
                venv.display(),
                last_lines(&out.stderr, 3)
            );
        }
    }
    let has_psi = |py: &Path| {
        Command::new(py)
            .args(["-c", "import private_set_intersection.python"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !has_psi(&py) {
        progress!(
            "installing openmined-psi from PyPI into {}...",
            venv.display()
        );
        let out = Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "openmined-psi"])
            .output()
            .with_context(|| format!("cannot run {}", py.display()))?;
        if !out.status.success() || !has_psi(&py) {
            bail!(
                "`pip install openmined-psi` into {} failed ({}); check that PyPI is reachable (or set PIP_INDEX_URL), or install it yourself with `{} -m pip install openmined-psi`",
                venv.display(),
                last_lines(&out.stderr, 3),
                py.display()
            );
        }
    }
    let script = work.join("openmined.py");
    std::fs::write(&script, DRIVER)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let v: serde_json::Value = driver(&py, &script, &["version".into()])?;
    let field = |k: &str| v.get(k).and_then(|s| s.as_str()).unwrap_or("?").to_string();
    Ok(OpenMined {
        version: field("openmined_psi"),
        python_version: field("python"),
        python: py,
        script,
        venv: venv.to_path_buf(),
    })
}

/// Runs the driver with `args` and parses its JSON output.
fn driver<T: serde::de::DeserializeOwned>(
    py: &Path,
    script: &Path,
    args: &[std::ffi::OsString],
) -> anyhow::Result<T> {
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", py.display()))?;
    if !out.status.success() {
        bail!(
            "the OpenMined driver {} failed ({}): {}",
            script.display(),
            out.status,
            last_lines(&out.stderr, 5)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the OpenMined driver printed no readable result: {}",
            last_lines(&out.stdout, 3)
        )
    })
}

impl OpenMined {
    /// One holder with `structure`, in its own process: set-up of `holder`, then each query.
    pub(super) fn run(
        &self,
        structure: Structure,
        holder: &Path,
        queries: &[PathBuf],
        fp_per_lookup: f64,
    ) -> anyhow::Result<OmRun> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "run".into(),
            "--structure".into(),
            structure.arg().into(),
            "--holder".into(),
            holder.into(),
            "--fp-per-lookup".into(),
            format!("{fp_per_lookup:e}").into(),
        ];
        for q in queries {
            args.push("--query".into());
            args.push(q.into());
        }
        driver(&self.python, &self.script, &args)
    }
}
