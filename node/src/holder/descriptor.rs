//! The signed descriptor a partner fetches first: served as held while at least half its
//! validity is left, re-signed (same epoch, key and filter) once less is.

use std::sync::Arc;

use cordon_protocol::descriptor::SignedDescriptor;
use cordon_protocol::{ErrorCode, RemoteError};

use super::Holder;
use crate::epoch::{self, HolderEpoch};
use crate::error::NodeError;

impl Holder {
    /// Whether `e`'s descriptor can still be served as it is at `now`.
    fn fresh(&self, e: &HolderEpoch, now: u64) -> bool {
        let validity = self.settings.descriptor_validity.as_secs();
        e.descriptor.not_after >= now + validity / 2 && e.descriptor.issued_at <= now + 60
    }

    /// The signed descriptor to serve, re-signed first if less than half its validity is left.
    pub async fn descriptor_for(
        self: &Arc<Self>,
        collection: &str,
    ) -> Result<SignedDescriptor, RemoteError> {
        let e = self
            .epoch(collection)
            .ok_or_else(|| self.unknown_collection(collection))?;
        if self.fresh(&e, self.clock.now_unix()) {
            return Ok(e.signed.clone());
        }
        let holder = self.clone();
        let c = collection.to_string();
        let refreshed = tokio::task::spawn_blocking(move || holder.refresh(&c)).await;
        match refreshed {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(RemoteError::new(
                ErrorCode::Internal,
                format!("could not re-sign the descriptor: {e}"),
            )),
            Err(e) => Err(RemoteError::new(
                ErrorCode::Internal,
                format!("could not re-sign the descriptor: {e}"),
            )),
        }
    }

    /// Re-signs `collection`'s descriptor and commits it (blocking).
    fn refresh(&self, collection: &str) -> Result<SignedDescriptor, NodeError> {
        // An import holds the lock for as long as it builds; a descriptor that is still
        // valid is served meanwhile rather than making partners wait.
        let _writer = match self.writer.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                let cur = self
                    .epoch(collection)
                    .ok_or_else(|| NodeError::internal("collection vanished"))?;
                if cur.descriptor.not_after > self.clock.now_unix() {
                    return Ok(cur.signed.clone());
                }
                self.write_lock()
            }
        };
        let cur = self
            .epoch(collection)
            .ok_or_else(|| NodeError::internal("collection vanished"))?;
        // Another request may have re-signed it while this one waited.
        if self.fresh(&cur, self.clock.now_unix()) {
            return Ok(cur.signed.clone());
        }
        let (stored, holder) = epoch::refresh(&cur, &self.build_params(self.clock.now_unix()))?;
        let mut batch = self.store.begin()?;
        batch.append_delta(collection, &stored, cur.delta.len() as u64, &[])?;
        batch.commit()?;
        let signed = holder.signed.clone();
        self.install(holder);
        Ok(signed)
    }
}
