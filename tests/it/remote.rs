//! Issue 23: every backup command on an S3 bucket as on a folder, through
//! the real binary against moto on loopback (tests/it/moto.rs).

use std::path::Path;
use std::process::{Command, Output};

use crate::cli::{code, keygen, loaded, stdout};
use crate::moto::{Moto, Proxy};

/// `crmstore --db DB ARGS` with `env` (the server's address and credentials).
fn run(db: &Path, env: &[(&'static str, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    stdout(o)
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Records in [`big`]: an archive of ~10 MB, more than one 8 MiB part.
const BIG: u64 = 300_000;

/// A copy, in `dir`, of a store of [`BIG`] generated records (generated once
/// for every test that needs one).
fn big(dir: &Path) -> std::path::PathBuf {
    static MADE: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    let (_, made) = MADE.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("big.redb");
        let store = crmstore::Store::open(&db).unwrap();
        let spec = crmstore::synth::GenSpec {
            account: 1,
            records: BIG,
            users: 20,
            teams: 3,
            seed: 3,
        };
        store
            .operator()
            .generate(&spec, &crmstore::NoProgress)
            .unwrap();
        (d, db)
    });
    let db = dir.join("big.redb");
    std::fs::copy(made, &db).unwrap();
    db
}

#[test]
fn full_and_account_archives_round_trip_through_a_bucket() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let env = moto.env();
    let (d, db) = loaded();
    let (key, public) = keygen(d.path());
    let key = key.to_str().unwrap();
    let bucket = "s3://crm/backups/nightly";
    let full = ok(&run(
        &db,
        &env,
        &["backup", "create", "--to", bucket, "--recipient", &public],
    ));
    let full = json_lines(&full)[0]["file"].as_str().unwrap().to_string();
    assert!(
        full.starts_with("s3://crm/backups/nightly/crmstore-full-manual-"),
        "{full}"
    );
    ok(&run(
        &db,
        &env,
        &[
            "backup",
            "create",
            "--to",
            bucket,
            "--recipient",
            &public,
            "--account",
            "1",
        ],
    ));
    let listed = json_lines(&ok(&run(&db, &env, &["backup", "list", "--dir", bucket])));
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|l| l["intact"] == true && l["verified"] == false));
    assert_eq!(listed[0]["file"], full.as_str(), "the file is its full URL");
    // Archive, sidecar, and no claim or anything else left behind.
    let mut keys = moto.keys("crm", "backups/nightly/");
    keys.sort();
    assert_eq!(keys.len(), 4, "{keys:?}");

    let v = json_lines(&ok(&run(
        &db,
        &env,
        &["backup", "verify", &full, "--identity", key],
    )));
    assert_eq!(
        (v[0]["intact"].as_bool(), v[0]["recorded"].as_bool()),
        (Some(true), Some(true))
    );
    let listed = json_lines(&ok(&run(&db, &env, &["backup", "list", "--dir", bucket])));
    assert_eq!(listed[0]["verified"], true);

    // The whole store, into a new file.
    let to = d.path().join("restored.redb");
    ok(&run(
        &db,
        &env,
        &[
            "backup",
            "restore",
            &full,
            "--identity",
            key,
            "--to",
            to.to_str().unwrap(),
        ],
    ));
    let dump = |p: &Path| ok(&run(p, &[], &["dump", "--account", "1"]));
    assert_eq!(dump(&to), dump(&db));
    // One account, from the full archive, as a new one.
    ok(&run(
        &db,
        &env,
        &[
            "backup",
            "restore",
            &full,
            "--identity",
            key,
            "--account",
            "1",
            "--as-new",
            "9",
        ],
    ));
    let o = run(&db, &[], &["check"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let restored = ok(&run(&db, &[], &["dump", "--account", "9"]));
    assert!(
        restored.contains("\"id\": 9") || restored.contains("\"id\":9"),
        "{restored}"
    );
}

#[test]
fn prune_on_a_bucket_removes_what_retention_lets_go() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let env = moto.env();
    let (d, db) = loaded();
    let (key, public) = keygen(d.path());
    let bucket = "s3://crm/weekly";
    let mut files = Vec::new();
    for _ in 0..3 {
        let o = ok(&run(
            &db,
            &env,
            &[
                "backup",
                "create",
                "--to",
                bucket,
                "--recipient",
                &public,
                "--kind",
                "weekly",
            ],
        ));
        files.push(json_lines(&o)[0]["file"].as_str().unwrap().to_string());
    }
    let newest = files.last().unwrap();
    ok(&run(
        &db,
        &env,
        &[
            "backup",
            "verify",
            newest,
            "--identity",
            key.to_str().unwrap(),
        ],
    ));
    ok(&run(
        &db,
        &env,
        &["backup", "prune", "--dir", bucket, "--keep-weekly", "1"],
    ));
    let keys = moto.keys("crm", "weekly/");
    let newest_name = newest.rsplit('/').next().unwrap();
    assert_eq!(
        keys,
        [
            format!("weekly/{newest_name}"),
            format!("weekly/{newest_name}.json")
        ],
        "the two older archives and their sidecars went"
    );
}

#[test]
fn an_archive_without_its_sidecar_is_not_listed_until_verify_rebuilds_it() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let env = moto.env();
    let (d, db) = loaded();
    let (key, public) = keygen(d.path());
    let bucket = "s3://crm/b";
    let o = ok(&run(
        &db,
        &env,
        &["backup", "create", "--to", bucket, "--recipient", &public],
    ));
    let file = json_lines(&o)[0]["file"].as_str().unwrap().to_string();
    let name = file.rsplit('/').next().unwrap();
    moto.delete("crm", &format!("b/{name}.json"));
    let o = run(&db, &env, &["backup", "list", "--dir", bucket]);
    assert_eq!(ok(&o), "", "nothing listed");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&file) && err.contains("not listed"), "{err}");
    ok(&run(
        &db,
        &env,
        &[
            "backup",
            "verify",
            &file,
            "--identity",
            key.to_str().unwrap(),
        ],
    ));
    let listed = json_lines(&ok(&run(&db, &env, &["backup", "list", "--dir", bucket])));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["intact"], true);
}

/// The audit events of account 1 (what a failed backup must not add to).
fn audit_len(db: &Path) -> usize {
    ok(&run(db, &[], &["audit", "list", "--account", "1"]))
        .lines()
        .count()
}

#[test]
fn a_server_lost_mid_upload_leaves_nothing_listed_and_the_store_as_it_was() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let d = tempfile::tempdir().unwrap();
    let db = big(d.path());
    let (_, public) = keygen(d.path());
    let before = audit_len(&db);
    // The connection drops once 9 MiB have gone up: in the second part.
    let proxy = Proxy::start(moto.port, 9 << 20);
    let mut env = moto.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", proxy.endpoint()));
    let o = run(
        &db,
        &env,
        &[
            "backup",
            "create",
            "--to",
            "s3://crm/x",
            "--recipient",
            &public,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 1, "{err}");
    assert!(
        err.contains("s3://crm/x/crmstore-full-manual-"),
        "names the URL: {err}"
    );
    assert!(!err.contains("testing-secret-value"), "{err}");
    assert!(proxy.sent.load(std::sync::atomic::Ordering::SeqCst) > 8 << 20);
    let listed = ok(&run(
        &db,
        &moto.env(),
        &["backup", "list", "--dir", "s3://crm/x"],
    ));
    assert_eq!(listed, "", "nothing listed");
    assert!(
        moto.keys("crm", "x/crmstore-").is_empty(),
        "no archive object and no sidecar"
    );
    assert_eq!(audit_len(&db), before, "no backup.create");
}

#[test]
fn a_backup_that_fails_after_its_first_parts_aborts_its_upload() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let d = tempfile::tempdir().unwrap();
    let db = big(d.path());
    // The last record is damaged: the archive fails after its first part went up.
    crate::common::damage_record(&db, BIG, |b| {
        b.pop();
    });
    let (_, public) = keygen(d.path());
    let o = run(
        &db,
        &moto.env(),
        &[
            "backup",
            "create",
            "--to",
            "s3://crm/y",
            "--recipient",
            &public,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 5, "{err}");
    assert!(err.contains("backup stopped"), "{err}");
    assert_eq!(
        moto.open_uploads("crm"),
        0,
        "the multipart upload was aborted"
    );
    assert!(moto.keys("crm", "y/crmstore-").is_empty());
}

#[test]
fn wrong_credentials_are_a_clear_error_that_shows_no_secret() {
    // Authentication from the first request on: the test's keys are unknown.
    let Some(moto) = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]) else {
        return;
    };
    let (d, db) = loaded();
    let (_, public) = keygen(d.path());
    let env = moto.env();
    let o = run(
        &db,
        &env,
        &[
            "backup",
            "create",
            "--to",
            "s3://crm/z",
            "--recipient",
            &public,
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("s3://crm/z"), "{err}");
    assert!(!err.contains("testing-secret-value"), "{err}");
    let o = run(&db, &env, &["backup", "list", "--dir", "s3://crm/z"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn serve_backs_up_to_a_bucket_named_in_its_config() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let env = moto.env();
    let (d, db) = loaded();
    let (_, public) = keygen(d.path());
    let config = d.path().join("serve.toml");
    std::fs::write(
        &config,
        format!("[backup]\ndir = \"s3://crm/served\"\nrecipients = [{public:?}]\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--config"])
        .arg(&config)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // "running" comes once the catch-up (a weekly and a monthly archive) is
    // done; serve's log is read to its end (it writes as it stops).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap();
            if line.contains("running") {
                let _ = tx.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("serve did not start");
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    let listed = json_lines(&ok(&run(
        &db,
        &env,
        &["backup", "list", "--dir", "s3://crm/served"],
    )));
    let kinds: Vec<&str> = listed.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds.len(), 2, "{log}");
    assert!(
        kinds.contains(&"weekly") && kinds.contains(&"monthly"),
        "{kinds:?}"
    );
    assert!(listed.iter().all(|l| l["intact"] == true));
}

#[test]
fn a_backup_killed_mid_upload_leaves_nothing_listed() {
    let Some(moto) = Moto::start(&[]) else { return };
    moto.create_bucket("crm");
    let d = tempfile::tempdir().unwrap();
    let db = big(d.path());
    let (_, public) = keygen(d.path());
    let proxy = Proxy::start(moto.port, u64::MAX);
    let mut env = moto.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", proxy.endpoint()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmstore"))
        .arg("--db")
        .arg(&db)
        .args([
            "backup",
            "create",
            "--to",
            "s3://crm/k",
            "--recipient",
            &public,
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .spawn()
        .unwrap();
    // Killed once its first part is on its way.
    let start = std::time::Instant::now();
    while proxy.sent.load(std::sync::atomic::Ordering::SeqCst) < 1 << 20 {
        assert!(start.elapsed() < std::time::Duration::from_secs(120));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = ok(&run(
        &db,
        &moto.env(),
        &["backup", "list", "--dir", "s3://crm/k"],
    ));
    assert_eq!(listed, "", "nothing listed");
    let keys = moto.keys("crm", "k/");
    assert!(
        keys.iter().all(|k| k.starts_with("k/.crmstore-claim-")),
        "at most the name's claim is left: {keys:?}"
    );
    // The next backup goes on beside it.
    let o = ok(&run(
        &db,
        &moto.env(),
        &[
            "backup",
            "create",
            "--to",
            "s3://crm/k",
            "--recipient",
            &public,
        ],
    ));
    assert!(json_lines(&o)[0]["file"]
        .as_str()
        .unwrap()
        .starts_with("s3://crm/k/crmstore-full-manual-"));
    assert_eq!(
        json_lines(&ok(&run(
            &db,
            &moto.env(),
            &["backup", "list", "--dir", "s3://crm/k"]
        )))
        .len(),
        1
    );
}
