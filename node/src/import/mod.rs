//! Reading the rows of an import (or of a deletion): each frame's rows are canonicalised as
//! they arrive, the valid values spooled to an unnamed temporary file ([`spool`]) for an
//! import or kept in memory for a deletion, the invalid ones counted and listed.
//!
//! An import of any size streams: nothing is held while the client sends, and a client that
//! goes away leaves nothing behind. Applying what was read, in one transaction with the
//! epoch's update and the import's audit entry, is the holder's (`crate::holder::import`).

pub mod spool;

use cordon_protocol::collection::CollectionName;
use cordon_protocol::ident::{self, Kind, Options};

use crate::control::{ImportHeader, ImportRow};
use crate::error::NodeError;

/// Most rejected rows listed in a reply (the count is always exact).
const MAX_LISTED_REJECTIONS: usize = 100;

/// A row as it arrives: its line, raw value, and fields.
type Row = (u64, String, Vec<(String, String)>);

/// A row read: its line, canonical value or why it is invalid, and fields.
type ReadRow = (u64, Result<String, String>, Vec<(String, String)>);

/// Where the canonical values of the rows read go.
enum Sink {
    /// An import: spooled to a temporary file, applied by the holder.
    Spool(spool::Spool),
    /// A deletion (a list of values to delete): kept in memory with their lines, which the
    /// reply cites.
    Listed(Vec<(u64, String)>),
}

/// Rows of an import (or deletion) being received, canonicalised as they arrive.
pub struct PendingImport {
    read: ReadRows,
    opts: Options,
    sink: Sink,
}

/// What was read of an import or a deletion, besides the values themselves.
#[derive(Debug)]
pub struct ReadRows {
    /// The request's header.
    pub header: ImportHeader,
    /// The collection, parsed from the header.
    pub collection: CollectionName,
    /// The kind every row was read as.
    pub kind: Kind,
    /// Whether e-mail provider rules applied (only ever for e-mails).
    pub provider_rules: bool,
    /// Rows read.
    pub rows: u64,
    /// Rows rejected: `(line, reason)`; at most 100 listed.
    pub rejected: Vec<(u64, String)>,
    /// Total rejected rows.
    pub rejected_count: u64,
}

impl ReadRows {
    /// Whether nothing may be applied: some rows were invalid and the request did not ask to
    /// skip them.
    pub fn refused(&self) -> bool {
        self.rejected_count > 0 && !self.header.skip_invalid
    }
}

impl PendingImport {
    /// Starts an import after checking the header; its values are spooled to an unnamed
    /// temporary file in `spool_dir` (the node's data folder) until it is applied.
    pub fn new(
        header: ImportHeader,
        default_region: Option<&str>,
        spool_dir: &std::path::Path,
    ) -> Result<Self, NodeError> {
        let mut p = Self::start(header, default_region)?;
        p.sink = Sink::Spool(spool::Spool::create(spool_dir)?);
        Ok(p)
    }

    /// Starts reading the values of a deletion after checking the header.
    pub fn for_deletion(
        header: ImportHeader,
        default_region: Option<&str>,
    ) -> Result<Self, NodeError> {
        Self::start(header, default_region)
    }

    fn start(header: ImportHeader, default_region: Option<&str>) -> Result<Self, NodeError> {
        // Parsed once, here, where the name enters.
        let collection = CollectionName::parse(&header.collection)
            .map_err(|e| NodeError::request(e.to_string()))?;
        let kind: Kind = header
            .kind
            .parse()
            .map_err(|e: ident::IdentError| NodeError::request(e.to_string()))?;
        let mut opts = header.read.to_ident(default_region);
        // Only e-mail forms depend on the rules; for other kinds the flag means nothing, and
        // must not bind the collection.
        opts.provider_rules &= kind == Kind::Email;
        Ok(PendingImport {
            read: ReadRows {
                collection,
                kind,
                provider_rules: opts.provider_rules,
                header,
                rows: 0,
                rejected: Vec::new(),
                rejected_count: 0,
            },
            opts,
            sink: Sink::Listed(Vec::new()),
        })
    }

    /// The collection the rows are for.
    pub fn collection(&self) -> &CollectionName {
        &self.read.collection
    }

    /// Canonicalises a batch of rows that carry fields.
    pub fn add_records(&mut self, rows: Vec<ImportRow>) -> Result<(), NodeError> {
        self.add(
            rows.into_iter()
                .map(|r| (r.line, r.value, r.fields))
                .collect(),
        )
    }

    /// Canonicalises a batch of rows.
    pub fn add_rows(&mut self, rows: Vec<(u64, String)>) -> Result<(), NodeError> {
        self.add(rows.into_iter().map(|(l, v)| (l, v, Vec::new())).collect())
    }

    fn add(&mut self, rows: Vec<Row>) -> Result<(), NodeError> {
        // Canonicalisation (phone numbers especially) costs microseconds per row: spread a
        // frame's rows over every core, then keep them in file order.
        use rayon::prelude::*;
        let (kind, opts) = (self.read.kind, &self.opts);
        let results: Vec<ReadRow> = rows
            .into_par_iter()
            .map(|(line, raw, fields)| {
                (
                    line,
                    ident::canonicalize(kind, &raw, opts)
                        .map(|c| c.into_value())
                        // Only the first characters of a bad value go into the report: it
                        // is shown, and may be kept, where the value itself should not be.
                        .map_err(|e| e.redacted(&raw).to_string()),
                    fields,
                )
            })
            .collect();
        for (line, r, fields) in results {
            self.read.rows += 1;
            match r {
                Ok(v) => match &mut self.sink {
                    // Once a row is invalid, an import without --skip-invalid applies
                    // nothing: the rest is only counted.
                    Sink::Spool(_) if self.read.refused() => {}
                    Sink::Spool(s) => s.push(&v, &fields)?,
                    Sink::Listed(l) => l.push((line, v)),
                },
                Err(e) => {
                    self.read.rejected_count += 1;
                    if self.read.rejected.len() < MAX_LISTED_REJECTIONS {
                        self.read.rejected.push((line, e));
                    }
                }
            }
        }
        Ok(())
    }

    /// What an import read: the rows' account and the spooled values.
    pub fn into_import(self) -> Result<(ReadRows, spool::Spool), NodeError> {
        match self.sink {
            Sink::Spool(s) => Ok((self.read, s)),
            Sink::Listed(_) => Err(NodeError::internal(
                "a deletion's rows were committed as an import",
            )),
        }
    }

    /// What a deletion read: the rows' account and the canonical values with their lines.
    pub fn into_deletion(self) -> Result<(ReadRows, Vec<(u64, String)>), NodeError> {
        match self.sink {
            Sink::Listed(values) => Ok((self.read, values)),
            Sink::Spool(_) => Err(NodeError::internal(
                "an import's rows were read as a deletion's",
            )),
        }
    }
}
