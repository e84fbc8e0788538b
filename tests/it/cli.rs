//! The real binary: exit codes, `error:` lines and JSON shapes of CLI.md.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::DOC;

pub(crate) fn crmstore(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// `cmd` acted for user `user` of account 1, then `rest`, in the order CLI.md shows.
pub(crate) fn acting<'a>(cmd: &'a str, user: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![cmd, "--account", "1", "--as", user];
    args.extend_from_slice(rest);
    args
}

/// `backup keygen` into `dir/k.txt`: the key file and its public key.
pub(crate) fn keygen(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("k.txt");
    let o = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args(["backup", "keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    (key, stdout(&o).trim().to_string())
}

/// A recipient whose key nobody holds: for backups that must fail before
/// anything is written.
pub(crate) const NOBODY: &str = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq";

pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub(crate) fn loaded() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.redb");
    let doc = dir.path().join("doc.json");
    std::fs::write(&doc, DOC).unwrap();
    let o = crmstore(&db, &["load", doc.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{o:?}");
    (dir, db)
}

#[test]
fn exit_codes_follow_the_contract() {
    let (_d, db) = loaded();
    let run = |args: &[&str]| crmstore(&db, args);
    assert_eq!(code(&run(&["get", "--account", "1", "--as", "3", "1"])), 0);
    let hidden = run(&["get", "--account", "1", "--as", "4", "1"]);
    let missing = run(&["get", "--account", "1", "--as", "4", "999"]);
    assert_eq!(
        (code(&hidden), code(&missing)),
        (3, 3),
        "invisible is exactly missing"
    );
    assert!(String::from_utf8_lossy(&hidden.stderr).starts_with("error: "));
    assert_eq!(
        code(&run(&["get", "--account", "1", "--as", "9", "1"])),
        4,
        "blocked"
    );
    assert_eq!(
        code(&run(&acting(
            "query",
            "3",
            &["--module", "deals", "--filter", "iban = 1"]
        ))),
        4
    );
    assert_eq!(
        code(&run(&acting(
            "query",
            "3",
            &["--module", "deals", "--filter", "amount >"]
        ))),
        5
    );
    assert_eq!(
        code(&run(&acting(
            "update",
            "3",
            &["1", "--set", "{\"a\":1}", "--expect-version", "7"]
        ))),
        6
    );
    assert_eq!(
        code(&run(&acting("update", "3", &["1", "--set", "not json"]))),
        5
    );
    assert_eq!(
        code(&run(&["delete", "--account", "1", "--as", "3", "1"])),
        6,
        "live children without --cascade"
    );
    assert_eq!(
        code(&run(&["get", "--account", "1", "--as", "3"])),
        2,
        "missing argument"
    );
    assert_eq!(code(&run(&["frobnicate"])), 2);
    assert_eq!(code(&run(&["check"])), 0);
}

#[test]
fn a_store_an_app_holds_alone_is_a_conflict_for_the_cli_and_a_shared_one_is_not() {
    let (_d, db) = loaded();
    let get = ["get", "--account", "1", "--as", "3", "1"];
    {
        let _app = crmstore::Store::open(&db).unwrap();
        let o = crmstore(&db, &get);
        assert_eq!(code(&o), 6, "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("open in another process"), "{err}");
    }
    let _app = crmstore::Store::options().shared().open(&db).unwrap();
    assert_eq!(code(&crmstore(&db, &get)), 0);
}

/// Runs each command on `db`: each succeeds and leaves the file byte for byte.
fn reads_leave_the_file_as_it_was(db: &Path, commands: &[&[&str]]) {
    let before = std::fs::read(db).unwrap();
    for args in commands {
        let o = crmstore(db, args);
        assert_eq!(code(&o), 0, "{args:?}: {o:?}");
        assert!(
            std::fs::read(db).unwrap() == before,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn reading_commands_leave_the_file_as_it_was_and_create_nothing() {
    let (d, db) = loaded();
    reads_leave_the_file_as_it_was(
        &db,
        &[
            &["get", "--account", "1", "--as", "3", "1"],
            &["query", "--account", "1", "--as", "3", "--module", "deals"],
            &["trash", "list", "--account", "1", "--as", "1"],
            &["audit", "list", "--account", "1"],
            &["audit", "verify", "--account", "1"],
            &["dump", "--account", "1"],
            &["check"],
        ],
    );
    let typo = d.path().join("typo.redb");
    let o = crmstore(&typo, &["get", "--account", "1", "--as", "3", "1"]);
    assert_eq!(code(&o), 3, "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no store at"));
    assert!(!typo.exists(), "a read created a store");
}

#[test]
fn reading_commands_read_an_older_store_without_migrating_it_and_a_write_migrates_it() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("v2.redb");
    std::fs::copy(crate::compat::fixture("store-v2.redb"), &db).unwrap();
    let query = acting("query", "3", &["--module", "deals", "--json"]);
    reads_leave_the_file_as_it_was(
        &db,
        &[
            &query,
            &["get", "--account", "1", "--as", "3", "7"],
            &["dump", "--account", "1"],
            &["check"],
        ],
    );
    assert_eq!(crate::compat::format_of(&db), 2);
    let ids = |o: &Output| -> Vec<u64> {
        stdout(o)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(ids(&crmstore(&db, &query)), [1, 7]);
    let o = crmstore(
        &db,
        &acting("update", "3", &["7", "--set", r#"{"amount":8}"#]),
    );
    assert_eq!(code(&o), 0, "{o:?}");
    assert_eq!(
        crate::compat::format_of(&db),
        crmstore::FORMAT_VERSION,
        "a write migrates it"
    );
    assert_eq!(code(&crmstore(&db, &["check"])), 0);
    assert_eq!(ids(&crmstore(&db, &query)), [1, 7]);
}

#[test]
fn json_shapes() {
    let (_d, db) = loaded();
    let run = |args: &[&str]| crmstore(&db, args);
    let o = run(&[
        &["--json"][..],
        &acting("query", "3", &["--module", "deals"]),
    ]
    .concat());
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["id"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "id",
        "module",
        "owner",
        "team",
        "stage",
        "parent",
        "fields",
        "shares",
        "version",
        "created_at",
        "updated_at",
    ] {
        assert!(keys.contains(&k), "{k} missing");
    }
    assert!(lines[0]["fields"].get("iban").is_none());
    let o = run(&[
        "query",
        "--json",
        "--account",
        "1",
        "--as",
        "3",
        "--module",
        "deals",
        "--count",
    ]);
    assert_eq!(stdout(&o).trim(), r#"{"count":2}"#);
    let record = r#"{"fields":{"name":"z"},"stage":"new"}"#;
    let create = acting(
        "create",
        "3",
        &["--module", "deals", "--json-record", record],
    );
    let o = run(&[&["--json"][..], &create].concat());
    let made: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(made["owner"], 3);
    let id = made["id"].to_string();
    let o = run(&["--json", "delete", "--account", "1", "--as", "3", &id]);
    let del: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(del["count"], 1);
    let o = run(&["--json", "trash", "list", "--account", "1", "--as", "3"]);
    let batch: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(batch["batch"], del["batch"]);
    assert_eq!(batch["records"][0]["module"], "deals");
    let b = del["batch"].to_string();
    assert_eq!(
        code(&run(&[
            "trash",
            "restore",
            "--account",
            "1",
            "--as",
            "3",
            &b
        ])),
        0
    );
    let o = run(&[
        "--json",
        "audit",
        "list",
        "--account",
        "1",
        "--action",
        "record.delete",
    ]);
    let ev: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (ev["actor"].as_u64(), ev["count"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(ev["hash"].as_str().unwrap().len(), 64);
    assert_eq!(code(&run(&["audit", "verify", "--account", "1"])), 0);
    let o = run(&acting(
        "export",
        "3",
        &["--module", "deals", "--format", "csv"],
    ));
    assert!(
        stdout(&o).starts_with("id,module,owner,team,stage,parent,version,created_at,updated_at,")
    );
}

#[test]
fn load_refusal_is_exit_5_and_dump_round_trips() {
    let (d, db) = loaded();
    let bad = d.path().join("bad.json");
    std::fs::write(
        &bad,
        DOC.replace(
            "\"role\": 3, \"teams\": [1]",
            "\"role\": 33, \"teams\": [1]",
        ),
    )
    .unwrap();
    let o = crmstore(&db, &["load", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 5);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown role `33`"));
    let dump = stdout(&crmstore(&db, &["dump", "--account", "1"]));
    let again = d.path().join("again.json");
    std::fs::write(&again, &dump).unwrap();
    assert_eq!(code(&crmstore(&db, &["load", again.to_str().unwrap()])), 0);
    let twice = stdout(&crmstore(&db, &["dump", "--account", "1"]));
    assert_eq!(dump, twice);
}

#[test]
fn demo_runs_in_a_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args(["demo", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("raj (rep, East)"));
    assert!(out.contains("audit chain verified"));
    assert!(!out.contains("INCONSISTENT"));
}

#[test]
fn gen_is_deterministic_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let dump = |name: &str, seed: &str| {
        let db = dir.path().join(name);
        let o = crmstore(
            &db,
            &[
                "gen",
                "--records",
                "300",
                "--users",
                "12",
                "--teams",
                "3",
                "--seed",
                seed,
            ],
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        stdout(&crmstore(&db, &["dump", "--account", "1"]))
    };
    let (a, b, c) = (
        dump("a.redb", "7"),
        dump("b.redb", "7"),
        dump("c.redb", "8"),
    );
    assert_eq!(a, b, "same seed, same data");
    assert_ne!(a, c);
    assert_eq!(code(&crmstore(&dir.path().join("a.redb"), &["check"])), 0);
    let o = crmstore(
        &dir.path().join("d.redb"),
        &["gen", "--records", "10", "--users", "1", "--teams", "1"],
    );
    assert_eq!(code(&o), 5, "too few users is invalid input");
}

#[test]
fn serve_catches_up_then_stops_cleanly_on_sigterm() {
    let (d, db) = loaded();
    let key = d.path().join("k.txt");
    let o = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args(["backup", "keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let public = stdout(&o).trim().to_string();
    let backups = d.path().join("backups");
    let config = d.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[backup]\ndir = {:?}\nrecipients = [{public:?}]\n",
            backups.display().to_string()
        ),
    )
    .unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_crmstore"));
    serve
        .arg("--db")
        .arg(&db)
        .arg("serve")
        .arg("--config")
        .arg(&config);
    let serving = Serving::start(serve);
    // The store stays usable from other processes while serve runs.
    let count = acting("query", "3", &["--module", "deals", "--count"]);
    let o = crmstore(&db, &[&["--json"][..], &count].concat());
    assert_eq!((code(&o), stdout(&o).trim()), (0, r#"{"count":2}"#));
    let o = crmstore(
        &db,
        &acting("create", "3", &["--module", "deals", "--json-record", "{}"]),
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let (status, err) = serving.stop();
    assert_eq!(status, Some(0), "{err}");
    assert!(err.contains("caught up a missed weekly backup"), "{err}");
    assert_eq!(backup_count(&backups), 2);
    let o = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args(["--json", "backup", "list", "--dir"])
        .arg(&backups)
        .output()
        .unwrap();
    assert!(stdout(&o).lines().all(|l| l.contains("\"intact\":true")));
}

/// `crmstore serve` running, its log read to the end as it is written.
pub(crate) struct Serving {
    child: std::process::Child,
    log: std::thread::JoinHandle<String>,
}

impl Serving {
    /// Starts `serve` and waits for "running": its catch-up is done and its
    /// signal handlers are in place.
    pub(crate) fn start(mut serve: Command) -> Serving {
        let mut child = serve.stderr(std::process::Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::thread::spawn(move || {
            let mut all = String::new();
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let line = line.unwrap();
                if line.contains("running") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("serve did not start");
        Serving { child, log }
    }

    /// SIGTERM, then its exit code and whole log.
    pub(crate) fn stop(mut self) -> (Option<i32>, String) {
        // The shell's own `kill`: no procps package needed.
        let killed = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        (status.code(), self.log.join().unwrap())
    }
}

fn backup_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |r| {
        r.filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".age.json")
        })
        .count()
    })
}

#[test]
fn backup_commands_follow_the_exit_codes() {
    let (d, db) = loaded();
    let bin = || Command::new(env!("CARGO_BIN_EXE_crmstore"));
    let key = d.path().join("k.txt");
    let other = d.path().join("other.txt");
    let public = stdout(
        &bin()
            .args(["backup", "keygen", "--out"])
            .arg(&key)
            .output()
            .unwrap(),
    )
    .trim()
    .to_string();
    assert!(public.starts_with("age1"), "{public}");
    bin()
        .args(["backup", "keygen", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(
        code(
            &bin()
                .args(["backup", "keygen", "--out"])
                .arg(&key)
                .output()
                .unwrap()
        ),
        6,
        "never overwrites a key"
    );
    let dir = d.path().join("arch");
    let o = crmstore(
        &db,
        &[
            "--json",
            "backup",
            "create",
            "--to",
            dir.to_str().unwrap(),
            "--recipient",
            &public,
            "--kind",
            "weekly",
        ],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let made: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let file = made["file"].as_str().unwrap().to_string();
    assert_eq!(made["sha256"].as_str().unwrap().len(), 64);
    let o = bin()
        .args(["--json", "backup", "list", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (
            listed["scope"].as_str(),
            listed["kind"].as_str(),
            listed["intact"].as_bool()
        ),
        (Some("full"), Some("weekly"), Some(true))
    );
    let verify = |k: &Path| {
        code(
            &bin()
                .args(["backup", "verify", &file, "--identity"])
                .arg(k)
                .output()
                .unwrap(),
        )
    };
    assert_eq!(verify(&key), 0);
    assert_eq!(verify(&other), 5, "wrong key");
    assert_eq!(
        code(&bin().args(["backup", "verify", &file]).output().unwrap()),
        5,
        "no key given"
    );
    assert_eq!(
        code(&crmstore(
            &db,
            &[
                "backup",
                "create",
                "--to",
                dir.to_str().unwrap(),
                "--recipient",
                "age1nope"
            ]
        )),
        5
    );
    let existing = d.path().join("exists.redb");
    std::fs::write(&existing, b"x").unwrap();
    let o = bin()
        .args(["backup", "restore", &file, "--identity"])
        .arg(&key)
        .arg("--to")
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(code(&o), 6, "restore never overwrites");
    let o = crmstore(
        &db,
        &[
            "backup",
            "restore",
            &file,
            "--identity",
            key.to_str().unwrap(),
            "--account",
            "1",
            "--as-new",
            "2",
        ],
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        code(&crmstore(&db, &["get", "--account", "2", "--as", "3", "1"])),
        0
    );
    let o = crmstore(
        &db,
        &[
            "--json",
            "audit",
            "list",
            "--account",
            "2",
            "--action",
            "backup.restore",
        ],
    );
    assert_eq!(stdout(&o).lines().count(), 1);
}

#[test]
fn bad_arguments_are_named_and_change_nothing() {
    let (d, db) = loaded();
    let before = stdout(&crmstore(&db, &["dump", "--account", "1"]));
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &acting("share", "3", &["1", "--to", "squad:1", "--access", "read"]),
            5,
            "not a principal",
        ),
        (&["load", "/nonexistent/doc.json"], 1, "cannot read"),
        (
            &["query", "--account", "1", "--as", "3", "--module", "nope"],
            5,
            "unknown module",
        ),
        (
            &acting(
                "create",
                "3",
                &[
                    "--module",
                    "deals",
                    "--json-record",
                    "{\"fields\":{\"x\":{\"y\":1}}}",
                ],
            ),
            5,
            "field `x`",
        ),
        (
            &acting(
                "export",
                "3",
                &["--module", "deals", "--filter", "iban = 1"],
            ),
            4,
            "hidden",
        ),
        (
            &["trash", "purge-expired", "--now", "yesterday"],
            5,
            "RFC 3339",
        ),
    ];
    for (args, want, text) in cases {
        let o = crmstore(&db, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), want, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(text),
            "{args:?}: {err}"
        );
    }
    assert_eq!(stdout(&crmstore(&db, &["dump", "--account", "1"])), before);
    let _ = d;
}
