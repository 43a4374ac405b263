//! The property the whole protocol exists for: over random holders, random queries with
//! planted overlaps, records added between queries (deltas, and rebuilds past the threshold),
//! rotations and deletions, with the querier's cache reused across queries, the hits are
//! exactly the plain intersection — no false negatives, and (at a false-positive rate of
//! 1e-9, with these sizes) no false positives either. Count mode counts it exactly.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use cordon_protocol::ident::Kind;
use cordon_protocol::messages::QueryMode;
use cordon_sim::Federation;

use crate::support::{grant, query};

const HOLDERS: [&str; 3] = ["h0", "h1", "h2"];

/// A change a holder makes between two queries.
#[derive(Debug, Clone)]
enum Change {
    Add(Vec<u16>),
    Rotate,
    Delete(Vec<u16>),
}

/// One query, and the changes before it.
#[derive(Debug, Clone)]
struct Round {
    changes: Vec<(usize, Change)>,
    /// Items planted from a holder's records: (holder, position among its records).
    planted: Vec<(usize, usize)>,
    /// Items drawn from the whole universe.
    random: Vec<u16>,
    count: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    holders: Vec<Vec<u16>>,
    rounds: Vec<Round>,
}

fn item(id: u16) -> String {
    format!("u{id}@example.org")
}

fn items(ids: &[u16]) -> Vec<String> {
    ids.iter().copied().map(item).collect()
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let change = prop_oneof![
        4 => prop::collection::vec(0u16..300, 1..5).prop_map(Change::Add),
        1 => Just(Change::Rotate),
        1 => prop::collection::vec(0u16..300, 1..3).prop_map(Change::Delete),
    ];
    let round = (
        prop::collection::vec((0usize..3, change), 0..3),
        prop::collection::vec((0usize..3, any::<usize>()), 0..6),
        prop::collection::vec(0u16..300, 0..6),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(changes, planted, random, count)| Round {
            changes,
            planted,
            random,
            count,
        });
    (
        any::<u64>(),
        prop::collection::vec(prop::collection::vec(0u16..300, 0..12), 1..=3),
        prop::collection::vec(round, 1..=4),
    )
        .prop_map(|(seed, holders, rounds)| Scenario {
            seed,
            holders,
            rounds,
        })
}

fn federation(s: &Scenario) -> (Federation, Vec<BTreeSet<u16>>) {
    let mut fed = Federation::new(s.seed);
    fed.add_node("th").unwrap();
    let mut sets = Vec::new();
    for (h, records) in HOLDERS.iter().zip(&s.holders) {
        fed.add_node(h).unwrap();
        fed.connect("th", h).unwrap();
        let modes = [QueryMode::Match, QueryMode::Count];
        fed.node_mut(h)
            .unwrap()
            .grant(grant("th", &modes, u64::MAX));
        fed.import(h, "emails", Kind::Email, &items(records))
            .unwrap();
        sets.push(records.iter().copied().collect());
    }
    (fed, sets)
}

fn check(s: &Scenario) -> Result<(), TestCaseError> {
    let (mut fed, mut sets) = federation(s);
    let n = sets.len();
    for round in &s.rounds {
        for (h, change) in &round.changes {
            let (h, set) = (h % n, &mut sets[h % n]);
            match change {
                Change::Add(ids) => {
                    fed.import(HOLDERS[h], "emails", Kind::Email, &items(ids))
                        .unwrap();
                    set.extend(ids);
                }
                Change::Rotate => fed.rotate(HOLDERS[h], "emails").unwrap(),
                Change::Delete(ids) => {
                    fed.delete(HOLDERS[h], "emails", &items(ids)).unwrap();
                    ids.iter().for_each(|i| {
                        set.remove(i);
                    });
                }
            }
        }
        let mut asked: Vec<u16> = round.random.clone();
        for (h, at) in &round.planted {
            let set = &sets[h % n];
            if let Some(id) = set.iter().nth(at % set.len().max(1)) {
                asked.push(*id);
            }
        }
        if asked.is_empty() {
            asked.push(299);
        }
        let mut q = query(items(&asked), &HOLDERS[..n]);
        if round.count {
            q.mode = QueryMode::Count;
        }
        let out = fed.query("th", &q).unwrap();
        for (h, set) in HOLDERS.iter().zip(&sets) {
            let a = out.of(h).unwrap().answer().map_err(TestCaseError::fail)?;
            if round.count {
                let distinct: BTreeSet<&u16> = asked.iter().filter(|i| set.contains(i)).collect();
                prop_assert_eq!(a.count, Some(distinct.len() as u64), "{} count", h);
            } else {
                let want: Vec<u64> = (1..=asked.len() as u64)
                    .filter(|l| set.contains(&asked[*l as usize - 1]))
                    .collect();
                let got: Vec<u64> = a.hits.iter().map(|h| h.line).collect();
                prop_assert_eq!(got, want, "{} hits", h);
            }
        }
    }
    Ok(())
}

/// Fixed seed: the same 1,000 cases on every run (`PROPTEST_RNG_SEED` does not apply; change
/// the seed here to explore others).
fn config() -> Config {
    Config {
        cases: 1_000,
        rng_seed: RngSeed::Fixed(0x0c0d),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hits_are_the_plain_intersection(s in scenario()) {
        check(&s)?;
    }
}
