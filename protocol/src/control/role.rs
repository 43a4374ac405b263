//! Who may do what on their own node: the [`Role`] a user certificate carries (its OU) and the
//! [`Action`] every control request is checked against first ([`Role::may`]). One place decides;
//! `spec/PROTOCOL.md` §10 has the table.

use std::fmt;
use std::str::FromStr;

/// What a person may do on their own node. Carried in the OU of a user certificate.
///
/// `Supervisor` and `Auditor` are accepted now so that certificates for them can be issued before
/// the features that use them land; the node decides what each role may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Role {
    /// Queries partners and files follow-up requests on the hits.
    Investigator,
    /// Runs the node and its data: imports, deletions, rotations, policy, users.
    Operator,
    /// Reviews partners' follow-up requests and answers for the agency's use (reads the log).
    Supervisor,
    /// Reads the audit log, nothing else.
    Auditor,
}

/// Everything a person can ask their own node, for the role check each control request makes
/// ([`Role::may`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Node status (collections, partners, audit summary).
    Status,
    /// Import data into a collection.
    Import,
    /// Delete records, rotate epochs, expire data.
    ManageData,
    /// Query partners (and file follow-up requests on the hits).
    Query,
    /// Read, export and prove the audit log.
    ReadAudit,
    /// Reload the federation policy from `node.toml`.
    ChangePolicy,
    /// See partners' grants and budgets.
    PartnerStatus,
    /// Revoke a person's certificate on this node.
    ManageUsers,
    /// See follow-up requests this node sent and their answers.
    FollowupStatus,
    /// Review partners' follow-up requests on this agency's records, approve or deny them.
    FollowupReview,
}

impl Action {
    /// What the action is, for refusals ("importing data needs the operator role").
    pub fn describe(self) -> &'static str {
        match self {
            Action::Status => "reading the node status",
            Action::Import => "importing data",
            Action::ManageData => "deleting data or rotating keys",
            Action::Query => "querying partners",
            Action::ReadAudit => "reading the audit log",
            Action::ChangePolicy => "changing the federation policy",
            Action::PartnerStatus => "reading partners' grants and budgets",
            Action::ManageUsers => "revoking users",
            Action::FollowupStatus => "reading follow-up requests sent",
            Action::FollowupReview => "reviewing partners' follow-up requests",
        }
    }

    /// Every action, for tests and the spec table.
    pub const ALL: [Action; 10] = [
        Action::Status,
        Action::Import,
        Action::ManageData,
        Action::Query,
        Action::ReadAudit,
        Action::ChangePolicy,
        Action::PartnerStatus,
        Action::ManageUsers,
        Action::FollowupStatus,
        Action::FollowupReview,
    ];
}

/// A role name that is none of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {value:?}; valid roles are: {valid}")]
pub struct UnknownRole {
    /// The name given.
    pub value: String,
    /// The valid names, comma-separated.
    pub valid: String,
}

impl Role {
    /// Whether this role may do `action`. Operators run the node and its data but neither query
    /// nor review disclosures; investigators query; supervisors review follow-ups and answer
    /// for their agency's use (they read the log); auditors only read the log.
    pub fn may(self, action: Action) -> bool {
        use Action as A;
        match self {
            Role::Operator => matches!(
                action,
                A::Status
                    | A::Import
                    | A::ManageData
                    | A::ChangePolicy
                    | A::PartnerStatus
                    | A::ManageUsers
            ),
            Role::Investigator => matches!(action, A::Status | A::Query | A::FollowupStatus),
            Role::Supervisor => matches!(
                action,
                A::Status | A::ReadAudit | A::PartnerStatus | A::FollowupStatus | A::FollowupReview
            ),
            Role::Auditor => matches!(action, A::Status | A::ReadAudit),
        }
    }

    /// The roles that may do `action`, for refusals.
    pub fn allowed(action: Action) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.may(action)).collect()
    }

    /// The refusal sentence for a user of this role attempting `action`.
    pub fn refusal(self, user: &str, action: Action) -> String {
        let roles: Vec<&str> = Role::allowed(action)
            .into_iter()
            .map(Role::as_str)
            .collect();
        format!(
            "user `{user}` has role {self}; {} needs the {} role",
            action.describe(),
            roles.join(" or ")
        )
    }

    /// Whether this role may import and expire data (and manage the node).
    pub fn may_import(self) -> bool {
        self.may(Action::Import)
    }

    /// Whether this role may query partners.
    pub fn may_query(self) -> bool {
        self.may(Action::Query)
    }

    /// Whether this role may read the audit log (auditors, and supervisors who answer for
    /// their agency's use of the system).
    pub fn may_read_audit(self) -> bool {
        self.may(Action::ReadAudit)
    }

    /// Every role, in the order error messages list them.
    pub const ALL: [Role; 4] = [
        Role::Investigator,
        Role::Operator,
        Role::Supervisor,
        Role::Auditor,
    ];

    /// The lower-case name written into certificates and accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Investigator => "investigator",
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Exact, lower-case match: the OU of a certificate must not be open to interpretation.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole {
                value: s.to_string(),
                valid: Role::ALL.map(Role::as_str).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_exactly() {
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
        let e = "admin".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("\"admin\""), "{e}");
        assert!(
            e.contains("investigator, operator, supervisor, auditor"),
            "{e}"
        );
        assert!("Investigator".parse::<Role>().is_err());
    }

    #[test]
    fn every_action_has_a_role_and_auditors_only_read() {
        for a in Action::ALL {
            assert!(!Role::allowed(a).is_empty(), "{a:?}");
        }
        let auditor: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|a| Role::Auditor.may(*a))
            .collect();
        assert_eq!(auditor, vec![Action::Status, Action::ReadAudit]);
        assert_eq!(
            Role::Auditor.refusal("a", Action::Import),
            "user `a` has role auditor; importing data needs the operator role"
        );
    }
}
