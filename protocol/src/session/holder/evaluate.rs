//! The holder's side of one evaluation (spec/PROTOCOL.md §4.5, §6.6): admission in order —
//! collection name, grant and mode, current epoch, size, elements, replay guard, budget — then
//! the evaluation and the receipt that is logged before the answer leaves.

use rand_core::{CryptoRng, RngCore};
use serde_bytes::ByteArray;

use crate::audit::receipt::{request_digest, Receipt};
use crate::collection::CollectionName;
use crate::error::{ErrorCode, RemoteError};
use crate::messages::{
    unpack, AuditReply, EvaluateRequest, EvaluateResponse, QueryMode, MAX_ITEMS_PER_REQUEST,
};
use crate::oprf::{PublicKey, SecretKey};
use crate::session::policy::Grant;
use crate::{count, exchange};

use super::{epoch_at, CurrentEpoch, HolderView};

/// Seconds in a budget day (days are UTC, from the Unix epoch).
pub const DAY: u64 = 86_400;

/// The budget day of a Unix time.
pub fn day_of(unix: u64) -> u64 {
    unix / DAY
}

/// The query ids a holder answered (spec §4.5, replay rule), as admission sees them.
pub trait ReplayGuard {
    /// A claimed id: the driver records it as answered with the answer, or drops it (freeing
    /// the id) if the request is refused after all.
    type Claim<'a>
    where
        Self: 'a;
    /// Why the guard could not be read.
    type Error: std::fmt::Display;
    /// Claims `query_id` of `partner` on `day`, or `Ok(None)` if it was answered on this or
    /// the previous day, or is being answered now.
    fn claim(
        &self,
        day: u64,
        partner: &str,
        query_id: &[u8; 16],
    ) -> Result<Option<Self::Claim<'_>>, Self::Error>;
}

/// The daily budgets of evaluated items, as admission sees them.
pub trait Budgets {
    /// Items reserved for one request: persisted with the answer, or released if it fails.
    type Reservation;
    /// Why a budget could not be read.
    type Error: std::fmt::Display;
    /// Reserves `items` of `partner`'s budget of `limit` for `collection` on `day`, or says
    /// how much is spent.
    fn reserve(
        &self,
        day: u64,
        partner: &str,
        collection: &str,
        items: u64,
        limit: u64,
    ) -> Result<Result<Self::Reservation, Spent>, Self::Error>;
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent {
    /// Items already evaluated (or reserved) today.
    pub used: u64,
    /// The day's budget.
    pub limit: u64,
    /// Items asked for.
    pub asked: u64,
}

/// A refused request: what to send, and what failed inside this node if anything did (to log;
/// never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The refusal sent.
    pub error: RemoteError,
    /// The holder's own failure behind an `internal` refusal.
    pub cause: Option<String>,
}

impl From<RemoteError> for Refusal {
    fn from(error: RemoteError) -> Self {
        Refusal { error, cause: None }
    }
}

/// An evaluation admitted: everything the driver needs to answer it.
pub struct AdmittedEvaluate<'g, E, G: ReplayGuard + 'g, R> {
    /// The collection's current epoch (the one asked).
    pub epoch: CurrentEpoch<E>,
    /// The grant that admitted it.
    pub grant: Grant,
    /// Elements in the request.
    pub items: u64,
    /// The claimed query id.
    pub claim: G::Claim<'g>,
    /// The items reserved of the budget.
    pub reservation: R,
}

/// The refusal sentence of a spent budget: how much, and when it opens again (`now` in Unix
/// seconds).
pub fn budget_sentence(node: &str, partner: &str, collection: &str, s: &Spent, now: u64) -> String {
    let left = DAY - now % DAY;
    let base = format!(
        "{partner} has used {} of its {} items a day for collection `{collection}` at {node}",
        s.used, s.limit
    );
    if s.asked > s.limit {
        format!(
            "{base}; a request of {} items can never fit, split it",
            s.asked
        )
    } else {
        format!(
            "{base}, and this request asks for {} more; the budget opens again at 00:00 UTC, in {}h{:02}m",
            s.asked,
            left / 3600,
            left % 3600 / 60
        )
    }
}

/// Admits `partner`'s evaluation request at `now`, in the order of spec §6.6: a valid
/// collection name, a grant in the request's mode (a partner without one learns nothing, not
/// even whether the collection exists), the current epoch, a size within the grant and the
/// node's limit, whole elements, a fresh query id, and room in the day's budget.
pub fn admit_evaluate<'g, V, G, B>(
    view: &V,
    replay: &'g G,
    budgets: &B,
    partner: &str,
    req: &EvaluateRequest,
    now: u64,
) -> Result<AdmittedEvaluate<'g, V::Epoch, G, B::Reservation>, Refusal>
where
    V: HolderView,
    G: ReplayGuard,
    B: Budgets,
{
    let n = (req.blinded.len() / 32) as u64;
    let node = view.node();
    if CollectionName::parse(&req.collection).is_err() {
        return Err(RemoteError::new(
            ErrorCode::BadRequest,
            format!(
                "the collection name ({} bytes) is not a valid collection name",
                req.collection.len()
            ),
        )
        .into());
    }
    let grant = view
        .policy()
        .check_mode(partner, &req.collection, req.mode)?
        .clone();
    let epoch = epoch_at(view, &req.collection, req.epoch)?;
    // One request is one proof, whose index has two bytes: a node limit set above that is
    // still held to it here, before the query id is claimed or the budget reserved.
    let node_max = view.max_items_per_query().min(MAX_ITEMS_PER_REQUEST as u64);
    let max = grant.max_items_per_query.unwrap_or(node_max).min(node_max);
    if n > max {
        return Err(RemoteError::new(
            ErrorCode::TooManyItems,
            format!(
                "{n} items in one request; {node} accepts at most {max} per request from {partner}"
            ),
        )
        .into());
    }
    if let Err(err) = unpack("blinded", &req.blinded) {
        return Err(RemoteError::new(ErrorCode::BadRequest, err.to_string()).into());
    }
    let day = day_of(now);
    // One answer per query id and partner: a replay would put two receipts with one exchange
    // id into both logs.
    let claim = match replay.claim(day, partner, &req.query_id) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(RemoteError::new(
                ErrorCode::ReplayedQuery,
                format!(
                    "query id {} was already answered for {partner} by {node}; every request needs a fresh random query id",
                    hex::encode(*req.query_id),
                ),
            )
            .into())
        }
        Err(e) => {
            return Err(Refusal {
                error: RemoteError::new(
                    ErrorCode::Internal,
                    "the holder could not check the query id; nothing was evaluated, try again later",
                ),
                cause: Some(format!("could not read the answered query ids: {e}")),
            })
        }
    };
    let reservation =
        match budgets.reserve(day, partner, &req.collection, n, grant.daily_items) {
            Ok(Ok(r)) => r,
            Ok(Err(spent)) => {
                return Err(RemoteError::new(
                    ErrorCode::BudgetExhausted,
                    budget_sentence(node, partner, &req.collection, &spent, now),
                )
                .into())
            }
            Err(e) => return Err(Refusal {
                error: RemoteError::new(
                    ErrorCode::Internal,
                    "the holder could not read the budget; nothing was evaluated, try again later",
                ),
                cause: Some(format!("could not read a budget: {e}")),
            }),
        };
    Ok(AdmittedEvaluate {
        epoch,
        grant,
        items: n,
        claim,
        reservation,
    })
}

/// Evaluates an admitted request's elements with the epoch key and proves it, in the request's
/// mode (count mode shuffles the answers and proves only their sum). Elements that are not
/// canonical, or the identity, are refused here (`bad_request`); the driver then releases the
/// reservation. CPU-heavy.
pub fn evaluate(
    sk: &SecretKey,
    pk: &PublicKey,
    req: &EvaluateRequest,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Vec<u8>, [u8; 64]), RemoteError> {
    let r = match req.mode {
        QueryMode::Match => exchange::holder_evaluate(sk, pk, &req.blinded, rng),
        QueryMode::Count => count::holder_evaluate_count(sk, pk, &req.blinded, rng),
    };
    r.map_err(|e| RemoteError::new(ErrorCode::BadRequest, e.to_string()))
}

/// The receipt of an evaluation `holder` answers for `querier` at `now` (signed by the driver
/// with the holder's descriptor key, logged, then sent).
pub fn receipt(req: &EvaluateRequest, holder: &str, querier: &str, now: u64) -> Receipt {
    Receipt {
        exchange_id: *req.query_id,
        holder: holder.to_string(),
        querier: querier.to_string(),
        collection: req.collection.clone(),
        epoch: req.epoch,
        mode: req.mode.as_str().into(),
        items: (req.blinded.len() / 32) as u64,
        request_digest: request_digest(&req.blinded),
        time: now,
    }
}

/// The answer to send once it is logged.
pub fn answer(
    req: &EvaluateRequest,
    (evaluated, proof): (Vec<u8>, [u8; 64]),
    receipt: String,
    audit: Option<AuditReply>,
) -> EvaluateResponse {
    EvaluateResponse {
        query_id: req.query_id,
        epoch: req.epoch,
        evaluated,
        proof: ByteArray::new(proof),
        receipt,
        audit,
    }
}
