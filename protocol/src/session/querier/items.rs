//! The querier's items: canonicalised and hashed once for every partner ([`prepare`]), and the
//! map back from each OPRF item to the queried item (and, for persons, the match key class)
//! that turns found tags into [`Hit`]s and per-item [`ItemMatch`]es.

use crate::exchange::HashedInputs;
use crate::followup::HitReference;
use crate::ident::{self, Kind, Options};
use crate::oprf::Tag;
use crate::person::{self, KeyClass};

/// Which queried item (and, for persons, which key class) each OPRF item stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemMap {
    /// Line in the query file of each queried item.
    lines: Vec<u64>,
    /// Queried item of each OPRF item.
    owner: Vec<u32>,
    /// Key class of each OPRF item (persons only).
    class: Vec<Option<KeyClass>>,
}

/// One hit: an OPRF item whose tag the partner holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Index into the query's items.
    pub index: u64,
    /// Line of the item in the query file.
    pub line: u64,
    /// The hit reference to cite in a follow-up request.
    pub reference: HitReference,
    /// For persons: the class of the match key that hit.
    pub class: Option<KeyClass>,
}

/// What a partner holds of one queried item: every key class that hit, strongest first
/// (`None` stands for an identifier's one exact item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemMatch {
    /// Index into the query's items.
    pub index: u64,
    /// Line of the item in the query file.
    pub line: u64,
    /// Every class that hit, strongest first, each once.
    pub classes: Vec<Option<KeyClass>>,
}

impl ItemMatch {
    /// The class names as shown: `exact` for an identifier, the key class for a person.
    pub fn class_names(&self) -> Vec<String> {
        self.classes
            .iter()
            .map(|c| c.map_or("exact", |c| c.as_str()).to_string())
            .collect()
    }

    /// The strongest class that hit, as shown.
    pub fn strength(&self) -> String {
        self.class_names().into_iter().next().unwrap_or_default()
    }
}

impl ItemMap {
    /// A map of identifiers (one OPRF item per queried item), at the given file lines.
    pub fn identifiers(lines: Vec<u64>) -> Self {
        let owner = (0..lines.len() as u32).collect();
        let class = vec![None; lines.len()];
        ItemMap {
            lines,
            owner,
            class,
        }
    }

    /// Number of OPRF items.
    pub fn len(&self) -> usize {
        self.owner.len()
    }

    /// Whether there are no OPRF items.
    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }

    /// The hit of OPRF item `i`, whose tag was found in `collection`'s filter of `epoch`.
    pub fn hit(&self, i: usize, tag: &Tag, collection: &str, epoch: u64) -> Hit {
        let owner = self.owner.get(i).copied().unwrap_or(0) as usize;
        Hit {
            index: owner as u64,
            line: self.lines.get(owner).copied().unwrap_or(0),
            reference: HitReference {
                collection: collection.to_string(),
                epoch,
                tag: *tag,
            },
            class: self.class.get(i).copied().flatten(),
        }
    }

    /// Per queried item: the classes of its OPRF items at indices `found`, strongest first.
    pub fn matches(&self, found: &[usize]) -> Vec<ItemMatch> {
        let mut by_item: std::collections::BTreeMap<u32, Vec<Option<KeyClass>>> =
            Default::default();
        for &i in found {
            if let (Some(owner), Some(class)) = (self.owner.get(i), self.class.get(i)) {
                by_item.entry(*owner).or_default().push(*class);
            }
        }
        by_item
            .into_iter()
            .map(|(index, mut classes)| {
                classes.sort();
                classes.dedup();
                ItemMatch {
                    index: u64::from(index),
                    line: self.lines.get(index as usize).copied().unwrap_or(0),
                    classes,
                }
            })
            .collect()
    }
}

/// One OPRF input and, for persons, the class of the key it is.
type ClassedInput = (Option<KeyClass>, Vec<u8>);

/// Canonicalises every item (`(line, raw value)`) as `kind` and hashes its OPRF items to the
/// group, in parallel; or lists the bad items, one sentence each (quoting only the first
/// characters of an item).
pub fn prepare(
    kind: Kind,
    items: &[(u64, String)],
    opts: &Options,
) -> Result<(HashedInputs, ItemMap), Vec<String>> {
    use rayon::prelude::*;
    let results: Vec<Result<Vec<ClassedInput>, String>> = items
        .par_iter()
        .map(|(line, raw)| {
            let c = ident::canonicalize(kind, raw, opts).map_err(|e| {
                let hint = if kind == Kind::Person && !raw.trim_start().starts_with('{') {
                    " (the collection holds persons: give a CSV file with a header row or JSON Lines, and --kind person)"
                } else {
                    ""
                };
                format!("line {line}: {}{hint}", e.redacted(raw))
            })?;
            if kind != Kind::Person {
                return Ok(vec![(None, c.oprf_input())]);
            }
            let keys = person::match_keys(c.value())
                .map_err(|e| format!("line {line}: {}", e.redacted(raw)))?;
            if keys.is_empty() {
                return Err(format!(
                    "line {line}: this person gives no match key; add a date of birth or a document"
                ));
            }
            Ok(keys.into_iter().map(|k| (Some(k.class), k.input)).collect())
        })
        .collect();
    let bad: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    if !bad.is_empty() {
        return Err(bad);
    }
    let mut map = ItemMap {
        lines: items.iter().map(|(l, _)| *l).collect(),
        owner: Vec::new(),
        class: Vec::new(),
    };
    let mut inputs = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        for (class, input) in r.unwrap_or_default() {
            map.owner.push(i as u32);
            map.class.push(class);
            inputs.push(input);
        }
    }
    Ok((HashedInputs::new(&inputs), map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_map_one_to_one_and_bad_items_are_listed() {
        let items = vec![(3, "+66812345678".to_string()), (7, "+66812345679".into())];
        let (h, map) = prepare(Kind::Phone, &items, &Options::default()).unwrap();
        assert_eq!((h.len(), map.len()), (2, 2));
        assert_eq!(map, ItemMap::identifiers(vec![3, 7]));
        let hit = map.hit(1, &[0xab; 32], "phones", 4);
        assert_eq!((hit.index, hit.line, hit.class), (1, 7, None));
        assert_eq!(
            hit.reference.to_string(),
            format!("phones:4:{}", "ab".repeat(32))
        );
        let m = map.matches(&[1]);
        assert_eq!(m[0].class_names(), vec!["exact"]);
        assert_eq!(m[0].strength(), "exact");
        let Err(bad) = prepare(
            Kind::Phone,
            &[(9, "not a phone".into())],
            &Options::default(),
        ) else {
            panic!("a bad phone number was accepted")
        };
        assert!(bad[0].starts_with("line 9: "), "{bad:?}");
    }

    #[test]
    fn persons_give_one_item_per_key_and_matches_fold_them() {
        let raw = r#"{"name":"Somchai Jaidee","dob":"1985-03-01","passport":"THA:AA1234567","nationality":"TH"}"#;
        let (h, map) = prepare(Kind::Person, &[(2, raw.into())], &Options::default()).unwrap();
        assert!(h.len() > 1);
        let all: Vec<usize> = (0..map.len()).collect();
        let m = map.matches(&all);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].strength(), "document");
        let mut sorted = m[0].classes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, m[0].classes);
    }
}
