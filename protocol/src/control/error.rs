//! The node's refusal of a control request.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// A refusal with a code and one sentence; `details` lists e.g. bad rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlError {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// One sentence.
    pub message: String,
    /// Extra lines (bad rows, …).
    pub details: Vec<String>,
}

impl ControlError {
    /// A refusal without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ControlError {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }
}
