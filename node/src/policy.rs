//! The federation policy: what this node shares with each partner, in which modes, how much of
//! it a day, and whether the partner may file follow-up requests.
//!
//! Written as `[[grant]]` sections in `node.toml` and reloaded without a restart (SIGHUP or
//! `cordon policy reload`). Nothing is shared without a grant: a partner asking for a collection
//! no grant names is refused with `not_shared`, whether or not the collection exists (so that a
//! refusal does not tell which collections exist).
//!
//! ```toml
//! [[grant]]
//! partner = "jp.npa"              # or "*" for every partner
//! collections = ["phones", "persons"]   # or ["*"]
//! modes = ["match", "count"]      # default ["match"]
//! daily_items = 100000            # evaluated items per collection per UTC day
//! max_items_per_query = 10000     # default: limits.max_items_per_query
//! followup = true                 # may file follow-up requests (default false)
//! ```
//!
//! When several grants name a partner and a collection, the most specific one applies: the
//! partner's own name before `"*"`, then the collection's own name before `"*"`. Two grants of
//! the same specificity for one pair are a configuration error.

use serde::{Deserialize, Serialize};

use cordon_protocol::messages::QueryMode;
use cordon_protocol::{ErrorCode, RemoteError};

/// One `[[grant]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Partner name, or `*` for every partner.
    pub partner: String,
    /// Collection names, or `["*"]` for every collection.
    pub collections: Vec<String>,
    /// Modes the partner may query in.
    #[serde(default = "default_modes")]
    pub modes: Vec<QueryMode>,
    /// Evaluated items per collection per UTC day.
    pub daily_items: u64,
    /// Most items in one request; the node's `limits.max_items_per_query` when absent.
    #[serde(default)]
    pub max_items_per_query: Option<u64>,
    /// Whether the partner may file follow-up requests on its hits.
    #[serde(default)]
    pub followup: bool,
}

fn default_modes() -> Vec<QueryMode> {
    vec![QueryMode::Match]
}

/// The daily budget every grant `cordon partner add` writes starts with.
pub const DEFAULT_DAILY_ITEMS: u64 = 1_000_000;

impl Grant {
    fn specificity(&self, collection: &str) -> Option<u8> {
        let c = if self.collections.iter().any(|c| c == collection) {
            1
        } else if self.collections.iter().any(|c| c == "*") {
            0
        } else {
            return None;
        };
        let p = if self.partner == "*" { 0 } else { 2 };
        Some(p + c)
    }

    /// The grant in one line, for `cordon partner status` and the log.
    pub fn summary(&self) -> String {
        let modes: Vec<&str> = self.modes.iter().map(|m| m.as_str()).collect();
        format!(
            "{} → {}: modes {}, {} items/day{}, follow-ups {}",
            self.partner,
            self.collections.join(","),
            modes.join("+"),
            self.daily_items,
            self.max_items_per_query
                .map(|m| format!(", at most {m} per query"))
                .unwrap_or_default(),
            if self.followup {
                "allowed"
            } else {
                "not allowed"
            }
        )
    }
}

/// Checks the grants of one `node.toml` (called by `Config::parse`).
pub fn check_grants(grants: &[Grant], partners: &[String]) -> Result<(), String> {
    for (i, g) in grants.iter().enumerate() {
        let at = format!("grant #{} (partner `{}`)", i + 1, g.partner);
        if g.partner != "*" && !partners.iter().any(|p| p == &g.partner) {
            return Err(format!(
                "{at}: `{}` is not a configured [[partner]]; fix the name or add the partner first",
                g.partner
            ));
        }
        if g.collections.is_empty() {
            return Err(format!(
                "{at}: `collections` is empty; name collections, or [\"*\"] for all"
            ));
        }
        for c in &g.collections {
            if c != "*" {
                cordon_protocol::collection::CollectionName::parse(c)
                    .map_err(|e| format!("{at}: {e}"))?;
            }
        }
        if g.modes.is_empty() {
            return Err(format!(
                "{at}: `modes` is empty; grant \"match\", \"count\" or both, or remove the grant"
            ));
        }
        if g.max_items_per_query == Some(0) {
            return Err(format!(
                "{at}: `max_items_per_query` = 0 would refuse every query; remove the grant instead"
            ));
        }
        for (j, h) in grants.iter().enumerate().skip(i + 1) {
            if h.partner != g.partner {
                continue;
            }
            if let Some(c) = g.collections.iter().find(|c| h.collections.contains(c)) {
                return Err(format!(
                    "grants #{} and #{} both grant `{c}` to `{}`; keep one",
                    i + 1,
                    j + 1,
                    g.partner
                ));
            }
        }
    }
    Ok(())
}

/// The grants in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// This node's name (refusals name it).
    pub node: String,
    /// The grants, in file order.
    pub grants: Vec<Grant>,
}

impl Policy {
    /// A policy of these grants.
    pub fn new(node: &str, grants: Vec<Grant>) -> Self {
        Policy {
            node: node.to_string(),
            grants,
        }
    }

    /// The grant that applies to `partner` and `collection`, if any.
    pub fn grant(&self, partner: &str, collection: &str) -> Option<&Grant> {
        self.grants
            .iter()
            .filter(|g| g.partner == partner || g.partner == "*")
            .filter_map(|g| g.specificity(collection).map(|s| (s, g)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, g)| g)
    }

    /// The grant letting `partner` see `collection` at all (descriptor, filter, delta).
    pub fn check_shared(&self, partner: &str, collection: &str) -> Result<&Grant, RemoteError> {
        self.grant(partner, collection).ok_or_else(|| {
            RemoteError::new(
                ErrorCode::NotShared,
                format!(
                    "{} does not share collection `{collection}` with {partner}",
                    self.node
                ),
            )
        })
    }

    /// The grant letting `partner` query `collection` in `mode`.
    pub fn check_mode(
        &self,
        partner: &str,
        collection: &str,
        mode: QueryMode,
    ) -> Result<&Grant, RemoteError> {
        let g = self.check_shared(partner, collection)?;
        if !g.modes.contains(&mode) {
            let modes: Vec<&str> = g.modes.iter().map(|m| m.as_str()).collect();
            return Err(RemoteError::new(
                ErrorCode::ModeNotAllowed,
                format!(
                    "{} shares collection `{collection}` with {partner} only in {} mode, not {mode}",
                    self.node,
                    modes.join(" and ")
                ),
            ));
        }
        Ok(g)
    }

    /// Whether `partner` may file follow-up requests on hits in `collection`.
    pub fn check_followup(&self, partner: &str, collection: &str) -> Result<(), RemoteError> {
        let g = self.check_shared(partner, collection)?;
        if !g.followup {
            return Err(RemoteError::new(
                ErrorCode::FollowupNotAllowed,
                format!(
                    "{} does not accept follow-up requests from {partner} on collection `{collection}`",
                    self.node
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(partner: &str, collections: &[&str], modes: &[QueryMode], followup: bool) -> Grant {
        Grant {
            partner: partner.into(),
            collections: collections.iter().map(|c| c.to_string()).collect(),
            modes: modes.to_vec(),
            daily_items: 10,
            max_items_per_query: None,
            followup,
        }
    }

    #[test]
    fn most_specific_grant_applies_and_nothing_is_shared_without_one() {
        let p = Policy::new(
            "th",
            vec![
                g("*", &["*"], &[QueryMode::Count], false),
                g("jp", &["*"], &[QueryMode::Match], false),
                g(
                    "jp",
                    &["persons"],
                    &[QueryMode::Match, QueryMode::Count],
                    true,
                ),
                g("us", &["phones"], &[QueryMode::Match], false),
            ],
        );
        assert!(p.grant("jp", "persons").unwrap().followup);
        assert_eq!(
            p.grant("jp", "phones").unwrap().modes,
            vec![QueryMode::Match]
        );
        assert_eq!(p.grant("us", "phones").unwrap().partner, "us");
        assert_eq!(p.grant("us", "wallets").unwrap().partner, "*");
        let e = p.check_mode("cn", "phones", QueryMode::Match).unwrap_err();
        assert_eq!(e.code, ErrorCode::ModeNotAllowed);
        let none = Policy::new("th", vec![g("jp", &["phones"], &[QueryMode::Match], false)]);
        let e = none.check_shared("jp", "persons").unwrap_err();
        assert_eq!(e.code, ErrorCode::NotShared);
        assert_eq!(e.message, "th does not share collection `persons` with jp");
        let e = none.check_followup("jp", "phones").unwrap_err();
        assert_eq!(e.code, ErrorCode::FollowupNotAllowed);
    }

    #[test]
    fn bad_grants_are_named() {
        let partners = vec!["jp".to_string()];
        let e =
            check_grants(&[g("xx", &["*"], &[QueryMode::Match], false)], &partners).unwrap_err();
        assert!(e.contains("`xx` is not a configured"), "{e}");
        let e = check_grants(&[g("jp", &[], &[QueryMode::Match], false)], &partners).unwrap_err();
        assert!(e.contains("`collections` is empty"), "{e}");
        let e = check_grants(&[g("jp", &["*"], &[], false)], &partners).unwrap_err();
        assert!(e.contains("`modes` is empty"), "{e}");
        let e = check_grants(
            &[
                g("jp", &["a", "b"], &[QueryMode::Match], false),
                g("jp", &["b"], &[QueryMode::Count], false),
            ],
            &partners,
        )
        .unwrap_err();
        assert!(e.contains("both grant `b`"), "{e}");
        let e = check_grants(
            &[g("jp", &["bad name"], &[QueryMode::Match], false)],
            &partners,
        )
        .unwrap_err();
        assert!(e.contains("grant #1"), "{e}");
    }
}
