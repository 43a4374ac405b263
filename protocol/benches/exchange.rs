//! Criterion benchmarks of the cryptographic core: the holder's tag derivation (epoch build)
//! and one whole exchange (querier blind → holder evaluate and prove → querier verify, unblind,
//! tag), in memory, without the network. `cordon bench` measures the same end to end.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::OsRng;

use cordon_protocol::exchange::{holder_evaluate, BlindedBatch, HashedInputs};
use cordon_protocol::oprf;

fn inputs(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("phone:+66{:09}", 800_000_000 + i).into_bytes())
        .collect()
}

fn holder_tags(c: &mut Criterion) {
    let (sk, _) = oprf::generate_key_pair(&mut OsRng);
    let data = inputs(20_000);
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let mut g = c.benchmark_group("holder_tags");
    g.sample_size(10);
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("20000", |b| {
        b.iter(|| oprf::holder_tags(&sk, &refs).unwrap())
    });
    g.finish();
}

fn exchange(c: &mut Criterion) {
    let (sk, pk) = oprf::generate_key_pair(&mut OsRng);
    let mut g = c.benchmark_group("exchange");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        let data = inputs(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &data, |b, data| {
            b.iter(|| {
                let hashed = HashedInputs::new(data);
                let batch = BlindedBatch::new(&hashed, &mut OsRng);
                let (ev, proof) =
                    holder_evaluate(&sk, &pk, &batch.request_bytes(), &mut OsRng).unwrap();
                batch.finish(&pk.to_bytes(), &ev, &proof).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, holder_tags, exchange);
criterion_main!(benches);
