//! Delete with cascade and restore of a 10,000-record subtree in a 1M-record
//! store, and listing a trash of 10,000 batches. `cargo bench --bench trash`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crmstore::{Cascade, NewRecord, Store};

fn trash(c: &mut Criterion) {
    let (_dir, path) = support::copy_of(1_000_000, "trash");
    let store = Store::open(&path).unwrap();
    let admin = store.operator().context(1, 1).unwrap();
    let root = store
        .create(&admin, NewRecord::new("deals").field("name", "root"))
        .unwrap()
        .id;
    let children = (0..9_999)
        .map(|i| NewRecord::new("comments").parent(root).field("n", i as i64))
        .collect();
    store.create_many(&admin, children).unwrap();
    let mut g = c.benchmark_group("trash 1M");
    g.sample_size(10);
    let batch = std::cell::Cell::new(None::<u64>);
    g.bench_function("delete 10k-record subtree (cascade)", |b| {
        b.iter_batched(
            || {
                if let Some(bt) = batch.take() {
                    store.restore_batch(&admin, bt, None).unwrap();
                }
            },
            |()| {
                batch.set(Some(
                    store.delete(&admin, &[root], Cascade::Yes).unwrap().batch,
                ))
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("restore 10k-record batch", |b| {
        b.iter_batched(
            || {
                if batch.get().is_none() {
                    batch.set(Some(
                        store.delete(&admin, &[root], Cascade::Yes).unwrap().batch,
                    ));
                }
                batch.take().unwrap()
            },
            |bt| store.restore_batch(&admin, bt, None).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    // 10,000 batches of one record each.
    let ids: Vec<u64> = (1..=1_000_000u64)
        .filter(|id| id % 7 >= 2)
        .step_by(50)
        .take(10_000)
        .collect();
    for id in &ids {
        store.delete(&admin, &[*id], Cascade::No).unwrap();
    }
    let mut g = c.benchmark_group("trash 1M");
    g.sample_size(20);
    g.bench_function("list a trash of 10k batches (admin)", |b| {
        b.iter(|| store.trash_list(&admin).unwrap())
    });
    g.finish();
    eprintln!("peak RSS: {:.0} MiB", support::peak_rss_mib());
}

criterion_group!(benches, trash);
criterion_main!(benches);
