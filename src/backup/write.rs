//! Writing an archive: one read transaction (a consistent point in time while
//! writers keep going), streamed through zstd and age to a temporary file,
//! fsynced, renamed, then its sidecar.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use redb::ReadableTable;
use sha2::{Digest, Sha256};

use super::chunks::ChunkWriter;
use super::crypto::Encryption;
use super::format::{
    AccountIndex, ArchiveScope, Counts, Header, ItemRef, Kind, Trailer, ARCHIVE_FORMAT, MAGIC,
};
use super::read::valid;
use super::sidecar::Sidecar;
use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::model::{Directory, Record, Timestamp};
use crate::progress::Progress;
use crate::store::Store;
use crate::trash::Batch;
use crate::txn::AccountState;
use crate::txn::{Reader, Tx};

/// What to back up, where, and to whom.
#[derive(Debug)]
pub struct BackupOptions {
    /// The folder the archive and its sidecar go to (created if missing).
    pub dir: PathBuf,
    pub encryption: Encryption,
    /// One account, or the whole store.
    pub account: Option<u64>,
    pub kind: Kind,
}

/// A finished archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    pub file: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub sidecar: Sidecar,
}

/// Counts and hashes the encrypted bytes on their way to the file.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Removes a temporary file unless the write got to its rename.
pub(crate) struct TempFile(pub Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Writes `bytes` to `path` all or nothing: temporary name, fsync, rename, fsync the folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let (mut f, mut guard) = create_temp(path)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io_at("cannot write", &tmp_name(path), e))?;
    drop(f);
    publish(&mut guard, path)
}

/// Creates the temporary file `path` is written under, beside it: never
/// through a link (`create_new` is O_EXCL, which does not follow a planted
/// symlink), never over an existing file. The guard removes it unless
/// [`publish`] renamed it into place.
///
/// # Errors
/// `Io` naming the temporary file when it exists or cannot be created.
pub(crate) fn create_temp(path: &Path) -> Result<(File, TempFile)> {
    let tmp = tmp_name(path);
    // Readable too: a restore builds a redb file in it.
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io_at("cannot create temporary file", &tmp, e))?;
    // Held while this process writes it: a cleaner that can take the lock
    // knows no live process writes the file (`is_stale`). Where the file
    // system has no locks, the file's age decides instead.
    let _ = file.try_lock();
    Ok((file, TempFile(Some(tmp))))
}

/// Whether a temporary file was left by a process that is gone: nobody holds
/// its lock, or (where locks cannot be had) it is older than a day. A
/// symlink is never ours.
pub(crate) fn is_stale(path: &Path) -> bool {
    const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
    let Ok(meta) = path.symlink_metadata() else {
        return false;
    };
    if meta.file_type().is_symlink() {
        return true;
    }
    let old = meta
        .modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > DAY);
    match File::open(path).map(|f| f.try_lock()) {
        Ok(Ok(())) => true,
        Ok(Err(std::fs::TryLockError::WouldBlock)) => false,
        _ => old,
    }
}

/// Renames the (fsynced, closed) temporary file of `guard` to `path`, then
/// fsyncs the folder so the rename is durable.
pub(crate) fn publish(guard: &mut TempFile, path: &Path) -> Result<()> {
    if let Some(tmp) = guard.0.take() {
        if let Err(e) = std::fs::rename(&tmp, path) {
            guard.0 = Some(tmp);
            return Err(Error::io_at("cannot rename into", path, e));
        }
    }
    sync_dir(path)
}

pub(crate) fn tmp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

fn sync_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        // Directories cannot be opened for sync everywhere; where they can, do.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn write_account<W: Write + Send + 'static>(
    r: &Reader,
    a: u64,
    w: &mut ChunkWriter<W>,
    progress: &dyn Progress,
) -> Result<AccountIndex> {
    // Every value is checked as `verify` and a restore will check it: a
    // damaged store fails its backup, naming what is damaged, rather than
    // writing an archive no restore accepts (issue 18).
    let damaged = |e: Error| {
        Error::Corrupt(format!(
            "backup stopped, the store is damaged: {e}; run `crmstore check` (docs/operations.md)"
        ))
    };
    let start = w.mark()?.pos;
    let mut counts = Counts::default();
    w.push(&ItemRef::Account(a))?;
    let dir = r
        .directory()?
        .get(a)?
        .ok_or_else(|| Error::NotFound(format!("no account `{a}`")))?;
    valid::<Directory>(dir.value()).map_err(damaged)?;
    w.push(&ItemRef::Directory(dir.value()))?;
    if let Some(s) = r.accounts()?.get(a)? {
        valid::<AccountState>(s.value()).map_err(damaged)?;
        w.push(&ItemRef::State(s.value()))?;
    }
    for e in r.records()?.range(Some(a))? {
        let ((_, id), v) = e?;
        crate::index::check_stored(a, id, v.value()).map_err(damaged)?;
        w.push(&ItemRef::Record(id, v.value()))?;
        counts.records += 1;
        if counts.records % 4096 == 0 {
            progress.inc(4096);
        }
    }
    progress.inc(counts.records % 4096);
    for e in r.trash()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        valid::<Batch>(v.value()).map_err(damaged)?;
        w.push(&ItemRef::Batch(k.value().1, v.value()))?;
        counts.batches += 1;
    }
    for e in r.trashed()?.range((a, 0, 0)..=(a, u64::MAX, u64::MAX))? {
        let (k, v) = e?;
        let (_, b, id) = k.value();
        valid::<Record>(v.value()).map_err(damaged)?;
        w.push(&ItemRef::Trashed(b, id, v.value()))?;
        counts.trashed += 1;
    }
    for e in r.audit()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        valid::<audit::Event>(v.value()).map_err(damaged)?;
        w.push(&ItemRef::Audit(k.value().1, v.value()))?;
        counts.audit += 1;
    }
    let end = w.mark()?;
    let (end, sha256) = (end.pos, end.region);
    Ok(AccountIndex {
        account: a,
        start,
        end,
        counts,
        sha256,
    })
}

impl Store {
    /// Writes an encrypted archive of the whole store (or one account) from
    /// one read transaction, then its sidecar, and audits `backup.create` in
    /// every account it holds.
    ///
    /// # Errors
    /// `NotFound` for an unknown account; `Io` when the folder cannot be
    /// written (no partial file is left behind).
    pub fn backup(&self, opts: &BackupOptions, progress: &dyn Progress) -> Result<Archive> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| Error::io_at("cannot create folder", &opts.dir, e))?;
        // What killed runs left; a failure to clean must not stop a backup.
        let _ = super::clean_temporary(&opts.dir);
        let now = Timestamp::now();
        let scope = opts
            .account
            .map_or(ArchiveScope::Full, ArchiveScope::Account);
        let (path, file, mut guard) = super::name::create_in(&opts.dir, scope, opts.kind, now)?;
        let hashing = Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            size: 0,
        };
        let store_id = self.store_id()?;
        let (index, totals, hashing) = self
            .read(|r| {
                let accounts: Vec<u64> = match opts.account {
                    Some(a) => {
                        r.version_of(a)?
                            .ok_or_else(|| Error::NotFound(format!("no account `{a}`")))?;
                        vec![a]
                    }
                    None => r
                        .directory()?
                        .range::<u64>(..)?
                        .map(|e| Ok(e?.0.value()))
                        .collect::<Result<_>>()?,
                };
                progress.set_len(match opts.account {
                    Some(a) => crate::account::record_count(r, a)?,
                    None => r.records()?.len()?,
                });
                let mut w = ChunkWriter::new(opts.encryption.wrap(hashing)?);
                w.push(&ItemRef::Header(&Header {
                    magic: MAGIC,
                    format: ARCHIVE_FORMAT,
                    created_at: now,
                    scope,
                    kind: opts.kind,
                    store_id,
                }))?;
                let mut index = Vec::with_capacity(accounts.len());
                let mut totals = Counts::default();
                for a in accounts {
                    let i = write_account(r, a, &mut w, progress)?;
                    totals.add(&i.counts);
                    index.push(i);
                }
                let digest = w.mark()?.total;
                let trailer = Trailer {
                    accounts: index,
                    totals,
                    digest,
                };
                let age = w.finish(&trailer)?;
                let index = trailer.accounts;
                Ok((index, totals, age.finish()?))
            })
            .map_err(|e| e.at("cannot write", &tmp_name(&path)))?;
        let Hashing { inner, hash, size } = hashing;
        let written = |e| Error::io_at("cannot write", &tmp_name(&path), e);
        let file = inner.into_inner().map_err(|e| written(e.into_error()))?;
        file.sync_all().map_err(written)?;
        drop(file);
        publish(&mut guard, &path)?;
        let sha256 = hex::encode(hash.finalize());
        let sidecar = Sidecar::new(
            &path, now, scope, opts.kind, totals, &index, size, &sha256, store_id,
        );
        sidecar.write(&path)?;
        progress.finish();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.write(|w| {
            for i in &index {
                let e = Entry {
                    actor: None,
                    action: crate::audit::AuditAction::BackupCreate,
                    target: name.clone(),
                    count: i.counts.records,
                    detail: format!("{} {}", opts.kind.name(), scope),
                };
                audit::append(w, i.account, now, e)?;
            }
            Ok(())
        })?;
        Ok(Archive {
            file: path,
            sha256,
            size,
            sidecar,
        })
    }

    /// Appends `backup.failed` (naming the kind and why) to every account's
    /// audit log: the alert a failed scheduled backup leaves for admins.
    ///
    /// # Errors
    /// Storage errors (a damaged store may refuse this too).
    pub(crate) fn audit_backup_failed(&self, kind: &str, why: &str) -> Result<()> {
        let now = Timestamp::now();
        self.write(|w| {
            let accounts: Vec<u64> = w
                .directory
                .range::<u64>(..)?
                .map(|e| Ok(e?.0.value()))
                .collect::<Result<_>>()?;
            for a in accounts {
                let e = Entry {
                    actor: None,
                    action: crate::audit::AuditAction::BackupFailed,
                    target: kind.to_string(),
                    count: 0,
                    detail: why.to_string(),
                };
                audit::append(w, a, now, e)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn a_symlink_planted_at_the_temporary_name_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let path = dir.path().join("a.age.json");
        std::os::unix::fs::symlink(&victim, tmp_name(&path)).unwrap();
        let e = write_atomic(&path, b"sidecar").unwrap_err();
        assert!(
            e.to_string().contains("cannot create temporary file"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!path.exists());
        // The planted link is left as it was, for the operator to see.
        assert!(tmp_name(&path).symlink_metadata().unwrap().is_symlink());
        std::fs::remove_file(tmp_name(&path)).unwrap();
        write_atomic(&path, b"sidecar").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"sidecar");
        assert!(!tmp_name(&path).exists());
    }

    #[test]
    fn only_temporary_files_no_live_process_holds_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let left = dir
            .path()
            .join(".crmstore-full-weekly-20261205T225905Z.age.tmp");
        std::fs::write(&left, b"half an archive").unwrap();
        let live_path = dir.path().join("crmstore-full-weekly-20261205T225906Z.age");
        let (_file, _guard) = create_temp(&live_path).unwrap();
        let other = dir.path().join(".notours.tmp");
        std::fs::write(&other, b"x").unwrap();
        assert!(is_stale(&left) && !is_stale(&tmp_name(&live_path)));
        assert_eq!(crate::backup::clean_temporary(dir.path()).unwrap(), 1);
        assert!(!left.exists() && tmp_name(&live_path).exists() && other.exists());
    }
}
