//! Pieces every bench mode shares (with `pair.rs`): starting a federation's nodes, importing
//! the generated records into the holder, and building a query request.

use super::*;

/// Creates `names` as agencies under `dir` (each trusting all others) and starts each node as
/// its own process.
pub(super) fn start_federation(dir: &Path, names: &[&str]) -> anyhow::Result<(Vec<Agency>, Nodes)> {
    let agencies = LocalFederation::create(dir, names, Some("TH"))?.into_agencies();
    let nodes = spawn_all(dir, &agencies)?;
    Ok((agencies, nodes))
}

/// Starts every agency's node as its own process.
pub(super) fn spawn_all(dir: &Path, agencies: &[Agency]) -> anyhow::Result<Nodes> {
    let mut nodes = Nodes {
        children: Vec::new(),
    };
    for a in agencies {
        nodes.children.push(spawn_node(dir, a)?);
    }
    Ok(nodes)
}

/// An agency by name.
pub(super) fn agency<'a>(agencies: &'a [Agency], name: &str) -> anyhow::Result<&'a Agency> {
    agencies
        .iter()
        .find(|g| g.name == name)
        .with_context(|| format!("no agency {name}"))
}

/// What streaming the generated records took.
pub(super) struct Streamed {
    pub(super) reply: cordon_node::control::ImportReply,
    /// Client wall time from opening the import to the committed reply.
    pub(super) import_s: f64,
    /// Client wall time until the last row was sent.
    pub(super) stream_s: f64,
}

/// Streams records `0..n` of `kind` into the bench collection through an operator's control
/// connection (generated frame by frame, never held in one list) and checks that they all
/// went into a freshly built epoch.
pub(super) async fn import_records(
    ops: &ControlClient,
    kind: BenchKind,
    n: u64,
) -> anyhow::Result<Streamed> {
    let t_import = Instant::now();
    let mut session = ops
        .import(ImportHeader {
            collection: COLLECTION.into(),
            kind: kind.name().into(),
            read: Default::default(),
            skip_invalid: false,
            source: "bench".into(),
            releasable: Vec::new(),
        })
        .await?;
    let mut next = 0u64;
    while next < n {
        let end = (next + IMPORT_ROWS_PER_FRAME as u64).min(n);
        let rows: Vec<(u64, String)> = (next..end).map(|i| (i + 1, kind.value(i))).collect();
        session.send(rows).await?;
        next = end;
    }
    let stream_s = t_import.elapsed().as_secs_f64();
    let reply = session.finish().await?;
    let import_s = t_import.elapsed().as_secs_f64();
    if reply.rejected_count > 0 {
        bail!(
            "the holder rejected {} generated rows, e.g. {:?}",
            reply.rejected_count,
            reply.rejected.first()
        );
    }
    if reply.added != n || reply.records != n || !reply.rebuilt {
        bail!(
            "the import added {} of {n} records ({} held, rebuilt: {}); expected a fresh epoch of all of them",
            reply.added,
            reply.records,
            reply.rebuilt
        );
    }
    Ok(Streamed {
        reply,
        import_s,
        stream_s,
    })
}

/// A query of the bench collection, in match mode, to `partners` (empty: all of them).
pub(super) fn query_request(items: &[(u64, String)], partners: &[&str]) -> QueryRequest {
    QueryRequest {
        collection: COLLECTION.into(),
        kind: None,
        read: Default::default(),
        items: items.to_vec(),
        case_ref: "BENCH".into(),
        purpose: "benchmark".into(),
        partners: partners.iter().map(|p| p.to_string()).collect(),
        mode: Default::default(),
    }
}

/// The hit lines of an answer equal the planted ones.
pub(super) fn hits_are(hits: &[cordon_node::control::Hit], expect: &BTreeSet<u64>) -> bool {
    let got: BTreeSet<u64> = hits.iter().map(|h| h.line).collect();
    &got == expect
}
