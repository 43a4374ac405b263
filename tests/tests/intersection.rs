//! For random sets, the hits are exactly the plain set intersection (of canonical forms).

use std::collections::BTreeSet;

use proptest::prelude::*;

use cordon_protocol::ident::{self, Kind, Options};

use cordon_tests::{hit_items, import, query, Fed};

fn canon(kind: Kind, v: &str) -> String {
    ident::canonicalize(kind, v, &Options::with_region("TH"))
        .unwrap()
        .into_value()
}

#[test]
fn hits_equal_the_plain_intersection() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(async { Fed::start(&["th", "jp", "us"], |c| c.to_string()) });
    let th = f.investigator("th");
    let (jp, us) = (f.operator("jp"), f.operator("us"));
    let case = std::sync::atomic::AtomicU32::new(0);
    // Values from a small universe so that the sets overlap; text values in random case and
    // spacing so canonicalisation is exercised too.
    let value = prop_oneof![
        (0u32..400).prop_map(|i| format!("+6681{:07}", i * 7919 % 10_000_000)),
        (0u32..400).prop_map(|i| format!("08{}-{:03}-{:04}", 1 + i % 9, i % 1000, i)),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 16,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                prop::collection::vec(value.clone(), 1..300),
                prop::collection::vec(value.clone(), 1..300),
                prop::collection::vec(value, 1..200),
            ),
            |(held_jp, held_us, asked)| {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let coll = format!("c{n}");
                let (r, expect_jp, expect_us) = rt.block_on(async {
                    import(&jp, &coll, "phone", &held_jp).await.unwrap();
                    import(&us, &coll, "phone", &held_us).await.unwrap();
                    let r = query(&th, &coll, &asked, &[]).await.unwrap();
                    let cj: BTreeSet<String> =
                        held_jp.iter().map(|v| canon(Kind::Phone, v)).collect();
                    let cu: BTreeSet<String> =
                        held_us.iter().map(|v| canon(Kind::Phone, v)).collect();
                    let ej: BTreeSet<String> = asked
                        .iter()
                        .filter(|a| cj.contains(&canon(Kind::Phone, a)))
                        .cloned()
                        .collect();
                    let eu: BTreeSet<String> = asked
                        .iter()
                        .filter(|a| cu.contains(&canon(Kind::Phone, a)))
                        .cloned()
                        .collect();
                    (r, ej, eu)
                });
                prop_assert_eq!(hit_items(&r, "jp", &asked).unwrap(), expect_jp);
                prop_assert_eq!(hit_items(&r, "us", &asked).unwrap(), expect_us);
                Ok(())
            },
        )
        .unwrap();
    rt.block_on(async { f.fed.shutdown().await.unwrap() });
}
