//! Backups on object storage (issue 23), through the `crmstore` binary against
//! moto on loopback with a byte-counting proxy in front: a full backup of the
//! 1M-record store to a bucket and to a folder (time, peak memory), then one
//! 1,000-record account out of the remote full archive against the whole
//! archive restored (bytes fetched, time).
//! `cargo bench --bench remote` (needs moto: `.ci/moto.sh`; peak memory needs
//! GNU time at /usr/bin/time).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;

#[path = "../tests/it/moto.rs"]
#[allow(dead_code, reason = "the tests' harness, partly used here")]
mod moto;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crmstore::synth::GenSpec;
use crmstore::{NoProgress, Store};

const BIN: &str = env!("CARGO_BIN_EXE_crmstore");

/// Runs the binary with `env`; its wall time and, where GNU time is, peak RSS (MiB).
fn timed(env: &[(&'static str, String)], args: &[&str]) -> (Duration, Option<f64>, String) {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "peak-rss-kib %M", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let start = Instant::now();
    let o = cmd.output().unwrap();
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?}: {err}");
    let rss = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib "))
        .and_then(|k| k.trim().parse::<f64>().ok())
        .map(|k| k / 1024.0);
    (took, rss, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn shown(rss: Option<f64>) -> String {
    rss.map_or_else(|| "n/a".into(), |m| format!("{m:.1}"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let Some(moto) = moto::Moto::start(&[]) else {
        return;
    };
    moto.create_bucket("bench");
    let proxy = moto::Proxy::start(moto.port, u64::MAX);
    let env = moto.env_through(&proxy);

    let (dir, db) = support::copy_of(1_000_000, "remote");
    let spec = GenSpec {
        account: 2,
        records: 1_000,
        users: 20,
        teams: 3,
        seed: 9,
    };
    Store::open(&db)
        .unwrap()
        .operator()
        .generate(&spec, &NoProgress)
        .unwrap();
    let key = dir.path().join("k.txt");
    let (_, _, public) = timed(&[], &["backup", "keygen", "--out", key.to_str().unwrap()]);
    let (key, public, db) = (key.to_str().unwrap(), public.trim(), db.to_str().unwrap());

    let folder = dir.path().join("archives");
    let (t, rss, _) = timed(
        &env,
        &[
            "--db",
            db,
            "backup",
            "create",
            "--to",
            folder.to_str().unwrap(),
            "--recipient",
            public,
        ],
    );
    println!(
        "full backup to a folder: {:.2} s, peak RSS {} MiB",
        t.as_secs_f64(),
        shown(rss)
    );
    let up = proxy.sent.load(Ordering::SeqCst);
    let (t, rss, out) = timed(
        &env,
        &[
            "--db",
            db,
            "--json",
            "backup",
            "create",
            "--to",
            "s3://bench/full",
            "--recipient",
            public,
        ],
    );
    let sent = proxy.sent.load(Ordering::SeqCst) - up;
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let (url, size) = (
        v["file"].as_str().unwrap().to_string(),
        v["size"].as_u64().unwrap(),
    );
    println!(
        "full backup to s3 (multipart, 8 MiB parts): {:.2} s, peak RSS {} MiB, archive {:.1} MiB, {:.1} MiB sent",
        t.as_secs_f64(),
        shown(rss),
        mib(size),
        mib(sent)
    );

    let mut one = Vec::new();
    for as_new in 3..8u64 {
        let before = proxy.received.load(Ordering::SeqCst);
        let n = as_new.to_string();
        let (t, _, _) = timed(
            &env,
            &[
                "--db",
                db,
                "backup",
                "restore",
                &url,
                "--identity",
                key,
                "--account",
                "2",
                "--as-new",
                &n,
            ],
        );
        one.push((t, proxy.received.load(Ordering::SeqCst) - before));
    }
    one.sort();
    let (t, got) = one[one.len() / 2];
    println!(
        "one 1,000-record account from the remote full archive (median of 5): {:.1} ms, {:.2} MiB fetched ({:.2}% of the archive)",
        t.as_secs_f64() * 1e3,
        mib(got),
        100.0 * got as f64 / size as f64
    );
    let before = proxy.received.load(Ordering::SeqCst);
    let to = dir.path().join("whole.redb");
    let (t, rss, _) = timed(
        &env,
        &[
            "backup",
            "restore",
            &url,
            "--identity",
            key,
            "--to",
            to.to_str().unwrap(),
        ],
    );
    println!(
        "the whole remote archive restored to a new store: {:.2} s, {:.1} MiB fetched, peak RSS {} MiB",
        t.as_secs_f64(),
        mib(proxy.received.load(Ordering::SeqCst) - before),
        shown(rss)
    );
}
