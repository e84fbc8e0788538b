//! [`OpenOptions`]: how a store file is opened.

use std::path::Path;

use crate::engine::Engine;
use crate::error::Result;
use crate::store::Store;

/// redb's page cache unless told otherwise: 1 GiB (redb's own default).
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

pub use crate::engine::Clock;

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
    /// store (and runs [`crate::schedule::BackupScheduler`] in-process) should
    /// leave this off; the default opens the file for this process alone.
    #[must_use]
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// Opens an existing store without ever writing to it (not even redb's
    /// own bookkeeping on open and close): every write action is
    /// [`Error::Denied`](crate::Error::Denied). The CLI opens stores this way for commands that only
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
        let mut engine =
            Engine::open(path.as_ref(), self.cache_bytes, self.shared, self.read_only)?;
        if let Some(clock) = self.clock {
            engine.clock = clock;
        }
        Ok(Store { engine })
    }
}
