//! Collection names: parsed once, where they enter (a partner's request, an investigator's
//! command, `node.toml`), and carried as [`CollectionName`] from there on.
//!
//! A name appears in table names, in audit entries and on the wire, so only a small alphabet
//! is allowed: 1 to 64 lower-case ASCII letters, digits, `-`, `_` or `.`, starting with a
//! letter. On the wire it stays a CBOR text string; decoding a message does not check it (a
//! holder must still answer, and log, a request whose name is invalid), so the receiver parses
//! it with [`CollectionName::parse`] before looking anything up.

use serde::{Deserialize, Serialize};

/// Longest collection name, in bytes.
pub const MAX_COLLECTION_NAME: usize = 64;

/// A valid collection name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CollectionName(String);

/// A string that is not a valid collection name. Its text never quotes more than the first
/// characters of the offending value: it may come from a partner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collection name {shown} is not valid; use 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter")]
pub struct InvalidCollectionName {
    shown: String,
    len: usize,
}

impl InvalidCollectionName {
    /// Length in bytes of the refused value.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the refused value was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_COLLECTION_NAME
        && name.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_' || c == b'.'
        })
        && name.as_bytes()[0].is_ascii_lowercase()
}

impl CollectionName {
    /// Parses a name, or says why it is not one.
    pub fn parse(name: &str) -> Result<Self, InvalidCollectionName> {
        if valid(name) {
            Ok(CollectionName(name.to_string()))
        } else {
            // Quote short values whole (the operator's typo); long ones only by their length.
            let shown = if name.chars().count() <= MAX_COLLECTION_NAME {
                format!("{:?}", name)
            } else {
                format!("of {} bytes", name.len())
            };
            Err(InvalidCollectionName {
                shown,
                len: name.len(),
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How a name from a partner is written in this node's log: itself if valid, else only
    /// its length (a partner's invalid name is never copied into the log).
    pub fn loggable(name: &str) -> String {
        if valid(name) {
            name.to_string()
        } else {
            format!("<invalid name of {} bytes>", name.len())
        }
    }
}

impl std::fmt::Display for CollectionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CollectionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for CollectionName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CollectionName {
    type Err = InvalidCollectionName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CollectionName::parse(s)
    }
}

impl PartialEq<str> for CollectionName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CollectionName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for CollectionName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CollectionName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in ["phones", "a", "p2.v-1_x", &"a".repeat(64)] {
            assert_eq!(CollectionName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "Phones",
            "1abc",
            "-x",
            "a b",
            "é",
            &"a".repeat(65),
            "a/b",
        ] {
            let e = CollectionName::parse(bad).unwrap_err();
            assert_eq!(e.len(), bad.len());
            assert!(e.to_string().contains("is not valid"), "{e}");
        }
    }

    #[test]
    fn long_values_are_not_quoted() {
        let long = "x".repeat(65_536);
        let e = CollectionName::parse(&long).unwrap_err();
        assert!(e.to_string().contains("of 65536 bytes"));
        assert!(e.to_string().len() < 200);
        assert_eq!(
            CollectionName::loggable(&long),
            "<invalid name of 65536 bytes>"
        );
        assert_eq!(CollectionName::loggable("phones"), "phones");
    }

    #[test]
    fn serde_round_trip_and_refusal() {
        let n = CollectionName::parse("phones").unwrap();
        let bytes = crate::frame::encode(&n).unwrap();
        let back: CollectionName = crate::frame::decode_frame(&bytes).unwrap();
        assert_eq!(back, n);
        let bad = crate::frame::encode(&"Not valid").unwrap();
        assert!(crate::frame::decode_frame::<CollectionName>(&bad).is_err());
    }
}
