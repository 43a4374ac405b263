//! A person's connection to their own node over the control ALPN, as the CLI uses it.

use std::time::Duration;

use quinn::{RecvStream, SendStream};

use crate::control::{
    ControlRequest, ControlResponse, DeleteReply, ImportFrame, ImportHeader, ImportReply,
    QueryReply, QueryRequest, RotateReply, StatusReply,
};
use crate::error::NodeError;
use crate::net::{expect_frame, write_frame};
use crate::profile::Profile;
use crate::{pki, tls};

/// Rows per import frame: large enough to amortise framing, small enough to stay far below
/// the frame limit for long values.
pub const IMPORT_ROWS_PER_FRAME: usize = 10_000;

/// A connection to one's own node.
pub struct ControlClient {
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
}

fn read(what: &'static str, path: &std::path::Path) -> Result<String, NodeError> {
    std::fs::read_to_string(path).map_err(|source| NodeError::io(what, path, source))
}

impl ControlClient {
    /// Connects with the profile's certificate. Must be called inside a tokio runtime.
    pub async fn connect(profile: &Profile) -> Result<ControlClient, NodeError> {
        let cert_path = profile.path(&profile.cert);
        let cert_pem = read("certificate", &cert_path)?;
        let (_, info) = pki::parse_cert_pem(&cert_pem)?;
        let now = time::OffsetDateTime::now_utc();
        if now > info.not_after {
            return Err(NodeError::request(format!(
                "your certificate {} expired on {}; ask your node's operator for a new one (`cordon user add`)",
                cert_path.display(),
                info.not_after.date()
            )));
        }
        let identity = tls::TlsIdentity::from_pem(
            &cert_pem,
            &read("private key", &profile.path(&profile.key))?,
        )?;
        let (ca, _) =
            pki::parse_cert_pem(&read("CA certificate", &profile.path(&profile.ca_cert))?)?;
        let cfg = tls::quinn_client_config(tls::control_client_config(&identity, &ca)?)?;
        let bind: std::net::SocketAddr = if profile.address.is_ipv6() {
            "[::]:0"
                .parse()
                .map_err(|_| NodeError::internal("bad bind address"))?
        } else {
            "0.0.0.0:0"
                .parse()
                .map_err(|_| NodeError::internal("bad bind address"))?
        };
        let endpoint =
            quinn::Endpoint::client(bind).map_err(|e| NodeError::connection(e.to_string()))?;
        let connecting = endpoint
            .connect_with(cfg, profile.address, &profile.node)
            .map_err(|e| NodeError::connection(e.to_string()))?;
        let conn = tokio::time::timeout(Duration::from_secs(10), connecting)
            .await
            .map_err(|_| NodeError::connection(format!("node `{}` at {} did not answer within 10 s; is it running (`cordon node run`)?", profile.node, profile.address)))?
            .map_err(|e| NodeError::connection(format!("cannot connect to node `{}` at {}: {}", profile.node, profile.address, crate::net::explain(&e))))?;
        Ok(ControlClient { endpoint, conn })
    }

    async fn open(&self, req: &ControlRequest) -> Result<(SendStream, RecvStream), NodeError> {
        let (mut send, recv) = self
            .conn
            .open_bi()
            .await
            .map_err(|e| NodeError::connection(crate::net::explain(&e)))?;
        write_frame(&mut send, req).await?;
        Ok((send, recv))
    }

    async fn answer(recv: &mut RecvStream) -> Result<ControlResponse, NodeError> {
        match expect_frame(recv).await? {
            ControlResponse::Error(e) => Err(NodeError::Control {
                code: e.code,
                message: e.message,
                details: e.details,
            }),
            r => Ok(r),
        }
    }

    /// Sends one request and returns its one answer (a refusal becomes
    /// [`NodeError::Control`]).
    pub async fn call(&self, req: &ControlRequest) -> Result<ControlResponse, NodeError> {
        let (mut send, mut recv) = self.open(req).await?;
        let _ = send.finish();
        Self::answer(&mut recv).await
    }

    /// Node status.
    pub async fn status(&self) -> Result<StatusReply, NodeError> {
        let (mut send, mut recv) = self.open(&ControlRequest::Status).await?;
        let _ = send.finish();
        match Self::answer(&mut recv).await? {
            ControlResponse::Status(s) => Ok(s),
            _ => Err(NodeError::connection("unexpected answer to status")),
        }
    }

    /// Starts an import; send rows with [`ImportSession::send`], then [`ImportSession::finish`].
    pub async fn import(&self, header: ImportHeader) -> Result<ImportSession, NodeError> {
        let (send, recv) = self.open(&ControlRequest::Import(header)).await?;
        Ok(ImportSession { send, recv })
    }

    /// Starts a deletion: send the values with [`ImportSession::send`], as for an import,
    /// then [`ImportSession::finish_deletion`].
    pub async fn delete(&self, header: ImportHeader) -> Result<ImportSession, NodeError> {
        let (send, recv) = self.open(&ControlRequest::Delete(header)).await?;
        Ok(ImportSession { send, recv })
    }

    /// Rotates a collection's key now (operators).
    pub async fn rotate(&self, collection: &str) -> Result<RotateReply, NodeError> {
        let req = ControlRequest::Rotate {
            collection: collection.to_string(),
        };
        let (mut send, mut recv) = self.open(&req).await?;
        let _ = send.finish();
        match Self::answer(&mut recv).await? {
            ControlResponse::Rotated(r) => Ok(r),
            _ => Err(NodeError::connection("unexpected answer to rotate")),
        }
    }

    /// Runs a query.
    pub async fn query(&self, q: QueryRequest) -> Result<QueryReply, NodeError> {
        let (mut send, mut recv) = self.open(&ControlRequest::Query(q)).await?;
        let _ = send.finish();
        match Self::answer(&mut recv).await? {
            ControlResponse::Query(r) => Ok(r),
            _ => Err(NodeError::connection("unexpected answer to query")),
        }
    }

    /// Exports the audit log (auditor or supervisor role): the bundle file's bytes.
    pub async fn audit_export(
        &self,
        since: Option<u64>,
        until: Option<u64>,
    ) -> Result<Vec<u8>, NodeError> {
        let (mut send, mut recv) = self
            .open(&ControlRequest::AuditExport { since, until })
            .await?;
        let _ = send.finish();
        let mut out = Vec::new();
        loop {
            match Self::answer(&mut recv).await? {
                ControlResponse::AuditChunk { bytes } => out.extend_from_slice(&bytes),
                ControlResponse::AuditEnd => return Ok(out),
                _ => return Err(NodeError::connection("unexpected answer to an export")),
            }
        }
    }

    /// A tlog-proof of entry `index` and the entry's bytes.
    pub async fn audit_prove(&self, index: u64) -> Result<(String, Vec<u8>), NodeError> {
        let (mut send, mut recv) = self.open(&ControlRequest::AuditProve { index }).await?;
        let _ = send.finish();
        match Self::answer(&mut recv).await? {
            ControlResponse::AuditProof { proof, entry } => Ok((proof, entry)),
            _ => Err(NodeError::connection(
                "unexpected answer to a proof request",
            )),
        }
    }

    /// The signed checkpoint at `new` (latest if None) and a consistency proof from `old`.
    pub async fn audit_consistency(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<(String, Vec<String>), NodeError> {
        let (mut send, mut recv) = self
            .open(&ControlRequest::AuditConsistency { old, new })
            .await?;
        let _ = send.finish();
        match Self::answer(&mut recv).await? {
            ControlResponse::AuditConsistency { checkpoint, proof } => Ok((checkpoint, proof)),
            _ => Err(NodeError::connection(
                "unexpected answer to a consistency request",
            )),
        }
    }

    /// A follow-up command (see [`crate::followup`]).
    pub async fn followup(
        &self,
        cmd: crate::followup::FollowupCommand,
    ) -> Result<crate::followup::FollowupReply, NodeError> {
        let (mut send, mut recv) = self.open(&ControlRequest::Followup(cmd)).await?;
        let _ = send.finish();
        match Self::answer(&mut recv).await? {
            ControlResponse::Followup(r) => Ok(r),
            _ => Err(NodeError::connection(
                "unexpected answer to a follow-up command",
            )),
        }
    }

    /// Closes the connection cleanly.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"done");
        self.endpoint.wait_idle().await;
    }
}

/// Connects with `profile`, imports `rows` (in frames of [`IMPORT_ROWS_PER_FRAME`]) and
/// closes: a whole import of rows already in memory.
pub async fn import_rows(
    profile: &Profile,
    header: ImportHeader,
    rows: Vec<(u64, String)>,
) -> Result<ImportReply, NodeError> {
    let c = ControlClient::connect(profile).await?;
    let r = async {
        let mut session = c.import(header).await?;
        for chunk in rows.chunks(IMPORT_ROWS_PER_FRAME) {
            session.send(chunk.to_vec()).await?;
        }
        session.finish().await
    }
    .await;
    c.close().await;
    r
}

/// Connects with `profile`, deletes the listed `rows` (raw values by line) and closes.
pub async fn delete_rows(
    profile: &Profile,
    header: ImportHeader,
    rows: Vec<(u64, String)>,
) -> Result<DeleteReply, NodeError> {
    let c = ControlClient::connect(profile).await?;
    let r = async {
        let mut session = c.delete(header).await?;
        for chunk in rows.chunks(IMPORT_ROWS_PER_FRAME) {
            session.send(chunk.to_vec()).await?;
        }
        session.finish_deletion().await
    }
    .await;
    c.close().await;
    r
}

/// Connects with `profile`, imports rows with fields and closes.
pub async fn import_records(
    profile: &Profile,
    header: ImportHeader,
    rows: Vec<crate::control::ImportRow>,
) -> Result<ImportReply, NodeError> {
    let c = ControlClient::connect(profile).await?;
    let r = async {
        let mut session = c.import(header).await?;
        for chunk in rows.chunks(IMPORT_ROWS_PER_FRAME) {
            session.send_records(chunk.to_vec()).await?;
        }
        session.finish().await
    }
    .await;
    c.close().await;
    r
}

/// Connects with `profile`, runs one follow-up command and closes.
pub async fn followup_once(
    profile: &Profile,
    cmd: crate::followup::FollowupCommand,
) -> Result<crate::followup::FollowupReply, NodeError> {
    let c = ControlClient::connect(profile).await?;
    let r = c.followup(cmd).await;
    c.close().await;
    r
}

/// Connects with `profile`, runs one query and closes.
pub async fn query_once(profile: &Profile, q: QueryRequest) -> Result<QueryReply, NodeError> {
    let c = ControlClient::connect(profile).await?;
    let r = c.query(q).await;
    c.close().await;
    r
}

/// Numbers values by line, from 1, as if read one per line from a file.
pub fn numbered(values: impl IntoIterator<Item = String>) -> Vec<(u64, String)> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1, v))
        .collect()
}

/// An import in progress.
pub struct ImportSession {
    send: SendStream,
    recv: RecvStream,
}

impl ImportSession {
    /// Sends a batch of `(line, raw value)` rows.
    pub async fn send(&mut self, rows: Vec<(u64, String)>) -> Result<(), NodeError> {
        if let Err(e) = write_frame(&mut self.send, &ImportFrame::Rows(rows)).await {
            return Err(self.refusal_or(e).await);
        }
        Ok(())
    }

    /// Sends a batch of rows with their fields.
    pub async fn send_records(
        &mut self,
        rows: Vec<crate::control::ImportRow>,
    ) -> Result<(), NodeError> {
        if let Err(e) = write_frame(&mut self.send, &ImportFrame::Records(rows)).await {
            return Err(self.refusal_or(e).await);
        }
        Ok(())
    }

    /// When the node refuses an import early (wrong role, bad collection name) it answers and
    /// stops reading; the refusal is then the real error, not the failed write.
    async fn refusal_or(&mut self, e: NodeError) -> NodeError {
        match ControlClient::answer(&mut self.recv).await {
            Err(refusal @ NodeError::Control { .. }) => refusal,
            _ => e,
        }
    }

    /// Ends a deletion and waits until the node committed it (and its rotation) or refused it.
    pub async fn finish_deletion(mut self) -> Result<DeleteReply, NodeError> {
        if let Err(e) = write_frame(&mut self.send, &ImportFrame::End).await {
            return Err(self.refusal_or(e).await);
        }
        let _ = self.send.finish();
        match ControlClient::answer(&mut self.recv).await? {
            ControlResponse::Deleted(r) => Ok(r),
            _ => Err(NodeError::connection("unexpected answer to delete")),
        }
    }

    /// Ends the import and waits until the node committed it (or refused it).
    pub async fn finish(mut self) -> Result<ImportReply, NodeError> {
        if let Err(e) = write_frame(&mut self.send, &ImportFrame::End).await {
            return Err(self.refusal_or(e).await);
        }
        let _ = self.send.finish();
        match ControlClient::answer(&mut self.recv).await? {
            ControlResponse::Imported(r) => Ok(r),
            _ => Err(NodeError::connection("unexpected answer to import")),
        }
    }
}
