//! The querier's side of the partner protocol: one reused QUIC connection per partner,
//! requests with time-outs, and the verified cache of each partner's filter.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use cordon_protocol::control::FilterSource;
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::filter::{chain_delta, filter_capacity, EpochFilter, FILTER_HEADER_LEN};
use cordon_protocol::messages::{unpack, PartnerRequest, PartnerResponse};
use cordon_protocol::oprf::Tag;
use cordon_protocol::VerifyError;

use crate::error::NodeError;
use crate::net::{expect_frame_sized, write_frame};
use crate::store::CachedPartnerEpoch;

/// A partner's epoch as the querier holds it: verified descriptor, filter and delta.
pub struct PartnerEpoch {
    /// The signed descriptor the cache matches.
    pub signed: SignedDescriptor,
    /// The same, decoded and verified.
    pub descriptor: EpochDescriptor,
    /// The filter.
    pub filter: EpochFilter,
    /// Delta tags, for lookups.
    pub delta: HashSet<Tag>,
    /// Delta tags in order (to persist and extend the chain).
    pub delta_list: Vec<Tag>,
}

impl PartnerEpoch {
    /// Whether a tag is held (filter or delta).
    pub fn contains(&self, tag: &Tag) -> bool {
        self.delta.contains(tag) || self.filter.contains(tag)
    }
}

/// Connections to partners.
pub struct PartnerClient {
    endpoint: quinn::Endpoint,
    configs: HashMap<String, (quinn::ClientConfig, String)>,
    /// One slot per partner, each behind its own lock, so connecting to a slow partner never
    /// holds up the others: the open connection and its server certificate's fingerprint
    /// (taken once, at connection, for the revocation check on every reuse).
    conns: HashMap<String, Mutex<Option<OpenConnection>>>,
    connect_timeout: Duration,
    /// Certificates refused; a connection opened before its partner's revocation is not reused.
    revoked: Arc<crate::revocation::Revocations>,
}

/// Counts bytes moved for one partner during one query.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Bytes sent.
    pub sent: u64,
    /// Bytes received.
    pub received: u64,
}

/// A connection to a partner and its server certificate's fingerprint (None if it showed none).
type OpenConnection = (quinn::Connection, Option<[u8; 32]>);

impl PartnerClient {
    /// A client for the given partners: `name → (client config, address)`.
    pub fn new(
        endpoint: quinn::Endpoint,
        configs: HashMap<String, (quinn::ClientConfig, String)>,
        connect_timeout: Duration,
    ) -> Self {
        let conns = configs
            .keys()
            .map(|k| (k.clone(), Mutex::new(None)))
            .collect();
        PartnerClient {
            endpoint,
            configs,
            conns,
            connect_timeout,
            revoked: Arc::default(),
        }
    }

    /// Uses `revoked` (the node's revocation list) to drop connections to revoked partners.
    pub fn with_revocations(mut self, revoked: Arc<crate::revocation::Revocations>) -> Self {
        self.revoked = revoked;
        self
    }

    /// Whether a partner is configured.
    pub fn knows(&self, partner: &str) -> bool {
        self.configs.contains_key(partner)
    }

    async fn connection(&self, partner: &str) -> Result<quinn::Connection, NodeError> {
        let (Some(slot), Some((cfg, addr))) = (self.conns.get(partner), self.configs.get(partner))
        else {
            return Err(NodeError::request(format!(
                "`{partner}` is not a configured partner"
            )));
        };
        let mut slot = slot.lock().await;
        if let Some((c, fingerprint)) = slot.as_ref() {
            if fingerprint.is_some_and(|fp| self.revoked.is_revoked(&fp)) {
                // Revoked since it connected: close it; the new handshake below is refused.
                c.close(0u32.into(), b"certificate revoked");
            } else if c.close_reason().is_none() {
                return Ok(c.clone());
            }
        }
        let sock = resolve(addr).await?;
        let connecting = self
            .endpoint
            .connect_with(cfg.clone(), sock, partner)
            .map_err(|e| NodeError::connection(format!("cannot connect to {addr}: {e}")))?;
        let conn = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| NodeError::timeout(self.connect_timeout))?
            .map_err(|e| NodeError::connection(format!("{addr}: {}", crate::net::explain(&e))))?;
        let fingerprint = crate::tls::peer_chain(&conn)
            .and_then(|chain| chain.first().map(crate::pki::fingerprint));
        *slot = Some((conn.clone(), fingerprint));
        Ok(conn)
    }

    /// Sends one request and reads the first response frame; the stream stays open for more.
    async fn open(
        &self,
        partner: &str,
        req: &PartnerRequest,
        t: &mut Traffic,
    ) -> Result<(quinn::RecvStream, PartnerResponse), NodeError> {
        let conn = self.connection(partner).await?;
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| NodeError::connection(crate::net::explain(&e)))?;
        t.sent += write_frame(&mut send, req).await? as u64;
        let _ = send.finish();
        let (resp, len): (PartnerResponse, usize) = expect_frame_sized(&mut recv).await?;
        t.received += len as u64;
        if let PartnerResponse::Error(e) = resp {
            return Err(NodeError::from(e));
        }
        Ok((recv, resp))
    }

    /// Sends one request and reads its one response.
    pub async fn request(
        &self,
        partner: &str,
        req: &PartnerRequest,
        t: &mut Traffic,
    ) -> Result<PartnerResponse, NodeError> {
        Ok(self.open(partner, req, t).await?.1)
    }

    /// Fetches the whole filter of the epoch `d` describes. Its announced size must be the one
    /// the signed parameters imply before any memory is reserved for it.
    pub async fn fetch_filter(
        &self,
        partner: &str,
        d: &EpochDescriptor,
        t: &mut Traffic,
    ) -> Result<Vec<u8>, NodeError> {
        let req = PartnerRequest::GetFilter {
            collection: d.collection.clone(),
            epoch: d.epoch,
        };
        let (mut recv, first) = self.open(partner, &req, t).await?;
        let PartnerResponse::FilterStart { total_bytes, epoch } = first else {
            return Err(unexpected("filter_start", &first));
        };
        let expected = FILTER_HEADER_LEN as u64 + d.filter.bitmap_bytes;
        if epoch != d.epoch || total_bytes != expected {
            return Err(NodeError::from(VerifyError::FilterMismatch(format!(
                "a {total_bytes}-byte filter of epoch {epoch} announced; the descriptor signs {expected} bytes of epoch {}",
                d.epoch
            ))));
        }
        let mut out = Vec::with_capacity(total_bytes as usize);
        while (out.len() as u64) < total_bytes {
            let (chunk, len): (PartnerResponse, usize) = expect_frame_sized(&mut recv).await?;
            t.received += len as u64;
            match chunk {
                PartnerResponse::FilterChunk { bytes }
                    if out.len() as u64 + bytes.len() as u64 <= total_bytes =>
                {
                    out.extend_from_slice(&bytes)
                }
                PartnerResponse::FilterChunk { bytes } => {
                    return Err(VerifyError::FilterMismatch(format!(
                        "filter chunks overrun the announced {total_bytes} bytes (at {} + {})",
                        out.len(),
                        bytes.len()
                    ))
                    .into())
                }
                PartnerResponse::Error(e) => return Err(NodeError::from(e)),
                other => return Err(unexpected("filter_chunk", &other)),
            }
        }
        Ok(out)
    }

    /// Brings the cached epoch of `partner`/`collection` up to the verified descriptor `d`:
    /// reuses it, extends it with a delta, or replaces it. Returns the epoch and how
    /// (`cached`, `delta`, `full`). A descriptor that goes back on what the partner signed
    /// before (an older epoch, the same epoch with another key or filter, a shorter delta) is
    /// an error, never a silent re-sync.
    pub async fn sync(
        &self,
        partner: &str,
        signed: SignedDescriptor,
        d: EpochDescriptor,
        cached: Option<Arc<PartnerEpoch>>,
        t: &mut Traffic,
    ) -> Result<(Arc<PartnerEpoch>, FilterSource), NodeError> {
        EpochFilter::check_params(&d.filter, &d.public_key, MAX_ACCEPTED_FP_RATE)?;
        // A holder rebuilds its epoch before the delta outgrows the filter (its configuration
        // allows at most as many delta records as filter records); a larger signed count would
        // only make this querier download and hold tags without bound.
        let max_delta = 2 * filter_capacity(d.record_count);
        if d.delta_count > max_delta {
            return Err(VerifyError::DeltaMismatch(format!(
                "{} delta records signed for a filter of {}; at most {max_delta} are accepted",
                d.delta_count, d.record_count
            ))
            .into());
        }
        if let Some(c) = cached {
            let old = &c.descriptor;
            if d.epoch < old.epoch {
                return Err(rollback(format!(
                    "epoch {} after epoch {} was signed",
                    d.epoch, old.epoch
                )));
            }
            if d.epoch == old.epoch {
                if d.public_key != old.public_key
                    || d.filter_digest != old.filter_digest
                    || d.record_count != old.record_count
                {
                    return Err(rollback(format!(
                        "epoch {} signed again with another key or filter",
                        d.epoch
                    )));
                }
                if d.delta_count < old.delta_count {
                    return Err(rollback(format!(
                        "epoch {} now signs {} delta records, after {} were signed",
                        d.epoch, d.delta_count, old.delta_count
                    )));
                }
                if d.delta_count == old.delta_count {
                    if d.delta_chain != old.delta_chain {
                        return Err(rollback("the same delta count with another chain".into()));
                    }
                    return Ok((c, FilterSource::Cached));
                }
                let tags = self.fetch_delta(partner, &d, old.delta_count, t).await?;
                if chain_delta(*old.delta_chain, &tags) != *d.delta_chain {
                    return Err(VerifyError::DeltaMismatch(
                        "the delta tags do not chain to the signed digest".into(),
                    )
                    .into());
                }
                let mut delta_list = c.delta_list.clone();
                delta_list.extend_from_slice(&tags);
                let filter = EpochFilter::from_bytes(
                    c.filter.as_bytes().to_vec(),
                    &d.filter,
                    &d.filter_digest,
                )?;
                let e = PartnerEpoch {
                    signed,
                    descriptor: d,
                    filter,
                    delta: delta_list.iter().copied().collect(),
                    delta_list,
                };
                return Ok((Arc::new(e), FilterSource::Delta));
            }
            // A newer epoch: the partner rotated its key (a rebuild, a deletion, expiry or a
            // schedule). Nothing of the cached epoch is used; the whole new filter is fetched
            // below, and saving it replaces (deletes) the cached epoch.
            tracing::debug!(
                partner,
                collection = %d.collection,
                cached = old.epoch,
                signed = d.epoch,
                "partner rotated; fetching the new epoch's filter"
            );
        }
        let bytes = self.fetch_filter(partner, &d, t).await?;
        let filter = EpochFilter::from_bytes(bytes, &d.filter, &d.filter_digest)?;
        let delta_list = if d.delta_count > 0 {
            let tags = self.fetch_delta(partner, &d, 0, t).await?;
            if chain_delta([0; 32], &tags) != *d.delta_chain {
                return Err(VerifyError::DeltaMismatch(
                    "the delta tags do not chain to the signed digest".into(),
                )
                .into());
            }
            tags
        } else {
            Vec::new()
        };
        let e = PartnerEpoch {
            signed,
            descriptor: d,
            filter,
            delta: delta_list.iter().copied().collect(),
            delta_list,
        };
        Ok((Arc::new(e), FilterSource::Full))
    }

    /// Fetches delta tags `from..d.delta_count`, in as many requests as the holder needs.
    async fn fetch_delta(
        &self,
        partner: &str,
        d: &EpochDescriptor,
        from: u64,
        t: &mut Traffic,
    ) -> Result<Vec<Tag>, NodeError> {
        let mut out = Vec::new();
        let mut at = from;
        while at < d.delta_count {
            let req = PartnerRequest::GetDelta {
                collection: d.collection.clone(),
                epoch: d.epoch,
                from: at,
            };
            match self.request(partner, &req, t).await? {
                PartnerResponse::Delta {
                    tags,
                    from: f,
                    epoch,
                } if f == at && epoch == d.epoch => {
                    let mut tags = unpack("tags", &tags)?;
                    // The holder may have imported more since it signed `d`: keep the signed
                    // prefix (the chain check covers exactly that), and ask no further.
                    tags.truncate((d.delta_count - at) as usize);
                    if tags.is_empty() {
                        return Err(VerifyError::DeltaMismatch(format!(
                            "no tags from position {at}, but the descriptor signs {}",
                            d.delta_count
                        ))
                        .into());
                    }
                    at += tags.len() as u64;
                    out.extend(tags);
                }
                PartnerResponse::Delta { from: f, epoch, .. } => {
                    return Err(NodeError::from(cordon_protocol::WireError::Malformed(
                        format!(
                        "delta for position {f} of epoch {epoch}, asked position {at} of epoch {}",
                        d.epoch
                    ),
                    )))
                }
                other => return Err(unexpected("delta", &other)),
            }
        }
        Ok(out)
    }

    /// Closes every connection (at shutdown).
    pub async fn close_all(&self) {
        for slot in self.conns.values() {
            if let Some((c, _)) = slot.lock().await.take() {
                c.close(0u32.into(), b"bye");
            }
        }
    }
}

impl PartnerEpoch {
    /// For the store.
    pub fn to_cached(&self) -> CachedPartnerEpoch {
        CachedPartnerEpoch {
            descriptor: self.signed.clone(),
            filter: serde_bytes::ByteBuf::from(self.filter.as_bytes().to_vec()),
            delta: serde_bytes::ByteBuf::from(cordon_protocol::messages::pack(&self.delta_list)),
        }
    }

    /// From the store; re-checks the filter against the stored descriptor (no signature check:
    /// it was verified before it was stored, and the store is the node's own).
    pub fn from_cached(c: CachedPartnerEpoch) -> Result<Self, NodeError> {
        let descriptor = c.descriptor.descriptor_unverified()?;
        let filter = EpochFilter::from_bytes(
            c.filter.into_vec(),
            &descriptor.filter,
            &descriptor.filter_digest,
        )?;
        let delta_list = unpack("delta", &c.delta)?;
        Ok(PartnerEpoch {
            signed: c.descriptor,
            descriptor,
            filter,
            delta: delta_list.iter().copied().collect(),
            delta_list,
        })
    }
}

pub use crate::config::MAX_ACCEPTED_FP_RATE;

fn rollback(what: String) -> NodeError {
    NodeError::from(VerifyError::DescriptorMismatch(format!(
        "the partner went back on what it signed before: {what}"
    )))
}

fn unexpected(wanted: &str, got: &PartnerResponse) -> NodeError {
    let name = match got {
        PartnerResponse::Descriptor(_) => "descriptor",
        PartnerResponse::FilterStart { .. } => "filter_start",
        PartnerResponse::FilterChunk { .. } => "filter_chunk",
        PartnerResponse::Delta { .. } => "delta",
        PartnerResponse::Evaluated(_) => "evaluated",
        PartnerResponse::Error(_) => "error",
        PartnerResponse::FollowupAccepted(_) => "followup_accepted",
        PartnerResponse::FollowupStatus { .. } => "followup_status",
    };
    NodeError::from(cordon_protocol::WireError::Malformed(format!(
        "expected a `{wanted}` answer, got `{name}`"
    )))
}

async fn resolve(addr: &str) -> Result<std::net::SocketAddr, NodeError> {
    if let Ok(a) = addr.parse() {
        return Ok(a);
    }
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| NodeError::connection(format!("cannot resolve {addr}: {e}")))?
        .next()
        .ok_or_else(|| NodeError::connection(format!("{addr} resolves to no address")))
}
