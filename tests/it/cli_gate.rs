//! The access gate's commands through the real binary, each run in the
//! argument order CLI.md shows: exit codes, one `error:` line, JSON shapes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::cli::{code, crmstore, stdout};
use crate::common::DOC;

const NOW: &str = "2027-01-04T09:00:00Z";

fn json(o: &Output) -> Value {
    assert_eq!(code(o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(stdout(o).trim()).unwrap()
}

fn lines(o: &Output) -> Vec<Value> {
    assert_eq!(code(o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn error_line(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err.trim().to_string()
}

/// Accounts 1 and 2 of the fixture, raj (3) linked to `raj@acme.test` in
/// both and ada (1, admin) to `ada@acme.test` in 1; raj's password set.
fn gated(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let db = dir.join("g.redb");
    let mut doc: Value = serde_json::from_str(DOC).unwrap();
    doc["users"][0]["login"] = "ada@acme.test".into();
    doc["users"][2]["login"] = "raj@acme.test".into();
    for (n, file) in [(1, "one.json"), (2, "two.json")] {
        doc["account"]["id"] = n.into();
        std::fs::write(dir.join(file), doc.to_string()).unwrap();
        let o = crmstore(&db, &["load", dir.join(file).to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{o:?}");
    }
    let pw = dir.join("pw.txt");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let p = pw.to_str().unwrap();
    json(&crmstore(
        &db,
        &[
            "--json",
            "login",
            "passwd",
            "raj@acme.test",
            "--password-file",
            p,
            "--now",
            NOW,
        ],
    ));
    (db, pw)
}

/// `session open` in account 1 from the office address, in CLI.md's order.
fn sign(db: &Path, login: &str, pw: &str, now: &str, extra: &[&str], json: bool) -> Output {
    let mut args = vec![];
    if json {
        args.push("--json");
    }
    args.extend([
        "session",
        "open",
        "--account",
        "1",
        "--login",
        login,
        "--password-file",
        pw,
        "--ip",
        "203.0.113.7",
    ]);
    args.extend_from_slice(extra);
    args.extend(["--now", now]);
    crmstore(db, &args)
}

/// `session list` of account 1 as raj (user 3), at `now`.
fn sessions_as_raj(db: &Path, now: &str) -> Vec<Value> {
    lines(&crmstore(
        db,
        &[
            "--json",
            "session",
            "list",
            "--account",
            "1",
            "--as",
            "3",
            "--now",
            now,
        ],
    ))
}

fn open(db: &Path, pw: &str, account: &str, now: &str) -> Output {
    crmstore(
        db,
        &[
            "--json",
            "session",
            "open",
            "--account",
            account,
            "--login",
            "raj@acme.test",
            "--password-file",
            pw,
            "--ip",
            "203.0.113.7",
            "--device",
            "laptop",
            "--now",
            now,
        ],
    )
}

#[test]
fn every_gate_command_works_as_the_contract_shows() {
    let d = tempfile::tempdir().unwrap();
    let (db, pw) = gated(d.path());
    let p = pw.to_str().unwrap();
    // login add: a new login, its password from stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "login",
            "add",
            "New@Acme.test",
            "--password-file",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another good one\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let again = crmstore(
        &db,
        &["login", "add", "new@acme.test", "--password-file", p],
    );
    assert_eq!(code(&again), 6, "a login exists once");
    // session open → the shape of CLI.md, the token once.
    let opened = json(&open(&db, p, "1", NOW));
    let token = opened["token"].as_str().unwrap().to_string();
    assert_eq!(
        (opened["account"].clone(), opened["user"].clone()),
        (1.into(), 3.into())
    );
    assert_eq!(token.len(), 64);
    assert_eq!(opened["expires_at"], "2027-01-04T21:00:00Z");
    // session check, with the token on the command line and from the environment.
    let checked = json(&crmstore(
        &db,
        &[
            "--json",
            "session",
            "check",
            "--token",
            &token,
            "--ip",
            "203.0.113.7",
            "--now",
            NOW,
        ],
    ));
    assert_eq!(
        checked,
        serde_json::json!({"session": opened["session"], "account": 1, "user": 3})
    );
    let by_env = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "session",
            "check",
            "--ip",
            "203.0.113.7",
            "--now",
            NOW,
        ])
        .env("CRMSTORE_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(code(&by_env), 0, "{by_env:?}");
    // session switch into account 2, without the password.
    let switched = json(&crmstore(
        &db,
        &[
            "--json",
            "session",
            "switch",
            "--token",
            &token,
            "--account",
            "2",
            "--ip",
            "203.0.113.7",
            "--now",
            NOW,
        ],
    ));
    assert_eq!(
        (switched["account"].clone(), switched["user"].clone()),
        (2.into(), 3.into())
    );
    // session list: two devices in account 1, as raj and as the admin.
    let second = json(&open(&db, p, "1", NOW));
    let listed = sessions_as_raj(&db, NOW);
    assert_eq!(listed.len(), 2);
    for key in [
        "session",
        "user",
        "login",
        "ip",
        "device",
        "auth",
        "created_at",
        "last_seen",
        "ended_at",
        "end_reason",
    ] {
        assert!(listed[0].get(key).is_some(), "{key} in {}", listed[0]);
    }
    assert_eq!(listed[0]["auth"], "password");
    let by_admin = lines(&crmstore(
        &db,
        &[
            "--json",
            "session",
            "list",
            "--account",
            "1",
            "--as",
            "1",
            "--user",
            "3",
            "--all",
            "--now",
            NOW,
        ],
    ));
    assert_eq!(by_admin.len(), 2);
    let nosy = crmstore(
        &db,
        &[
            "session",
            "list",
            "--account",
            "1",
            "--as",
            "4",
            "--user",
            "3",
            "--now",
            NOW,
        ],
    );
    assert_eq!(code(&nosy), 4);
    // session revoke: "log out all other devices", then one by id.
    let kept = opened["session"].to_string();
    let n = json(&crmstore(
        &db,
        &[
            "--json",
            "session",
            "revoke",
            "--account",
            "1",
            "--as",
            "3",
            "--user",
            "3",
            "--except",
            &kept,
            "--now",
            NOW,
        ],
    ));
    assert_eq!(n["revoked"], 1);
    let gone = crmstore(
        &db,
        &[
            "session",
            "check",
            "--token",
            second["token"].as_str().unwrap(),
            "--ip",
            "203.0.113.7",
            "--now",
            NOW,
        ],
    );
    assert_eq!(code(&gone), 4);
    assert_eq!(
        error_line(&gone),
        "error: not signed in: the session ended (revoked)"
    );
    let third = json(&open(&db, p, "1", NOW));
    let id = third["session"].to_string();
    assert_eq!(
        json(&crmstore(
            &db,
            &[
                "--json",
                "session",
                "revoke",
                "--account",
                "1",
                "--as",
                "1",
                &id,
                "--now",
                NOW
            ]
        ))["revoked"],
        1
    );
    // session close: log out this device.
    json(&crmstore(
        &db,
        &[
            "--json", "session", "close", "--token", &token, "--now", NOW,
        ],
    ));
    assert_eq!(
        code(&crmstore(
            &db,
            &[
                "session",
                "check",
                "--token",
                &token,
                "--ip",
                "203.0.113.7",
                "--now",
                NOW
            ]
        )),
        4
    );
    // A wrong password: exit 4, one line, the same as an unknown login.
    let bad = d.path().join("bad.txt");
    std::fs::write(&bad, "not the password").unwrap();
    for login in ["raj@acme.test", "nobody@acme.test"] {
        let o = sign(&db, login, bad.to_str().unwrap(), NOW, &[], false);
        assert_eq!(code(&o), 4);
        assert_eq!(error_line(&o), "error: login failed");
    }
    // Locked after five; login unlock by the admin.
    for _ in 0..4 {
        sign(&db, "raj@acme.test", bad.to_str().unwrap(), NOW, &[], false);
    }
    let locked = sign(&db, "raj@acme.test", p, NOW, &[], false);
    assert_eq!(code(&locked), 4);
    assert!(error_line(&locked).starts_with("error: login locked until"));
    let not_admin = crmstore(
        &db,
        &[
            "login",
            "unlock",
            "--account",
            "1",
            "--as",
            "3",
            "raj@acme.test",
            "--now",
            NOW,
        ],
    );
    assert_eq!(code(&not_admin), 4);
    json(&crmstore(
        &db,
        &[
            "--json",
            "login",
            "unlock",
            "--account",
            "1",
            "--as",
            "1",
            "raj@acme.test",
            "--now",
            NOW,
        ],
    ));
    json(&open(&db, p, "1", NOW));
    // auth log and auth verify.
    let refused = lines(&crmstore(
        &db,
        &[
            "--json",
            "auth",
            "log",
            "--account",
            "1",
            "--user",
            "3",
            "--since",
            "2026-01-01T00:00:00Z",
            "--outcome",
            "refused",
        ],
    ));
    assert!(refused.len() >= 6, "{refused:?}");
    for key in [
        "seq", "at", "login", "user", "ip", "device", "event", "outcome", "reason", "session",
        "hash",
    ] {
        assert!(refused[0].get(key).is_some(), "{key} in {}", refused[0]);
    }
    assert!(refused.iter().all(|e| e["outcome"] == "refused"));
    let all = stdout(&crmstore(&db, &["--json", "auth", "log", "--account", "1"]));
    assert!(all.contains("\"login.locked\"") && all.contains("\"login.unlock\""));
    assert!(
        !all.contains(&token) && !all.contains("correct horse"),
        "no secret in the log"
    );
    let v = json(&crmstore(
        &db,
        &["--json", "auth", "verify", "--account", "1"],
    ));
    assert_eq!(v["intact"], true);
    // An admin ending another user's session is in the audit log too.
    let audit = stdout(&crmstore(
        &db,
        &[
            "--json",
            "audit",
            "list",
            "--account",
            "1",
            "--action",
            "session.revoke",
        ],
    ));
    assert_eq!(audit.lines().count(), 1, "{audit}");
}

#[test]
fn totp_commands_enrol_confirm_sign_in_and_reset() {
    let d = tempfile::tempdir().unwrap();
    let (db, pw) = gated(d.path());
    let p = pw.to_str().unwrap();
    let enrolled = json(&crmstore(
        &db,
        &["--json", "totp", "enroll", "raj@acme.test", "--now", NOW],
    ));
    let secret = enrolled["secret"].as_str().unwrap();
    assert!(enrolled["uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let at = |rfc: &str| {
        let t = crmstore::Timestamp::parse(rfc).unwrap();
        let raw = totp_rs::Secret::try_from_base32(secret).unwrap();
        let totp = totp_rs::Builder::new().with_secret(raw).build().unwrap();
        totp.generate(u64::try_from(t.0 / 1_000_000).unwrap())
            .to_string()
    };
    let confirmed = json(&crmstore(
        &db,
        &[
            "--json",
            "totp",
            "confirm",
            "raj@acme.test",
            "--code",
            &at(NOW),
            "--now",
            NOW,
        ],
    ));
    let codes = confirmed["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let later = "2027-01-04T09:01:00Z";
    let needs = sign(&db, "raj@acme.test", p, later, &[], false);
    assert_eq!(code(&needs), 4);
    assert_eq!(error_line(&needs), "error: 2FA code required");
    let opened = json(&sign(
        &db,
        "raj@acme.test",
        p,
        later,
        &["--totp", &at(later)],
        true,
    ));
    assert_eq!(opened["user"], 3);
    let rec = codes[0].as_str().unwrap();
    json(&sign(
        &db,
        "raj@acme.test",
        p,
        later,
        &["--recovery", rec],
        true,
    ));
    let listed = sessions_as_raj(&db, later);
    assert!(
        listed.iter().all(|s| s["auth"] == "password+totp"),
        "{listed:?}"
    );
    let reset = json(&crmstore(
        &db,
        &[
            "--json",
            "totp",
            "reset",
            "--account",
            "1",
            "--as",
            "1",
            "3",
            "--now",
            later,
        ],
    ));
    assert_eq!(reset["sessions_ended"], 2);
    json(&open(&db, p, "1", later));
}
