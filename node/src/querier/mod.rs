//! The querier: this node's side of asking partners.
//!
//! [`Querier`] owns the connections to partners ([`PartnerClient`]), their pinned descriptor
//! and receipt keys, and the verified copy of each partner's epoch (memory first, persisted in
//! the node's database). It fetches and verifies descriptors, brings a cached filter up to date
//! and checks receipts; the query itself (`crate::query`) drives it and logs what it does.
//!
//! What it does not do: hold or answer for this node's own collections (`crate::holder`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cordon_protocol::audit::note::VerifierKey;
use cordon_protocol::audit::receipt::Receipt;
use cordon_protocol::control::FilterSource;
use cordon_protocol::descriptor::{EpochDescriptor, SignedDescriptor};
use cordon_protocol::messages::{PartnerRequest, PartnerResponse, QueryMode};
use cordon_protocol::{VerifyError, WireError};

use crate::clock::Clock;
use crate::error::NodeError;
use crate::partner_client::{PartnerClient, PartnerEpoch, Traffic};
use crate::store::{CachedPartnerEpoch, Store};

/// What a querier is made of (see [`Querier::new`]).
pub struct QuerierParts {
    /// This node's name.
    pub node: String,
    /// Connections to partners.
    pub client: PartnerClient,
    /// The configured partners, in configuration order.
    pub partners: Vec<String>,
    /// Pinned descriptor keys of partners.
    pub descriptor_keys: HashMap<String, [u8; 32]>,
    /// Partners' receipt keys.
    pub receipt_keys: HashMap<String, VerifierKey>,
    /// The node's database (partners' cached epochs, follow-up requests sent).
    pub store: Store,
    /// Most items per query (`limits.max_items_per_query`).
    pub max_items: usize,
    /// How long a query may take (`limits.query_timeout`).
    pub timeout: Duration,
    /// Region for national-format phone numbers.
    pub default_region: Option<String>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// Partners as this node asks them.
pub struct Querier {
    node: String,
    client: PartnerClient,
    partners: Vec<String>,
    descriptor_keys: HashMap<String, [u8; 32]>,
    receipt_keys: HashMap<String, VerifierKey>,
    /// Cached partner epochs, by partner and collection.
    cache: Mutex<HashMap<(String, String), Arc<PartnerEpoch>>>,
    store: Store,
    max_items: usize,
    timeout: Duration,
    default_region: Option<String>,
    clock: Arc<dyn Clock>,
}

/// What a receipt must say: the exchange the querier sent.
pub struct Expected<'a> {
    /// The exchange id.
    pub qid: &'a [u8; 16],
    /// The collection asked.
    pub collection: &'a str,
    /// The epoch asked.
    pub epoch: u64,
    /// Items sent.
    pub items: u64,
    /// SHA-256 of the blinded items sent.
    pub digest: &'a [u8; 32],
    /// The mode asked.
    pub mode: QueryMode,
}

impl Querier {
    /// A querier of `p.partners`.
    pub fn new(p: QuerierParts) -> Querier {
        Querier {
            node: p.node,
            client: p.client,
            partners: p.partners,
            descriptor_keys: p.descriptor_keys,
            receipt_keys: p.receipt_keys,
            cache: Mutex::new(HashMap::new()),
            store: p.store,
            max_items: p.max_items,
            timeout: p.timeout,
            default_region: p.default_region,
            clock: p.clock,
        }
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Now, by the node's clock.
    pub fn now(&self) -> u64 {
        self.clock.now_unix()
    }

    /// The configured partners, in configuration order.
    pub fn partners(&self) -> &[String] {
        &self.partners
    }

    /// Whether a partner is configured.
    pub fn knows(&self, partner: &str) -> bool {
        self.client.knows(partner)
    }

    /// Most items per query.
    pub fn max_items(&self) -> usize {
        self.max_items
    }

    /// How long a query may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Region for national-format phone numbers.
    pub fn default_region(&self) -> Option<&str> {
        self.default_region.as_deref()
    }

    /// The node's database (follow-up requests sent live there).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Sends one request and reads its one response.
    pub async fn request(
        &self,
        partner: &str,
        req: &PartnerRequest,
        t: &mut Traffic,
    ) -> Result<PartnerResponse, NodeError> {
        self.client.request(partner, req, t).await
    }

    /// Brings the cached epoch up to the verified descriptor `d` (see [`PartnerClient::sync`]).
    pub async fn sync(
        &self,
        partner: &str,
        signed: SignedDescriptor,
        d: EpochDescriptor,
        cached: Option<Arc<PartnerEpoch>>,
        t: &mut Traffic,
    ) -> Result<(Arc<PartnerEpoch>, FilterSource), NodeError> {
        self.client.sync(partner, signed, d, cached, t).await
    }

    /// Fetches a partner's signed descriptor of `collection` and verifies it with the pinned key.
    pub async fn fetch_descriptor(
        &self,
        partner: &str,
        collection: &str,
    ) -> Result<(SignedDescriptor, EpochDescriptor), NodeError> {
        let mut t = Traffic::default();
        let req = PartnerRequest::GetDescriptor {
            collection: collection.to_string(),
        };
        match self.client.request(partner, &req, &mut t).await? {
            PartnerResponse::Descriptor(s) => {
                let key = self.descriptor_keys.get(partner).ok_or_else(|| {
                    NodeError::setup(format!("no signing key configured for `{partner}`"))
                })?;
                let d = s.verify(key, partner, collection, self.now())?;
                Ok((s, d))
            }
            _ => Err(NodeError::from(WireError::Malformed(
                "expected a descriptor".into(),
            ))),
        }
    }

    /// The cached epoch of a partner's collection (memory first, then the store).
    pub fn partner_epoch(
        &self,
        partner: &str,
        collection: &str,
    ) -> Result<Option<Arc<PartnerEpoch>>, NodeError> {
        let key = (partner.to_string(), collection.to_string());
        if let Some(e) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(e.clone()));
        }
        let Some(c) = self.store.partner_cache(partner, collection)? else {
            return Ok(None);
        };
        // A cache that no longer decodes is dropped and fetched again, never trusted.
        match PartnerEpoch::from_cached(c) {
            Ok(e) => {
                let e = Arc::new(e);
                self.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, e.clone());
                Ok(Some(e))
            }
            Err(err) => {
                tracing::warn!(partner, collection, error = %err, "cached filter unusable; fetching it again");
                Ok(None)
            }
        }
    }

    /// Keeps a partner's newly verified epoch, in memory and in the store.
    pub async fn save_partner_epoch(
        &self,
        partner: &str,
        collection: &str,
        e: Arc<PartnerEpoch>,
    ) -> Result<(), NodeError> {
        // Two queries may sync the same partner at once; never let the slower one put an older
        // state back (that would also weaken the rollback checks).
        let key = (partner.to_string(), collection.to_string());
        let version = |p: &PartnerEpoch| (p.descriptor.epoch, p.descriptor.delta_count);
        if let Some(known) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if version(known) > version(&e) {
                return Ok(());
            }
        }
        let cached: CachedPartnerEpoch = e.to_cached();
        let store = self.store.clone();
        let (p, c) = (partner.to_string(), collection.to_string());
        tokio::task::spawn_blocking(move || store.put_partner_cache(&p, &c, &cached))
            .await
            .map_err(|e| NodeError::storage(e.to_string()))??;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, e);
        Ok(())
    }

    /// Checks the holder's receipt against what was sent; returns it trimmed to its text and
    /// the holder's signature (the form logged).
    pub fn check_receipt(
        &self,
        partner: &str,
        note: &str,
        x: &Expected<'_>,
    ) -> Result<String, NodeError> {
        let bad = |m: String| NodeError::from(VerifyError::Receipt(m));
        let key = self
            .receipt_keys
            .get(partner)
            .ok_or_else(|| bad(format!("no receipt key is configured for {partner}")))?;
        if note.is_empty() {
            return Err(bad("the answer carries no receipt".into()));
        }
        let (r, trimmed) = Receipt::open_trimmed(note, key).map_err(|e| bad(e.to_string()))?;
        let mut wrong = Vec::new();
        if r.exchange_id != *x.qid {
            wrong.push("exchange id");
        }
        if r.querier != self.node {
            wrong.push("querier");
        }
        if r.collection != x.collection {
            wrong.push("collection");
        }
        if r.epoch != x.epoch {
            wrong.push("epoch");
        }
        if r.items != x.items {
            wrong.push("item count");
        }
        if r.request_digest != *x.digest {
            wrong.push("request digest");
        }
        if r.mode != x.mode.as_str() {
            wrong.push("mode");
        }
        if wrong.is_empty() {
            Ok(trimmed)
        } else {
            Err(bad(format!(
                "it disagrees with the request on: {}",
                wrong.join(", ")
            )))
        }
    }

    /// Closes every connection (at shutdown).
    pub async fn close_all(&self) {
        self.client.close_all().await
    }
}
