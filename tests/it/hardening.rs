//! Issue 17, through the real binary: what an attacker with an ordinary
//! account and write access to the backup folder, or a careless user, found,
//! each with the class it belongs to. Users of `common::DOC`: 1 admin, 2
//! manager, 3 and 4 reps, 7 a partner.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::cli::{acting, code, crmstore, keygen, loaded, stdout};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "{}", stderr(o));
    stdout(o)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crmstore"))
}

fn nested(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

/// A key pair and a full weekly archive of `db` in `dir`.
fn backed_up(db: &Path, dir: &Path) -> (PathBuf, String, PathBuf) {
    let (key, public) = keygen(dir);
    let archives = dir.join("arch");
    let to = archives.to_str().unwrap();
    let o = crmstore(
        db,
        &[
            "--json",
            "backup",
            "create",
            "--to",
            to,
            "--recipient",
            &public,
        ],
    );
    let made: serde_json::Value = serde_json::from_str(ok(&o).trim()).unwrap();
    (key, public, PathBuf::from(made["file"].as_str().unwrap()))
}

#[test]
fn what_a_write_accepts_every_read_dump_and_backup_reads_back() {
    let (d, db) = loaded();
    let record = |v: &str| format!("{{\"fields\":{{\"x\":{v}}}}}");
    let create = |v: &str| {
        crmstore(
            &db,
            &acting(
                "create",
                "3",
                &["--module", "deals", "--json-record", &record(v)],
            ),
        )
    };
    let before = ok(&crmstore(&db, &["dump", "--account", "1"]));
    // One level past the limit: refused, named, nothing stored.
    let o = create(&nested(65));
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stderr(&o).contains("field `x`: lists nest deeper than 64 levels"));
    let o = crmstore(
        &db,
        &acting(
            "update",
            "3",
            &["1", "--set", &format!("{{\"y\":{}}}", nested(65))],
        ),
    );
    assert_eq!(code(&o), 5, "update holds the same limit: {}", stderr(&o));
    let o = crmstore(
        &db,
        &acting(
            "create",
            "3",
            &["--module", &"m".repeat(65), "--json-record", "{}"],
        ),
    );
    assert_eq!(code(&o), 5);
    assert_eq!(ok(&crmstore(&db, &["dump", "--account", "1"])), before);
    // At the limit: stored, and every reader reads it back.
    let o = crmstore(
        &db,
        &[
            "--json",
            "create",
            "--account",
            "1",
            "--as",
            "3",
            "--module",
            "deals",
            "--json-record",
            &record(&nested(64)),
        ],
    );
    let id = serde_json::from_str::<serde_json::Value>(ok(&o).trim()).unwrap()["id"].to_string();
    for args in [
        acting("get", "1", &[&id]),
        acting("query", "1", &["--module", "deals"]),
        acting("export", "1", &["--module", "deals"]),
        acting("export", "1", &["--module", "deals", "--format", "csv"]),
        vec!["dump", "--account", "1"],
    ] {
        let out = ok(&crmstore(&db, &args));
        assert!(out.contains(&nested(64)), "{args:?}");
    }
    ok(&crmstore(
        &db,
        &acting("update", "1", &[&id, "--set", "{\"z\":1}"]),
    ));
    let (key, _, file) = backed_up(&db, d.path());
    let o = bin()
        .args(["backup", "verify"])
        .arg(&file)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    ok(&o);
    let to = d.path().join("restored.redb");
    let o = bin()
        .args(["backup", "restore"])
        .arg(&file)
        .arg("--identity")
        .arg(&key)
        .arg("--to")
        .arg(&to)
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(
        ok(&crmstore(&to, &["dump", "--account", "1"])),
        ok(&crmstore(&db, &["dump", "--account", "1"]))
    );
    ok(&crmstore(&db, &acting("delete", "1", &[&id])));
}

#[test]
fn integers_out_of_range_are_refused_whatever_their_sign() {
    let (_d, db) = loaded();
    for n in [
        "-99999999999999999999",
        "99999999999999999999",
        "9223372036854775808",
    ] {
        let o = crmstore(
            &db,
            &acting(
                "update",
                "3",
                &["1", "--set", &format!("{{\"amount\":{n}}}")],
            ),
        );
        assert_eq!(code(&o), 5, "{n}: {}", stderr(&o));
        assert!(stderr(&o).contains("out of range"), "{}", stderr(&o));
    }
    ok(&crmstore(
        &db,
        &acting("update", "3", &["1", "--set", "{\"amount\":-1.5e30}"]),
    ));
}

#[test]
fn prune_removes_only_archives_named_as_ours_and_trusts_no_sidecar() {
    let (d, db) = loaded();
    let (_key, public, weekly) = backed_up(&db, d.path());
    let archives = weekly.parent().unwrap().to_path_buf();
    let dir = archives.to_str().unwrap();
    // A file outside the folder and one inside it an attacker wants gone.
    let victim = d.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::write(archives.join("x"), "keep me too").unwrap();
    let mut manual = Vec::new();
    for _ in 0..2 {
        let o = crmstore(
            &db,
            &[
                "--json",
                "backup",
                "create",
                "--to",
                dir,
                "--recipient",
                &public,
                "--kind",
                "manual",
            ],
        );
        let made: serde_json::Value = serde_json::from_str(ok(&o).trim()).unwrap();
        manual.push(PathBuf::from(made["file"].as_str().unwrap()));
    }
    let sidecar = |f: &Path| PathBuf::from(format!("{}.json", f.display()));
    let edit = |f: &Path, from: &str, to: &str| {
        let text = std::fs::read_to_string(sidecar(f)).unwrap();
        assert!(text.contains(from));
        std::fs::write(sidecar(f), text.replace(from, to)).unwrap();
    };
    // Sidecars that name another file, and one that calls a manual archive weekly.
    let name = |f: &Path| f.file_name().unwrap().to_str().unwrap().to_string();
    edit(
        &manual[0],
        &format!("\"{}\"", name(&manual[0])),
        &format!("\"{}\"", victim.display()),
    );
    edit(&manual[1], "\"manual\"", "\"weekly\"");
    edit(
        &weekly,
        &format!("\"{}\"", name(&weekly)),
        "\"../victim.txt\"",
    );
    // A forged sidecar with no archive of ours beside it.
    std::fs::write(
        archives.join("x.json"),
        std::fs::read(sidecar(&weekly)).unwrap(),
    )
    .unwrap();
    let o = bin()
        .args(["--json", "backup", "list", "--dir", dir])
        .output()
        .unwrap();
    assert_eq!(
        ok(&o).lines().count(),
        0,
        "no sidecar that disagrees with its archive's name is listed"
    );
    let o = bin()
        .args([
            "backup",
            "prune",
            "--dir",
            dir,
            "--keep-weekly",
            "0",
            "--keep-monthly",
            "0",
        ])
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(
        std::fs::read_to_string(archives.join("x")).unwrap(),
        "keep me too"
    );
    for f in manual.iter().chain([&weekly]) {
        assert!(f.exists(), "{} was pruned on a sidecar's word", f.display());
    }
}

#[test]
fn user_block_and_unblock_parse_in_every_order() {
    let (_d, db) = loaded();
    ok(&crmstore(
        &db,
        &["user", "block", "--account", "1", "--as", "1", "4"],
    ));
    assert_eq!(code(&crmstore(&db, &acting("get", "4", &["3"]))), 4);
    ok(&crmstore(
        &db,
        &["user", "unblock", "4", "--account", "1", "--as", "1"],
    ));
    ok(&crmstore(&db, &acting("get", "4", &["3"])));
    let o = crmstore(
        &db,
        &["user", "unblock", "--as", "1", "--account", "1", "4"],
    );
    ok(&o);
    let o = crmstore(&db, &["user", "block", "--account", "1", "--as", "3", "4"]);
    assert_eq!(code(&o), 4, "admins only: {}", stderr(&o));
}

#[test]
fn filters_far_past_the_limits_are_refused_not_a_crash() {
    let (_d, db) = loaded();
    let chain = |n: usize| vec!["a=1"; n].join(" or ");
    // ~112 KB once overflowed the stack: now refused for its size.
    let huge = chain(16_000);
    for args in [
        acting("query", "3", &["--module", "deals", "--filter", &huge]),
        acting(
            "query",
            "3",
            &["--module", "deals", "--count", "--filter", &huge],
        ),
        acting("export", "3", &["--module", "deals", "--filter", &huge]),
    ] {
        let o = crmstore(&db, &args);
        assert_eq!(code(&o), 5, "{}", stderr(&o));
        assert!(stderr(&o).contains("more than 65536"), "{}", stderr(&o));
    }
    let o = crmstore(
        &db,
        &acting(
            "query",
            "3",
            &["--module", "deals", "--filter", &chain(1_001)],
        ),
    );
    assert_eq!(code(&o), 5);
    assert!(
        stderr(&o).contains("more than 1000 comparisons"),
        "{}",
        stderr(&o)
    );
    // At the limit it runs.
    let o = crmstore(
        &db,
        &acting(
            "query",
            "3",
            &[
                "--json",
                "--module",
                "deals",
                "--count",
                "--filter",
                &chain(1_000),
            ],
        ),
    );
    assert_eq!(ok(&o).trim(), "{\"count\":0}");
}

#[test]
fn tables_print_cells_of_any_size_cut_with_an_ellipsis() {
    let (_d, db) = loaded();
    let long = "y".repeat(70_000);
    ok(&crmstore(
        &db,
        &acting(
            "update",
            "3",
            &["1", "--set", &format!("{{\"note\":\"{long}\"}}")],
        ),
    ));
    for args in [
        acting("get", "3", &["1"]),
        acting("query", "3", &["--module", "deals"]),
    ] {
        let out = ok(&crmstore(&db, &args));
        assert!(out.contains('…') && !out.contains(&long), "{args:?}");
    }
    let json = ok(&crmstore(
        &db,
        &["--json", "get", "--account", "1", "--as", "3", "1"],
    ));
    assert!(json.contains(&long), "JSON is never cut");
}

#[test]
fn a_trash_batch_of_thousands_lists_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.redb");
    ok(&crmstore(
        &db,
        &[
            "gen",
            "--records",
            "7000",
            "--users",
            "4",
            "--teams",
            "2",
            "--seed",
            "1",
        ],
    ));
    let ids: Vec<String> = (1..=7000).map(|i| i.to_string()).collect();
    let mut args = vec!["delete", "--account", "1", "--as", "1", "--cascade"];
    args.extend(ids.iter().map(String::as_str));
    ok(&crmstore(&db, &args));
    let out = ok(&crmstore(
        &db,
        &["trash", "list", "--account", "1", "--as", "1"],
    ));
    assert!(out.contains('…'), "the record list is cut");
}

#[test]
fn smaller_contract_fixes_each_with_its_exit_code() {
    let (d, db) = loaded();
    // An I/O problem is 1, naming the path.
    let o = bin()
        .args([
            "backup",
            "verify",
            "/nonexistent",
            "--identity",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let (key, _, file) = backed_up(&db, d.path());
    let o = bin()
        .args(["backup", "restore"])
        .arg(&file)
        .arg("--identity")
        .arg(&key)
        .args(["--to", "/no/such/dir/x"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`/no/such/dir`") && !stderr(&o).contains(".tmp"),
        "{}",
        stderr(&o)
    );
    // Usage: exit 2, one line.
    let o = bin()
        .args(["get", "--account", "1", "--as", "1", "1"])
        .env_remove("CRMSTORE_DB")
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "a missing --db is usage: {}", stderr(&o));
    let o = crmstore(&db, &["query", "--acount", "1"]);
    assert_eq!(
        (code(&o), stderr(&o).lines().count()),
        (2, 1),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).starts_with("error: "));
    // A config error of many lines reads as one.
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "[backup\ndir = ").unwrap();
    let o = crmstore(&db, &["serve", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code(&o), 0);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    // An unknown audit action is a mistake, not an empty answer.
    let o = crmstore(
        &db,
        &["audit", "list", "--account", "1", "--action", "bogus"],
    );
    assert_eq!(code(&o), 5);
    // An unshare that changes nothing keeps the version and logs nothing.
    let events = |db: &Path| {
        ok(&crmstore(
            db,
            &["--json", "audit", "list", "--account", "1"],
        ))
        .lines()
        .count()
    };
    let before = (
        ok(&crmstore(&db, &acting("get", "1", &["1", "--json"]))),
        events(&db),
    );
    ok(&crmstore(
        &db,
        &acting("unshare", "3", &["1", "--from", "user:4"]),
    ));
    assert_eq!(
        (
            ok(&crmstore(&db, &acting("get", "1", &["1", "--json"]))),
            events(&db)
        ),
        before
    );
    // A drill in the future acts as of then but logs now, in time order.
    ok(&crmstore(&db, &acting("delete", "1", &["6"])));
    ok(&crmstore(
        &db,
        &["trash", "purge-expired", "--now", "2999-01-01T00:00:00Z"],
    ));
    let last = ok(&crmstore(
        &db,
        &[
            "--json",
            "audit",
            "list",
            "--account",
            "1",
            "--action",
            "record.purge",
        ],
    ));
    let last: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert!(last["at"].as_str().unwrap() < "2999", "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("as of 2999-01-01T00:00:00Z"),
        "{last}"
    );
    ok(&crmstore(&db, &["audit", "verify", "--account", "1"]));
}

#[test]
fn what_a_viewer_cannot_see_changes_no_answer_they_get() {
    let (_d, db) = loaded();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(ok(&crmstore(&db, &all)).trim()).unwrap()
    };
    // Sue's comment under raj's deal 1, put there by the admin.
    let hidden_child = json(&acting(
        "create",
        "1",
        &[
            "--module",
            "comments",
            "--json-record",
            "{\"parent\":1,\"owner\":4}",
        ],
    ))["id"]
        .to_string();
    // Raj deletes the deal with what he sees below it (comment 5), no more.
    let del = json(&acting("delete", "3", &["1", "--cascade"]));
    assert_eq!(del["count"], 2, "{del}");
    let child = json(&acting("get", "4", &[&hidden_child]));
    assert_eq!(
        child["parent"], 1,
        "the invisible child stays, still under deal 1"
    );
    // Without --cascade, an invisible child does not block either.
    let deal = json(&acting(
        "create",
        "3",
        &["--module", "deals", "--json-record", "{}"],
    ))["id"]
        .to_string();
    ok(&crmstore(
        &db,
        &acting(
            "create",
            "1",
            &[
                "--module",
                "comments",
                "--json-record",
                &format!("{{\"parent\":{deal},\"owner\":4}}"),
            ],
        ),
    ));
    ok(&crmstore(&db, &acting("delete", "3", &[&deal])));
    // Attaching needs the edit right on the parent: tia sees deal 4 (team) but may not edit it.
    let o = crmstore(
        &db,
        &acting(
            "create",
            "5",
            &[
                "--module",
                "deals",
                "--json-record",
                "{\"parent\":4,\"team\":1}",
            ],
        ),
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("may not attach"), "{}", stderr(&o));
    // Tia's deal, shared in full with raj, who deletes it: his manager max
    // cannot see it, so the batch is not his to list, restore or name.
    let tias = json(&acting(
        "create",
        "5",
        &["--module", "deals", "--json-record", "{\"team\":1}"],
    ))["id"]
        .to_string();
    ok(&crmstore(
        &db,
        &acting("share", "5", &[&tias, "--to", "user:3", "--access", "full"]),
    ));
    let batch = json(&acting("delete", "3", &[&tias]))["batch"].to_string();
    let listed = ok(&crmstore(
        &db,
        &["--json", "trash", "list", "--account", "1", "--as", "2"],
    ));
    assert!(!listed.contains(&format!("\"batch\":{batch},")), "{listed}");
    let o = crmstore(
        &db,
        &["trash", "restore", "--account", "1", "--as", "2", &batch],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let raj = ok(&crmstore(
        &db,
        &["--json", "trash", "list", "--account", "1", "--as", "3"],
    ));
    assert!(
        raj.contains(&format!("\"batch\":{batch},")),
        "raj sees what he deleted: {raj}"
    );
    // A field only records raj cannot see use is not in his CSV header.
    ok(&crmstore(
        &db,
        &acting("update", "1", &["3", "--set", "{\"only_sue\":1}"]),
    ));
    let header = |u: &str| {
        ok(&crmstore(
            &db,
            &acting("export", u, &["--module", "deals", "--format", "csv"]),
        ))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
    };
    assert!(!header("3").contains("only_sue"), "{}", header("3"));
    assert!(header("1").contains("only_sue"));
    // A module only the admin's records use is as unknown to raj as a typo.
    ok(&crmstore(
        &db,
        &acting(
            "create",
            "1",
            &["--module", "tickets", "--json-record", "{}"],
        ),
    ));
    for m in ["tickets", "nope"] {
        let o = crmstore(&db, &acting("query", "3", &["--module", m]));
        assert_eq!(code(&o), 5, "{m}: {}", stderr(&o));
    }
    ok(&crmstore(
        &db,
        &acting("query", "1", &["--module", "tickets"]),
    ));
}

#[test]
fn the_library_holds_every_write_path_to_the_same_limits() {
    use crmstore::{Error, NewRecord, Update, Value};
    let f = crate::common::fixture();
    let raj = f.ctx(3);
    let before = f.store.operator().dump_json(1).unwrap();
    let long = Value::Text("a".repeat((1 << 20) + 1));
    let deep = (0..65).fold(Value::Null, |v, _| Value::List(vec![v]));
    fn refused<T>(r: crmstore::Result<T>) -> bool {
        matches!(r, Err(Error::Invalid(_)))
    }
    assert!(refused(
        f.store
            .create(&raj, NewRecord::new("deals").field("x", long.clone()))
    ));
    assert!(refused(
        f.store
            .create(&raj, NewRecord::new("deals").field("x", deep.clone()))
    ));
    assert!(refused(
        f.store.create(&raj, NewRecord::new("deals").stage(""))
    ));
    assert!(refused(f.store.update(
        &raj,
        1,
        Update::new().set("x", long)
    )));
    assert!(refused(f.store.update(
        &raj,
        1,
        Update::new().stage(Some(&"s".repeat(129)))
    )));
    // All or nothing: the first record was fine.
    let many = vec![
        NewRecord::new("deals"),
        NewRecord::new("deals").field("x", deep),
    ];
    assert!(refused(f.store.create_many(&raj, many)));
    assert_eq!(f.store.operator().dump_json(1).unwrap(), before);
    // A flat chain built in code is one level; nesting past 64 is refused.
    let chain = (0..999).fold(crmstore::Filter::field("a").eq(1), |f, _| {
        f.or(crmstore::Filter::field("a").eq(1))
    });
    let q = crmstore::Query::module("deals").filter(chain.clone());
    assert_eq!(f.store.count(&raj, &q).unwrap(), 0);
    let q = crmstore::Query::module("deals").filter(chain.or(crmstore::Filter::field("a").eq(1)));
    assert!(refused(f.store.count(&raj, &q)));
    let nested = (0..65).fold(crmstore::Filter::field("a").eq(1), |f, _| f.not());
    assert!(refused(
        f.store
            .count(&raj, &crmstore::Query::module("deals").filter(nested))
    ));
    // A compared value nested past the limit is refused before a compare
    // could recurse into it.
    let deep = (0..1_000).fold(Value::Null, |v, _| Value::List(vec![v]));
    let by_value = crmstore::Filter::field("a").eq(deep.clone());
    assert!(refused(f.store.count(
        &raj,
        &crmstore::Query::module("deals").filter(by_value)
    )));
    let in_list = crmstore::Filter::field("a").is_in([Value::Int(1), deep]);
    assert!(refused(
        f.store
            .count(&raj, &crmstore::Query::module("deals").filter(in_list))
    ));
}

/// A JSON value of lists nested `depth` deep around `leaf`, `width` wide.
fn json_value(depth: usize, width: usize, leaf: &str) -> String {
    let mut v = leaf.to_string();
    for _ in 0..depth {
        v = format!("[{}]", vec![v.as_str(); width].join(","));
    }
    v
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: crate::common::proptest_cases(32), ..Default::default()
    })]

    /// The write→read round trip (also `fuzz/fuzz_targets/write_read.rs`):
    /// whatever `create` accepts, get, query, rows, both exports and dump
    /// read back, and the dump loads again; values around the limits.
    #[test]
    fn whatever_a_write_accepts_reads_back(
        depth in 0usize..70,
        width in 1usize..3,
        leaf in proptest::prop_oneof![
            proptest::strategy::Just("null".to_string()),
            (-5i64..5).prop_map(|i| i.to_string()),
            "[a-z\\\\\"é]{0,12}".prop_map(|s| serde_json::json!(s).to_string()),
            proptest::strategy::Just("{\"timestamp\":\"2026-03-29T01:30:00Z\"}".to_string()),
        ],
        name in "[a-z_]{1,8}|x{120,130}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = crmstore::Store::open(dir.path().join("p.redb")).unwrap();
        store.operator().load_json(r#"{"account": {"id": 1, "name": "f"}, "roles": [{"id": 1, "name": "r"}],
            "profiles": [{"id": 1, "name": "p"}],
            "users": [{"id": 1, "name": "u", "role": 1, "profile": 1, "admin": true}]}"#).unwrap();
        let v = json_value(depth.min(if width > 1 { 12 } else { 70 }), width, &leaf);
        let record = format!("{{\"fields\":{{\"{name}\":{v}}}}}");
        let r = crmstore::fuzzing::write_then_read(&store, &record);
        proptest::prop_assert!(r.is_ok(), "{record}: {r:?}");
    }
}
