//! Export of 1M records to JSONL and CSV, and what auditing costs an action.
//! `cargo bench --bench export`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crmstore::{Access, Cascade, Deleted, ExportFormat, Principal, Query, Store, Update};

fn export(c: &mut Criterion) {
    let (_dir, path) = support::copy_of(1_000_000, "export");
    let store = Store::open(&path).unwrap();
    let admin = store.operator().context(1, 1).unwrap();
    let q = Query::module("deals");
    let n = store.count(&admin, &q).unwrap();
    let before = support::peak_rss_mib();
    for (format, name) in [(ExportFormat::Jsonl, "jsonl"), (ExportFormat::Csv, "csv")] {
        let t = Instant::now();
        let mut out = CountingSink(0);
        store.export(&admin, &q, format, &mut out).unwrap();
        let s = t.elapsed().as_secs_f64();
        eprintln!("export {name}: {n} records, {:.0} MB in {s:.2} s = {:.0} records/s; peak RSS {:.0} MiB (before {before:.0})",
            out.0 as f64 / 1e6, n as f64 / s, support::peak_rss_mib());
    }
    let mut g = c.benchmark_group("export 1M");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("jsonl, all deals", |b| {
        b.iter(|| {
            store
                .export(&admin, &q, ExportFormat::Jsonl, std::io::sink())
                .unwrap()
        })
    });
    g.bench_function("csv, all deals", |b| {
        b.iter(|| {
            store
                .export(&admin, &q, ExportFormat::Csv, std::io::sink())
                .unwrap()
        })
    });
    g.finish();

    // An audited change (share: record write + audit event) against an
    // unaudited one (update: record write only) on the same record.
    let mut g = c.benchmark_group("audit cost");
    g.sample_size(30);
    g.bench_function("update 1 record (no audit event)", |b| {
        b.iter(|| store.update(&admin, 1, Update::new().set("x", 1)).unwrap())
    });
    g.bench_function("share 1 record (+ audit event)", |b| {
        b.iter(|| {
            store
                .share(&admin, &[1], Principal::User(2), Access::Read)
                .unwrap()
        })
    });
    let ids: Vec<u64> = (1..=1_000_000u64)
        .filter(|id| id % 7 >= 2)
        .take(1000)
        .collect();
    g.bench_function("delete 1,000 records (one audit event)", |b| {
        b.iter_batched(
            || (),
            |()| {
                let Deleted {
                    batch: bt,
                    count: _,
                } = store.delete(&admin, &ids, Cascade::No).unwrap();
                store.restore_batch(&admin, bt, None).unwrap();
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

struct CountingSink(u64);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

criterion_group!(benches, export);
criterion_main!(benches);
