//! [`OpenOptions`]: how a store file is opened.

use std::path::Path;

use redb::{ConcurrencyMode, Database, ReadOnlyDatabase, ReadTransaction, WriteTransaction};

use crate::error::{Error, Result};
use crate::store::Store;

/// redb's page cache unless told otherwise: 1 GiB (redb's own default).
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

/// Where a store reads the time: every action reads it once and acts, stamps
/// and audits at that one time.
pub type Clock = std::sync::Arc<dyn Fn() -> crate::Timestamp + Send + Sync>;

/// How to open a store: `Store::options().cache_bytes(64 << 20).shared().open(path)`.
#[derive(Clone)]
pub struct OpenOptions {
    cache_bytes: usize,
    shared: bool,
    read_only: bool,
    clock: Option<Clock>,
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("cache_bytes", &self.cache_bytes)
            .field("shared", &self.shared)
            .field("read_only", &self.read_only)
            .field("clock", &self.clock.as_ref().map(|_| "injected"))
            .finish()
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
            shared: false,
            read_only: false,
            clock: None,
        }
    }
}

impl OpenOptions {
    /// The time the store's actions take (default: the system clock): for
    /// tests, drills and replays. An action reads it once.
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> crate::Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Some(std::sync::Arc::new(clock));
        self
    }

    /// Limits redb's page cache to `bytes`.
    ///
    /// # Performance
    /// The cache holds pages read and written; a long scan (a backup, an
    /// export) fills it up to this limit, so process memory grows with the
    /// store up to here and no further. Smaller saves memory, larger keeps
    /// more of a big store hot.
    #[must_use]
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Lets other processes open the same file at the same time, each for
    /// reading and writing (redb runs one write transaction at a time across
    /// them). The `crmstore` CLI opens stores this way, so its commands work
    /// while `crmstore serve` runs.
    ///
    /// # Performance
    /// Every transaction then coordinates with the other processes through
    /// file locks and re-reads the file header: a few µs of system calls per
    /// read, which is most of the cost of a `get`. An application that owns its
    /// store (and runs [`crate::backup::BackupScheduler`] in-process) should
    /// leave this off; the default opens the file for this process alone.
    #[must_use]
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// Opens an existing store without ever writing to it (not even redb's
    /// own bookkeeping on open and close): every write action is
    /// [`Error::Denied`]. The CLI opens stores this way for commands that only
    /// read, so they work on a copy or a read-only mount and leave the file's
    /// bytes as they were.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Opens the store at `path`, creating it (with every table and the
    /// format version) only if nothing is there: an existing file that is
    /// not a valid store — an empty one too — is refused, never made into a
    /// new empty store (which `serve` would then back up over the good
    /// archives).
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] when another process has the file open and
    /// either side does not share it; [`crate::Error::Incompatible`] when the
    /// file is not a crmstore store or was written by a newer format;
    /// [`crate::Error::NotFound`] when opening read-only and there is no
    /// file; [`crate::Error::Storage`] when redb cannot open it.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Store> {
        let mode = if self.shared {
            ConcurrencyMode::MultiWriter
        } else {
            ConcurrencyMode::ExclusiveWriter
        };
        let mut builder = Database::builder();
        builder
            .set_cache_size(self.cache_bytes)
            .set_concurrency_mode(mode);
        let path = path.as_ref();
        let exists = path.symlink_metadata().is_ok();
        if exists && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(crate::Error::Incompatible(format!(
                "`{}` is empty (0 bytes), not a crmstore store: restore it from a backup, or \
                 remove it to start a new store",
                path.display()
            )));
        }
        if self.read_only {
            // What a writable open would refuse, a read-only one refuses too.
            // The length is read before and after the header: a writer grows
            // the file before it writes a longer layout, and writes a shorter
            // layout before it shrinks the file, so the longer of the two is
            // never short of a layout it could have written.
            let len = || std::fs::metadata(path).map_or(0, |m| m.len());
            let before = len();
            let stored = crate::store::layout::stored_len(path);
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
            if self.read_only {
                builder.open_read_only(path).map(Db::Read)
            } else if exists {
                builder.open(path).map(Db::Write)
            } else {
                builder.create(path).map(Db::Write)
            }
        }));
        let mut db = opened.map_err(|p| crate::store::engine::damaged(path, p.as_ref()))?;
        if self.read_only && matches!(db, Err(redb::DatabaseError::RepairAborted)) {
            // The file is marked for recovery: a writer was killed, or (with
            // several processes sharing it) one is between its commits. A
            // read-only handle may not repair, so this one command reads
            // through a writable handle, which repairs a crashed writer's
            // file and joins a live one; it writes nothing itself.
            db = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                builder.open(path).map(Db::Write)
            }))
            .map_err(|p| crate::store::engine::damaged(path, p.as_ref()))?
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
        let sole_writer = !self.shared && !self.read_only;
        let mut store = Store::with_db(db, path.to_path_buf(), sole_writer)?;
        if let Some(clock) = self.clock {
            store.clock = clock;
        }
        Ok(store)
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
