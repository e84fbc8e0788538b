//! Issue 18: a damaged, truncated, empty or foreign file is refused by every
//! command with one clear line and exit 5, never a panic (exit 101) and
//! never taken for a new empty store.

use std::path::Path;

use crate::cli::{code, crmstore, keygen, loaded, NOBODY};

/// Every command kind that opens the store: reads, writes, check, backup.
const COMMANDS: [&[&str]; 6] = [
    &[
        "query",
        "--account",
        "1",
        "--as",
        "1",
        "--module",
        "deals",
        "--count",
    ],
    &["get", "--account", "1", "--as", "1", "1"],
    &["dump", "--account", "1"],
    &["check"],
    &[
        "create",
        "--account",
        "1",
        "--as",
        "1",
        "--module",
        "deals",
        "--json-record",
        "{}",
    ],
    &["audit", "verify", "--account", "1"],
];

fn refused_by_every_command(db: &Path, says: &str) {
    for args in COMMANDS {
        let o = crmstore(db, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 5, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(says),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_empty_file_is_refused_not_made_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.redb");
    std::fs::write(&db, b"").unwrap();
    refused_by_every_command(&db, "is empty (0 bytes)");
    let o = crmstore(
        &db,
        &[
            "backup",
            "create",
            "--to",
            dir.path().join("b").to_str().unwrap(),
            "--recipient",
            NOBODY,
        ],
    );
    assert_eq!(code(&o), 5, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");
    assert!(
        !dir.path().join("b").exists()
            || std::fs::read_dir(dir.path().join("b"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn a_foreign_file_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.redb");
    std::fs::write(&db, vec![0x5a; 10_000]).unwrap();
    refused_by_every_command(&db, "is not a crmstore store");
}

#[test]
fn damaged_pages_are_corrupt_naming_the_file_never_a_panic() {
    let (_d, db) = loaded();
    // The bytes that made redb 4.6 reach `unreachable!()` (btree.rs:1110)
    // in every command: the page at 4 KiB overwritten.
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[4096..8192].fill(0x41);
    std::fs::write(&db, &bytes).unwrap();
    refused_by_every_command(&db, "is damaged");
}

#[test]
fn a_truncated_file_is_refused_by_every_writing_command() {
    let (_d, db) = loaded();
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..bytes.len() * 6 / 10]).unwrap();
    refused_by_every_command(&db, "truncated");
}

#[test]
fn a_backup_of_a_damaged_record_fails_naming_it_and_leaves_no_archive() {
    let (d, db) = loaded();
    // Record 1's stored bytes, one byte short: what a damaged page gives.
    crate::common::damage_record(&db, 1, |b| {
        b.pop();
    });
    // Each disagreement on a `problem:` line, then the one `error:` line.
    let o = crmstore(&db, &["check"]);
    assert_eq!(code(&o), 1);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 2, "{err}");
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("problem: ")),
        "{err}"
    );
    assert!(lines[lines.len() - 1].starts_with("error: "), "{err}");
    let folder = d.path().join("archives");
    let o = crmstore(
        &db,
        &[
            "backup",
            "create",
            "--to",
            folder.to_str().unwrap(),
            "--recipient",
            NOBODY,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 5, "{err}");
    assert!(
        err.contains("backup stopped") && err.contains("record `1` of account `1`"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
    assert!(
        left.is_empty(),
        "no archive, no sidecar, no temporary file: {left:?}"
    );
}

#[test]
fn a_restore_killed_before_its_rename_leaves_a_file_the_next_restore_cleans() {
    let (d, db) = loaded();
    let (key, public) = keygen(d.path());
    let folder = d.path().join("a");
    let o = crmstore(
        &db,
        &[
            "--json",
            "backup",
            "create",
            "--to",
            folder.to_str().unwrap(),
            "--recipient",
            &public,
        ],
    );
    assert_eq!(code(&o), 0);
    let made: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = made["file"].as_str().unwrap().to_string();
    // What a restore killed before its rename leaves beside its target.
    let to = d.path().join("new.redb");
    std::fs::write(d.path().join(".new.redb.tmp"), b"half a store").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args(["backup", "restore", &file, "--identity"])
        .arg(&key)
        .arg("--to")
        .arg(&to)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!d.path().join(".new.redb.tmp").exists());
    assert_eq!(code(&crmstore(&to, &["check"])), 0);
}

/// The redb 4.6 panic on its own, for an upstream report: a table of a few
/// hundred rows, its file's page at 4 KiB overwritten, then a read.
#[test]
#[ignore = "a reproduction for redb's maintainers, not a crmstore test: run with --ignored"]
fn redb_alone_panics_on_an_overwritten_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.redb");
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    {
        let db = redb::Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(T).unwrap();
            for i in 0..300u64 {
                t.insert(i, [7u8; 100].as_slice()).unwrap();
            }
        }
        w.commit().unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4096..8192].fill(0x41);
    std::fs::write(&path, &bytes).unwrap();
    let read = std::panic::catch_unwind(|| {
        let db = redb::Database::open(&path)?;
        let r = redb::ReadableDatabase::begin_read(&db)?;
        let t = r.open_table(T)?;
        let n = redb::ReadableTable::iter(&t)?.count();
        Ok::<_, redb::Error>(n)
    });
    println!("redb answered: {read:?}");
    assert!(read.is_err(), "redb no longer panics here: {read:?}");
}
