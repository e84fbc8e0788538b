//! What `backup list`, `verify`, `prune` and `serve` do to a folder on
//! object storage, as `backup/mod.rs` does to one on disk. The bucket is no
//! more trusted than a folder: only objects whose names are archive names of
//! ours, beside a sidecar that agrees with the name, are listed or removed.
//!
//! `list` cannot hash every archive without downloading it: an archive is
//! intact when its size and entity tag still match what its sidecar recorded
//! at upload. `verify` reads (and `record_verified` hashes) the whole object.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object_store::ObjectMeta;

use sha2::{Digest, Sha256};

use super::Remote;
use crate::backup::format::{ArchiveScope, Kind};
use crate::backup::sidecar::Sidecar;
use crate::backup::{
    agrees, name, oldest_first, prune_plan, rebuilds, rebuilt, Decision, Keep, Listing,
    VerifyReport,
};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// A name an upload claims before it starts (`PutMode::Create`), so two
/// backups of one second into one folder take two names; removed once the
/// sidecar is written.
fn claim_of(archive: &str) -> String {
    format!(".crmstore-claim-{archive}")
}

/// How old a claim must be before `clean` takes it for one a killed run left.
const STALE_CLAIM_SECS: i64 = 24 * 3600;

fn url_of(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| Error::Invalid(format!("`{}` is not a URL", p.display())))
}

fn sidecar_of(remote: &Remote, archive: &str) -> Option<Sidecar> {
    let bytes = remote.get_small(&format!("{archive}.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// [`crate::backup::list`] of a folder on object storage.
pub(crate) fn list(dir: &Path) -> Result<Vec<Listing>> {
    let remote = Remote::open(url_of(dir)?)?;
    let objects: HashMap<String, ObjectMeta> = remote.list()?.into_iter().collect();
    let mut out = Vec::new();
    for name in objects.keys() {
        let Some(archive) = name.strip_suffix(".json") else {
            continue;
        };
        let Some(sidecar) = sidecar_of(&remote, archive) else {
            continue;
        };
        let Some(facts) = agrees(archive, &sidecar) else {
            continue;
        };
        let Some(found) = objects.get(archive) else {
            continue;
        };
        let intact =
            found.size == sidecar.size && (sidecar.etag.is_none() || sidecar.etag == found.e_tag);
        let verified = intact && sidecar.verified_sha256.as_ref() == Some(&sidecar.sha256);
        out.push(Listing {
            file: PathBuf::from(remote.url_of(archive)),
            intact,
            verified,
            facts,
            sidecar,
        });
    }
    Ok(oldest_first(out))
}

/// [`crate::backup::unlisted`] of a folder on object storage.
pub(crate) fn unlisted(dir: &Path) -> Result<Vec<PathBuf>> {
    let remote = Remote::open(url_of(dir)?)?;
    let mut out = Vec::new();
    for (name, _) in remote.list()? {
        if name::parse(&name).is_some()
            && sidecar_of(&remote, &name).is_none_or(|s| agrees(&name, &s).is_none())
        {
            out.push(PathBuf::from(remote.url_of(&name)));
        }
    }
    out.sort();
    Ok(out)
}

/// The SHA-256 (hex) and size of the whole object, read as a stream.
fn sha256_of(remote: &Remote, archive: &str) -> Result<(String, u64)> {
    let mut h = Sha256::new();
    let size = remote.stream(archive, |chunk| h.update(chunk))?;
    Ok((hex::encode(h.finalize()), size))
}

/// [`crate::backup::record_verified`] of an archive on object storage.
pub(crate) fn record_verified(file: &Path, at: Timestamp) -> Result<bool> {
    let (remote, archive) = Remote::open_file(url_of(file)?)?;
    let Some(mut sidecar) = sidecar_of(&remote, &archive) else {
        return Ok(false);
    };
    if agrees(&archive, &sidecar).is_none() {
        return Ok(false);
    }
    let (sha, _) = sha256_of(&remote, &archive)?;
    sidecar.verified_at = Some(at.to_rfc3339());
    sidecar.verified_sha256 = Some(sha);
    remote.put(&format!("{archive}.json"), sidecar.to_json()?, false)?;
    Ok(true)
}

/// [`crate::backup::rebuild_sidecar`] of an archive on object storage.
pub(crate) fn rebuild_sidecar(file: &Path, report: &VerifyReport) -> Result<bool> {
    let (remote, archive) = Remote::open_file(url_of(file)?)?;
    let has = sidecar_of(&remote, &archive).is_some_and(|s| agrees(&archive, &s).is_some());
    if has || !rebuilds(&archive, report) {
        return Ok(false);
    }
    let etag = remote.head(&archive)?.e_tag;
    let (sha256, size) = sha256_of(&remote, &archive)?;
    let mut sidecar = rebuilt(&archive, report, size, &sha256);
    sidecar.etag = etag;
    remote.put(&format!("{archive}.json"), sidecar.to_json()?, false)?;
    Ok(true)
}

/// [`crate::backup::prune`] of a folder on object storage: each archive the
/// plan does not keep goes, then its sidecar.
pub(crate) fn prune(dir: &Path, now: Timestamp, keep: Keep) -> Result<Vec<Decision>> {
    let remote = Remote::open(url_of(dir)?)?;
    clean(dir)?;
    let decisions = prune_plan(&list(dir)?, now, keep);
    for d in decisions.iter().filter(|d| !d.keep) {
        if name::parse(&d.name).is_none() {
            continue;
        }
        remote.delete(&d.name)?;
        remote.delete(&format!("{}.json", d.name))?;
    }
    Ok(decisions)
}

/// [`crate::backup::clean_temporary`] on object storage: removes the name
/// claims killed runs left (older than a day). Their unfinished uploads are
/// invisible and cannot be listed through `object_store`: a bucket
/// lifecycle rule aborts them (docs/operations.md).
pub(crate) fn clean(dir: &Path) -> Result<usize> {
    let remote = Remote::open(url_of(dir)?)?;
    let now = chrono::Utc::now();
    let mut n = 0;
    for (name, meta) in remote.list()? {
        let claimed = name
            .strip_prefix(".crmstore-claim-")
            .is_some_and(|a| name::parse(a).is_some());
        if claimed && (now - meta.last_modified).num_seconds() > STALE_CLAIM_SECS {
            remote.delete(&name)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Claims a new archive name in `remote` for `scope` and `kind` at `at`:
/// the first `-N` no archive, sidecar or claim has, taken with a
/// never-overwrite put of its claim (where the provider offers one).
pub(crate) fn claim(
    remote: &Remote,
    scope: ArchiveScope,
    kind: Kind,
    at: Timestamp,
) -> Result<String> {
    let taken: Vec<String> = remote.list()?.into_iter().map(|(n, _)| n).collect();
    let mut after = 0;
    loop {
        let archive = name::new_name(scope, kind, at, after, |n| {
            taken.iter().any(|t| t == n || *t == claim_of(n))
        });
        match remote.put(&claim_of(&archive), Vec::new(), true) {
            Ok(()) => return Ok(archive),
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                after = name::parse(&archive).map_or(after + 1, |f| f.n);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes the claim of `archive` once its sidecar is written.
pub(crate) fn release(remote: &Remote, archive: &str) -> Result<()> {
    remote.delete(&claim_of(archive))
}
