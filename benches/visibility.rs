//! First page (50) and count for each kind of viewer, at 10k and 1M records;
//! get by id on a store opened alone and opened shared.
//! `cargo bench --bench visibility`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use crmstore::{Filter, Query, Store};

fn visibility(c: &mut Criterion) {
    for records in [10_000u64, 1_000_000] {
        let path = support::generated(records);
        let store = Store::open(&path).unwrap();
        let v = support::viewers(&store);
        let deals = Query::module("deals");
        let selective = Query::module("deals").filter(
            Filter::field("owner")
                .eq(57)
                .and(Filter::field("amount").ge(50_000)),
        );
        let cases = [
            ("own rep", v.rep, &deals),
            ("manager (hierarchy)", v.manager, &deals),
            ("team scope", v.team, &deals),
            ("all scope, selective filter", v.all, &selective),
            ("share-only", v.partner, &deals),
        ];
        let mut g = c.benchmark_group(format!("visibility {records}"));
        g.sample_size(30);
        for (name, user, q) in cases {
            let ctx = store.operator().context(1, user).unwrap();
            let page = q.clone().limit(50);
            let seen = store.count(&ctx, q).unwrap();
            let examined = store.query(&ctx, &page).unwrap().examined;
            eprintln!("{records} {name}: user {user} sees {seen}; first page examined {examined}");
            g.bench_function(format!("{name}: first page"), |b| {
                b.iter(|| store.query(&ctx, &page).unwrap())
            });
            g.bench_function(format!("{name}: first page, rows"), |b| {
                b.iter(|| store.query_rows(&ctx, &page).unwrap())
            });
            g.bench_function(format!("{name}: count"), |b| {
                b.iter(|| store.count(&ctx, q).unwrap())
            });
        }
        // A shared store begins a transaction (and takes redb's file locks) per read.
        let rep = store.operator().context(1, v.rep).unwrap();
        let probe = store.query(&rep, &deals.clone().limit(1)).unwrap().records[0].id;
        g.bench_function("get by id", |b| b.iter(|| store.get(&rep, probe).unwrap()));
        drop(store);
        let shared = Store::options().shared().open(&path).unwrap();
        let rep = shared.operator().context(1, v.rep).unwrap();
        g.bench_function("get by id, store opened shared", |b| {
            b.iter(|| shared.get(&rep, probe).unwrap())
        });
        g.finish();
        eprintln!(
            "peak RSS after {records}: {:.0} MiB",
            support::peak_rss_mib()
        );
    }
}

criterion_group!(benches, visibility);
criterion_main!(benches);
