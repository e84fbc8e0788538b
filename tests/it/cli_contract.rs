//! The CLI.md commands no other test runs (issue 19: every command has a
//! CLI test, in the argument order the page shows): `assign`, `trash restore
//! --only` and `trash purge`.

use crate::cli::{acting, code, crmstore, loaded, stdout};

fn json(o: &std::process::Output) -> serde_json::Value {
    assert_eq!(code(o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(stdout(o).trim()).unwrap()
}

#[test]
fn assign_moves_records_to_another_owner_and_team() {
    let (_d, db) = loaded();
    let run = |args: &[&str]| crmstore(&db, args);
    // crmstore --db P assign --account A --as U ID... --owner U2 [--team T]
    let o = run(&[
        &["--json"][..],
        &acting("assign", "1", &["1", "2", "--owner", "4", "--team", "2"]),
    ]
    .concat());
    assert_eq!(json(&o)["assigned"], 2);
    for id in ["1", "2"] {
        let r = json(&run(&[&["--json"][..], &acting("get", "4", &[id])].concat()));
        assert_eq!(
            (r["owner"].as_u64(), r["team"].as_u64()),
            (Some(4), Some(2)),
            "{r}"
        );
    }
    // Raj no longer owns them: they are gone for him, and so is his right to assign.
    assert_eq!(code(&run(&acting("get", "3", &["1"]))), 3);
    assert_eq!(
        code(&run(&acting("assign", "3", &["1", "--owner", "3"]))),
        3
    );
    // An owner who is no user of the account is refused, naming them.
    assert_eq!(
        code(&run(&acting("assign", "4", &["1", "--owner", "99"]))),
        5
    );
    let o = run(&[
        "--json",
        "audit",
        "list",
        "--account",
        "1",
        "--action",
        "record.assign",
    ]);
    let ev: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(
        (ev["count"].as_u64(), ev["detail"].as_str()),
        (Some(2), Some("owner 4 team 2"))
    );
}

#[test]
fn trash_restore_only_some_then_purge_the_rest() {
    let (_d, db) = loaded();
    let run = |args: &[&str]| crmstore(&db, args);
    // Deal 1 with its comment 5, one batch.
    let del = json(&run(&[
        &["--json"][..],
        &acting("delete", "1", &["1", "--cascade"]),
    ]
    .concat()));
    assert_eq!(del["count"], 2);
    let b = del["batch"].to_string();
    // crmstore --db P trash restore --account A --as U BATCH [--only ID...]
    let o = run(&[&["--json"][..], &acting("trash", "1", &[])].concat());
    assert_eq!(code(&o), 2, "trash needs its subcommand");
    let restored = json(&run(&[
        "--json",
        "trash",
        "restore",
        "--account",
        "1",
        "--as",
        "1",
        &b,
        "--only",
        "1",
    ]));
    assert_eq!(restored["restored"], 1, "{restored}");
    assert_eq!(code(&run(&acting("get", "1", &["1"]))), 0);
    assert_eq!(
        code(&run(&acting("get", "1", &["5"]))),
        3,
        "the comment stays in the trash"
    );
    // crmstore --db P trash purge --account A --as U BATCH: admins only.
    assert_eq!(
        code(&run(&["trash", "purge", "--account", "1", "--as", "3", &b])),
        3,
        "not raj's batch"
    );
    let purged = json(&run(&[
        "--json",
        "trash",
        "purge",
        "--account",
        "1",
        "--as",
        "1",
        &b,
    ]));
    assert_eq!(purged["purged"], 1, "{purged}");
    assert_eq!(
        code(&run(&[
            "trash",
            "restore",
            "--account",
            "1",
            "--as",
            "1",
            &b
        ])),
        3
    );
    assert_eq!(code(&run(&["check"])), 0);
}
