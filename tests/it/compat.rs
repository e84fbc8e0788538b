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
