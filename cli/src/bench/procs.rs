//! The bench's nodes as child processes: start, wait until they answer, stop on drop.

use super::*;

/// The node child processes; terminated (SIGTERM, then SIGKILL after a grace period) when
/// dropped, so an error anywhere never leaves nodes behind.
pub(super) struct Nodes {
    pub(super) children: Vec<(String, Child, PathBuf)>,
}

impl Nodes {
    pub(super) fn pid(&self, name: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, c, _)| c.id())
    }

    /// Fails if a node process has exited, quoting the end of its log.
    pub(super) fn check_alive(&mut self) -> anyhow::Result<()> {
        for (name, child, log) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "node `{name}` exited ({status}); the end of its log {}:\n{}",
                    log.display(),
                    tail(log, 20)
                );
            }
        }
        Ok(())
    }

    pub(super) fn stop_all(&mut self) {
        for (_, child, _) in &mut self.children {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for (_, child, _) in &mut self.children {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.children.clear();
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

pub(super) fn tail(path: &Path, lines: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Starts `cordon node run --config …` for an agency, its output to `<dir>/<name>.log`.
pub(super) fn spawn_node(dir: &Path, a: &Agency) -> anyhow::Result<(String, Child, PathBuf)> {
    let exe = std::env::current_exe().context("cannot locate the cordon executable")?;
    let log = dir.join(format!("{}.log", a.name));
    let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let child = Command::new(exe)
        .arg("node")
        .arg("run")
        .arg("--config")
        .arg(&a.config_path)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start node `{}`", a.name))?;
    Ok((a.name.clone(), child, log))
}

/// Connects to a node, retrying while it starts (bounded: 30 s).
pub(super) async fn connect_when_up(
    nodes: &mut Nodes,
    profile: &Profile,
) -> anyhow::Result<ControlClient> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        nodes.check_alive()?;
        let attempt = tokio::time::timeout(Duration::from_millis(1000), async {
            let c = ControlClient::connect(profile).await?;
            c.status().await?;
            Ok::<_, cordon_node::NodeError>(c)
        })
        .await;
        match attempt {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(e)) if Instant::now() >= deadline => {
                bail!("node `{}` did not come up within 30 s: {e}", profile.node)
            }
            Err(_) if Instant::now() >= deadline => {
                bail!("node `{}` did not come up within 30 s", profile.node)
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
