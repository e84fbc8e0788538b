//! Backups: round trips, account restore (replace and as-new), every bad
//! archive refused without writing, consistency under concurrent writers,
//! retention, list integrity and scheduler catch-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crmstore::backup::{self, BackupOptions, Decryption, Encryption, Keep, Kind};
use crmstore::schedule::{BackupScheduler, ScheduleConfig};
use crmstore::{Cascade, Deleted, Error, NewRecord, NoProgress, Query, Store, Timestamp};
use serde::Serialize;

use crate::common::{fixture, Fixture};

struct Keys {
    _dir: tempfile::TempDir,
    file: PathBuf,
    public: String,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.txt");
    let public = backup::keygen(&file).unwrap();
    Keys {
        _dir: dir,
        file,
        public,
    }
}

fn archive(store: &Store, dir: &Path, k: &Keys, account: Option<u64>, kind: Kind) -> PathBuf {
    let opts = BackupOptions {
        dir: dir.into(),
        encryption: Encryption::recipients(&[&k.public]).unwrap(),
        account,
        kind,
    };
    store.operator().backup(&opts, &NoProgress).unwrap().file
}

fn key(k: &Keys) -> Decryption {
    Decryption::identity_file(&k.file).unwrap()
}

/// A second account beside the fixture's, so full archives hold two.
fn two_accounts() -> Fixture {
    let f = fixture();
    let mut doc = f.store.operator().dump_json(1).unwrap();
    doc["account"]["id"] = 2.into();
    doc["account"]["name"] = "Beta".into();
    f.store.operator().load_json(&doc.to_string()).unwrap();
    let raj = f.ctx(3);
    let Deleted { batch: b, count: _ } = f.store.delete(&raj, &[2], Cascade::No).unwrap();
    assert!(b > 0);
    f
}

#[test]
fn a_full_archive_restores_to_an_identical_store() {
    let f = two_accounts();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let file = archive(&f.store, out.path(), &k, None, Kind::Manual);
    let rep = backup::verify(&file, &key(&k), &NoProgress).unwrap();
    assert!(rep.is_intact(), "{:?}", rep.problems);
    assert_eq!(rep.accounts, [1, 2]);
    let to = out.path().join("restored.redb");
    backup::restore_store(&file, &key(&k), &to, &NoProgress).unwrap();
    let restored = Store::open(&to).unwrap();
    for a in [1, 2] {
        assert_eq!(
            restored.operator().dump_json(a).unwrap(),
            f.store.operator().dump_json(a).unwrap()
        );
    }
    assert!(restored.operator().check().unwrap().is_consistent());
    let raj = restored.operator().context(1, 3).unwrap();
    assert_eq!(
        restored.trash_list(&raj).unwrap().len(),
        1,
        "the trash came along"
    );
    let log = restored.operator().audit_list(1, None, None).unwrap();
    assert_eq!(log.last().unwrap().action, "backup.restore");
    assert!(restored
        .operator()
        .audit_verify(1)
        .unwrap()
        .broken
        .is_none());
    assert!(
        matches!(
            backup::restore_store(&file, &key(&k), &to, &NoProgress),
            Err(Error::Conflict(_))
        ),
        "never overwrites"
    );
}

#[test]
fn one_account_replaces_a_damaged_live_account_and_keeps_its_log() {
    let f = two_accounts();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let file = archive(&f.store, out.path(), &k, None, Kind::Weekly);
    let before = f.store.operator().dump_json(1).unwrap();
    let other = f.store.operator().dump_json(2).unwrap();
    let ada = f.ctx(1);
    f.store.delete(&ada, &[1, 3, 4], Cascade::Yes).unwrap();
    let live_log = f.store.operator().audit_list(1, None, None).unwrap().len();
    f.store
        .operator()
        .restore_account(&file, &key(&k), 1, None)
        .unwrap();
    assert_eq!(
        f.store.operator().dump_json(1).unwrap()["records"],
        before["records"]
    );
    assert_eq!(
        f.store.operator().dump_json(2).unwrap(),
        other,
        "the other account is untouched"
    );
    let log = f.store.operator().audit_list(1, None, None).unwrap();
    assert_eq!(log.len(), live_log + 1, "live log kept, restore appended");
    assert_eq!(log.last().unwrap().action, "backup.restore");
    assert!(f.store.operator().audit_verify(1).unwrap().broken.is_none());
    assert!(f.store.operator().check().unwrap().is_consistent());
    let next = f.store.create(&f.ctx(3), NewRecord::new("deals")).unwrap();
    assert!(next.id > 6, "ids are never reused after a restore");
}

#[test]
fn as_new_lands_beside_with_only_the_account_id_changed() {
    let f = fixture();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let file = archive(&f.store, out.path(), &k, Some(1), Kind::Manual);
    f.store
        .operator()
        .restore_account(&file, &key(&k), 1, Some(7))
        .unwrap();
    let (a, b) = (
        f.store.operator().dump_json(1).unwrap(),
        f.store.operator().dump_json(7).unwrap(),
    );
    assert_eq!(a["records"], b["records"]);
    assert_eq!(b["account"]["id"], 7);
    assert_eq!(
        f.store
            .operator()
            .audit_list(7, None, None)
            .unwrap()
            .first()
            .unwrap()
            .action,
        "account.load",
        "archived log taken"
    );
    assert!(f.store.operator().audit_verify(7).unwrap().broken.is_none());
    let ctx = f.store.operator().context(7, 3).unwrap();
    assert_eq!(crate::common::ids(&f.store, &ctx, "deals"), [1, 2]);
    assert!(matches!(
        f.store
            .operator()
            .restore_account(&file, &key(&k), 1, Some(7)),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        f.store.operator().restore_account(&file, &key(&k), 2, None),
        Err(Error::NotFound(_))
    ));
}

/// Files in `dir`, to prove a refused restore wrote nothing.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn refused(f: &Fixture, file: &Path, k: &Decryption, out: &Path) -> Error {
    let before = f.store.operator().dump_json(1).unwrap();
    let listing = files(out);
    let verify = backup::verify(file, k, &NoProgress).map(|r| r.problems);
    let to = out.join("new.redb");
    let whole = backup::restore_store(file, k, &to, &NoProgress).unwrap_err();
    let one = f
        .store
        .operator()
        .restore_account(file, k, 1, None)
        .unwrap_err();
    assert_eq!(files(out), listing, "a refused restore left files behind");
    assert_eq!(
        f.store.operator().dump_json(1).unwrap(),
        before,
        "a refused restore changed the live account"
    );
    assert!(
        !matches!(verify, Ok(ref p) if p.is_empty()),
        "verify passed a bad archive"
    );
    for e in [&whole, &one] {
        assert!(
            matches!(
                e,
                Error::Corrupt(_) | Error::Crypto(_) | Error::Incompatible(_)
            ),
            "{e}"
        );
    }
    one
}

#[test]
fn bad_archives_are_refused_before_anything_is_written() {
    let f = fixture();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let file = archive(&f.store, out.path(), &k, None, Kind::Manual);
    let bytes = std::fs::read(&file).unwrap();
    let bad = |name: &str, content: &[u8]| {
        let p = out.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    };
    let wrong = keys();
    let e = refused(&f, &file, &key(&wrong), out.path());
    assert!(matches!(e, Error::Crypto(_)), "wrong key: {e}");
    let e = refused(
        &f,
        &bad("truncated.age", &bytes[..bytes.len() - 100]),
        &key(&k),
        out.path(),
    );
    assert!(
        e.to_string().contains("truncated") || e.to_string().contains("damaged"),
        "{e}"
    );
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let e = refused(&f, &bad("flipped.age", &flipped), &key(&k), out.path());
    assert!(e.to_string().contains("damaged"), "{e}");
    refused(
        &f,
        &bad("plain.age", b"this is not an archive at all"),
        &key(&k),
        out.path(),
    );
    let e = refused(
        &f,
        &bad("newer.age", &newer_format_archive(&k.public)),
        &key(&k),
        out.path(),
    );
    assert!(matches!(e, Error::Incompatible(_)), "{e}");
}

/// The crate's header item, mirrored: postcard is not self-describing, so
/// the same shapes encode to the same bytes.
#[derive(Serialize)]
enum MirrorItem {
    Header {
        magic: [u8; 8],
        format: u32,
        created_at: i64,
        scope: MirrorScope,
        kind: u32,
        store_id: [u8; 16],
    },
}
#[derive(Serialize)]
enum MirrorScope {
    Full,
}

fn newer_format_archive(public: &str) -> Vec<u8> {
    let item = MirrorItem::Header {
        magic: *b"CRMSARCH",
        format: 99,
        created_at: 0,
        scope: MirrorScope::Full,
        kind: 0,
        store_id: [0; 16],
    };
    let body = postcard::to_allocvec(&item).unwrap();
    let mut plain = (body.len() as u32).to_le_bytes().to_vec();
    plain.extend_from_slice(&body);
    let frame = zstd::bulk::compress(&plain, 3).unwrap();
    let mut out = 0x184D_2A50u32.to_le_bytes().to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(frame.len() as u64).to_le_bytes());
    out.extend_from_slice(&frame);
    let r: age::x25519::Recipient = public.parse().unwrap();
    age::encrypt(&r, &out).unwrap()
}

#[test]
fn a_restore_larger_than_one_landing_batch_is_whole() {
    // A full restore lands ~65,000 items per write transaction; this account
    // takes two, and a second account follows in a third.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("big.redb")).unwrap();
    for (account, records) in [(1, 70_000), (2, 10)] {
        let spec = crmstore::synth::GenSpec {
            account,
            records,
            users: 20,
            teams: 3,
            seed: 7,
        };
        store.operator().generate(&spec, &NoProgress).unwrap();
    }
    let k = keys();
    let file = archive(&store, dir.path(), &k, None, Kind::Manual);
    let to = dir.path().join("r.redb");
    let counts = backup::restore_store(&file, &key(&k), &to, &NoProgress).unwrap();
    assert_eq!(counts.records, 70_010);
    let restored = Store::open(&to).unwrap();
    assert!(restored.operator().check().unwrap().is_consistent());
    for a in [1, 2] {
        assert_eq!(
            restored.operator().dump_json(a).unwrap(),
            store.operator().dump_json(a).unwrap()
        );
    }
}

#[test]
fn a_backup_is_one_point_in_time_while_writers_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("c.redb")).unwrap());
    store.operator().load_json(crate::common::DOC).unwrap();
    let k = keys();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            let raj = store.operator().context(1, 3).unwrap();
            for i in 0..300 {
                store
                    .create(&raj, NewRecord::new("deals").field("i", i as i64))
                    .unwrap();
            }
        })
    };
    let file = archive(&store, dir.path(), &k, None, Kind::Manual);
    writer.join().unwrap();
    let rep = backup::verify(&file, &key(&k), &NoProgress).unwrap();
    assert!(rep.is_intact());
    let to = dir.path().join("r.redb");
    backup::restore_store(&file, &key(&k), &to, &NoProgress).unwrap();
    let restored = Store::open(&to).unwrap();
    let ids = crate::common::ids(
        &restored,
        &restored.operator().context(1, 1).unwrap(),
        "deals",
    );
    // A consecutive prefix of the creations: never a record without its predecessors.
    let created: Vec<u64> = ids.iter().copied().filter(|&i| i > 6).collect();
    assert!(created.windows(2).all(|w| w[1] == w[0] + 1), "{created:?}");
    assert_eq!(
        rep.counts.records,
        ids.len() as u64 + 2,
        "deals plus comment and lead"
    );
    assert!(restored.operator().check().unwrap().is_consistent());
}

#[test]
fn list_shows_damage_and_prune_keeps_the_right_files() {
    let f = fixture();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let mut weekly = Vec::new();
    for _ in 0..3 {
        weekly.push(archive(&f.store, out.path(), &k, None, Kind::Weekly));
    }
    let manual = archive(&f.store, out.path(), &k, None, Kind::Manual);
    let monthly = archive(&f.store, out.path(), &k, None, Kind::Monthly);
    let listed = backup::list(out.path()).unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|l| l.intact));
    // Verified, then damaged: its verification no longer counts.
    assert!(backup::record_verified(&weekly[2], Timestamp::now()).unwrap());
    let mut bytes = std::fs::read(&weekly[2]).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&weekly[2], bytes).unwrap();
    let listed = backup::list(out.path()).unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|l| !l.intact)
            .map(|l| l.file.clone())
            .collect::<Vec<_>>(),
        [weekly[2].clone()]
    );
    let keep = Keep {
        weekly: 2,
        monthly: 0,
    };
    // Nothing verified (that is still the file): nothing goes.
    let plan = backup::prune(out.path(), Timestamp::now(), keep).unwrap();
    assert_eq!(plan.iter().filter(|d| !d.keep).count(), 0, "{plan:?}");
    assert!(weekly[0].exists() && monthly.exists());
    // weekly[1] verified: the weekly older than it goes; the lone monthly
    // has no newer verified monthly and stays.
    assert!(backup::verify(&weekly[1], &key(&k), &NoProgress)
        .unwrap()
        .is_intact());
    assert!(backup::record_verified(&weekly[1], Timestamp::now()).unwrap());
    assert!(backup::list(out.path())
        .unwrap()
        .iter()
        .any(|l| l.verified && l.file == weekly[1]));
    let plan = backup::prune(out.path(), Timestamp::now(), keep).unwrap();
    assert_eq!(plan.iter().filter(|d| !d.keep).count(), 1, "{plan:?}");
    for (p, exists) in [
        (&weekly[0], false),
        (&weekly[1], true),
        (&weekly[2], true),
        (&manual, true),
        (&monthly, true),
    ] {
        assert_eq!(p.exists(), exists, "{}", p.display());
        assert_eq!(backup::sidecar_path(p).exists(), exists);
    }
}

#[test]
fn the_scheduler_catches_up_a_missed_run_exactly_once() {
    let f = fixture();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("b");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".crmstore-full-weekly-x.age.tmp"),
        b"left by a killed run",
    )
    .unwrap();
    let cfg = ScheduleConfig::parse(&format!(
        "[backup]\ndir = {:?}\nrecipients = [{:?}]\nweekly = \"0 0 3 * * Sun\"\nmonthly = \"0 0 4 1 * *\"\n",
        dir.display().to_string(),
        k.public
    ))
    .unwrap();
    let store = Arc::new(Store::open(out.path().join("s.redb")).unwrap());
    store.operator().load_json(crate::common::DOC).unwrap();
    drop(f);
    let sched = BackupScheduler::new(store.clone(), cfg).unwrap();
    let now = Timestamp::now();
    assert_eq!(
        sched.catch_up(now).unwrap(),
        [Kind::Weekly, Kind::Monthly],
        "no archives yet: both are due"
    );
    assert!(
        !dir.join(".crmstore-full-weekly-x.age.tmp").exists(),
        "temporary file of a killed run removed"
    );
    assert!(
        sched.catch_up(now).unwrap().is_empty(),
        "caught up once, not again"
    );
    // Seen from four weeks on, the weekly run is due once more, and only once.
    let later = now.plus_secs(28 * 86_400);
    let listed = backup::list(&dir).unwrap().len();
    let ran = sched.catch_up(later).unwrap();
    assert!(ran.contains(&Kind::Weekly));
    assert_eq!(backup::list(&dir).unwrap().len(), listed + ran.len());
    assert_eq!(
        store
            .count(
                &store.operator().context(1, 1).unwrap(),
                &Query::module("deals")
            )
            .unwrap(),
        4
    );
}

#[test]
fn the_reference_age_and_zstd_tools_read_an_archive() {
    let have = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("age") || !have("zstd") {
        eprintln!(
            "skipped: the `age` and `zstd` binaries are not installed (.ci/run installs them)"
        );
        return;
    }
    let f = fixture();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let file = archive(&f.store, out.path(), &k, None, Kind::Manual);
    let cmd = format!(
        "age -d -i {:?} {:?} | zstd -d",
        k.file.display().to_string(),
        file.display().to_string()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plain = o.stdout;
    assert!(
        plain.windows(8).any(|w| w == b"CRMSARCH"),
        "the header is readable"
    );
    assert!(
        plain.windows(3).any(|w| w == b"ada"),
        "the directory is readable"
    );
}

#[test]
fn serve_verifies_each_scheduled_archive_and_a_failed_run_alerts_instead_of_pruning() {
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("b");
    let path = out.path().join("s.redb");
    let cfg = ScheduleConfig::parse(&format!(
        "[backup]\ndir = {:?}\nrecipients = [{:?}]\nidentity = {:?}\nkeep_weekly = 1\n",
        dir.display().to_string(),
        k.public,
        k.file.display().to_string(),
    ))
    .unwrap();
    let store = Arc::new(Store::open(&path).unwrap());
    store.operator().load_json(crate::common::DOC).unwrap();
    let sched = BackupScheduler::new(store.clone(), cfg).unwrap();
    let first = sched.run_now(Kind::Weekly).unwrap().unwrap().file;
    let second = sched.run_now(Kind::Weekly).unwrap().unwrap().file;
    let listed = backup::list(&dir).unwrap();
    assert!(
        listed.iter().all(|l| l.verified),
        "each run verified its archive"
    );
    assert!(
        !first.exists() && second.exists(),
        "keep 1, the newer verified"
    );
    // A damaged record: the run fails, alerts, and prunes nothing.
    drop(sched);
    drop(store);
    crate::common::damage_record(&path, 2, |b| b.truncate(b.len() / 2));
    let store = Arc::new(Store::open(&path).unwrap());
    let cfg = ScheduleConfig::parse(&format!(
        "[backup]\ndir = {:?}\nrecipients = [{:?}]\nidentity = {:?}\nkeep_weekly = 0\n",
        dir.display().to_string(),
        k.public,
        k.file.display().to_string(),
    ))
    .unwrap();
    let sched = BackupScheduler::new(store.clone(), cfg).unwrap();
    let e = sched.run_now(Kind::Weekly).unwrap_err();
    assert!(e.to_string().contains("record `2` of account `1`"), "{e}");
    assert!(
        second.exists(),
        "the last good archive is never pruned by a failed run"
    );
    assert_eq!(backup::list(&dir).unwrap().len(), 1);
    let alert = store
        .operator()
        .audit_list(1, None, Some("backup.failed"))
        .unwrap();
    assert_eq!(alert.len(), 1);
    assert!(alert[0].detail.contains("backup stopped"), "{:?}", alert[0]);
}

#[test]
fn an_archive_whose_sidecar_was_lost_is_reported_and_verify_rebuilds_it() {
    let f = two_accounts();
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let file = archive(&f.store, out.path(), &k, None, Kind::Weekly);
    let sidecar = backup::sidecar_path(&file);
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let original = read(&sidecar);
    std::fs::remove_file(&sidecar).unwrap();
    assert!(backup::list(out.path()).unwrap().is_empty());
    assert_eq!(
        backup::unlisted(out.path()).unwrap(),
        std::slice::from_ref(&file)
    );
    let rep = backup::verify(&file, &key(&k), &NoProgress).unwrap();
    assert!(backup::rebuild_sidecar(&file, &rep).unwrap());
    assert_eq!(read(&sidecar), original, "derived data, rebuilt whole");
    assert!(
        !backup::rebuild_sidecar(&file, &rep).unwrap(),
        "only when missing"
    );
    assert!(backup::unlisted(out.path()).unwrap().is_empty());
    assert!(backup::list(out.path()).unwrap()[0].intact);
}

#[test]
fn scheduled_runs_are_reported_to_the_hook_and_the_library_prints_nothing() {
    let k = keys();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("b");
    let cfg = ScheduleConfig::parse(&format!(
        "[backup]\ndir = {:?}\nrecipients = [{:?}]\nweekly = \"* * * * * *\"\n[trash]\npurge = \"* * * * * *\"\n",
        dir.display().to_string(),
        k.public,
    ))
    .unwrap();
    let store = Arc::new(Store::open(out.path().join("s.redb")).unwrap());
    store.operator().load_json(crate::common::DOC).unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let heard = seen.clone();
    let mut sched = BackupScheduler::new(store, cfg)
        .unwrap()
        .on_run(move |e| heard.lock().unwrap().push((e.what, e.outcome.is_ok())));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        sched.start().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        sched.stop().await.unwrap();
    });
    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&("weekly backup".to_string(), true)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("trash purge-expired".to_string(), true)),
        "{seen:?}"
    );
}
