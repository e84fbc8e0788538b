//! Shared by the benchmarks: generated stores cached on disk, the viewers
//! each benchmark asks as, and peak memory.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark helpers"
)]

use std::path::PathBuf;

use crmstore::synth::{profiles, GenSpec};
use crmstore::{NoProgress, Store};

/// A generated store of `records` records (200 users, 20 teams), built once
/// per store format and kept under `target/bench-data`.
pub fn generated(records: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let format = crmstore::FORMAT_VERSION;
    let path = dir.join(format!("gen-{records}-format-{format}.redb"));
    if !path.exists() {
        let tmp = path.with_extension("redb.tmp");
        let _ = std::fs::remove_file(&tmp);
        let store = Store::open(&tmp).unwrap();
        let spec = GenSpec {
            account: 1,
            records,
            users: 200,
            teams: 20,
            seed: 42,
        };
        eprintln!("generating {records} records (once) ...");
        store.operator().generate(&spec, &NoProgress).unwrap();
        drop(store);
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// A private copy of a generated store, for benchmarks that change it.
pub fn copy_of(records: u64, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir =
        tempfile::tempdir_in(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")).unwrap();
    let path = dir.path().join(format!("{name}.redb"));
    std::fs::copy(generated(records), &path).unwrap();
    (dir, path)
}

/// The users the benchmarks ask as.
#[derive(Clone, Copy, Debug)]
pub struct Viewers {
    /// own scope, a rep role (no subordinates).
    pub rep: u64,
    /// own scope with hierarchy: a manager role over two rep roles.
    pub manager: u64,
    /// team scope.
    pub team: u64,
    /// all scope (stage-limited analyst).
    pub all: u64,
    /// owns nothing: sees shares and sharing rules only.
    pub partner: u64,
    pub admin: u64,
}

pub fn viewers(store: &Store) -> Viewers {
    let dir = store.operator().directory(1).unwrap();
    let first = |f: &dyn Fn(&crmstore::User) -> bool| dir.users.iter().find(|u| f(u)).unwrap().id;
    Viewers {
        rep: first(&|u| u.profile == profiles::REP && u.role >= 8),
        manager: first(&|u| u.profile == profiles::REP && (4..8).contains(&u.role)),
        team: first(&|u| u.profile == profiles::TEAM),
        all: first(&|u| u.profile == profiles::ANALYST),
        partner: first(&|u| u.profile == profiles::SHARE_ONLY),
        admin: 1,
    }
}

/// Peak resident memory of this process so far, in MiB (Linux).
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
