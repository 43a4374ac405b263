//! A query's items, ready for every partner: canonicalised, expanded into OPRF items (a
//! person gives one per match key), hashed to the group once for all partners, and blinded
//! afresh per partner ([`Batch`]); and the map back from OPRF items to the queried lines and
//! key classes ([`ItemMap`]).

use cordon_protocol::control::{Hit, ItemMatch, MatchClass, Named};
use cordon_protocol::count::CountBatch;
use cordon_protocol::exchange::{BlindedBatch, FinishError, HashedInputs};
use cordon_protocol::ident::{self, Kind, Options};
use cordon_protocol::messages::QueryMode;
use cordon_protocol::oprf::Tag;
use cordon_protocol::person::{self, KeyClass};

/// The querier's blinded batch for one partner, in the query's mode.
pub(super) enum Batch {
    /// A fresh blind per item, answers in order.
    Match(BlindedBatch),
    /// One blind for the batch, answers shuffled (distinct items only).
    Count(CountBatch),
}

impl Batch {
    pub(super) fn new(mode: QueryMode, hashed: &HashedInputs) -> Self {
        let rng = &mut rand::rngs::OsRng;
        match mode {
            QueryMode::Match => Batch::Match(BlindedBatch::new(hashed, rng)),
            QueryMode::Count => Batch::Count(CountBatch::new(hashed, rng)),
        }
    }

    pub(super) fn request_bytes(&self) -> Vec<u8> {
        match self {
            Batch::Match(b) => b.request_bytes(),
            Batch::Count(b) => b.request_bytes(),
        }
    }

    pub(super) fn finish(
        &self,
        pk: &[u8; 32],
        evaluated: &[u8],
        proof: &[u8; 64],
    ) -> Result<Vec<Tag>, FinishError> {
        match self {
            Batch::Match(b) => b.finish(pk, evaluated, proof),
            Batch::Count(b) => b.finish(pk, evaluated, proof),
        }
    }
}

/// Which queried item (and, for persons, which key class) each OPRF item stands for.
pub(super) struct ItemMap {
    /// Line in the query file of each queried item.
    lines: Vec<u64>,
    /// Queried item of each OPRF item.
    pub(super) owner: Vec<u32>,
    /// Key class of each OPRF item (persons only).
    class: Vec<Option<KeyClass>>,
}

impl ItemMap {
    /// The hit of OPRF item `i`, whose tag was found in `collection`'s filter of `epoch`.
    pub(super) fn hit(&self, i: usize, tag: &Tag, collection: &str, epoch: u64) -> Hit {
        let owner = self.owner.get(i).copied().unwrap_or(0) as usize;
        Hit {
            index: owner as u64,
            line: self.lines.get(owner).copied().unwrap_or(0),
            reference: cordon_protocol::followup::HitReference {
                collection: collection.to_string(),
                epoch,
                tag: *tag,
            }
            .to_string(),
            class: self.class.get(i).copied().flatten().map(Named::Known),
        }
    }

    /// Per queried item: the classes of its OPRF items at indices `found`, strongest first.
    pub(super) fn matches(&self, found: &[usize]) -> Vec<ItemMatch> {
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
                let names: Vec<Named<MatchClass>> = classes
                    .into_iter()
                    .map(|c| Named::Known(MatchClass::from(c)))
                    .collect();
                ItemMatch {
                    index: u64::from(index),
                    line: self.lines.get(index as usize).copied().unwrap_or(0),
                    strength: names
                        .first()
                        .cloned()
                        .unwrap_or(Named::Known(MatchClass::Exact)),
                    classes: names,
                }
            })
            .collect()
    }
}

/// One OPRF input and, for persons, the class of the key it is.
type ClassedInput = (Option<KeyClass>, Vec<u8>);

/// Canonicalises every item and hashes its OPRF items to the group; or lists the bad items.
pub(super) fn prepare(
    kind: Kind,
    items: &[(u64, String)],
    opts: &Options,
) -> Result<(HashedInputs, ItemMap), Vec<String>> {
    use rayon::prelude::*;
    let results: Vec<Result<Vec<ClassedInput>, String>> = items
        .par_iter()
        .map(|(line, raw)| {
            // The message quotes only the first characters of the item, like import reports.
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
