//! `cordon bench --scaling`: the scaling series and its charts.
//!
//! For each of `--records-steps` a fresh holder imports that many records (epoch build time,
//! import time, peak memory); for each of `--partners-steps` a fresh federation runs the
//! concurrent load of [`super::concurrent`]. The points go to `scaling.json`, and two SVG charts
//! are drawn from them with `plotters`: records against build time and memory, and concurrent
//! partners against p50/p99 latency. `--write FILE` puts them, with a table of the points, into
//! the `scaling` section of a Markdown file.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::concurrent::{run_load, LoadResult, LoadSpec};
use super::section::replace_section;
use super::*;

/// File names in the chart folder.
pub(super) const BUILD_SVG: &str = "scaling-build.svg";
pub(super) const PARTNERS_SVG: &str = "scaling-partners.svg";
pub(super) const POINTS_JSON: &str = "scaling.json";

/// One holder size of the series.
#[derive(Clone, serde::Serialize)]
pub(super) struct BuildPoint {
    pub(super) records: u64,
    pub(super) build_s: f64,
    pub(super) import_s: f64,
    pub(super) holder_vmhwm_bytes: Option<u64>,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// Imports `n` records into a fresh holder under `dir` and measures the build.
async fn build_point(dir: &Path, kind: BenchKind, n: u64) -> anyhow::Result<BuildPoint> {
    let (agencies, mut nodes) = start_federation(dir, &["jp"])?;
    let jp = agency(&agencies, "jp")?;
    let ops = connect_when_up(&mut nodes, &Profile::load(&jp.operator)?).await?;
    let imported = import_records(&ops, kind, n).await?;
    ops.close().await;
    nodes.check_alive()?;
    let hwm = memory(nodes.pid("jp").context("jp not running")?).0;
    nodes.stop_all();
    Ok(BuildPoint {
        records: n,
        build_s: imported.reply.epoch_seconds,
        import_s: imported.import_s,
        holder_vmhwm_bytes: hwm,
    })
}

/// The command line as run, with the executable named `cordon`.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        })
        .collect();
    format!("cordon {}", args.join(" "))
}

pub(super) fn run_scaling(a: &BenchArgs, items: usize) -> anyhow::Result<ExitCode> {
    let l = &a.load;
    let chart_dir = l.chart_dir.clone().context(
        "--scaling needs --chart-dir DIR, the folder for its SVG charts and JSON (e.g. --chart-dir bench)",
    )?;
    if l.records_steps.is_empty() || l.records_steps.contains(&0) {
        bail!("--records-steps needs one or more holder sizes of at least 1 record");
    }
    if l.partners_steps.is_empty() {
        bail!("--partners-steps needs one or more numbers of partners");
    }
    if let Some(n) = l.records_steps.iter().find(|n| **n >= a.kind.capacity()) {
        bail!(
            "--records-steps {n} is more than the {} distinct `{}` values the generator makes",
            a.kind.capacity(),
            a.kind.name()
        );
    }
    let spec = |partners| LoadSpec {
        partners,
        duration: Duration::from_secs(l.duration),
        records: a.records(),
        items,
        kind: a.kind,
    };
    for &p in &l.partners_steps {
        spec(p).check()?;
    }
    std::fs::create_dir_all(&chart_dir)
        .with_context(|| format!("cannot create {}", chart_dir.display()))?;
    let subs: Vec<String> = l
        .records_steps
        .iter()
        .map(|n| format!("records-{n}"))
        .chain(l.partners_steps.iter().map(|p| format!("partners-{p}")))
        .collect();
    let sub_refs: Vec<&str> = subs.iter().map(String::as_str).collect();
    let (_tmp, dir) = work_dir(&a.keep, &sub_refs)?;
    let cpu = cpu_model();
    let ncores = cores();
    progress!("machine: {cpu}, {ncores} cores, load average {}", loadavg());
    progress!("folders and node logs in {}", dir.display());

    let rt = crate::runtime()?;
    let mut builds = Vec::new();
    for &n in &l.records_steps {
        progress!("holder of {n} records: import and epoch build...");
        let p = rt.block_on(build_point(&dir.join(format!("records-{n}")), a.kind, n))?;
        progress!(
            "  built in {:.2} s (import {:.2} s), VmHWM {:.0} MiB",
            p.build_s,
            p.import_s,
            p.holder_vmhwm_bytes.map(mib).unwrap_or(f64::NAN)
        );
        builds.push(p);
    }
    let mut loads = Vec::new();
    for &p in &l.partners_steps {
        let r = rt.block_on(run_load(&spec(p), &dir.join(format!("partners-{p}"))))?;
        progress!(
            "  {p} partners: {} queries, {} refusals or errors, p50 {:.0} ms, p99 {:.0} ms, {:.0} items/s",
            r.queries,
            r.errors(),
            r.p50_ms,
            r.p99_ms,
            r.items_per_s
        );
        loads.push(r);
    }

    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default();
    let command = command_line();
    let points = json!({
        "date": date,
        "cpu": cpu,
        "cores": ncores,
        "command": command,
        "kind": a.kind.name(),
        "build": builds,
        "partners": loads,
    });
    let json_path = chart_dir.join(POINTS_JSON);
    std::fs::write(&json_path, serde_json::to_string_pretty(&points)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    draw_build(&chart_dir.join(BUILD_SVG), &builds)?;
    draw_partners(&chart_dir.join(PARTNERS_SVG), &loads)?;
    progress!(
        "wrote {}, {} and {} in {}",
        BUILD_SVG,
        PARTNERS_SVG,
        POINTS_JSON,
        chart_dir.display()
    );
    let md = markdown(
        &builds,
        &loads,
        &Caption {
            date: &date,
            cpu: &cpu,
            cores: ncores,
            command: &command,
            charts: &chart_link(&chart_dir, a.write.as_deref()),
        },
    );
    if let Some(file) = &a.write {
        let doc = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        let doc = replace_section(&doc, "scaling", &md)
            .with_context(|| format!("cannot update {}", file.display()))?;
        std::fs::write(file, doc).with_context(|| format!("cannot write {}", file.display()))?;
        progress!("updated the scaling section of {}", file.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&points)?);
    } else {
        println!("{md}");
    }
    let clean = loads.iter().all(|r| r.errors() == 0 && r.queries > 0);
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How the Markdown refers to the chart folder: relative to the written file's folder when
/// the charts are under it, else as given.
fn chart_link(chart_dir: &Path, file: Option<&Path>) -> String {
    let base = file
        .and_then(|f| f.parent())
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .and_then(|p| p.canonicalize().ok());
    let dir = chart_dir
        .canonicalize()
        .unwrap_or_else(|_| chart_dir.to_path_buf());
    let rel = base
        .and_then(|b| dir.strip_prefix(b).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| chart_dir.to_path_buf());
    let s = rel.to_string_lossy().replace('\\', "/");
    if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

struct Caption<'a> {
    date: &'a str,
    cpu: &'a str,
    cores: usize,
    command: &'a str,
    charts: &'a str,
}

/// The section: when, where, the command, both charts and the points.
fn markdown(builds: &[BuildPoint], loads: &[LoadResult], c: &Caption) -> String {
    let mut s = String::new();
    s.push_str("## Scaling (`cordon bench --scaling`)\n\n");
    s.push_str(&format!(
        "Measured on {}, {}, {} cores, with `{}`. Each point is one run on a fresh federation; the charts are drawn by the bench from these points ({}/{POINTS_JSON}).\n\n",
        c.date, c.cpu, c.cores, c.command, c.charts
    ));
    s.push_str(&format!(
        "![epoch build time and holder peak memory against records]({}/{BUILD_SVG})\n\n",
        c.charts
    ));
    s.push_str("| records | epoch build | records/s | import total | holder VmHWM |\n|---:|---:|---:|---:|---:|\n");
    for b in builds {
        s.push_str(&format!(
            "| {} | {:.2} s | {:.0} | {:.2} s | {} |\n",
            b.records,
            b.build_s,
            b.records as f64 / b.build_s,
            b.import_s,
            b.holder_vmhwm_bytes
                .map(|v| format!("{:.0} MiB", mib(v)))
                .unwrap_or_else(|| "n/a".into())
        ));
    }
    if let Some(l) = loads.first() {
        s.push_str(&format!(
            "\n![latency against partners querying at once]({}/{PARTNERS_SVG})\n\nEvery partner sends {}-item queries back to back for the window to one holder of {} records; all nodes and the CLI clients share the {} cores. CPU is each group's share of all cores over the window.\n\n",
            c.charts, l.query_items, l.records, c.cores
        ));
    }
    s.push_str("| partners | window | queries | refusals + errors | p50 | p99 | max | items/s | CPU holder / queriers / clients / others |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in loads {
        s.push_str(&format!(
            "| {} | {:.1} s | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} | {:.0} / {:.0} / {:.0} / {:.0} % |\n",
            r.partners,
            r.window_s,
            r.queries,
            r.errors(),
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.items_per_s,
            100.0 * r.share(r.cpu_s_holder),
            100.0 * r.share(r.cpu_s_queriers),
            100.0 * r.share(r.cpu_s_clients),
            100.0 * r.share(r.cpu_s_others),
        ));
    }
    s
}

/// `1000` as `1k`, `1000000` as `1M`.
fn short_count(x: f64) -> String {
    if x >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if x >= 1e3 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Three significant digits: 0.0312, 0.41, 22.1, 394.
fn sig3(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x}");
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One panel of the build chart: `points` over a log-scaled record axis.
fn build_panel(
    area: &Area,
    title: &str,
    unit: &str,
    x: std::ops::Range<f64>,
    points: &[(f64, f64)],
    color: RGBColor,
) -> anyhow::Result<()> {
    let top = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.25;
    let mut c = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        // Ticks at the measured sizes only: plotters' own log ticks (every 100k between 100k
        // and 1M) crowd into each other.
        .build_cartesian_2d(
            x.log_scale()
                .with_key_points(points.iter().map(|p| p.0).collect::<Vec<_>>()),
            0f64..top,
        )?;
    c.configure_mesh()
        .x_desc("records at the holder")
        .y_desc(unit)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| short_count(*v))
        .draw()?;
    c.draw_series(LineSeries::new(
        points.iter().copied(),
        color.stroke_width(2),
    ))?;
    c.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    c.draw_series(points.iter().map(|&p| {
        EmptyElement::at(p)
            + Text::new(
                format!("{} {unit}", sig3(p.1)),
                (7, -16),
                ("sans-serif", 12),
            )
    }))?;
    Ok(())
}

/// Records against epoch build time (top) and the holder's peak memory (bottom).
pub(super) fn draw_build(path: &Path, builds: &[BuildPoint]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (760, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(300);
    let xs: Vec<f64> = builds.iter().map(|b| b.records as f64).collect();
    let (lo, hi) = min_max(&xs);
    let x = (lo / 1.6)..(hi * 1.6);
    let time: Vec<(f64, f64)> = builds
        .iter()
        .map(|b| (b.records as f64, b.build_s))
        .collect();
    let memory: Vec<(f64, f64)> = builds
        .iter()
        .filter_map(|b| b.holder_vmhwm_bytes.map(|m| (b.records as f64, mib(m))))
        .collect();
    build_panel(&top, "Epoch build time", "s", x.clone(), &time, BLUE)?;
    build_panel(
        &bottom,
        "Holder peak memory (VmHWM)",
        "MiB",
        x,
        &memory,
        RED,
    )?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Partners querying at once against p50 and p99 latency.
pub(super) fn draw_partners(path: &Path, loads: &[LoadResult]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (760, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let most = loads.iter().map(|r| r.partners).max().unwrap_or(1) as f64;
    let top = loads
        .iter()
        .map(|r| r.p99_ms)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.25;
    let items = loads.first().map(|r| r.query_items).unwrap_or(0);
    let mut c = ChartBuilder::on(&root)
        .caption(
            format!("Latency of {items}-item queries, partners querying at once"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.5f64..most + 0.5, 0f64..top)?;
    c.configure_mesh()
        .x_desc("partners querying at once")
        .y_desc("ms")
        .light_line_style(TRANSPARENT)
        .x_labels(loads.len().max(2) * 2)
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .draw()?;
    // p50 values are written below their points and p99 above, so that close pairs (one
    // partner) do not print over each other.
    for (name, color, pick, label_at) in [
        (
            "p50",
            BLUE,
            (|r: &LoadResult| r.p50_ms) as fn(&LoadResult) -> f64,
            (7, 6),
        ),
        ("p99", RED, |r: &LoadResult| r.p99_ms, (7, -16)),
    ] {
        let pts: Vec<(f64, f64)> = loads
            .iter()
            .map(|r| (r.partners as f64, pick(r)))
            .filter(|p| p.1.is_finite())
            .collect();
        c.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        c.draw_series(pts.iter().map(|&p| {
            EmptyElement::at(p)
                + Text::new(format!("{} ms", sig3(p.1)), label_at, ("sans-serif", 12))
        }))?;
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(records: u64, build_s: f64) -> BuildPoint {
        BuildPoint {
            records,
            build_s,
            import_s: build_s * 1.1,
            holder_vmhwm_bytes: Some(records * 100),
        }
    }

    #[test]
    fn build_chart_ticks_only_the_measured_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(BUILD_SVG);
        let builds = [
            point(100_000, 2.6),
            point(300_000, 7.5),
            point(1_000_000, 26.1),
            point(3_000_000, 78.9),
        ];
        draw_build(&path, &builds).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for label in ["100k", "300k", "1M", "3M", "26.1 s", "78.9 s"] {
            assert!(svg.contains(&format!("\n{label}\n")), "{label} missing");
        }
        // Unmeasured sizes are not ticked (they crowded the axis).
        for label in ["200k", "400k", "500k", "2M"] {
            assert!(!svg.contains(&format!("\n{label}\n")), "{label} ticked");
        }
    }
}
