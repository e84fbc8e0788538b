//! Files written by older formats (tests/fixtures), opened by this build: a
//! later release must keep reading them (redb's backward_compatibility.rs).
//! `store-v1.redb` and the archive are format 1; `store-v2.redb` is the v1
//! store after a format-2 build updated deal 1 (rewriting it in record layout 2)
//! and created deal 7.

use std::path::PathBuf;

use crmstore::backup::{self, Decryption};
use crmstore::{NoProgress, Store};

pub(crate) fn fixture(name: &str) -> PathBuf {
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
    assert!(store.operator().check().unwrap().is_consistent());
    assert!(store.operator().audit_verify(1).unwrap().broken.is_none());
    let raj = store.operator().context(1, 3).unwrap();
    assert_eq!(
        crate::common::ids(&store, &raj, "deals"),
        [1],
        "deal 2 is in the trash"
    );
    assert_eq!(store.trash_list(&raj).unwrap().len(), 1);
    assert_eq!(store.get(&raj, 1).unwrap().shares.len(), 1);
    let sue = store.operator().context(1, 4).unwrap();
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
    // Not of our name pattern: `list` takes nothing from a folder but
    // archives named as crmstore names them.
    assert!(backup::list(&fixture("")).unwrap().is_empty());
    // Under the name that version gave it (its sidecar names it so), listed.
    let dir = tempfile::tempdir().unwrap();
    let name = "crmstore-full-manual-20261123T145738Z.age";
    std::fs::copy(fixture("archive-v1.age"), dir.path().join(name)).unwrap();
    let sidecar = std::fs::read_to_string(fixture("archive-v1.age.json")).unwrap();
    let sidecar = sidecar.replace("\"archive-v1.age\"", &format!("\"{name}\""));
    std::fs::write(dir.path().join(format!("{name}.json")), sidecar).unwrap();
    let listed = backup::list(dir.path()).unwrap();
    assert!(listed.iter().any(|l| l.intact && l.file.ends_with(name)));
    let to = dir.path().join("r.redb");
    backup::restore_store(&fixture("archive-v1.age"), &key, &to, &NoProgress).unwrap();
    let store = Store::open(&to).unwrap();
    assert_eq!(
        store
            .count(
                &store.operator().context(1, 1).unwrap(),
                &crmstore::Query::module("deals")
            )
            .unwrap(),
        3
    );
}

/// The `format` a store file says it has and its table names, read with redb alone.
pub(crate) fn format_of(path: &std::path::Path) -> u32 {
    formats_and_tables(path).0
}

fn formats_and_tables(path: &std::path::Path) -> (u32, Vec<String>) {
    use redb::{ReadableDatabase, TableHandle};
    const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta_v1");
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let bytes = meta.get("format").unwrap().unwrap();
    let tables = txn
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    (
        u32::from_le_bytes(bytes.value().try_into().unwrap()),
        tables,
    )
}

#[test]
fn a_version_2_store_reads_as_it_is_read_only_and_migrates_whole_when_writable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.redb");
    std::fs::copy(fixture("store-v2.redb"), &path).unwrap();
    let dump = {
        let store = crmstore::OpenOptions::default()
            .read_only()
            .open(&path)
            .unwrap();
        assert!(store.operator().check().unwrap().is_consistent());
        let raj = store.operator().context(1, 3).unwrap();
        assert_eq!(crate::common::ids(&store, &raj, "deals"), [1, 7]);
        // Format 2 keeps no counts: the count walks the ranges instead.
        let deals = crmstore::Query::module("deals");
        assert_eq!(store.count(&raj, &deals).unwrap(), 2);
        let note = store.get(&raj, 1).unwrap().fields["note"].clone();
        assert_eq!(note, crmstore::Value::Text("layout 2".into()));
        store.operator().dump_json(1).unwrap()
    };
    let (format, tables) = formats_and_tables(&path);
    assert_eq!(format, 2, "a read-only open never migrates");
    assert!(tables.iter().any(|t| t == "records_v1"));

    let store = Store::open(&path).unwrap();
    drop(store);
    let (format, tables) = formats_and_tables(&path);
    assert_eq!(format, crmstore::FORMAT_VERSION);
    assert!(tables.iter().any(|t| t == "records_v2"));
    assert!(
        !tables.iter().any(|t| t == "records_v1"),
        "the old table is gone"
    );
    for t in ["range_counts_v1", "by_share_v2"] {
        assert!(tables.iter().any(|n| n == t), "{t} is built");
    }
    assert!(!tables.iter().any(|t| t == "by_share_v1"));

    let store = Store::open(&path).unwrap();
    assert!(store.operator().check().unwrap().is_consistent());
    assert_eq!(
        store.operator().dump_json(1).unwrap(),
        dump,
        "every record moved as it was"
    );
    let raj = store.operator().context(1, 3).unwrap();
    // From the counts the migration built, and the share entry's holder.
    let sue = store.operator().context(1, 4).unwrap();
    let deals = crmstore::Query::module("deals");
    for ctx in [&raj, &sue] {
        let seen = crate::common::ids(&store, ctx, "deals").len() as u64;
        assert_eq!(store.count(ctx, &deals).unwrap(), seen);
    }
    let filtered =
        crmstore::Query::module("deals").filter(crmstore::Filter::field("amount").ge(50));
    let ids: Vec<u64> = store
        .query(&raj, &filtered)
        .unwrap()
        .records
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [1]);
    let new = store
        .create(&raj, crmstore::NewRecord::new("deals"))
        .unwrap();
    assert_eq!(new.id, 8, "ids continue after the migration");
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
    let raj = store.operator().context(1, 3).unwrap();
    let before = store.get(&raj, 1).unwrap();
    // Record 1 is rewritten in the current layout; deal 2, trashed by the old
    // release, comes back from the trash; deal 4 is new.
    let after = store
        .update(&raj, 1, crmstore::Update::new().set("note", "rewritten"))
        .unwrap();
    let batch = store.trash_list(&raj).unwrap()[0].id;
    store.restore_batch(&raj, batch, None).unwrap();
    let new = store
        .create(&raj, crmstore::NewRecord::new("deals").field("name", "new"))
        .unwrap();
    drop(store);
    assert_eq!(format_of(&path), crmstore::FORMAT_VERSION);

    let store = Store::open(&path).unwrap();
    assert!(store.operator().check().unwrap().is_consistent());
    let raj = store.operator().context(1, 3).unwrap();
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
