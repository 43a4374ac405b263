//! The canonical values of an import being received, kept in an unnamed temporary file until
//! the import is applied: memory stays at one frame whatever the import's size, and nothing
//! (no lock, no write transaction) is held while the client streams.
//!
//! The file is created with `O_TMPFILE` where the platform has it (`tempfile::tempfile_in`):
//! it has no name, so it vanishes with the process, even on a crash, and an aborted import
//! leaves nothing behind. It lives in the node's data folder, next to the database the values
//! are bound for, and holds nothing the database does not hold once the import is applied.
//!
//! Each value is written as `u32 LE length, bytes, u32 LE field count`, then per field
//! `u32 LE length, name bytes, u32 LE length, value bytes`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::NodeError;

/// A value with the fields of its row (empty if it had none).
pub type SpooledValue = (String, Vec<(String, String)>);

/// Values being written.
pub struct Spool {
    file: BufWriter<File>,
    dir: PathBuf,
    values: u64,
    /// Names of the fields the values carried, for the `--releasable` check.
    field_names: BTreeSet<String>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

fn io_error(dir: &Path, source: std::io::Error) -> NodeError {
    if crate::error::is_disk_full(&source) {
        return NodeError::Operator(crate::error::OperatorError::DiskFull(format!(
            "writing the temporary import file in {} failed ({source})",
            dir.display()
        )));
    }
    NodeError::io(
        "temporary import file (is the data folder full?)",
        dir.to_path_buf(),
        source,
    )
}

fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    let len = u32::try_from(s.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "value too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(s.as_bytes())
}

impl Spool {
    /// An empty spool in `dir`.
    pub fn create(dir: &Path) -> Result<Spool, NodeError> {
        let file = tempfile::tempfile_in(dir).map_err(|e| io_error(dir, e))?;
        Ok(Spool {
            file: BufWriter::with_capacity(1 << 20, file),
            dir: dir.to_path_buf(),
            values: 0,
            field_names: BTreeSet::new(),
        })
    }

    /// Appends a canonical value with its row's fields.
    pub fn push(&mut self, value: &str, fields: &[(String, String)]) -> Result<(), NodeError> {
        let mut write = || -> std::io::Result<()> {
            put_str(&mut self.file, value)?;
            self.file.write_all(&(fields.len() as u32).to_le_bytes())?;
            for (name, v) in fields {
                put_str(&mut self.file, name)?;
                put_str(&mut self.file, v)?;
            }
            Ok(())
        };
        write().map_err(|e| io_error(&self.dir, e))?;
        for (name, _) in fields {
            if !self.field_names.contains(name) {
                self.field_names.insert(name.clone());
            }
        }
        self.values += 1;
        Ok(())
    }

    /// Whether some value carried a field of that name.
    pub fn has_field(&self, name: &str) -> bool {
        self.field_names.contains(name)
    }

    /// The values written, to read back in order.
    pub fn into_reader(self) -> Result<SpoolReader, NodeError> {
        let dir = self.dir;
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| io_error(&dir, e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_error(&dir, e))?;
        Ok(SpoolReader {
            file: BufReader::with_capacity(1 << 20, file),
            dir,
            left: self.values,
        })
    }
}

/// Values read back.
pub struct SpoolReader {
    file: BufReader<File>,
    dir: PathBuf,
    left: u64,
}

impl SpoolReader {
    fn get_str(&mut self) -> std::io::Result<String> {
        let mut len = [0u8; 4];
        self.file.read_exact(&mut len)?;
        let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
        self.file.read_exact(&mut buf)?;
        String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    fn get(&mut self) -> std::io::Result<SpooledValue> {
        let value = self.get_str()?;
        let mut n = [0u8; 4];
        self.file.read_exact(&mut n)?;
        let n = u32::from_le_bytes(n) as usize;
        let mut fields = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            fields.push((self.get_str()?, self.get_str()?));
        }
        Ok((value, fields))
    }

    /// The next values in order, at most `max` (none once all were read).
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<SpooledValue>, NodeError> {
        let n = self.left.min(max as u64) as usize;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.get().map_err(|e| io_error(&self.dir, e))?);
        }
        self.left -= n as u64;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_in_order_with_their_fields() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::create(dir.path()).unwrap();
        let rows: Vec<SpooledValue> = (0..2500)
            .map(|i| {
                let fields = if i % 3 == 0 {
                    vec![
                        ("case".to_string(), format!("K-{i}")),
                        ("é".into(), String::new()),
                    ]
                } else {
                    Vec::new()
                };
                (format!("v{i}@example.org"), fields)
            })
            .collect();
        for (v, f) in &rows {
            s.push(v, f).unwrap();
        }
        assert!(s.has_field("case") && s.has_field("é") && !s.has_field("other"));
        let mut r = s.into_reader().unwrap();
        let mut back = Vec::new();
        loop {
            let b = r.next_batch(1000).unwrap();
            if b.is_empty() {
                break;
            }
            back.extend(b);
        }
        assert_eq!(back, rows);
        // The file has no name in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
