//! Changing who may do what on a running node: reloading the federation policy (SIGHUP or
//! `cordon policy reload`), showing partners' grants and budgets (`cordon partner status`), and
//! revoking a person's certificate (`cordon user revoke`, effective on the next request).
//!
//! [`Governance`] owns the policy in force, the revoked users and certificates, partners'
//! daily budgets and the query ids already answered: what decides whether a request is
//! admitted. Every change is logged. A reload applies only the `[[grant]]` and `[[revoked]]` sections
//! (the revocation list is swapped whole, see `crate::revocation`); other changes to
//! `node.toml` (partners, keys, limits) are reported as needing a restart, because the TLS trust
//! and connections built from them cannot be swapped safely under running exchanges.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use cordon_protocol::audit::entry::{Actor, EntryKind};
use cordon_protocol::collection::CollectionName;

use crate::audit::AuditLog;
use crate::budget::{Budgets, Reservation, Spent};
use crate::clock::Clock;
use crate::config::Config;
use crate::control::{CollectionGrant, PartnerPolicy, PartnerStatusReply, PolicyReloadReply};
use crate::error::NodeError;
use crate::policy::Policy;
use crate::replay::{Claim, ReplayGuard};
use crate::revocation::Revocations;
use crate::store::Store;

/// Revoked user names (main database): name → JSON [`Revocation`].
const REVOKED: TableDefinition<&str, &str> = TableDefinition::new("revoked_users");

/// A revoked user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When (Unix seconds).
    pub time: u64,
    /// The operator who revoked.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// Loads the revoked users at start.
fn load_revoked(db: &redb::Database) -> Result<BTreeMap<String, Revocation>, NodeError> {
    let txn = db.begin_read()?;
    let t = match txn.open_table(REVOKED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = BTreeMap::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let r: Revocation = serde_json::from_str(v.value())
            .map_err(|e| NodeError::storage(format!("corrupt revocation: {e}")))?;
        out.insert(k.value().to_string(), r);
    }
    Ok(out)
}

fn section<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Who may do what: the policy, revocations, budgets and answered query ids.
pub struct Governance {
    node: String,
    /// The configuration the node started with (reloads compare against it).
    running: Config,
    /// The federation policy in force (replaced whole on reload).
    policy: RwLock<Arc<Policy>>,
    /// Serialises policy reloads.
    reloads: Mutex<()>,
    /// Users whose certificates were revoked, by name.
    revoked: RwLock<BTreeMap<String, Revocation>>,
    /// Certificates refused (`[[revoked]]`), shared with the TLS verifiers.
    certificates: Arc<Revocations>,
    budgets: Budgets,
    replay: ReplayGuard,
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Governance {
    /// The governance of a node started with `config`: its grants in force, the users revoked
    /// so far, and `certificates` (the revocation list the TLS verifiers check).
    pub fn open(
        config: &Config,
        store: Store,
        certificates: Arc<Revocations>,
        clock: Arc<dyn Clock>,
    ) -> Result<Governance, NodeError> {
        Ok(Governance {
            node: config.node.name.clone(),
            policy: RwLock::new(Arc::new(Policy::new(
                &config.node.name,
                config.grants.clone(),
            ))),
            reloads: Mutex::new(()),
            revoked: RwLock::new(load_revoked(store.db())?),
            certificates,
            budgets: Budgets::default(),
            replay: ReplayGuard::default(),
            running: config.clone(),
            store,
            clock,
        })
    }

    /// The federation policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The most items this node evaluates in one request (`limits.max_items_per_query`).
    pub fn max_items_per_query(&self) -> u64 {
        self.running.limits.max_items_per_query as u64
    }

    /// The most follow-up requests of one partner awaiting review.
    pub fn max_pending_followups(&self) -> usize {
        self.running.limits.max_pending_followups_per_partner
    }

    /// The certificates `[[revoked]]` refuses.
    pub fn certificates(&self) -> &Arc<Revocations> {
        &self.certificates
    }

    /// Claims `qid` for one answer to `partner` (None: already answered, or in flight).
    pub fn claim<'a>(
        &'a self,
        audit: &AuditLog,
        day: u64,
        partner: &str,
        qid: &[u8; 16],
    ) -> Result<Option<Claim<'a>>, NodeError> {
        self.replay.claim(&audit.reader(), day, partner, qid)
    }

    /// Reserves `items` of `partner`'s daily budget for `collection`, or says how much is spent.
    pub fn reserve(
        &self,
        audit: &AuditLog,
        day: u64,
        (partner, collection): (&str, &str),
        items: u64,
        limit: u64,
    ) -> Result<Result<Reservation, Spent>, NodeError> {
        self.budgets
            .reserve(&audit.reader(), day, partner, collection, items, limit)
    }

    /// Gives back a reservation whose answer was not sent.
    pub fn release(&self, r: Reservation) {
        self.budgets.release(r)
    }

    /// Writes an answer's spent budget and its query id into the transaction of its entry.
    pub fn persist_answer(
        &self,
        txn: &WriteTransaction,
        reservation: &Reservation,
        claim: &Claim<'_>,
    ) -> Result<(), NodeError> {
        self.budgets.persist(txn, reservation)?;
        claim.persist(txn)
    }

    /// The revocation of `user`, if revoked.
    pub fn revoked(&self, user: &str) -> Option<Revocation> {
        self.revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .cloned()
    }

    /// Re-reads `node.toml` and applies its grants. `actor` is the operator (or the node, for
    /// SIGHUP).
    pub fn reload_policy(
        &self,
        audit: &AuditLog,
        actor: &Actor,
    ) -> Result<PolicyReloadReply, NodeError> {
        let path = self.running.source.clone();
        if path.as_os_str().is_empty() {
            return Err(NodeError::setup(
                "this node was started from a configuration held in memory, not a file; restart it to change the policy",
            ));
        }
        let new = Config::load(&path)?;
        let _one = self.reloads.lock().unwrap_or_else(|p| p.into_inner());
        let old = &self.running;
        let mut restart_needed = Vec::new();
        let pairs = [
            ("[node]", section(&old.node), section(&new.node)),
            ("[tls]", section(&old.tls), section(&new.tls)),
            ("[epochs]", section(&old.epochs), section(&new.epochs)),
            ("[limits]", section(&old.limits), section(&new.limits)),
            ("[metrics]", section(&old.metrics), section(&new.metrics)),
            (
                "[identifiers]",
                section(&old.identifiers),
                section(&new.identifiers),
            ),
            (
                "[[partner]]",
                section(&old.partners),
                section(&new.partners),
            ),
        ];
        for (name, a, b) in pairs {
            if a != b {
                restart_needed.push(name.to_string());
            }
        }
        let revoked_changed = self.apply_revocations(audit, &new, actor)?;
        let current = self.policy();
        let grants: Vec<String> = new.grants.iter().map(|g| g.summary()).collect();
        if current.grants == new.grants {
            return Ok(PolicyReloadReply {
                changed: revoked_changed,
                grants,
                restart_needed,
                revoked: new.revoked.len() as u64,
            });
        }
        // Logged before it applies: no request is ever served under a policy the log lacks.
        let mut e = audit.entry(
            self.clock.now_unix(),
            EntryKind::PolicyChanged,
            actor.clone(),
        );
        e.detail = Some(if grants.is_empty() {
            "no grants: nothing is shared".into()
        } else {
            grants.join("; ")
        });
        audit.append(&[e])?;
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Policy::new(&self.node, new.grants.clone()));
        tracing::info!(grants = new.grants.len(), by = %actor.name, "policy reloaded");
        Ok(PolicyReloadReply {
            changed: true,
            grants,
            restart_needed,
            revoked: new.revoked.len() as u64,
        })
    }

    /// Applies `new`'s `[[revoked]]` list; returns whether it changed. In force before it is
    /// logged, as for `revoke_user`: should the log write fail, the safe side holds.
    fn apply_revocations(
        &self,
        audit: &AuditLog,
        new: &Config,
        actor: &Actor,
    ) -> Result<bool, NodeError> {
        let changed = self
            .certificates
            .replace(&new.revoked)
            .map_err(|message| NodeError::config(new.source.clone(), message))?;
        if changed {
            let mut e = audit.entry(
                self.clock.now_unix(),
                EntryKind::PolicyChanged,
                actor.clone(),
            );
            let list: Vec<String> = new
                .revoked
                .iter()
                .map(|r| format!("{} ({})", r.fingerprint, r.reason))
                .collect();
            e.detail = Some(format!("revoked certificates: [{}]", list.join("; ")));
            audit.append(&[e])?;
            tracing::info!(revoked = new.revoked.len(), by = %actor.name, "revocation list reloaded");
        }
        Ok(changed)
    }

    /// Every partner's grants and today's use, per collection (`held`: the collections this
    /// node holds).
    pub fn partner_status(
        &self,
        audit: &AuditLog,
        held: &BTreeSet<String>,
    ) -> Result<PartnerStatusReply, NodeError> {
        let now = self.clock.now_unix();
        let day = crate::budget::day_of(now);
        let policy = self.policy();
        let node_max = self.max_items_per_query();
        let mut partners = Vec::new();
        for p in &self.running.partners {
            let used: BTreeMap<String, u64> = self
                .budgets
                .used_by(&audit.reader(), day, &p.name)?
                .into_iter()
                .collect();
            let mut names = held.clone();
            names.extend(used.keys().cloned());
            for g in policy
                .grants
                .iter()
                .filter(|g| g.partner == p.name || g.partner == "*")
            {
                names.extend(g.collections.iter().filter(|c| *c != "*").cloned());
            }
            let collections = names
                .into_iter()
                .map(|c| {
                    let g = policy.grant(&p.name, &c);
                    // Held, granted or budgeted: every name was checked where it entered.
                    let name = CollectionName::parse(&c)
                        .map_err(|e| NodeError::storage(format!("a stored name: {e}")))?;
                    Ok(CollectionGrant {
                        used_today: used.get(&c).copied().unwrap_or(0),
                        shared: g.is_some(),
                        held: held.contains(&c),
                        modes: g
                            .map(|g| g.modes.iter().map(|m| m.to_string()).collect())
                            .unwrap_or_default(),
                        daily_items: g.map_or(0, |g| g.daily_items),
                        max_per_query: g.map_or(0, |g| {
                            g.max_items_per_query.unwrap_or(node_max).min(node_max)
                        }),
                        followup: g.is_some_and(|g| g.followup),
                        collection: name,
                    })
                })
                .collect::<Result<_, NodeError>>()?;
            partners.push(PartnerPolicy {
                partner: p.name.clone(),
                collections,
            });
        }
        Ok(PartnerStatusReply {
            day_started: day * crate::budget::DAY,
            resets_in: crate::budget::DAY - now % crate::budget::DAY,
            partners,
        })
    }

    /// Revokes every certificate issued to `user` on this node, durably and at once.
    pub fn revoke_user(
        &self,
        audit: &AuditLog,
        actor: &Actor,
        user: &str,
        reason: &str,
    ) -> Result<(), NodeError> {
        crate::pki::validate_user_name(user)?;
        if user == actor.name {
            return Err(NodeError::request(format!(
                "`{user}` is your own user; another operator must revoke it"
            )));
        }
        crate::revocation::require_reason(reason)?;
        if let Some(r) = self.revoked(user) {
            return Err(NodeError::request(format!(
                "`{user}` was already revoked by {} ({})",
                r.by, r.reason
            )));
        }
        let r = Revocation {
            time: self.clock.now_unix(),
            by: actor.name.clone(),
            reason: reason.to_string(),
        };
        let json = serde_json::to_string(&r).map_err(|e| NodeError::internal(e.to_string()))?;
        {
            let txn = self.store.db().begin_write()?;
            txn.open_table(REVOKED)?.insert(user, json.as_str())?;
            txn.commit()?;
        }
        // In force before it is logged: should the log write fail, the user stays revoked (the
        // safe side) and the operator sees the error.
        self.revoked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), r);
        let mut e = audit.entry(self.clock.now_unix(), EntryKind::UserRevoked, actor.clone());
        e.detail = Some(format!("user {user}: {reason}"));
        audit.append(&[e])?;
        tracing::info!(user, by = %actor.name, "user revoked");
        Ok(())
    }
}
