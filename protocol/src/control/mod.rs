//! Messages on the control ALPN (`cordon-control/1`): an investigator's, operator's,
//! supervisor's or auditor's CLI talking to its own node. One request per stream, CBOR in the
//! frames of [`crate::frame`]; the CLI's `--json` output prints the same values with
//! serde_json, so both spellings are part of the contract (pinned by this module's tests).
//!
//! Imports stream: [`ControlRequest::Import`] first, then [`ImportFrame::Rows`] frames, then
//! [`ImportFrame::End`]; the node answers once, after the import committed (or was refused).
//!
//! Pure data and pure rules (who may do what: [`Role::may`], [`ControlRequest::action`]); the
//! node carries them out.

mod error;
mod followup;
mod import;
mod manage;
mod named;
mod operations;
mod outcome;
mod query;
mod request;
mod response;
mod role;
mod status;
#[cfg(test)]
mod tests;

pub use error::ControlError;
pub use followup::{
    DecisionView, FieldView, Fields, FollowupCommand, FollowupReply, HeldRecord, HeldReference,
    HeldSummary, HeldView, SentView,
};
pub use import::{ImportFrame, ImportHeader, ImportReply, ImportRow, ReadOptions};
pub use manage::{
    CollectionGrant, DeleteReply, PartnerPolicy, PartnerStatusReply, PolicyReloadReply, RotateReply,
};
pub use named::{Name, Named};
pub use operations::{BudgetLeft, EpochAge, Operations, PartnerCount, ReasonCount, RefusalCount};
pub use outcome::{FailureCode, FilterSource, MatchClass};
pub use query::{Hit, ItemMatch, PartnerOutcome, PartnerResult, QueryReply, QueryRequest};
pub use request::ControlRequest;
pub use response::ControlResponse;
pub use role::{Action, Role, UnknownRole};
pub use status::{AuditStatus, CollectionStatus, StatusReply};
