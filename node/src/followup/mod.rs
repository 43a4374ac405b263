//! Follow-up requests: the accountable second step after a hit, as in Prüm.
//!
//! 1. An investigator cites hit references (`<collection>:<epoch>:<tag hex>`) found in a
//!    partner's filter: `cordon followup request`. Their node logs `followup_requested`, keeps
//!    its own record of the request ([`querier`]) and sends it to the partner.
//! 2. The holder checks its policy, resolves every reference to its own records by recomputing
//!    the tags of the collection with the epoch's key, refuses the whole request if any reference
//!    resolves to nothing, and otherwise queues it and logs `followup_requested` ([`holder`]).
//! 3. The holder's supervisor lists, shows, approves (only fields marked releasable at import)
//!    or denies; each decision is logged as `followup_answered`.
//! 4. `cordon followup status` at the querier fetches the decisions on its open requests and
//!    stores them; the first arrival of an answer is logged as `followup_answered`.
//!
//! The control-channel messages are in `cordon_protocol::control` (re-exported here); storage
//! in [`store`]; the control commands that drive both sides in `crate::cmd`.

pub mod holder;
pub mod querier;
pub mod store;

use cordon_protocol::control::Action;
use cordon_protocol::followup::FollowupState;

pub use cordon_protocol::control::{
    DecisionView, FieldView, Fields, FollowupCommand, FollowupReply, HeldRecord, HeldReference,
    HeldSummary, HeldView, SentView,
};

/// The name of a request's state: `pending`, `approved` or `denied`.
pub fn state_name(s: &FollowupState) -> &'static str {
    match s {
        FollowupState::Pending => "pending",
        FollowupState::Approved { .. } => "approved",
        FollowupState::Denied { .. } => "denied",
    }
}

/// The action a command needs.
pub fn action_of(cmd: &FollowupCommand) -> Action {
    cmd.action()
}
