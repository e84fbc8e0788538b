//! Progress reporting without a UI: long operations report through this
//! trait; the CLI plugs in progress bars, the library default does nothing.

/// Receives progress of a long operation.
pub trait Progress {
    /// The total amount of work, once known.
    fn set_len(&self, _len: u64) {}
    /// `n` more units done.
    fn inc(&self, _n: u64) {}
    /// The work is over.
    fn finish(&self) {}
}

/// Reports nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
