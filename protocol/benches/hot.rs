//! Criterion benchmarks of the hot functions, one at a time, in memory: hash-to-group (one
//! thread), the holder's evaluation and proof, the querier's blinding and finalisation (proof
//! check, unblinding, tags), and the filter's insert and lookup. Batch functions use every core
//! (rayon), as the nodes do. `cargo bench -p cordon-protocol --bench hot`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::OsRng;

use cordon_protocol::exchange::{holder_evaluate, BlindedBatch, HashedInputs};
use cordon_protocol::filter::{filter_capacity, seed_for, EpochFilter};
use cordon_protocol::oprf::{self, Mode, Tag};

const BATCH: usize = 1_000;

fn inputs(n: usize, offset: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("email:user{}@example.org", offset + i).into_bytes())
        .collect()
}

fn hash_to_group(c: &mut Criterion) {
    let data = inputs(BATCH, 0);
    let mut g = c.benchmark_group("hash_to_group");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("one_thread_1000", |b| {
        b.iter(|| {
            for d in &data {
                black_box(oprf::hash_to_group(Mode::Voprf, d));
            }
        })
    });
    g.finish();
}

fn querier_and_holder(c: &mut Criterion) {
    let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
    let data = inputs(BATCH, 0);
    let hashed = HashedInputs::new(&data);
    let batch = BlindedBatch::new(&hashed, &mut OsRng);
    let request = batch.request_bytes();
    let (evaluated, proof) = holder_evaluate(&sk, &pk, &request, &mut OsRng).unwrap();
    let mut g = c.benchmark_group("exchange_steps");
    g.sample_size(20);
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("querier_blind_1000", |b| {
        b.iter(|| BlindedBatch::new(&hashed, &mut OsRng))
    });
    g.bench_function("holder_evaluate_and_prove_1000", |b| {
        b.iter(|| holder_evaluate(&sk, &pk, &request, &mut OsRng).unwrap())
    });
    g.bench_function("querier_finalize_1000", |b| {
        b.iter(|| batch.finish(&pk.to_bytes(), &evaluated, &proof).unwrap())
    });
    g.finish();
}

fn filter(c: &mut Criterion) {
    let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
    let held = inputs(10_000, 0);
    let refs: Vec<&[u8]> = held.iter().map(Vec::as_slice).collect();
    let tags: Vec<Tag> = oprf::holder_tags(&sk, &refs).unwrap();
    let seed = seed_for(&pk.to_bytes());
    // A filter sized for a million records (5.4 MB): lookups miss the CPU caches as in a node.
    let mut full = EpochFilter::new(filter_capacity(1_000_000), 1e-9, &seed).unwrap();
    for t in &tags {
        full.insert(t);
    }
    let mut g = c.benchmark_group("filter");
    g.throughput(Throughput::Elements(tags.len() as u64));
    g.bench_function("insert_10000_into_1M_filter", |b| {
        b.iter(|| {
            for t in &tags {
                full.insert(black_box(t));
            }
        })
    });
    let absent: Vec<Tag> = (0..tags.len() as u32)
        .map(|i| {
            let mut t = [0u8; 32];
            t[..4].copy_from_slice(&i.to_le_bytes());
            t[4] = 0xa5;
            t
        })
        .collect();
    g.bench_function("lookup_10000_present", |b| {
        b.iter(|| tags.iter().filter(|t| full.contains(t)).count())
    });
    g.bench_function("lookup_10000_absent", |b| {
        b.iter(|| absent.iter().filter(|t| full.contains(t)).count())
    });
    g.finish();
}

criterion_group!(benches, hash_to_group, querier_and_holder, filter);
criterion_main!(benches);
