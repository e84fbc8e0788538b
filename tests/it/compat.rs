//! Files written by format version 1 (tests/fixtures), opened by this build:
//! a later release must keep reading them (redb's backward_compatibility.rs).

use std::path::PathBuf;

use crmstore::backup::{self, Decryption};
use crmstore::{NoProgress, Store};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn a_version_1_store_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.redb");
    std::fs::copy(fixture("store-v1.redb"), &path).unwrap();
    let store = Store::open(&path).unwrap();
    assert!(store.check().unwrap().is_consistent());
    assert!(store.audit_verify(1).unwrap().broken.is_none());
    let raj = store.context(1, 3).unwrap();
    assert_eq!(
        crate::common::ids(&store, &raj, "deals"),
        [1],
        "deal 2 is in the trash"
    );
    assert_eq!(store.trash_list(&raj).unwrap().len(), 1);
    assert_eq!(store.get(&raj, 1).unwrap().shares.len(), 1);
    let sue = store.context(1, 4).unwrap();
    assert_eq!(
        crate::common::ids(&store, &sue, "deals"),
        [1, 3],
        "the share still applies"
    );
}

#[test]
fn a_version_1_archive_verifies_and_restores() {
    let key = Decryption::identity_file(&fixture("archive-v1.key")).unwrap();
    let rep = backup::verify(&fixture("archive-v1.age"), &key, &NoProgress).unwrap();
    assert!(rep.is_intact(), "{:?}", rep.problems);
    let listed = backup::list(&fixture("")).unwrap();
    assert!(listed
        .iter()
        .any(|l| l.intact && l.sidecar.file == "archive-v1.age"));
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("r.redb");
    backup::restore_store(&fixture("archive-v1.age"), &key, &to, &NoProgress).unwrap();
    let store = Store::open(&to).unwrap();
    assert_eq!(
        store
            .count(
                &store.context(1, 1).unwrap(),
                &crmstore::Query::module("deals")
            )
            .unwrap(),
        3
    );
}

/// The `format` a store file says it has, read with redb alone.
fn format_of(path: &std::path::Path) -> u32 {
    use redb::ReadableDatabase;
    const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta_v1");
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let bytes = meta.get("format").unwrap().unwrap();
    u32::from_le_bytes(bytes.value().try_into().unwrap())
}

#[test]
fn a_version_1_store_takes_new_writes_beside_its_old_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.redb");
    std::fs::copy(fixture("store-v1.redb"), &path).unwrap();
    // Read-only leaves the file as it was; writable marks it with this format,
    // so an older crmstore refuses it rather than misreading new records.
    drop(
        crmstore::OpenOptions::default()
            .read_only()
            .open(&path)
            .unwrap(),
    );
    assert_eq!(format_of(&path), 1);
    let store = Store::open(&path).unwrap();
    let raj = store.context(1, 3).unwrap();
    let before = store.get(&raj, 1).unwrap();
    // Record 1 is rewritten in the current layout; deal 2, trashed by the old
    // release, comes back from the trash; deal 4 is new.
    let after = store
        .update(&raj, 1, crmstore::Update::new().set("note", "rewritten"))
        .unwrap();
    let batch = store.trash_list(&raj).unwrap()[0].id;
    store.restore(&raj, batch, None).unwrap();
    let new = store
        .create(&raj, crmstore::NewRecord::new("deals").field("name", "new"))
        .unwrap();
    drop(store);
    assert_eq!(format_of(&path), crmstore::FORMAT_VERSION);

    let store = Store::open(&path).unwrap();
    assert!(store.check().unwrap().is_consistent());
    let raj = store.context(1, 3).unwrap();
    let got = store.get(&raj, 1).unwrap();
    assert_eq!(got, after);
    assert_eq!(
        (got.shares, got.created_at),
        (before.shares, before.created_at)
    );
    assert_eq!(
        crate::common::ids(&store, &raj, "deals"),
        [1, 2, new.id],
        "old, restored from the old trash, and new records all read"
    );
    let f = crmstore::Filter::field("note").eq("rewritten");
    let page = store
        .query(&raj, &crmstore::Query::module("deals").filter(f))
        .unwrap();
    assert_eq!(page.records.len(), 1);
}
