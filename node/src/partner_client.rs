//! The querier's side of the partner protocol: one reused QUIC connection per partner,
//! requests with time-outs, and the verified cache of each partner's filter.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::filter::{chain_delta, EpochFilter};
use cordon_protocol::messages::{unpack, PartnerRequest, PartnerResponse};
use cordon_protocol::oprf::Tag;
use cordon_protocol::VerifyError;

use crate::error::NodeError;
use crate::net::{expect_frame, write_frame};
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
    conns: Mutex<HashMap<String, quinn::Connection>>,
    connect_timeout: Duration,
}

/// Counts bytes moved for one partner during one query.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Bytes sent.
    pub sent: u64,
    /// Bytes received.
    pub received: u64,
}

impl PartnerClient {
    /// A client for the given partners: `name → (client config, address)`.
    pub fn new(
        endpoint: quinn::Endpoint,
        configs: HashMap<String, (quinn::ClientConfig, String)>,
        connect_timeout: Duration,
    ) -> Self {
        PartnerClient {
            endpoint,
            configs,
            conns: Mutex::new(HashMap::new()),
            connect_timeout,
        }
    }

    /// Whether a partner is configured.
    pub fn knows(&self, partner: &str) -> bool {
        self.configs.contains_key(partner)
    }

    async fn connection(&self, partner: &str) -> Result<quinn::Connection, NodeError> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(partner) {
            if c.close_reason().is_none() {
                return Ok(c.clone());
            }
        }
        let (cfg, addr) = self
            .configs
            .get(partner)
            .ok_or_else(|| NodeError::Misuse(format!("`{partner}` is not a configured partner")))?;
        let sock = resolve(addr).await?;
        let connecting = self
            .endpoint
            .connect_with(cfg.clone(), sock, partner)
            .map_err(|e| NodeError::Connection(format!("cannot connect to {addr}: {e}")))?;
        let conn = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| NodeError::Timeout(self.connect_timeout))?
            .map_err(|e| NodeError::Connection(format!("{addr}: {e}")))?;
        conns.insert(partner.to_string(), conn.clone());
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
            .map_err(|e| NodeError::Connection(e.to_string()))?;
        t.sent += write_frame(&mut send, req).await? as u64;
        let _ = send.finish();
        let resp: PartnerResponse = expect_frame(&mut recv).await?;
        t.received += frame_len(&resp);
        if let PartnerResponse::Error(e) = resp {
            return Err(NodeError::Remote(e));
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

    /// Fetches a whole filter.
    pub async fn fetch_filter(
        &self,
        partner: &str,
        collection: &str,
        epoch: u64,
        t: &mut Traffic,
    ) -> Result<Vec<u8>, NodeError> {
        let req = PartnerRequest::GetFilter {
            collection: collection.to_string(),
            epoch,
        };
        let (mut recv, first) = self.open(partner, &req, t).await?;
        let PartnerResponse::FilterStart { total_bytes, .. } = first else {
            return Err(unexpected("filter_start", &first));
        };
        if total_bytes > cordon_protocol::filter::MAX_BITMAP_BYTES + 64 {
            return Err(NodeError::Verify(VerifyError::FilterMismatch(format!(
                "{total_bytes}-byte filter announced"
            ))));
        }
        let mut out = Vec::with_capacity(total_bytes as usize);
        while (out.len() as u64) < total_bytes {
            let chunk: PartnerResponse = expect_frame(&mut recv).await?;
            t.received += frame_len(&chunk);
            match chunk {
                PartnerResponse::FilterChunk { bytes }
                    if out.len() as u64 + bytes.len() as u64 <= total_bytes =>
                {
                    out.extend_from_slice(&bytes)
                }
                other => return Err(unexpected("filter_chunk", &other)),
            }
        }
        Ok(out)
    }

    /// Brings the cached epoch of `partner`/`collection` up to the verified descriptor `d`:
    /// reuses it, extends it with a delta, or replaces it. Returns the epoch and how
    /// (`cached`, `delta`, `full`).
    pub async fn sync(
        &self,
        partner: &str,
        signed: SignedDescriptor,
        d: EpochDescriptor,
        cached: Option<Arc<PartnerEpoch>>,
        t: &mut Traffic,
    ) -> Result<(Arc<PartnerEpoch>, &'static str), NodeError> {
        if let Some(c) = cached {
            let same_epoch = c.descriptor.epoch == d.epoch
                && c.descriptor.public_key == d.public_key
                && c.descriptor.filter_digest == d.filter_digest
                && c.descriptor.delta_count <= d.delta_count;
            if same_epoch && c.descriptor.delta_count == d.delta_count {
                if c.descriptor.delta_chain != d.delta_chain {
                    return Err(VerifyError::DeltaMismatch(
                        "same delta count but a different chain than the cached one".into(),
                    )
                    .into());
                }
                return Ok((c, "cached"));
            }
            if same_epoch {
                let tags = self
                    .fetch_delta(partner, &d, c.descriptor.delta_count, t)
                    .await?;
                let chain = chain_delta(*c.descriptor.delta_chain, &tags);
                if chain != *d.delta_chain {
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
                return Ok((Arc::new(e), "delta"));
            }
        }
        let bytes = self
            .fetch_filter(partner, &d.collection, d.epoch, t)
            .await?;
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
        Ok((Arc::new(e), "full"))
    }

    async fn fetch_delta(
        &self,
        partner: &str,
        d: &EpochDescriptor,
        from: u64,
        t: &mut Traffic,
    ) -> Result<Vec<Tag>, NodeError> {
        let req = PartnerRequest::GetDelta {
            collection: d.collection.clone(),
            epoch: d.epoch,
            from,
        };
        match self.request(partner, &req, t).await? {
            PartnerResponse::Delta {
                tags,
                from: f,
                epoch,
            } if f == from && epoch == d.epoch => {
                let tags = unpack("tags", &tags)?;
                if from + tags.len() as u64 != d.delta_count {
                    return Err(VerifyError::DeltaMismatch(format!(
                        "{} tags from position {from}, but the descriptor signs {}",
                        tags.len(),
                        d.delta_count
                    ))
                    .into());
                }
                Ok(tags)
            }
            other => Err(unexpected("delta", &other)),
        }
    }

    /// Closes every connection (at shutdown).
    pub async fn close_all(&self) {
        for (_, c) in self.conns.lock().await.drain() {
            c.close(0u32.into(), b"bye");
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

fn unexpected(wanted: &str, got: &PartnerResponse) -> NodeError {
    let name = match got {
        PartnerResponse::Descriptor(_) => "descriptor",
        PartnerResponse::FilterStart { .. } => "filter_start",
        PartnerResponse::FilterChunk { .. } => "filter_chunk",
        PartnerResponse::Delta { .. } => "delta",
        PartnerResponse::Evaluated(_) => "evaluated",
        PartnerResponse::Error(_) => "error",
    };
    NodeError::Wire(cordon_protocol::WireError::Malformed(format!(
        "expected a `{wanted}` answer, got `{name}`"
    )))
}

fn frame_len(resp: &PartnerResponse) -> u64 {
    // Re-encoding costs little next to the network; it keeps byte accounting exact.
    cordon_protocol::frame::encode(resp)
        .map(|b| b.len() as u64)
        .unwrap_or(0)
}

async fn resolve(addr: &str) -> Result<std::net::SocketAddr, NodeError> {
    if let Ok(a) = addr.parse() {
        return Ok(a);
    }
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| NodeError::Connection(format!("cannot resolve {addr}: {e}")))?
        .next()
        .ok_or_else(|| NodeError::Connection(format!("{addr} resolves to no address")))
}
