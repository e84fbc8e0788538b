//! Opening a store file: the modes, refusing what is not a store, and the
//! redb handle ([`Db`]) every transaction begins on.

use std::path::Path;

use redb::{ConcurrencyMode, Database, ReadOnlyDatabase, ReadTransaction, WriteTransaction};

use super::{damaged, Engine};
use crate::error::{Error, Result};

impl Engine {
    /// A store on a caller's redb storage backend (`Store::open_with_backend`).
    pub(crate) fn on_backend(
        backend: impl redb::StorageBackend,
        label: std::path::PathBuf,
    ) -> Result<Engine> {
        let db = Database::builder()
            .create_with_backend(backend)
            .map(Db::Write);
        Engine::with_db(db, label, true)
    }

    /// Opens (or creates) the store file at `path` (`OpenOptions::open`).
    pub(crate) fn open(
        path: &Path,
        cache_bytes: usize,
        shared: bool,
        read_only: bool,
    ) -> Result<Engine> {
        let mode = if shared {
            ConcurrencyMode::MultiWriter
        } else {
            ConcurrencyMode::ExclusiveWriter
        };
        let mut builder = Database::builder();
        builder
            .set_cache_size(cache_bytes)
            .set_concurrency_mode(mode);
        let exists = path.symlink_metadata().is_ok();
        if exists && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(crate::Error::Incompatible(format!(
                "`{}` is empty (0 bytes), not a crmstore store: restore it from a backup, or \
                 remove it to start a new store",
                path.display()
            )));
        }
        if read_only {
            // What a writable open would refuse, a read-only one refuses too.
            // The length is read before and after the header: a writer grows
            // the file before it writes a longer layout, and writes a shorter
            // layout before it shrinks the file, so the longer of the two is
            // never short of a layout it could have written.
            let len = || std::fs::metadata(path).map_or(0, |m| m.len());
            let before = len();
            let stored = super::layout::stored_len(path);
            let len = before.max(len());
            if let Some(stored) = stored.filter(|&s| len < s) {
                return Err(crate::Error::Corrupt(format!(
                    "`{}` is truncated ({len} bytes of {stored}): restore it from a backup \
                     (docs/operations.md)",
                    path.display()
                )));
            }
        }
        // redb panics on some damaged pages while opening (a writable open
        // repairs): answered as the store's other calls answer it.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if read_only {
                builder.open_read_only(path).map(Db::Read)
            } else if exists {
                builder.open(path).map(Db::Write)
            } else {
                builder.create(path).map(Db::Write)
            }
        }));
        let mut db = opened.map_err(|p| damaged(path, p.as_ref()))?;
        if read_only && matches!(db, Err(redb::DatabaseError::RepairAborted)) {
            // The file is marked for recovery: a writer was killed, or (with
            // several processes sharing it) one is between its commits. A
            // read-only handle may not repair, so this one command reads
            // through a writable handle, which repairs a crashed writer's
            // file and joins a live one; it writes nothing itself.
            db = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                builder.open(path).map(Db::Write)
            }))
            .map_err(|p| damaged(path, p.as_ref()))?
            .map_err(|e| match e {
                redb::DatabaseError::Storage(redb::StorageError::Io(io))
                    if matches!(
                        io.kind(),
                        std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                    ) =>
                {
                    redb::DatabaseError::Storage(redb::StorageError::Io(std::io::Error::new(
                        io.kind(),
                        format!(
                            "`{}` needs the repair a killed writer left, and cannot be opened \
                             writable here ({io}): run any writing command where it is writable \
                             (docs/operations.md)",
                            path.display()
                        ),
                    )))
                }
                other => other,
            });
        }
        let sole_writer = !shared && !read_only;
        Engine::with_db(db, path.to_path_buf(), sole_writer)
    }
}

/// An open redb file, writable or not.
pub(crate) enum Db {
    Write(Database),
    Read(ReadOnlyDatabase),
}

impl Db {
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction> {
        use redb::ReadableDatabase;
        Ok(match self {
            Db::Write(d) => d.begin_read()?,
            Db::Read(d) => d.begin_read()?,
        })
    }

    pub(crate) fn begin_write(&self) -> Result<WriteTransaction> {
        match self {
            Db::Write(d) => Ok(d.begin_write()?),
            Db::Read(_) => Err(Error::Denied(
                "the store was opened read-only; this would change it".into(),
            )),
        }
    }

    pub(crate) fn is_read_only(&self) -> bool {
        matches!(self, Db::Read(_))
    }
}
