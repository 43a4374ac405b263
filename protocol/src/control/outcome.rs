//! What a query's answer says about each partner, typed: why it failed ([`FailureCode`]), how
//! its filter was brought up to date ([`FilterSource`]) and how strongly an item matched
//! ([`MatchClass`]). On the wire each is the string it always was (see [`super::Named`]).

use std::fmt;

use crate::person::KeyClass;
use crate::ErrorCode;

use super::named::Name;

/// Why a partner gave no answer to a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCode {
    /// The partner refused, with this protocol code: `refused:<code>`.
    Refused(ErrorCode),
    /// No answer in time: `timeout`.
    Timeout,
    /// No connection could be made: `unreachable`.
    Unreachable,
    /// The connection or stream ended during the exchange: `connection_lost`.
    ConnectionLost,
    /// The answer did not decode or did not verify: `invalid_answer`.
    InvalidAnswer,
    /// The partner's collection holds another kind than the items were read as:
    /// `kind_mismatch`.
    KindMismatch,
    /// Anything else: `error`.
    Error,
}

/// Every protocol code, for reading `refused:<code>` back.
const CODES: [ErrorCode; 17] = [
    ErrorCode::BadRequest,
    ErrorCode::UnknownCollection,
    ErrorCode::StaleEpoch,
    ErrorCode::TooManyItems,
    ErrorCode::NotAuthorized,
    ErrorCode::NoEpoch,
    ErrorCode::ShuttingDown,
    ErrorCode::NotShared,
    ErrorCode::ModeNotAllowed,
    ErrorCode::BudgetExhausted,
    ErrorCode::FollowupNotAllowed,
    ErrorCode::UnknownReference,
    ErrorCode::UnknownFollowup,
    ErrorCode::ReplayedQuery,
    ErrorCode::LimitExceeded,
    ErrorCode::Internal,
    ErrorCode::Unknown,
];

/// `refused:` and the code, spelled out so that the name can be `'static`.
fn refused(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "refused:bad_request",
        ErrorCode::UnknownCollection => "refused:unknown_collection",
        ErrorCode::StaleEpoch => "refused:stale_epoch",
        ErrorCode::TooManyItems => "refused:too_many_items",
        ErrorCode::NotAuthorized => "refused:not_authorized",
        ErrorCode::NoEpoch => "refused:no_epoch",
        ErrorCode::ShuttingDown => "refused:shutting_down",
        ErrorCode::NotShared => "refused:not_shared",
        ErrorCode::ModeNotAllowed => "refused:mode_not_allowed",
        ErrorCode::BudgetExhausted => "refused:budget_exhausted",
        ErrorCode::FollowupNotAllowed => "refused:followup_not_allowed",
        ErrorCode::UnknownReference => "refused:unknown_reference",
        ErrorCode::UnknownFollowup => "refused:unknown_followup",
        ErrorCode::ReplayedQuery => "refused:replayed_query",
        ErrorCode::LimitExceeded => "refused:limit_exceeded",
        ErrorCode::Internal => "refused:internal",
        ErrorCode::Unknown => "refused:unknown",
    }
}

impl FailureCode {
    /// Every code without a protocol code in it, for reading names back.
    const PLAIN: [FailureCode; 6] = [
        FailureCode::Timeout,
        FailureCode::Unreachable,
        FailureCode::ConnectionLost,
        FailureCode::InvalidAnswer,
        FailureCode::KindMismatch,
        FailureCode::Error,
    ];

    /// The protocol code of a refusal.
    pub fn refusal(&self) -> Option<ErrorCode> {
        match self {
            FailureCode::Refused(c) => Some(*c),
            _ => None,
        }
    }
}

impl Name for FailureCode {
    fn as_str(&self) -> &'static str {
        match self {
            FailureCode::Refused(c) => refused(*c),
            FailureCode::Timeout => "timeout",
            FailureCode::Unreachable => "unreachable",
            FailureCode::ConnectionLost => "connection_lost",
            FailureCode::InvalidAnswer => "invalid_answer",
            FailureCode::KindMismatch => "kind_mismatch",
            FailureCode::Error => "error",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        match s.strip_prefix("refused:") {
            Some(_) => CODES
                .into_iter()
                .find(|c| refused(*c) == s)
                .map(FailureCode::Refused),
            None => FailureCode::PLAIN.into_iter().find(|c| c.as_str() == s),
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the querier brought its copy of a partner's filter up to date for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterSource {
    /// The cached filter was current: `cached`.
    Cached,
    /// The cached filter was extended with the partner's new delta tags: `delta`.
    Delta,
    /// The whole filter was fetched (first query, or the partner rotated): `full`.
    Full,
}

impl Name for FilterSource {
    fn as_str(&self) -> &'static str {
        match self {
            FilterSource::Cached => "cached",
            FilterSource::Delta => "delta",
            FilterSource::Full => "full",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        [
            FilterSource::Cached,
            FilterSource::Delta,
            FilterSource::Full,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

impl fmt::Display for FilterSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an item matched: `exact` for identifiers, the class of the key that hit for persons.
/// Ordered strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MatchClass {
    /// The identifier itself.
    Exact,
    /// A person's match key of this class.
    Person(KeyClass),
}

impl From<Option<KeyClass>> for MatchClass {
    /// `None` (an identifier's only key) is `exact`.
    fn from(c: Option<KeyClass>) -> Self {
        c.map_or(MatchClass::Exact, MatchClass::Person)
    }
}

impl Name for MatchClass {
    fn as_str(&self) -> &'static str {
        match self {
            MatchClass::Exact => "exact",
            MatchClass::Person(c) => c.as_str(),
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        if s == "exact" {
            return Some(MatchClass::Exact);
        }
        KeyClass::from_name(s).map(MatchClass::Person)
    }
}

impl fmt::Display for MatchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back() {
        for c in CODES {
            let f = FailureCode::Refused(c);
            assert_eq!(FailureCode::from_name(f.as_str()), Some(f));
            assert_eq!(f.as_str(), format!("refused:{}", c.as_str()));
        }
        for f in FailureCode::PLAIN {
            assert_eq!(FailureCode::from_name(f.as_str()), Some(f));
        }
        assert_eq!(FailureCode::from_name("refused:what_is_this"), None);
        assert_eq!(FailureCode::from_name("exploded"), None);
        for s in ["cached", "delta", "full"] {
            assert_eq!(FilterSource::from_name(s).map(|f| f.as_str()), Some(s));
        }
        assert_eq!(MatchClass::from_name("exact"), Some(MatchClass::Exact));
        for k in KeyClass::ALL {
            assert_eq!(
                MatchClass::from_name(k.as_str()),
                Some(MatchClass::Person(k))
            );
        }
        assert!(MatchClass::Exact < MatchClass::Person(KeyClass::Document));
        assert!(MatchClass::Person(KeyClass::Document) < MatchClass::Person(KeyClass::NameDob));
    }
}
