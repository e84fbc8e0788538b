//! `check` of a 1M-record store holding one 100,000-record trash batch
//! (issue 18: it was quadratic in a batch's size, 565 s for 100,001 records).
//! `cargo bench --bench check`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use crmstore::{Cascade, Deleted, NewRecord, Store};

fn check(c: &mut Criterion) {
    let (_dir, path) = support::copy_of(1_000_000, "check");
    let store = Store::open(&path).unwrap();
    let admin = store.operator().context(1, 1).unwrap();
    let root = store
        .create(&admin, NewRecord::new("deals").field("name", "root"))
        .unwrap()
        .id;
    let children = (0..99_999)
        .map(|i| NewRecord::new("comments").parent(root).field("n", i as i64))
        .collect();
    store.create_many(&admin, children).unwrap();
    let Deleted {
        batch: _,
        count: moved,
    } = store.delete(&admin, &[root], Cascade::Yes).unwrap();
    assert_eq!(moved, 100_000);
    let mut g = c.benchmark_group("check 1M");
    g.sample_size(10);
    g.bench_function("check, one 100k-record trash batch", |b| {
        b.iter(|| assert!(store.operator().check().unwrap().is_consistent()))
    });
    g.finish();
    eprintln!("peak RSS: {:.0} MiB", support::peak_rss_mib());
}

criterion_group!(benches, check);
criterion_main!(benches);
