//! Reading identifier files: CSV, JSON Lines, or plain text (one value per line), streamed.
//!
//! Every value keeps its line number so errors can point at it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

/// File format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values
    Csv,
    /// One JSON object (or string) per line
    Jsonl,
    /// One value per line
    Lines,
}

/// How to find the values in a file.
#[derive(Args, Clone, Debug)]
pub struct InputArgs {
    /// File format [default: from the extension: .csv, .jsonl/.ndjson, else one value per line]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV column (header name or 1-based number) or JSON field holding the value [default: first column; JSON field `value`]
    #[arg(long, value_name = "NAME|N")]
    pub column: Option<String>,
    /// The CSV file's first row is a header (implied by --column NAME)
    #[arg(long)]
    pub header: bool,
}

/// A streaming reader of `(line, value)` rows.
pub struct Rows {
    inner: Box<dyn Iterator<Item = anyhow::Result<(u64, String)>>>,
}

impl Iterator for Rows {
    type Item = anyhow::Result<(u64, String)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

fn detect(path: &Path) -> Format {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Format::Csv,
        Some("jsonl") | Some("ndjson") => Format::Jsonl,
        _ => Format::Lines,
    }
}

/// Opens `path` for reading rows.
pub fn open(path: &Path, a: &InputArgs) -> anyhow::Result<Rows> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{} is a folder; give a file of identifiers", path.display());
    }
    let format = a.format.unwrap_or_else(|| detect(path));
    let p: PathBuf = path.to_path_buf();
    match format {
        Format::Lines => {
            let reader = BufReader::new(file);
            let it = reader
                .lines()
                .enumerate()
                .filter_map(move |(i, l)| match l {
                    Ok(l) if l.trim().is_empty() => None,
                    Ok(l) => Some(Ok((i as u64 + 1, l.trim().to_string()))),
                    Err(e) => Some(Err(anyhow::anyhow!("{} line {}: {e}", p.display(), i + 1))),
                });
            Ok(Rows {
                inner: Box::new(it),
            })
        }
        Format::Csv => {
            let named = a
                .column
                .as_ref()
                .filter(|c| c.parse::<usize>().is_err())
                .cloned();
            let header = a.header || named.is_some();
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(header)
                .flexible(true)
                .from_reader(file);
            let col = match (&a.column, named) {
                (_, Some(name)) => {
                    let h = rdr
                        .headers()
                        .with_context(|| format!("cannot read the header of {}", path.display()))?;
                    match h.iter().position(|f| f.trim() == name) {
                        Some(i) => i,
                        None => bail!(
                            "{} has no column {name:?}; its columns are: {}",
                            path.display(),
                            h.iter().collect::<Vec<_>>().join(", ")
                        ),
                    }
                }
                (Some(n), None) => match n.parse::<usize>() {
                    Ok(n) if n >= 1 => n - 1,
                    _ => bail!("--column {n}: column numbers start at 1"),
                },
                (None, None) => 0,
            };
            let it = rdr.into_records().filter_map(move |r| match r {
                Ok(rec) => {
                    let line = rec.position().map_or(0, |p| p.line());
                    let v = rec.get(col).unwrap_or("").trim().to_string();
                    if v.is_empty() && rec.len() <= 1 {
                        None
                    } else if rec.len() <= col {
                        Some(Err(anyhow::anyhow!(
                            "{} line {line}: no column {} in this row",
                            p.display(),
                            col + 1
                        )))
                    } else {
                        Some(Ok((line, v)))
                    }
                }
                Err(e) => Some(Err(anyhow::anyhow!("{}: {e}", p.display()))),
            });
            Ok(Rows {
                inner: Box::new(it),
            })
        }
        Format::Jsonl => {
            let field = a.column.clone().unwrap_or_else(|| "value".to_string());
            let reader = BufReader::new(file);
            let it = reader.lines().enumerate().filter_map(move |(i, l)| {
                let line = i as u64 + 1;
                let l = match l {
                    Ok(l) => l,
                    Err(e) => return Some(Err(anyhow::anyhow!("{} line {line}: {e}", p.display()))),
                };
                if l.trim().is_empty() {
                    return None;
                }
                let v: serde_json::Value = match serde_json::from_str(&l) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(anyhow::anyhow!("{} line {line}: not JSON ({e})", p.display()))),
                };
                match &v {
                    serde_json::Value::String(s) => Some(Ok((line, s.clone()))),
                    serde_json::Value::Object(o) => match o.get(&field) {
                        Some(serde_json::Value::String(s)) => Some(Ok((line, s.clone()))),
                        Some(serde_json::Value::Number(n)) => Some(Ok((line, n.to_string()))),
                        _ => Some(Err(anyhow::anyhow!(
                            "{} line {line}: no string field {field:?} (choose the field with --column)",
                            p.display()
                        ))),
                    },
                    _ => Some(Err(anyhow::anyhow!("{} line {line}: expected an object or a string", p.display()))),
                }
            });
            Ok(Rows {
                inner: Box::new(it),
            })
        }
    }
}

/// Reads every row (for queries, which are bounded in size).
pub fn read_all(path: &Path, a: &InputArgs) -> anyhow::Result<Vec<(u64, String)>> {
    open(path, a)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> InputArgs {
        InputArgs {
            format: None,
            column: None,
            header: false,
        }
    }

    #[test]
    fn reads_each_format_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("a.txt");
        std::fs::write(&t, "x\n\n y \n").unwrap();
        assert_eq!(
            read_all(&t, &args()).unwrap(),
            vec![(1, "x".into()), (3, "y".into())]
        );
        let c = dir.path().join("a.csv");
        std::fs::write(&c, "name,phone\nA,+6681\nB,+6682\n").unwrap();
        let a = InputArgs {
            column: Some("phone".into()),
            ..args()
        };
        assert_eq!(
            read_all(&c, &a).unwrap(),
            vec![(2, "+6681".into()), (3, "+6682".into())]
        );
        let a = InputArgs {
            column: Some("nope".into()),
            ..args()
        };
        assert!(read_all(&c, &a)
            .unwrap_err()
            .to_string()
            .contains("name, phone"));
        let j = dir.path().join("a.jsonl");
        std::fs::write(&j, "{\"value\":\"v1\"}\n\"v2\"\n{\"x\":1}\n").unwrap();
        let e = read_all(&j, &args()).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
