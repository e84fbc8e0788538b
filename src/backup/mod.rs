//! Backups: age-encrypted, zstd-compressed archives of the whole store or one
//! account, their sidecars, verification, restore, retention and the
//! weekly/monthly scheduler.

pub(crate) mod chunks;
#[cfg(test)]
mod crafted;
pub(crate) mod crypto;
pub(crate) mod format;
pub(crate) mod read;
pub(crate) mod restore;
pub(crate) mod retention;
pub(crate) mod schedule;
pub(crate) mod sidecar;
pub(crate) mod write;

use std::path::{Path, PathBuf};

pub use crypto::{keygen, Decryption, Encryption};
pub use format::{ArchiveScope, Counts, Kind, ARCHIVE_FORMAT};
pub use read::{verify, VerifyReport};
pub use restore::restore_store;
pub use retention::{plan as plan_prune, ArchiveFacts, Decision, Keep};
pub use schedule::{BackupScheduler, ScheduleConfig};
pub use sidecar::Sidecar;
pub use write::{Archive, BackupOptions};

use crate::error::Result;
use crate::model::Timestamp;

/// One archive found in a folder, as `backup list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub file: PathBuf,
    pub sidecar: Sidecar,
    /// Whether the file's SHA-256 and size match its sidecar (no key needed).
    pub intact: bool,
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}

/// Every archive in `dir` that has a sidecar, oldest first.
///
/// # Errors
/// `Io` when the folder cannot be read.
pub fn list(dir: &Path) -> Result<Vec<Listing>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_sidecar = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".age.json") && !n.starts_with('.'));
        if !is_sidecar {
            continue;
        }
        let Ok(sidecar) = Sidecar::read(&path) else {
            continue;
        };
        let file = dir.join(&sidecar.file);
        let intact = sha256_file(&file)
            .is_ok_and(|(sha, size)| sha == sidecar.sha256 && size == sidecar.size);
        out.push(Listing {
            file,
            sidecar,
            intact,
        });
    }
    out.sort_by(|a, b| {
        a.sidecar
            .created_at
            .cmp(&b.sidecar.created_at)
            .then_with(|| a.file.cmp(&b.file))
    });
    Ok(out)
}

/// Applies retention to the archives in `dir` at `now`: removes each archive
/// (and its sidecar) the plan does not keep. Returns the whole plan.
///
/// # Errors
/// `Io` when the folder cannot be read or a file cannot be removed.
pub fn prune(dir: &Path, now: Timestamp, keep: Keep) -> Result<Vec<Decision>> {
    let listed = list(dir)?;
    let facts: Vec<ArchiveFacts> = listed
        .iter()
        .filter_map(|l| {
            Some(ArchiveFacts {
                name: l.sidecar.file.clone(),
                scope: l.sidecar.scope.clone(),
                kind: l.sidecar.kind,
                created_at: l.sidecar.created().ok()?,
            })
        })
        .collect();
    let decisions = plan_prune(now, &facts, keep);
    for d in decisions.iter().filter(|d| !d.keep) {
        let file = dir.join(&d.name);
        std::fs::remove_file(&file)?;
        std::fs::remove_file(Sidecar::path_for(&file))?;
    }
    Ok(decisions)
}

/// Removes temporary files a stopped or crashed backup left in `dir`.
///
/// # Errors
/// `Io` when the folder cannot be read.
pub fn clean_temporary(dir: &Path) -> Result<usize> {
    let mut n = 0;
    if !dir.exists() {
        return Ok(0);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with(".crmstore-") && name.ends_with(".tmp") {
            std::fs::remove_file(&path)?;
            n += 1;
        }
    }
    Ok(n)
}
