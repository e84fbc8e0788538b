//! Issue 18's crash harness, at a size CI affords: writing commands killed
//! (SIGKILL) at several moments leave the store before-or-after, and the very
//! next command — a reading one — answers, with `check` clean and the audit
//! chain whole; CLI readers beside writer processes never fail because a
//! writer is running.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{code, crmstore, keygen, loaded, stdout, NOBODY};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crmstore"))
}

fn deals(db: &Path) -> u64 {
    let o = crmstore(
        db,
        &[
            "--json",
            "query",
            "--account",
            "1",
            "--as",
            "1",
            "--module",
            "deals",
            "--count",
        ],
    );
    assert_eq!(
        code(&o),
        0,
        "the next read answers: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    v["count"].as_u64().unwrap()
}

/// A store of a generated account of `records` records (6 users, 2 teams).
fn generated(records: u64, seed: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    let (records, seed) = (records.to_string(), seed.to_string());
    let gen = [
        "gen",
        "--records",
        &records,
        "--users",
        "6",
        "--teams",
        "2",
        "--seed",
        &seed,
    ];
    assert_eq!(code(&crmstore(&db, &gen)), 0);
    (dir, db)
}

/// Runs `crmstore --db DB ARGS`, SIGKILLed after `after` (`None`: let
/// finish), and waits for it.
fn run_killed(db: &Path, args: &[&str], after: Option<Duration>) {
    let mut child = bin()
        .arg("--db")
        .arg(db)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if let Some(after) = after {
        std::thread::sleep(after);
        let _ = child.kill();
    }
    let _ = child.wait();
}

fn whole(db: &Path) {
    let o = crmstore(db, &["check"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let o = crmstore(db, &["audit", "verify", "--account", "1"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_killed_gen_or_load_leaves_before_or_after_and_the_next_read_answers() {
    let (d, db) = loaded();
    let before = deals(&db);
    let start = d.path().join("start.json");
    std::fs::write(&start, crate::common::DOC).unwrap();
    // The generated account, and its document to kill a load with.
    let gen = [
        "gen",
        "--records",
        "30000",
        "--users",
        "6",
        "--teams",
        "2",
        "--seed",
        "7",
    ];
    let src = d.path().join("src.redb");
    let t = Instant::now();
    assert_eq!(code(&crmstore(&src, &gen)), 0);
    let full = t.elapsed();
    let doc = d.path().join("doc.json");
    std::fs::write(&doc, stdout(&crmstore(&src, &["dump", "--account", "1"]))).unwrap();
    let load = ["load", doc.to_str().unwrap()];
    let after = deals(&src);
    let mut seen = (0, 0);
    // Kills spread over a whole run, some near its end and some after it;
    // `None`: the run is let finish (so "after" is seen however loaded the
    // machine is, and the kills' timing is measured against a real run).
    for (i, percent) in [
        Some(5u32),
        Some(30),
        Some(60),
        Some(85),
        None,
        Some(95),
        Some(20),
        Some(70),
        Some(99),
        Some(150),
    ]
    .into_iter()
    .enumerate()
    {
        let delay = percent.map(|p| full * p / 100);
        let args: &[&str] = if i % 2 == 0 { &gen } else { &load };
        run_killed(&db, args, delay);
        let now = deals(&db);
        assert!(
            now == before || now == after,
            "{args:?} killed at {delay:?}: {now} deals, not {before} or {after}"
        );
        whole(&db);
        if now == before {
            seen.0 += 1;
        } else {
            seen.1 += 1;
            assert_eq!(code(&crmstore(&db, &["load", start.to_str().unwrap()])), 0);
        }
    }
    // The harness must really cut runs short, and really let some finish.
    assert!(
        seen.0 > 0 && seen.1 > 0,
        "before {} times, after {} times",
        seen.0,
        seen.1
    );
}

#[test]
fn readers_beside_writer_processes_never_fail_because_of_them() {
    let (_d, db) = loaded();
    let until = Instant::now() + Duration::from_secs(4);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while Instant::now() < until {
                    let rec = format!("{{\"fields\":{{\"w\":{w},\"n\":{n}}}}}");
                    let o = crmstore(
                        &db,
                        &[
                            "create",
                            "--account",
                            "1",
                            "--as",
                            "3",
                            "--module",
                            "deals",
                            "--json-record",
                            &rec,
                        ],
                    );
                    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut reads = 0;
    while Instant::now() < until {
        for args in [
            &[
                "query",
                "--account",
                "1",
                "--as",
                "3",
                "--module",
                "deals",
                "--count",
            ][..],
            &["audit", "verify", "--account", "1"][..],
        ] {
            let o = crmstore(&db, args);
            assert_eq!(
                code(&o),
                0,
                "{args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            reads += 1;
        }
    }
    let created: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(created > 0 && reads > 0);
    whole(&db);
}

#[test]
fn sigterm_during_serves_catch_up_ends_the_run_in_progress_and_starts_nothing_more() {
    let (dir, db) = generated(60000, 1);
    let (_, public) = keygen(dir.path());
    let backups = dir.path().join("backups");
    let config = dir.path().join("serve.toml");
    let dir_text = backups.display().to_string();
    std::fs::write(
        &config,
        format!("[backup]\ndir = {dir_text:?}\nrecipients = [{public:?}]\n"),
    )
    .unwrap();
    let child = bin()
        .arg("--db")
        .arg(&db)
        .args(["serve", "--config"])
        .arg(&config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both kinds are due: signal while the first one is being written.
    let deadline = Instant::now() + Duration::from_secs(60);
    let writing = || {
        std::fs::read_dir(&backups)
            .map(|r| {
                r.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .unwrap_or(false)
    };
    while !writing() {
        assert!(Instant::now() < deadline, "no backup started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    let archives = names.iter().filter(|n| n.ends_with(".age")).count();
    assert_eq!(
        archives, 1,
        "the run in progress ended, the next did not start: {names:?}"
    );
    whole(&db);
}

/// A small tmpfs mounted for one test, unmounted when dropped; `None` where
/// this process may not mount (not root, or a container that forbids it).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_a_backup_or_a_write_naming_the_file_and_changes_nothing() {
    let (dir, db) = generated(20000, 1);
    let before = stdout(&crmstore(&db, &["dump", "--account", "1"]));
    let Some(disk) = SmallDisk::mount(&dir.path().join("full"), "256k") else {
        eprintln!("note: cannot mount a tmpfs here; the full-disk test did not run");
        return;
    };
    // The backup folder fills up.
    let folder = disk.0.join("backups");
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
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains(".tmp`") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        0,
        "nothing left behind"
    );
    assert_eq!(stdout(&crmstore(&db, &["dump", "--account", "1"])), before);
    // The store's own disk fills up.
    let small = disk.0.join("s.redb");
    std::fs::write(disk.0.join("doc.json"), crate::common::DOC).unwrap();
    assert_eq!(
        code(&crmstore(
            &small,
            &["load", disk.0.join("doc.json").to_str().unwrap()]
        )),
        0
    );
    let small_before = stdout(&crmstore(&small, &["dump", "--account", "1"]));
    let gen = [
        "gen",
        "--records",
        "20000",
        "--users",
        "6",
        "--teams",
        "2",
        "--seed",
        "1",
    ];
    let o = crmstore(&small, &gen);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("s.redb`"), "names the store: {err}");
    assert_eq!(
        stdout(&crmstore(&small, &["dump", "--account", "1"])),
        small_before
    );
    whole(&small);
}

#[test]
fn a_killed_backup_or_account_restore_leaves_before_or_after() {
    let (dir, db) = generated(15000, 4);
    let (key, public) = keygen(dir.path());
    let folder = dir.path().join("b");
    let create = [
        "backup",
        "create",
        "--to",
        folder.to_str().unwrap(),
        "--recipient",
        &public,
    ];
    let t = Instant::now();
    let o = crmstore(&db, &[&["--json"][..], &create].concat());
    let full = t.elapsed();
    let made: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let archive = made["file"].as_str().unwrap().to_string();
    let listed = |folder: &Path| {
        let o = bin()
            .args(["--json", "backup", "list", "--dir"])
            .arg(folder)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0);
        stdout(&o).lines().count()
    };
    // Killed backups: each leaves a listed, intact archive or nothing listed,
    // and the store as it was.
    let dump = || stdout(&crmstore(&db, &["dump", "--account", "1"]));
    let before = dump();
    for percent in [10u32, 50, 90] {
        let n = listed(&folder);
        run_killed(&db, &create, Some(full * percent / 100));
        let now = listed(&folder);
        assert!(now == n || now == n + 1, "{percent}%: {n} -> {now}");
        let o = bin()
            .args(["--json", "backup", "list", "--dir"])
            .arg(&folder)
            .output()
            .unwrap();
        assert!(stdout(&o).lines().all(|l| l.contains("\"intact\":true")));
        assert_eq!(dump(), before);
    }
    // The next backup cleans what the killed ones left.
    assert_eq!(code(&crmstore(&db, &create)), 0);
    let tmp = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(tmp, 0);
    // Killed account restores: the live account is the old one or the archive's.
    assert_eq!(
        code(&crmstore(
            &db,
            &[
                "create",
                "--account",
                "1",
                "--as",
                "1",
                "--module",
                "deals",
                "--json-record",
                "{}"
            ]
        )),
        0
    );
    let changed = dump();
    let restore = [
        "backup",
        "restore",
        &archive,
        "--identity",
        key.to_str().unwrap(),
        "--account",
        "1",
    ];
    let mut seen = (0, 0);
    // The last one is let finish: a restore gets through however loaded the machine.
    for percent in [Some(20u32), Some(60), Some(100), None] {
        run_killed(&db, &restore, percent.map(|p| full * p / 100));
        let records = |d: &str| d.lines().filter(|l| l.starts_with("{\"id\"")).count();
        let now = dump();
        if records(&now) == records(&changed) {
            seen.0 += 1;
        } else {
            assert_eq!(
                records(&now),
                records(&before),
                "{percent:?}%: half an account"
            );
            seen.1 += 1;
            assert_eq!(
                code(&crmstore(
                    &db,
                    &[
                        "create",
                        "--account",
                        "1",
                        "--as",
                        "1",
                        "--module",
                        "deals",
                        "--json-record",
                        "{}"
                    ]
                )),
                0
            );
        }
        whole(&db);
    }
    assert!(seen.1 > 0, "no restore got through: {seen:?}");
}

#[test]
fn a_file_needing_repair_on_a_read_only_mount_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("ro"), "64m") else {
        eprintln!("note: cannot mount a tmpfs here; the read-only mount test did not run");
        return;
    };
    let db = disk.0.join("s.redb");
    let gen = [
        "gen",
        "--records",
        "5000",
        "--users",
        "4",
        "--teams",
        "2",
        "--seed",
        "1",
    ];
    assert_eq!(code(&crmstore(&db, &gen)), 0);
    // A writer killed mid-transaction leaves the file marked for recovery.
    let big = [
        "gen",
        "--records",
        "200000",
        "--users",
        "4",
        "--teams",
        "2",
        "--seed",
        "2",
    ];
    let mut marked = false;
    for wait_ms in [300u64, 600, 1200] {
        run_killed(&db, &big, Some(Duration::from_millis(wait_ms)));
        let header = std::fs::read(&db).unwrap();
        if header[9] & 2 != 0 {
            marked = true;
            break;
        }
    }
    assert!(marked, "no kill left the file marked for recovery");
    let ro = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&disk.0)
        .status()
        .unwrap();
    assert!(ro.success());
    let o = crmstore(
        &db,
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
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(code(&o), 0);
    assert!(
        err.contains("needs the repair") && err.contains("writable"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let rw = Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(&disk.0)
        .status()
        .unwrap();
    assert!(rw.success());
    assert_eq!(
        deals(&db),
        deals(&db),
        "the next read repairs it and answers"
    );
    whole(&db);
}
