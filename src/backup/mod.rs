//! Backups: age-encrypted, zstd-compressed archives of the whole store or one
//! account, their sidecars, verification, restore, retention and the
//! weekly/monthly scheduler.

pub(crate) mod atomic;
pub(crate) mod chunks;
#[cfg(test)]
mod crafted;
pub(crate) mod crypto;
pub(crate) mod format;
pub(crate) mod name;
pub(crate) mod read;
pub(crate) mod remote;
pub(crate) mod restore;
pub(crate) mod retention;
pub(crate) mod sidecar;
pub(crate) mod write;

use std::path::{Path, PathBuf};

pub use crypto::{keygen, Decryption, Encryption};
pub use format::{ArchiveScope, Counts, Kind, ARCHIVE_FORMAT};
pub use read::{verify, VerifyReport};
pub use remote::destination;
pub use restore::restore_store;
use retention::{plan as plan_prune, ArchiveFacts};
pub use retention::{Decision, Keep};
use sidecar::Sidecar;
pub use write::{Archive, BackupOptions};

use crate::error::Result;
use crate::model::Timestamp;

/// One archive found in a folder, as `backup list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub file: PathBuf,
    /// Whether the file's SHA-256 and size match its sidecar (no key needed).
    pub intact: bool,
    /// Whether a verification found this very file whole (`record_verified`).
    pub verified: bool,
    /// What the archive's own name says: all that `prune` goes by.
    pub(crate) facts: name::NameFacts,
    pub(crate) sidecar: Sidecar,
}

impl Listing {
    /// When the archive was written (RFC 3339, UTC).
    pub fn created_at(&self) -> &str {
        &self.sidecar.created_at
    }

    /// `full` or `account:A`.
    pub fn scope(&self) -> &str {
        &self.sidecar.scope
    }

    pub fn kind(&self) -> Kind {
        self.sidecar.kind
    }

    /// What the archive holds, as its sidecar says.
    pub fn counts(&self) -> &Counts {
        &self.sidecar.counts
    }

    /// The archive's size in bytes and SHA-256 (hex), as its sidecar says.
    pub fn size(&self) -> u64 {
        self.sidecar.size
    }

    pub fn sha256(&self) -> &str {
        &self.sidecar.sha256
    }
}

/// Where the sidecar of `archive` is (`<archive>.json` beside it).
pub fn sidecar_path(archive: &Path) -> PathBuf {
    Sidecar::path_for(archive)
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let read = |e| crate::Error::io_at("cannot read", path, e);
    let mut f = std::fs::File::open(path).map_err(read)?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(read)?;
    Ok((hex::encode(h.finalize()), n))
}

/// The archive a sidecar at `path` stands beside, with its name's facts,
/// when the sidecar is named after an archive name of ours and says the same
/// of it as the name does. Anything else is not listed: a sidecar is plain
/// text anyone with write access to the folder may have edited.
fn beside(path: &Path) -> Option<(PathBuf, name::NameFacts, Sidecar)> {
    let archive = path.file_name()?.to_str()?.strip_suffix(".json")?;
    let sidecar = Sidecar::read(path).ok()?;
    let facts = agrees(archive, &sidecar)?;
    Some((path.with_file_name(archive), facts, sidecar))
}

/// What the name `archive` says of it, when it is an archive name of ours
/// and `sidecar` says the same (file, kind, scope, second).
fn agrees(archive: &str, sidecar: &Sidecar) -> Option<name::NameFacts> {
    let facts = name::parse(archive)?;
    let same_second = sidecar
        .created()
        .is_ok_and(|t| t.0.div_euclid(1_000_000) * 1_000_000 == facts.created_at.0);
    let agrees = sidecar.file == archive
        && sidecar.kind == facts.kind
        && sidecar.scope == facts.scope.to_string()
        && same_second;
    agrees.then_some(facts)
}

/// Every archive in `dir` that has a sidecar agreeing with its name, oldest
/// first.
///
/// # Errors
/// `Io` when the folder cannot be read.
pub fn list(dir: &Path) -> Result<Vec<Listing>> {
    if remote::is_remote(dir) {
        return remote::folder::list(dir);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Some((file, facts, sidecar)) = beside(&entry?.path()) else {
            continue;
        };
        let intact = sha256_file(&file)
            .is_ok_and(|(sha, size)| sha == sidecar.sha256 && size == sidecar.size);
        let verified = intact && sidecar.verified_sha256.as_ref() == Some(&sidecar.sha256);
        out.push(Listing {
            file,
            facts,
            sidecar,
            intact,
            verified,
        });
    }
    Ok(oldest_first(out))
}

fn oldest_first(mut listed: Vec<Listing>) -> Vec<Listing> {
    listed.sort_by(|a, b| {
        a.sidecar
            .created_at
            .cmp(&b.sidecar.created_at)
            .then_with(|| a.file.cmp(&b.file))
    });
    listed
}

/// Records in `file`'s sidecar that a verification at `at` found it whole,
/// with the SHA-256 of the file as it is now: what lets `prune` remove older
/// archives of its kind. Returns `false` (recording nothing) when the file
/// has no sidecar that agrees with its name.
///
/// # Errors
/// `Io` naming the file when it or its sidecar cannot be read or written.
pub fn record_verified(file: &Path, at: Timestamp) -> Result<bool> {
    if remote::is_remote(file) {
        return remote::folder::record_verified(file, at);
    }
    let Some((_, _, mut sidecar)) = beside(&Sidecar::path_for(file)) else {
        return Ok(false);
    };
    let (sha, _) = sha256_file(file)?;
    sidecar.verified_at = Some(at.to_rfc3339());
    sidecar.verified_sha256 = Some(sha);
    sidecar.write(file)?;
    Ok(true)
}

/// The archives of our name pattern in `dir` that `list` does not show: no
/// sidecar beside them, or one that disagrees with the name (a disk that
/// filled, or a kill, between the archive's rename and its sidecar).
/// `backup verify` of such a file rebuilds its sidecar (`rebuild_sidecar`).
///
/// # Errors
/// `Io` naming the folder when it cannot be read.
pub fn unlisted(dir: &Path) -> Result<Vec<PathBuf>> {
    if remote::is_remote(dir) {
        return remote::folder::unlisted(dir);
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| crate::Error::io_at("cannot read folder", dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| crate::Error::io_at("cannot read folder", dir, e))?
            .path();
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| name::parse(n).is_some());
        if ours && beside(&Sidecar::path_for(&path)).is_none() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Writes the sidecar of `file` from what `verify` read of it (`report`,
/// intact), when it has none that agrees with its name, and the name agrees
/// with the archive's authenticated header. The sidecar is derived data: an
/// archive is complete without it. Returns whether it wrote one.
///
/// # Errors
/// `Io` naming the file when it cannot be read or the sidecar written.
pub fn rebuild_sidecar(file: &Path, report: &VerifyReport) -> Result<bool> {
    if remote::is_remote(file) {
        return remote::folder::rebuild_sidecar(file, report);
    }
    if beside(&Sidecar::path_for(file)).is_some() {
        return Ok(false);
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !rebuilds(name, report) {
        return Ok(false);
    }
    let (sha256, size) = sha256_file(file)?;
    rebuilt(name, report, size, &sha256).write(file)?;
    Ok(true)
}

/// Whether a verification that found the archive `name` whole (`report`)
/// may rebuild its sidecar: the name is ours and agrees with the archive's
/// authenticated header.
fn rebuilds(name: &str, report: &VerifyReport) -> bool {
    let Some(facts) = name::parse(name) else {
        return false;
    };
    let second = report.created_at.0.div_euclid(1_000_000) * 1_000_000;
    report.is_intact()
        && (facts.scope, facts.kind, facts.created_at.0) == (report.scope, report.kind, second)
}

/// The sidecar of archive `name` as `report` read it.
fn rebuilt(name: &str, report: &VerifyReport, size: u64, sha256: &str) -> Sidecar {
    Sidecar::new(
        Path::new(name),
        report.created_at,
        report.scope,
        report.kind,
        report.counts,
        &report.index,
        size,
        sha256,
        report.store_id,
    )
}

/// Applies retention to the archives in `dir` at `now`: removes each archive
/// (and its sidecar) the plan does not keep. Returns the whole plan. Scope,
/// kind and time come from each archive's name (`name`), never from its
/// sidecar alone, and only a file of that folder with a name of our pattern
/// is ever removed.
///
/// # Errors
/// `Io` when the folder cannot be read or a file cannot be removed.
pub fn prune(dir: &Path, now: Timestamp, keep: Keep) -> Result<Vec<Decision>> {
    if remote::is_remote(dir) {
        return remote::folder::prune(dir, now, keep);
    }
    clean_temporary(dir)?;
    let decisions = prune_plan(&list(dir)?, now, keep);
    for d in decisions.iter().filter(|d| !d.keep) {
        // Listed names passed `name::parse`; checked again where it matters.
        if name::parse(&d.name).is_none() {
            continue;
        }
        let file = dir.join(&d.name);
        std::fs::remove_file(&file)?;
        std::fs::remove_file(Sidecar::path_for(&file))?;
    }
    Ok(decisions)
}

/// What retention keeps of `listed` at `now`.
fn prune_plan(listed: &[Listing], now: Timestamp, keep: Keep) -> Vec<Decision> {
    let facts: Vec<ArchiveFacts> = listed
        .iter()
        .filter_map(|l| {
            Some(ArchiveFacts {
                name: l.file.file_name()?.to_str()?.to_string(),
                scope: l.facts.scope.to_string(),
                kind: l.facts.kind,
                // The sidecar's finer time orders archives of one second,
                // only when it agrees with the name (`beside` made sure).
                created_at: l.sidecar.created().ok()?,
                verified: l.verified,
            })
        })
        .collect();
    plan_prune(now, &facts, keep)
}

/// Removes the temporary files stopped or killed backups left in `dir`:
/// each `.crmstore-*.tmp` no live process holds (`atomic::is_stale`). `serve`
/// runs it at start, `backup create` and `prune` in their folder.
///
/// # Errors
/// `Io` naming the folder or file that could not be read or removed.
pub fn clean_temporary(dir: &Path) -> Result<usize> {
    if remote::is_remote(dir) {
        return remote::folder::clean(dir);
    }
    let mut n = 0;
    if !dir.exists() {
        return Ok(0);
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| crate::Error::io_at("cannot read folder", dir, e))?;
    for entry in entries {
        let path = entry
            .map_err(|e| crate::Error::io_at("cannot read folder", dir, e))?
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with(".crmstore-") && name.ends_with(".tmp") && atomic::is_stale(&path) {
            std::fs::remove_file(&path)
                .map_err(|e| crate::Error::io_at("cannot remove", &path, e))?;
            n += 1;
        }
    }
    Ok(n)
}
