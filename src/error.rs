//! The crate's one error type. Each variant is something a caller can act on;
//! the CLI maps them to exit codes in exactly one place (`cli::exit`).

/// Every failure crmstore reports.
///
/// Messages follow one style: lowercase, one line, user values in backticks.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or exists but the viewer may not see it
    /// (the two are indistinguishable on purpose).
    #[error("{0}")]
    NotFound(String),
    /// The viewer may see the thing but not do this to it, or may do nothing at all.
    #[error("{0}")]
    Denied(String),
    /// Input from outside was malformed or refers to something that does not fit.
    #[error("{0}")]
    Invalid(String),
    /// The action clashes with the current state (a restore whose parent is
    /// gone, ids exhausted, a file open elsewhere, ...).
    #[error("{0}")]
    Conflict(String),
    /// `--expect-version` (`Update::expect_version`) named a version the
    /// record is no longer at: read it again and retry.
    #[error("record `{record}` is at version `{version}`, not `{expected}`")]
    StaleVersion {
        record: u64,
        version: u64,
        expected: u64,
    },
    /// A delete without cascade of a record with live records below it that
    /// the deleter can see: delete with `Cascade::Yes`, or those first.
    #[error("record `{record}` has live records below it (delete with cascade)")]
    LiveChildren { record: u64 },
    /// `check` found the indexes disagreeing with the records (each
    /// disagreement is in the report): restore the store from a backup.
    #[error("{problems} problem(s) found: the store's indexes disagree with its records; restore it from a backup (docs/operations.md)")]
    Inconsistent { problems: u64 },
    /// A trash restore of a record whose parent is neither live nor restored
    /// with it: restore the parent's batch first (or restore without `only`).
    #[error("cannot restore record `{record}`: its parent `{parent}` is gone")]
    ParentGone { record: u64, parent: u64 },
    /// Stored or archived bytes could not be decoded.
    #[error("{0}")]
    Corrupt(String),
    /// The file was written by a newer crmstore (or is not a crmstore file).
    #[error("{0}")]
    Incompatible(String),
    /// An archive could not be decrypted with the key given.
    #[error("{0}")]
    Crypto(String),
    /// Reading or writing a file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The storage engine failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl Error {
    /// The `crmstore` command line's exit code for this error (CLI.md): the
    /// one mapping, used by the binary and by `serve`'s log.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound(_) => 3,
            Error::Denied(_) => 4,
            Error::Invalid(_) | Error::Corrupt(_) | Error::Incompatible(_) | Error::Crypto(_) => 5,
            Error::Conflict(_)
            | Error::StaleVersion { .. }
            | Error::LiveChildren { .. }
            | Error::ParentGone { .. } => 6,
            Error::Io(_) | Error::Storage(_) | Error::Inconsistent { .. } => 1,
        }
    }

    /// This error, when it is an I/O failure that names no file, named with
    /// what was being done to `path` (a full disk, a read-only file system,
    /// a permission: the operator needs to know which file).
    pub(crate) fn at(self, what: &str, path: &std::path::Path) -> Error {
        match self {
            Error::Io(e) if !e.to_string().contains('`') => Error::io_at(what, path, e),
            other => other,
        }
    }

    /// An I/O failure naming what was being done and the path it was done to
    /// (a missing or unreadable file is `Io`, exit 1, whatever it holds).
    pub fn io_at(what: &str, path: &std::path::Path, e: std::io::Error) -> Error {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{what} `{}`: {e}", path.display()),
        ))
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<redb::StorageError> for Error {
    fn from(e: redb::StorageError) -> Self {
        match e {
            redb::StorageError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::Corrupt(format!(
                    "the store file ends before its data (truncated: {io}); restore it from a \
                     backup (docs/operations.md)"
                ))
            }
            other => Error::Storage(other.to_string()),
        }
    }
}

/// redb's error types that can carry a `StorageError`: that one is read as
/// above (a truncated file is `Corrupt`), anything else is `Storage`.
macro_rules! storage_from {
    ($($t:ident),*) => {$(
        impl From<redb::$t> for Error {
            fn from(e: redb::$t) -> Self {
                match e {
                    redb::$t::Storage(s) => Error::from(s),
                    other => Error::Storage(other.to_string()),
                }
            }
        }
    )*};
}
storage_from!(TableError, TransactionError, CommitError);

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) => Error::from(redb::StorageError::Io(io)),
            other => Error::Storage(other.to_string()),
        }
    }
}

impl From<redb::DatabaseError> for Error {
    fn from(e: redb::DatabaseError) -> Self {
        match e {
            redb::DatabaseError::UpgradeRequired(v) => Error::Incompatible(format!(
                "the store file has redb format `{v}`, which this build cannot read"
            )),
            other => Error::Storage(other.to_string()),
        }
    }
}
