//! Messages on the control ALPN (`cordon-control/1`): a CLI talking to its own node. They are
//! defined in [`cordon_protocol::control`] (pure data, shared with the CLI and the fuzzers);
//! this module keeps their old paths.

pub use cordon_protocol::control::{
    AuditStatus, CollectionGrant, CollectionStatus, ControlError, ControlRequest, ControlResponse,
    DeleteReply, Hit, ImportFrame, ImportHeader, ImportReply, ImportRow, ItemMatch, PartnerOutcome,
    PartnerPolicy, PartnerResult, PartnerStatusReply, PolicyReloadReply, QueryReply, QueryRequest,
    ReadOptions, RotateReply, StatusReply,
};
