//! Backup and restore of a 1M-record store against the physical limit (the
//! same bytes through zstd and age directly), one small account out of the
//! full archive, and redb file growth under a long backup read.
//! `cargo bench --bench backup`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crmstore::backup::{self, BackupOptions, Decryption, Encryption, Kind};
use crmstore::synth::GenSpec;
use crmstore::{NoProgress, Store, Update};

/// The plaintext of an archive: the frames, decrypted.
fn plaintext(file: &std::path::Path, key: &std::path::Path) -> Vec<u8> {
    let ids = age::IdentityFile::from_file(key.display().to_string())
        .unwrap()
        .into_identities()
        .unwrap();
    let dec =
        age::Decryptor::new(std::io::BufReader::new(std::fs::File::open(file).unwrap())).unwrap();
    let mut r = dec
        .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

/// The physical limit: entries through zstd (1 MiB chunks, level 3) and age, nothing else.
fn zstd_then_age(entries: &[u8], recipient: &age::x25519::Recipient) {
    let enc =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).unwrap();
    let mut w = enc.wrap_output(std::io::sink()).unwrap();
    for chunk in entries.chunks(1 << 20) {
        w.write_all(&zstd::bulk::compress(chunk, 3).unwrap())
            .unwrap();
    }
    w.finish().unwrap();
}

/// Every entry of table `def` of `src`, as bytes.
fn entries<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &redb::Database,
    def: redb::TableDefinition<K, V>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    use redb::{ReadableDatabase, ReadableTable};
    let txn = src.begin_read().unwrap();
    let t = txn.open_table(def).unwrap();
    t.iter()
        .unwrap()
        .map(|e| {
            let (k, v) = e.unwrap();
            let key = K::as_bytes(&k.value()).as_ref().to_vec();
            let value = V::as_bytes(&v.value()).as_ref().to_vec();
            (key, value)
        })
        .collect()
}

/// Inserts `rows` into table `def` of `dst` in key order, in transactions of
/// 20,000 without fsync, one `insert` each (`cursor: false`) or through one
/// cursor run per transaction (`cursor: true`, redb's fastest way in),
/// returning the seconds it took.
fn insert_all<K: redb::Key + 'static, V: redb::Value + 'static>(
    dst: &redb::Database,
    def: redb::TableDefinition<K, V>,
    rows: &[(Vec<u8>, Vec<u8>)],
    cursor: bool,
) -> f64 {
    let t = Instant::now();
    for chunk in rows.chunks(20_000) {
        let mut txn = dst.begin_write().unwrap();
        txn.set_durability(redb::Durability::None).unwrap();
        {
            let mut table = txn.open_table(def).unwrap();
            if cursor {
                let mut c = table
                    .upper_bound_mut(std::ops::Bound::<K::SelfType<'_>>::Unbounded)
                    .unwrap();
                for (k, v) in chunk {
                    c.insert_before(K::from_bytes(k), V::from_bytes(v)).unwrap();
                }
                c.close().unwrap();
            } else {
                for (k, v) in chunk {
                    table.insert(K::from_bytes(k), V::from_bytes(v)).unwrap();
                }
            }
        }
        txn.commit().unwrap();
    }
    t.elapsed().as_secs_f64()
}

/// The storage floor of a full restore: the restored file's records and index
/// tables (all but a few small tables) inserted straight into new redb files,
/// each table in key order, nothing else — no archive, no decoding, no
/// crmstore code — once with `insert` and once through cursors. Tables and
/// types as `src/tables.rs` declares them (redb refuses to open a table under
/// other types, so a drift fails here). Returns (insert s, cursor s, entries).
fn redb_floor(restored: &std::path::Path, dir: &std::path::Path) -> (f64, f64, usize) {
    use redb::TableDefinition as T;
    let src = redb::Database::open(restored).unwrap();
    let dst = [false, true].map(|cursor| {
        let path = dir.join(format!("floor-{cursor}.redb"));
        (cursor, redb::Database::create(path).unwrap())
    });
    let mut secs = [0.0, 0.0];
    let mut n = 0;
    macro_rules! copy {
        ($name:literal: $k:ty => $v:ty) => {{
            let def: T<$k, $v> = T::new($name);
            let rows = entries(&src, def);
            n += rows.len();
            for (i, (cursor, db)) in dst.iter().enumerate() {
                secs[i] += insert_all(db, def, &rows, *cursor);
            }
        }};
    }
    copy!("records_v2": u128 => &[u8]);
    copy!("by_module_v1": (u64, u32, u64) => ());
    copy!("by_owner_v1": (u64, u32, u64, u64) => ());
    copy!("by_team_v1": (u64, u32, u64, u64) => ());
    copy!("by_stage_v1": (u64, u32, &str, u64) => ());
    copy!("by_share_v1": (u64, u8, u64, u32, u64) => u8);
    copy!("by_parent_v1": (u64, u64, u64) => ());
    for (i, (_, db)) in dst.iter().enumerate() {
        let mut last = db.begin_write().unwrap();
        last.set_durability(redb::Durability::Immediate).unwrap();
        let t = Instant::now();
        last.commit().unwrap();
        secs[i] += t.elapsed().as_secs_f64();
    }
    (secs[0], secs[1], n)
}

fn backups(c: &mut Criterion) {
    let (dir, path) = support::copy_of(1_000_000, "backup");
    let store = Store::open(&path).unwrap();
    // A small second account: restoring it alone must not cost the big one.
    store
        .operator()
        .generate(
            &GenSpec {
                account: 2,
                records: 1_000,
                users: 10,
                teams: 2,
                seed: 3,
            },
            &NoProgress,
        )
        .unwrap();
    let key = dir.path().join("key.txt");
    let public = backup::keygen(&key).unwrap();
    let out = dir.path().join("archives");
    let opts = || BackupOptions {
        dir: out.clone(),
        encryption: Encryption::recipients(&[&public]).unwrap(),
        account: None,
        kind: Kind::Manual,
    };

    let t = Instant::now();
    let archive = store.operator().backup(&opts(), &NoProgress).unwrap();
    let backup_s = t.elapsed().as_secs_f64();
    let plain = plaintext(&archive.file, &key);
    let decompressed: Vec<u8> = zstd::stream::decode_all(plain.as_slice()).unwrap();
    let logical = decompressed.len() as f64 / 1e6;
    eprintln!(
        "archive: {:.0} MB encrypted, {:.0} MB of frames, {logical:.0} MB of entries",
        archive.size as f64 / 1e6,
        plain.len() as f64 / 1e6
    );
    eprintln!(
        "backup: {backup_s:.2} s = {:.0} MB/s of entries",
        logical / backup_s
    );

    // The physical limit: the same entries through zstd (1 MiB chunks, level 3) and age.
    let t = Instant::now();
    let recipient: age::x25519::Recipient = public.parse().unwrap();
    zstd_then_age(&decompressed, &recipient);
    let limit_s = t.elapsed().as_secs_f64();
    eprintln!(
        "limit (zstd + age only): {limit_s:.2} s = {:.0} MB/s; backup reaches {:.0}% of it",
        logical / limit_s,
        100.0 * limit_s / backup_s
    );

    let t = Instant::now();
    let raw = zstd::stream::decode_all(plain.as_slice()).unwrap();
    let unzstd_s = t.elapsed().as_secs_f64();
    assert_eq!(raw.len(), decompressed.len());
    let k = Decryption::identity_file(&key).unwrap();
    let to = dir.path().join("restored.redb");
    let t = Instant::now();
    backup::restore_store(&archive.file, &k, &to, &NoProgress).unwrap();
    let restore_s = t.elapsed().as_secs_f64();
    eprintln!("restore (new store, indexes rebuilt): {restore_s:.2} s = {:.0} MB/s; raw zstd decompression {:.0} MB/s; restore reaches {:.0}% of it",
        logical / restore_s, logical / unzstd_s, 100.0 * unzstd_s / restore_s);
    let t = Instant::now();
    store
        .operator()
        .restore_account(&archive.file, &k, 2, Some(3))
        .unwrap();
    let small_s = t.elapsed().as_secs_f64();
    eprintln!(
        "one 1,000-record account out of the full archive: {:.3} s = {:.2}% of the full restore",
        small_s,
        100.0 * small_s / restore_s
    );
    eprintln!("peak RSS: {:.0} MiB", support::peak_rss_mib());
    // After the RSS line: this holds one table's entries in memory at a time.
    let (insert_s, cursor_s, floor_n) = redb_floor(&to, dir.path());
    eprintln!(
        "storage floor (the same {floor_n} record and index entries straight into redb, each table in key order): \
         {insert_s:.2} s by insert, {cursor_s:.2} s through cursors; restore takes {:.2}× the cursor floor",
        restore_s / cursor_s
    );

    // File growth while a backup's read transaction is open and writers keep going.
    let before = std::fs::metadata(&path).unwrap().len();
    let admin = store.operator().context(1, 1).unwrap();
    std::thread::scope(|s| {
        let h = s.spawn(|| store.operator().backup(&opts(), &NoProgress).unwrap());
        let mut n = 0;
        while !h.is_finished() {
            store
                .update(
                    &admin,
                    1 + (n % 5000) * 7 + 2,
                    Update::new().set("touch", n as i64),
                )
                .unwrap();
            n += 1;
        }
        eprintln!("{n} single-record updates committed during a full backup");
    });
    let after = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "redb file: {:.0} MB before, {:.0} MB after (+{:.1}%)",
        before as f64 / 1e6,
        after as f64 / 1e6,
        100.0 * (after as f64 - before as f64) / before as f64
    );

    let mut g = c.benchmark_group("backup 1M");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(decompressed.len() as u64));
    g.bench_function("full backup", |b| {
        b.iter(|| {
            let a = store.operator().backup(&opts(), &NoProgress).unwrap();
            std::fs::remove_file(&a.file).unwrap();
            std::fs::remove_file(backup::sidecar_path(&a.file)).unwrap();
        })
    });
    g.bench_function("limit: zstd + age of the same entries", |b| {
        b.iter(|| zstd_then_age(&decompressed, &recipient))
    });
    g.bench_function("raw zstd decompression of the frames", |b| {
        b.iter(|| zstd::stream::decode_all(plain.as_slice()).unwrap())
    });
    g.bench_function("restore one 1,000-record account (seek)", |b| {
        b.iter(|| {
            store
                .operator()
                .restore_account(&archive.file, &k, 2, None)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, backups);
criterion_main!(benches);
