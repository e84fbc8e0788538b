//! What reading a stored record in place costs, by record width, in the
//! layout this build writes (2: field map last) and the one older stores hold
//! (1: field map after `parent`): the work a query does for every candidate
//! before the access rules and a filter answer. Run: `cargo bench --bench record_layout`.
#![allow(clippy::unwrap_used, reason = "benchmarks fail by panicking")]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use crmstore::{Record, Timestamp, Value};

fn record(width: usize) -> Record {
    Record {
        id: 7_000,
        module: "deals".into(),
        owner: 3,
        team: Some(2),
        stage: Some("won".into()),
        parent: None,
        shares: Vec::new(),
        version: 2,
        created_at: Timestamp(1_700_000_000_000),
        created_by: 3,
        updated_at: Timestamp(1_700_000_000_000),
        updated_by: 1,
        // Half texts, half numbers, as a CRM form has.
        fields: (0..width)
            .map(|i| {
                let v = if i % 2 == 0 {
                    Value::Text(format!("some text value {i}"))
                } else {
                    Value::Int(i as i64 * 1_000)
                };
                (format!("field_{i:03}"), v)
            })
            .collect(),
    }
}

fn layouts(c: &mut Criterion) {
    let mut g = c.benchmark_group("read a candidate in place");
    for width in [3, 10, 40, 100] {
        let r = record(width);
        for layout in [1u8, 2] {
            let bytes = crmstore::fuzzing::stored_in_layout(&r, layout).unwrap();
            // What a filter on the map's second field reads.
            assert!(crmstore::fuzzing::read_field_in_place(&bytes, "field_001").unwrap());
            g.bench_with_input(
                BenchmarkId::new(format!("layout {layout}, filter on one field"), width),
                &bytes,
                |b, bytes| b.iter(|| crmstore::fuzzing::read_field_in_place(bytes, "field_001")),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, layouts);
criterion_main!(benches);
