//! Fault injection (redb's `FuzzerBackend` idea): the storage fails after N
//! writes, at every N in a range. Whatever failed, the store reopens readable,
//! `check` is clean and the audit chain is whole.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crmstore::{Access, Cascade, Deleted, NewRecord, Principal, Store};
use redb::backends::FileBackend;
use redb::StorageBackend;

use crate::common::fixture;

#[derive(Debug)]
struct FailAfter {
    inner: FileBackend,
    writes_left: Arc<AtomicI64>,
}

impl StorageBackend for FailAfter {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        if self.writes_left.load(Ordering::SeqCst) <= 0 {
            return Err(std::io::Error::other("injected sync failure"));
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if self.writes_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(std::io::Error::other("injected write failure"));
        }
        self.inner.write(offset, data)
    }
}

/// A copy of `src` at `copy`, on storage that fails after `n` writes.
fn failing_copy(src: &std::path::Path, copy: &std::path::Path, n: i64) -> FailAfter {
    std::fs::copy(src, copy).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(copy)
        .unwrap();
    FailAfter {
        inner: FileBackend::new(file).unwrap(),
        writes_left: Arc::new(AtomicI64::new(n)),
    }
}

/// Some of every kind of write, stopping at the first failure.
fn work(store: &Store) -> crmstore::Result<()> {
    let (raj, ada) = (
        store.operator().context(1, 3)?,
        store.operator().context(1, 1)?,
    );
    for i in 0..3 {
        let r = store.create(&raj, NewRecord::new("deals").field("i", i as i64))?;
        store.share(&raj, &[r.id], Principal::User(4), Access::Read)?;
    }
    let Deleted { batch: b, count: _ } = store.delete(&raj, &[1], Cascade::Yes)?;
    store.restore_batch(&ada, b, Some(&[5]))?;
    let Deleted { batch: b, count: _ } = store.delete(&ada, &[4], Cascade::No)?;
    store.purge(&ada, b)?;
    Ok(())
}

#[test]
fn a_failed_write_leaves_the_store_whole() {
    let f = fixture();
    let path = f.path.clone();
    drop(f.store);
    let mut failures = 0;
    for n in (0..120).step_by(7) {
        let copy = f._dir.path().join(format!("copy-{n}.redb"));
        {
            let backend = failing_copy(&path, &copy, n);
            if let Ok(store) = Store::open_with_backend(backend, &copy) {
                if work(&store).is_err() {
                    failures += 1;
                }
            } else {
                failures += 1;
            }
        }
        let store =
            Store::open(&copy).unwrap_or_else(|e| panic!("after {n} writes: reopen failed: {e}"));
        let rep = store.operator().check().unwrap();
        assert!(rep.is_consistent(), "after {n} writes: {:?}", rep.problems);
        assert!(
            store.operator().audit_verify(1).unwrap().broken.is_none(),
            "after {n} writes: audit chain broken"
        );
        store.operator().dump_json(1).unwrap();
    }
    assert!(
        failures > 5,
        "the injected failures must actually hit the work ({failures})"
    );
}

/// How many writes opening and closing `path` through `open` makes.
fn writes_to_open(path: &std::path::Path, open: impl FnOnce(FailAfter)) -> i64 {
    const PLENTY: i64 = 1 << 40;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let left = Arc::new(AtomicI64::new(PLENTY));
    open(FailAfter {
        inner: FileBackend::new(file).unwrap(),
        writes_left: left.clone(),
    });
    PLENTY - left.load(Ordering::SeqCst)
}

#[test]
fn opening_a_ready_store_writes_nothing_beyond_what_redb_does() {
    let f = fixture();
    let path = f.path.clone();
    drop(f.store);
    let redb_alone = writes_to_open(&path, |b| {
        drop(redb::Database::builder().create_with_backend(b).unwrap())
    });
    let crmstore = writes_to_open(&path, |b| drop(Store::open_with_backend(b, &path).unwrap()));
    assert_eq!(crmstore, redb_alone, "a write transaction on open");
}

#[test]
fn a_failed_migration_leaves_the_older_store_readable_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = crate::compat::fixture("store-v2.redb");
    let want = {
        let copy = dir.path().join("want.redb");
        std::fs::copy(&fixture, &copy).unwrap();
        Store::open(&copy).unwrap().operator().dump_json(1).unwrap()
    };
    let mut failures = 0;
    for n in 0..40 {
        let copy = dir.path().join(format!("copy-{n}.redb"));
        {
            let backend = failing_copy(&fixture, &copy, n);
            // The open migrates the store, or fails somewhere in it.
            if Store::open_with_backend(backend, &copy).is_err() {
                failures += 1;
            }
        }
        let store = Store::open(&copy).unwrap();
        assert!(
            store.operator().check().unwrap().is_consistent(),
            "after {n} writes"
        );
        assert_eq!(
            store.operator().dump_json(1).unwrap(),
            want,
            "after {n} writes"
        );
    }
    assert!(failures > 0, "no write failed: the test injected nothing");
    assert!(
        failures < 40,
        "no open got through: the test never reached a migrated store"
    );
}

#[test]
fn a_failed_gen_leaves_the_account_as_it_was_or_whole() {
    let f = fixture();
    let path = f.path.clone();
    let before = f.store.operator().dump_json(1).unwrap();
    drop(f.store);
    // Two landings of 20,000 inside the one transaction.
    let spec = crmstore::synth::GenSpec {
        account: 1,
        records: 25_000,
        users: 4,
        teams: 2,
        seed: 3,
    };
    let (mut failed, mut whole) = (0, 0);
    for n in [0, 5, 40, 200, 1_000, 1 << 30] {
        let copy = f._dir.path().join(format!("gen-{n}.redb"));
        {
            let backend = failing_copy(&path, &copy, n);
            let done = Store::open_with_backend(backend, &copy)
                .and_then(|s| s.operator().generate(&spec, &crmstore::NoProgress));
            if done.is_err() {
                failed += 1;
            }
        }
        let store = Store::open(&copy).unwrap();
        assert!(
            store.operator().check().unwrap().is_consistent(),
            "after {n} writes"
        );
        assert!(store.operator().audit_verify(1).unwrap().broken.is_none());
        let ada = store.operator().context(1, 1).unwrap();
        let records: u64 = ["deals", "leads", "contacts", "comments"]
            .iter()
            .map(|m| store.count(&ada, &crmstore::Query::module(*m)).unwrap_or(0))
            .sum();
        if store.operator().dump_json(1).unwrap() == before {
            continue;
        }
        assert_eq!(records, spec.records, "after {n} writes: half an account");
        whole += 1;
    }
    assert!(failed > 0 && whole > 0, "failed {failed}, whole {whole}");
}
