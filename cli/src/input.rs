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

/// How values are read: flattened into `data import`, `query` and `ident normalize`.
#[derive(Args, Clone, Debug, Default)]
pub struct ReadArgs {
    /// Region for national-format phone numbers, ISO 3166 two letters such as TH [default: the node's `identifiers.default_region`; none for `ident normalize`]
    #[arg(long)]
    pub region: Option<String>,
    /// Chain of `crypto` addresses: btc, eth, tron, or auto to detect it [default: auto]
    #[arg(long, value_name = "CHAIN")]
    pub chain: Option<String>,
    /// Time window appended to every `ip` address, e.g. 2025-08-23 (a day) or 2025-08-23T14 (an hour, UTC) [default: none; rows may carry their own as ADDRESS@WINDOW]
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// Apply e-mail providers' documented aliasing rules (Gmail ignores dots and +tags) [default: off: local parts are kept as written]
    #[arg(long)]
    pub provider_rules: bool,
}

impl ReadArgs {
    /// The node's control-message form.
    pub fn to_control(&self) -> cordon_node::control::ReadOptions {
        cordon_node::control::ReadOptions {
            region: self.region.clone(),
            chain: self.chain.clone(),
            window: self.window.clone(),
            provider_rules: self.provider_rules,
        }
    }
}

/// One row: its line, the identifier, and the record's other fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Line in the file.
    pub line: u64,
    /// The raw identifier (for persons, the person's JSON object).
    pub value: String,
    /// The other columns (CSV with a header) or keys (JSON Lines): `(name, value)`.
    pub fields: Vec<(String, String)>,
}

/// A streaming reader of rows; iterating it gives `(line, value)`, [`Rows::records`] the
/// rows with their fields.
pub struct Rows {
    inner: Box<dyn Iterator<Item = anyhow::Result<Row>>>,
    /// Names of the fields the file holds besides the identifier (from the CSV header, or
    /// the first JSON object).
    pub columns: Vec<String>,
}

impl Iterator for Rows {
    type Item = anyhow::Result<(u64, String)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|r| r.map(|r| (r.line, r.value)))
    }
}

impl Rows {
    fn new(it: impl Iterator<Item = anyhow::Result<Row>> + 'static, columns: Vec<String>) -> Rows {
        Rows {
            inner: Box::new(it),
            columns,
        }
    }

    /// The rows with their fields.
    pub fn records(self) -> impl Iterator<Item = anyhow::Result<Row>> {
        self.inner
    }
}

fn row(line: u64, value: String) -> Row {
    Row {
        line,
        value,
        fields: Vec::new(),
    }
}

/// The fields of a person record: `reference` is part of the person (the node keeps it in the
/// canonical record, never in a key) and also a field; keys that are not person fields are
/// taken out of the person and kept as fields only.
pub const PERSON_FIELDS: &[&str] = &[
    "name",
    "aliases",
    "dob",
    "sex",
    "nationality",
    "passport",
    "national_id",
    "reference",
];

fn is_field_of_person(k: &str) -> bool {
    k == "reference" || !PERSON_FIELDS.contains(&k)
}

/// Splits a person object into the person and its fields.
fn split_person(
    pairs: impl IntoIterator<Item = (String, serde_json::Value)>,
) -> (String, Vec<(String, String)>) {
    let mut fields = Vec::new();
    let mut person = serde_json::Map::new();
    for (k, v) in pairs {
        if is_field_of_person(&k) {
            fields.push((k.clone(), json_text(&v)));
        }
        if PERSON_FIELDS.contains(&k.as_str()) {
            person.insert(k, v);
        }
    }
    (serde_json::Value::Object(person).to_string(), fields)
}

/// A JSON value as field text: strings as they are, anything else as JSON.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Keys of the first JSON object of a file, for naming its fields.
fn first_object_keys(path: &Path) -> Vec<String> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default()
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

/// Opens `path` for reading rows: one value per row, or for `records` (persons) one JSON
/// object per row.
pub fn open(path: &Path, a: &InputArgs, records: bool) -> anyhow::Result<Rows> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{} is a folder; give a file of identifiers", path.display());
    }
    let format = a.format.unwrap_or_else(|| detect(path));
    if records {
        return open_records(file, path, format);
    }
    let p: PathBuf = path.to_path_buf();
    match format {
        Format::Lines => {
            let reader = BufReader::new(file);
            let it = reader
                .lines()
                .enumerate()
                .filter_map(move |(i, l)| match l {
                    Ok(l) if l.trim().is_empty() => None,
                    Ok(l) => Some(Ok(row(i as u64 + 1, l.trim().to_string()))),
                    Err(e) => Some(Err(anyhow::anyhow!("{} line {}: {e}", p.display(), i + 1))),
                });
            Ok(Rows::new(it, Vec::new()))
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
            // With a header, the other columns are the record's fields.
            let names: Vec<String> = if header {
                rdr.headers()
                    .with_context(|| format!("cannot read the header of {}", path.display()))?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect()
            } else {
                Vec::new()
            };
            let columns: Vec<String> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != col)
                .map(|(_, n)| n.clone())
                .collect();
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
                        // Empty cells are absent fields.
                        let fields = names
                            .iter()
                            .zip(rec.iter())
                            .enumerate()
                            .filter(|(i, (_, f))| *i != col && !f.trim().is_empty())
                            .map(|(_, (n, f))| (n.clone(), f.trim().to_string()))
                            .collect();
                        Some(Ok(Row {
                            line,
                            value: v,
                            fields,
                        }))
                    }
                }
                Err(e) => Some(Err(anyhow::anyhow!("{}: {e}", p.display()))),
            });
            Ok(Rows::new(it, columns))
        }
        Format::Jsonl => {
            let field = a.column.clone().unwrap_or_else(|| "value".to_string());
            let columns: Vec<String> = first_object_keys(path)
                .into_iter()
                .filter(|k| *k != field)
                .collect();
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
                let fields = |o: &serde_json::Map<String, serde_json::Value>| {
                    o.iter()
                        .filter(|(k, v)| **k != field && !v.is_null())
                        .map(|(k, v)| (k.clone(), json_text(v)))
                        .collect()
                };
                match &v {
                    serde_json::Value::String(s) => Some(Ok(row(line, s.clone()))),
                    serde_json::Value::Object(o) => match o.get(&field) {
                        Some(serde_json::Value::String(s)) => Some(Ok(Row { line, value: s.clone(), fields: fields(o) })),
                        Some(serde_json::Value::Number(n)) => Some(Ok(Row { line, value: n.to_string(), fields: fields(o) })),
                        _ => Some(Err(anyhow::anyhow!(
                            "{} line {line}: no string field {field:?} (choose the field with --column)",
                            p.display()
                        ))),
                    },
                    _ => Some(Err(anyhow::anyhow!("{} line {line}: expected an object or a string", p.display()))),
                }
            });
            Ok(Rows::new(it, columns))
        }
    }
}

/// Person records: a CSV file with a header row (one column per field), or JSON Lines (one
/// object per line). Each row becomes one JSON object; the node checks its fields.
fn open_records(file: File, path: &Path, format: Format) -> anyhow::Result<Rows> {
    let p: PathBuf = path.to_path_buf();
    match format {
        Format::Lines => bail!(
            "{} is read as one value per line, but person records have several fields; give a CSV file with a header row (name,dob,nationality,passport,…) or JSON Lines (--format csv or --format jsonl)",
            path.display()
        ),
        Format::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(file);
            let header: Vec<String> = rdr
                .headers()
                .with_context(|| format!("cannot read the header of {}", path.display()))?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            let columns = header
                .iter()
                .filter(|h| is_field_of_person(h))
                .cloned()
                .collect();
            let it = rdr.into_records().filter_map(move |r| match r {
                Ok(rec) => {
                    let line = rec.position().map_or(0, |p| p.line());
                    if rec.iter().all(|f| f.trim().is_empty()) {
                        return None;
                    }
                    if rec.len() > header.len() {
                        return Some(Err(anyhow::anyhow!(
                            "{} line {line}: {} fields, but the header names {}; quote fields that contain commas",
                            p.display(),
                            rec.len(),
                            header.len()
                        )));
                    }
                    // Empty cells are absent fields, not empty values.
                    // In the header's order, so fields keep the file's order.
                    let obj: Vec<(String, serde_json::Value)> = header
                        .iter()
                        .zip(rec.iter())
                        .filter(|(_, v)| !v.trim().is_empty())
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.trim().to_string())))
                        .collect();
                    let (value, fields) = split_person(obj);
                    Some(Ok(Row { line, value, fields }))
                }
                Err(e) => Some(Err(anyhow::anyhow!("{}: {e}", p.display()))),
            });
            Ok(Rows::new(it, columns))
        }
        Format::Jsonl => {
            let columns = first_object_keys(path)
                .into_iter()
                .filter(|k| is_field_of_person(k))
                .collect();
            let reader = BufReader::new(file);
            let it = reader.lines().enumerate().filter_map(move |(i, l)| {
                let line = i as u64 + 1;
                match l {
                    Ok(l) if l.trim().is_empty() => None,
                    // A line that is not a JSON object goes as it is: the node reports it.
                    Ok(l) => Some(Ok(match serde_json::from_str(l.trim()) {
                        Ok(serde_json::Value::Object(o)) if o.keys().any(|k| is_field_of_person(k)) => {
                            let (value, fields) = split_person(o);
                            Row { line, value, fields }
                        }
                        _ => row(line, l.trim().to_string()),
                    })),
                    Err(e) => Some(Err(anyhow::anyhow!("{} line {line}: {e}", p.display()))),
                }
            });
            Ok(Rows::new(it, columns))
        }
    }
}

/// Whether the file holds person records rather than single values: a CSV file whose header
/// names person fields, or JSON Lines whose first object does. Used when the kind of a query is
/// neither given nor known locally (the partners' collection may be of persons).
pub fn looks_like_persons(path: &Path, a: &InputArgs) -> bool {
    const FIELDS: &[&str] = &[
        "name",
        "aliases",
        "dob",
        "nationality",
        "passport",
        "national_id",
    ];
    let Ok(file) = File::open(path) else {
        return false;
    };
    let first = BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty());
    let Some(first) = first else {
        return false;
    };
    let named = |k: &str| FIELDS.contains(&k.trim().to_ascii_lowercase().as_str());
    match a.format.unwrap_or_else(|| detect(path)) {
        // At least two person fields: a single `name` column may be a column of values.
        Format::Csv => a.column.is_none() && first.split(',').filter(|h| named(h)).count() >= 2,
        Format::Jsonl => serde_json::from_str::<serde_json::Value>(&first)
            .ok()
            .and_then(|v| {
                v.as_object()
                    .map(|o| o.keys().filter(|k| named(k)).count() >= 2)
            })
            .unwrap_or(false),
        Format::Lines => false,
    }
}

/// Reads every row (for queries, which are bounded in size).
pub fn read_all(path: &Path, a: &InputArgs, records: bool) -> anyhow::Result<Vec<(u64, String)>> {
    open(path, a, records)?.collect()
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
            read_all(&t, &args(), false).unwrap(),
            vec![(1, "x".into()), (3, "y".into())]
        );
        let c = dir.path().join("a.csv");
        std::fs::write(&c, "name,phone\nA,+6681\nB,+6682\n").unwrap();
        let a = InputArgs {
            column: Some("phone".into()),
            ..args()
        };
        assert_eq!(
            read_all(&c, &a, false).unwrap(),
            vec![(2, "+6681".into()), (3, "+6682".into())]
        );
        let a = InputArgs {
            column: Some("nope".into()),
            ..args()
        };
        assert!(read_all(&c, &a, false)
            .unwrap_err()
            .to_string()
            .contains("name, phone"));
        let j = dir.path().join("a.jsonl");
        std::fs::write(&j, "{\"value\":\"v1\"}\n\"v2\"\n{\"x\":1}\n").unwrap();
        let e = read_all(&j, &args(), false).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn reads_person_records_as_json_objects() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("p.csv");
        std::fs::write(
            &c,
            "name,dob,passport\nSomchai Jaidee,1985-03-02,\n\n\"Lee, Wei\",1990,CHN:E12345678\n",
        )
        .unwrap();
        let rows = read_all(&c, &args(), true).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2);
        let first: serde_json::Value = serde_json::from_str(&rows[0].1).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"name": "Somchai Jaidee", "dob": "1985-03-02"})
        );
        let second: serde_json::Value = serde_json::from_str(&rows[1].1).unwrap();
        assert_eq!(second["name"], "Lee, Wei");
        assert_eq!(second["passport"], "CHN:E12345678");
        let t = dir.path().join("p.txt");
        std::fs::write(&t, "Somchai\n").unwrap();
        let e = read_all(&t, &args(), true).unwrap_err().to_string();
        assert!(e.contains("header row"), "{e}");
        assert!(looks_like_persons(&c, &args()));
        assert!(!looks_like_persons(&t, &args()));
        let j = dir.path().join("p.jsonl");
        std::fs::write(&j, "{\"name\":\"A B\",\"dob\":\"1990\"}\n").unwrap();
        assert!(looks_like_persons(&j, &args()));
        let v = dir.path().join("v.csv");
        std::fs::write(&v, "name,phone\nA,+6681\n").unwrap();
        assert!(!looks_like_persons(&v, &args()));
    }

    #[test]
    fn other_columns_and_keys_are_fields() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("a.csv");
        std::fs::write(
            &c,
            "phone,case_no,unit
+6681,K-1,
+6682,K-2,fraud
",
        )
        .unwrap();
        let a = InputArgs {
            header: true,
            ..args()
        };
        let rows = open(&c, &a, false).unwrap();
        assert_eq!(rows.columns, vec!["case_no", "unit"]);
        let rows: Vec<Row> = rows.records().collect::<anyhow::Result<_>>().unwrap();
        assert_eq!(rows[0].value, "+6681");
        assert_eq!(rows[0].fields, vec![("case_no".into(), "K-1".into())]);
        assert_eq!(rows[1].fields.len(), 2);

        let j = dir.path().join("a.jsonl");
        std::fs::write(&j, "{\"value\":\"v1\",\"case_no\":\"K\",\"n\":3}\n").unwrap();
        let rows = open(&j, &args(), false).unwrap();
        assert_eq!(rows.columns, vec!["case_no", "n"]);
        let r: Vec<Row> = rows.records().collect::<anyhow::Result<_>>().unwrap();
        assert_eq!(
            r[0].fields,
            vec![("case_no".into(), "K".into()), ("n".into(), "3".into())]
        );

        // Persons: non-person keys leave the person; `reference` stays and is a field too.
        let p = dir.path().join("p.csv");
        std::fs::write(
            &p,
            "name,dob,reference,case_no
A B,1990,W-1,K-7
",
        )
        .unwrap();
        let rows = open(&p, &args(), true).unwrap();
        assert_eq!(rows.columns, vec!["reference", "case_no"]);
        let r: Vec<Row> = rows.records().collect::<anyhow::Result<_>>().unwrap();
        let person: serde_json::Value = serde_json::from_str(&r[0].value).unwrap();
        assert_eq!(
            person,
            serde_json::json!({"name": "A B", "dob": "1990", "reference": "W-1"})
        );
        assert_eq!(
            r[0].fields,
            vec![
                ("reference".into(), "W-1".into()),
                ("case_no".into(), "K-7".into())
            ]
        );
    }
}
