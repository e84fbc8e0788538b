//! Issue 23: every backup command on an S3 bucket as on a folder, through
//! the real binary against moto on loopback (tests/it/moto.rs).

use std::path::Path;
use std::process::{Command, Output};

use crate::cli::{code, keygen, loaded, stdout, Serving};
use crate::moto::{Moto, Proxy};

/// A bucket `crm` on a fresh moto, and the loaded document's store with a key.
struct Setup {
    moto: Moto,
    env: Vec<(&'static str, String)>,
    dir: tempfile::TempDir,
    db: std::path::PathBuf,
    key: std::path::PathBuf,
    public: String,
}

fn setup() -> Option<Setup> {
    let moto = Moto::start(&[])?;
    moto.create_bucket("crm");
    let env = moto.env();
    let (dir, db) = loaded();
    let (key, public) = keygen(dir.path());
    Some(Setup {
        moto,
        env,
        dir,
        db,
        key,
        public,
    })
}

/// `crmstore --db DB --json ARGS` with `env` (the server's address and credentials).
fn command(db: &Path, env: &[(&'static str, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crmstore"));
    c.arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    c
}

fn run(db: &Path, env: &[(&'static str, String)], args: &[&str]) -> Output {
    command(db, env, args).output().unwrap()
}

/// `backup list --dir DIR`, one JSON value per archive.
fn list_json(db: &Path, env: &[(&'static str, String)], dir: &str) -> Vec<serde_json::Value> {
    json_lines(&ok(&run(db, env, &["backup", "list", "--dir", dir])))
}

/// `backup create --to TO --recipient PUBLIC EXTRA...`.
fn create(
    db: &Path,
    env: &[(&'static str, String)],
    to: &str,
    public: &str,
    extra: &[&str],
) -> Output {
    let args = [
        &["backup", "create", "--to", to, "--recipient", public][..],
        extra,
    ]
    .concat();
    run(db, env, &args)
}

/// A failed command: exit 1, one line naming `url`, no secret in it.
fn failed_naming(o: &Output, url: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(o), 1, "{err}");
    assert!(err.contains(url), "names the URL: {err}");
    assert!(!err.contains(crate::moto::SECRET), "{err}");
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
    let Some(Setup {
        moto,
        env,
        dir: d,
        db,
        key,
        public,
    }) = setup()
    else {
        return;
    };
    let key = key.to_str().unwrap();
    let bucket = "s3://crm/backups/nightly";
    let full = ok(&create(&db, &env, bucket, &public, &[]));
    let full = json_lines(&full)[0]["file"].as_str().unwrap().to_string();
    assert!(
        full.starts_with("s3://crm/backups/nightly/crmstore-full-manual-"),
        "{full}"
    );
    ok(&create(&db, &env, bucket, &public, &["--account", "1"]));
    let listed = list_json(&db, &env, bucket);
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
    let listed = list_json(&db, &env, bucket);
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
    let Some(Setup {
        moto,
        env,
        dir: _d,
        db,
        key,
        public,
    }) = setup()
    else {
        return;
    };
    let bucket = "s3://crm/weekly";
    let mut files = Vec::new();
    for _ in 0..3 {
        let o = ok(&create(&db, &env, bucket, &public, &["--kind", "weekly"]));
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
    let Some(Setup {
        moto,
        env,
        dir: _d,
        db,
        key,
        public,
    }) = setup()
    else {
        return;
    };
    let bucket = "s3://crm/b";
    let o = ok(&create(&db, &env, bucket, &public, &[]));
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
    let listed = list_json(&db, &env, bucket);
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
    let env = moto.env_through(&proxy);
    let o = create(&db, &env, "s3://crm/x", &public, &[]);
    failed_naming(&o, "s3://crm/x/crmstore-full-manual-");
    assert!(proxy.sent.load(std::sync::atomic::Ordering::SeqCst) > 8 << 20);
    assert!(
        list_json(&db, &moto.env(), "s3://crm/x").is_empty(),
        "nothing listed"
    );
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
    let o = create(&db, &moto.env(), "s3://crm/y", &public, &[]);
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
    failed_naming(&create(&db, &env, "s3://crm/z", &public, &[]), "s3://crm/z");
    let o = run(&db, &env, &["backup", "list", "--dir", "s3://crm/z"]);
    failed_naming(&o, "s3://crm/z");
}

#[test]
fn serve_backs_up_to_a_bucket_named_in_its_config() {
    let Some(Setup {
        moto: _moto,
        env,
        dir: d,
        db,
        key: _,
        public,
    }) = setup()
    else {
        return;
    };
    let config = d.path().join("serve.toml");
    std::fs::write(
        &config,
        format!("[backup]\ndir = \"s3://crm/served\"\nrecipients = [{public:?}]\n"),
    )
    .unwrap();
    let serving = Serving::start(command(
        &db,
        &env,
        &["serve", "--config", config.to_str().unwrap()],
    ));
    let (status, log) = serving.stop();
    assert_eq!(status, Some(0), "{log}");
    let listed = list_json(&db, &env, "s3://crm/served");
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
    let env = moto.env_through(&proxy);
    let mut child = command(&db, &env, &["backup", "create", "--to", "s3://crm/k"])
        .args(["--recipient", &public])
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
    assert!(
        list_json(&db, &moto.env(), "s3://crm/k").is_empty(),
        "nothing listed"
    );
    let keys = moto.keys("crm", "k/");
    assert!(
        keys.iter().all(|k| k.starts_with("k/.crmstore-claim-")),
        "at most the name's claim is left: {keys:?}"
    );
    // The next backup goes on beside it.
    let o = ok(&create(&db, &moto.env(), "s3://crm/k", &public, &[]));
    assert!(json_lines(&o)[0]["file"]
        .as_str()
        .unwrap()
        .starts_with("s3://crm/k/crmstore-full-manual-"));
    assert_eq!(list_json(&db, &moto.env(), "s3://crm/k").len(), 1);
}
