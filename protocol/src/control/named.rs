//! Typed names that still decode when a newer node sends one this build does not know.
//!
//! Outcome codes, filter sources, match classes, kinds and roles travel as strings (the CLI's
//! `--json` output shows them as such). In memory they are enums; [`Named`] pairs the two: a
//! name this build knows is [`Named::Known`], any other is kept as sent in [`Named::Unknown`],
//! so an answer from a newer node decodes and shows as it did when these fields were strings.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ident::Kind;
use crate::person::KeyClass;

use super::Role;

/// A closed set of values with one fixed spelling each.
pub trait Name: Sized {
    /// The spelling on the wire.
    fn as_str(&self) -> &'static str;
    /// The value spelled `s` exactly, if there is one.
    fn from_name(s: &str) -> Option<Self>;
}

/// A value of `T` as received: known to this build, or a name it does not know (kept as sent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Named<T> {
    /// A value this build knows.
    Known(T),
    /// A name this build does not know (from a newer node), as sent.
    Unknown(String),
}

impl<T: Name> Named<T> {
    /// Reads a name: known, or kept as given.
    pub fn parse(s: &str) -> Self {
        T::from_name(s).map_or_else(|| Named::Unknown(s.to_string()), Named::Known)
    }

    /// The name, as on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Named::Known(t) => t.as_str(),
            Named::Unknown(s) => s,
        }
    }

    /// The value, if this build knows it.
    pub fn known(&self) -> Option<&T> {
        match self {
            Named::Known(t) => Some(t),
            Named::Unknown(_) => None,
        }
    }
}

impl<T> From<T> for Named<T> {
    fn from(t: T) -> Self {
        Named::Known(t)
    }
}

impl<T: Name> fmt::Display for Named<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name reads as its spelling (so `Option<Named<_>>::as_deref` gives the text).
impl<T: Name> std::ops::Deref for Named<T> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<T: Name> PartialEq<str> for Named<T> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<T: Name> PartialEq<&str> for Named<T> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<T: Name> PartialEq<Named<T>> for str {
    fn eq(&self, other: &Named<T>) -> bool {
        self == other.as_str()
    }
}

impl<T: Name> PartialEq<Named<T>> for &str {
    fn eq(&self, other: &Named<T>) -> bool {
        *self == other.as_str()
    }
}

impl<T: Name> Serialize for Named<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: Name> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(T::from_name(&s).map_or(Named::Unknown(s), Named::Known))
    }
}

/// The value of `all` spelled `s`.
fn find<T: Name + Copy>(all: &[T], s: &str) -> Option<T> {
    all.iter().copied().find(|t| t.as_str() == s)
}

impl Name for Kind {
    fn as_str(&self) -> &'static str {
        Kind::as_str(self)
    }
    /// Exactly as written (unlike `Kind::from_str`, which forgives case and spaces in input).
    fn from_name(s: &str) -> Option<Self> {
        find(Kind::ALL, s)
    }
}

impl Name for KeyClass {
    fn as_str(&self) -> &'static str {
        KeyClass::as_str(self)
    }
    fn from_name(s: &str) -> Option<Self> {
        find(&KeyClass::ALL, s)
    }
}

impl Name for Role {
    fn as_str(&self) -> &'static str {
        Role::as_str(*self)
    }
    fn from_name(s: &str) -> Option<Self> {
        find(&Role::ALL, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_typed_and_unknown_ones_kept() {
        let k: Named<Kind> = serde_json::from_str("\"bank-account\"").unwrap();
        assert_eq!(k, Named::Known(Kind::BankAccount));
        let k: Named<Kind> = serde_json::from_str("\"vehicle\"").unwrap();
        assert_eq!(k, Named::Unknown("vehicle".into()));
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"vehicle\"");
        assert_eq!(k, "vehicle");
        assert_eq!(
            Named::<Kind>::parse("Phone"),
            Named::Unknown("Phone".into())
        );
        let r: Named<Role> = Role::Auditor.into();
        assert_eq!(r.to_string(), "auditor");
        let c: Option<Named<KeyClass>> = Some(KeyClass::NameDob.into());
        assert_eq!(c.as_deref(), Some("name+dob"));
    }
}
