//! One exchange's audit step with a partner: read its audit state, check what it sent
//! (`witness`), and commit the exchange's entries with the partner's new state in one
//! transaction.
//!
//! The partner-state lock is taken by [`AuditLog::exchange`], before anything else; the only
//! write transaction opened while it is held is [`Exchange::commit`]'s. So the lock is never
//! waited for while a write transaction of the log is open, and the two cannot deadlock: the
//! order is kept by this API, not by its callers.

use std::sync::MutexGuard;

use redb::WriteTransaction;

use cordon_protocol::audit::bundle::Alert;
use cordon_protocol::audit::entry::Entry;
use cordon_protocol::messages::{AuditHello, AuditReply};

use super::witness::{self, PartnerAudit, PartnerLogKeys};
use super::AuditLog;
use crate::error::NodeError;

/// An exchange's audit step with one partner, holding the partner-state lock.
pub struct Exchange<'a> {
    log: &'a AuditLog,
    partner: String,
    state: PartnerAudit,
    _serial: MutexGuard<'a, ()>,
}

impl AuditLog {
    /// Starts an exchange's audit step with `partner`: takes the partner-state lock (waiting
    /// for other exchanges, never while this thread holds a write transaction, which only
    /// [`Exchange::commit`] opens) and reads the partner's state.
    pub fn exchange(&self, partner: &str) -> Result<Exchange<'_>, NodeError> {
        let serial = self.exchanges.lock().unwrap_or_else(|p| p.into_inner());
        let state = witness::load(&self.db, partner)?;
        Ok(Exchange {
            log: self,
            partner: partner.to_string(),
            state,
            _serial: serial,
        })
    }

    /// The querier's hello for `partner`: this log's latest checkpoint and what it owes the
    /// partner (no lock: it only reads).
    pub fn hello(&self, partner: &str) -> Result<AuditHello, NodeError> {
        let state = witness::load(&self.db, partner)?;
        witness::hello(self, &state)
    }
}

impl Exchange<'_> {
    /// The partner's keys, if it has any configured.
    pub fn keys(&self) -> Option<&PartnerLogKeys> {
        self.log.partners.get(&self.partner)
    }

    /// The holder's step: takes the querier's hello (its cosignature of our checkpoint, its
    /// own checkpoint); returns our cosignature to send back and an alert if its log
    /// contradicts what it signed before. Nothing is taken from a partner without keys.
    pub fn on_hello(
        &mut self,
        h: &AuditHello,
        now: u64,
    ) -> Result<(Option<String>, Option<Alert>), NodeError> {
        let Some(keys) = self.log.partners.get(&self.partner) else {
            return Ok((None, None));
        };
        let state = std::mem::take(&mut self.state);
        let (state, cosignature, alert) =
            witness::on_hello(self.log, &self.partner, state, h, keys, now)?;
        self.state = state;
        Ok((cosignature, alert))
    }

    /// The querier's step: takes the holder's reply to the hello `sent`; returns an alert if
    /// the holder's log contradicts what it signed before.
    pub fn on_reply(
        &mut self,
        sent: &AuditHello,
        r: &AuditReply,
        now: u64,
    ) -> Result<Option<Alert>, NodeError> {
        let Some(keys) = self.log.partners.get(&self.partner) else {
            return Ok(None);
        };
        let state = std::mem::take(&mut self.state);
        let (state, alert) =
            witness::on_reply(&self.partner, state, sent, r, keys, &self.log.witness, now)?;
        self.state = state;
        Ok(alert)
    }

    /// Commits `entries`, the partner's state and `alert` in one transaction. `also` writes
    /// more into it (an answer's budget and query id), knowing the log's size once the entries
    /// are in, and may update the partner's state first. Returns that size.
    pub fn commit(
        &mut self,
        entries: &[Entry],
        alert: Option<&Alert>,
        also: impl FnOnce(&WriteTransaction, u64, &mut PartnerAudit) -> Result<(), NodeError>,
    ) -> Result<u64, NodeError> {
        let txn = self.log.db.begin_write()?;
        let staged = self.log.stage(&txn, entries)?;
        let size = staged.size_after();
        also(&txn, size, &mut self.state)?;
        witness::save(&txn, &self.partner, &self.state, alert)?;
        txn.commit()?;
        staged.applied();
        Ok(size)
    }

    /// The holder's reply to the hello `h`: its checkpoint of `size` (which includes the
    /// answer's entry), a proof from the size the querier holds, and our cosignature.
    pub fn reply(
        &self,
        h: &AuditHello,
        size: u64,
        cosignature: Option<String>,
    ) -> Result<AuditReply, NodeError> {
        witness::reply(self.log, h, size, cosignature, &self.state)
    }
}
