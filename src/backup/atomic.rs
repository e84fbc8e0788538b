//! Files written all or nothing, in folders that may not be trusted: a
//! temporary file beside the target, created with `create_new` (O_EXCL, so a
//! planted symlink is never followed), locked while written, fsynced, renamed
//! into place, the folder fsynced. Archives, sidecars and restored stores are
//! all written this way.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
