//! Sharing one read snapshot between the reads that run until the next commit.
//!
//! Beginning a redb read transaction and opening the tables a read needs is
//! half of a `get` (measured: ~0.7 of 1.4 µs; opening a table looks it up in
//! redb's table tree and checks its type names). When this process is the
//! only writer of the file, the newest snapshot stays the newest until this
//! process commits, so the reads in between can share it, with the tables it
//! has opened. Every commit retires it. (SQLite keeps its page cache across
//! transactions the same way, checking the file's change counter instead.)
//!
//! INVARIANT (read your writes): a read that starts after a commit returned
//! sees that commit. `retire` runs after every commit, before the write
//! returns; a snapshot begun while a commit was under way is used once and
//! never kept (the generation check in [`Snapshots::current`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::Result;
use crate::txn::Reader;

#[derive(Default)]
pub(crate) struct Snapshots {
    kept: Mutex<Option<Arc<Reader>>>,
    /// Bumped by every commit.
    generation: AtomicU64,
}

impl Snapshots {
    fn kept(&self) -> MutexGuard<'_, Option<Arc<Reader>>> {
        // Nothing can be left half-done under this lock: it only swaps an Arc.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest snapshot: the kept one, or one from `begin`, kept for the
    /// next reads unless a commit ended while it was being begun.
    pub(crate) fn current(&self, begin: impl FnOnce() -> Result<Reader>) -> Result<Arc<Reader>> {
        if let Some(r) = self.kept().as_ref() {
            return Ok(Arc::clone(r));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let fresh = Arc::new(begin()?);
        let mut kept = self.kept();
        if kept.is_none() && self.generation.load(Ordering::SeqCst) == generation {
            *kept = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    /// Called after every commit (or attempt): the next read begins anew.
    pub(crate) fn retire(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.kept() = None;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use redb::ReadableDatabase;

    use super::*;

    #[test]
    fn kept_until_a_commit_and_never_kept_across_one() {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let begun = Cell::new(0);
        let begin = || {
            begun.set(begun.get() + 1);
            Ok(Reader::new(db.begin_read()?))
        };
        let s = Snapshots::default();
        let first = s.current(begin).unwrap();
        let again = s.current(begin).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "reads between commits share one"
        );
        assert_eq!(begun.get(), 1);

        s.retire();
        s.current(begin).unwrap();
        assert_eq!(begun.get(), 2, "a commit retires the kept snapshot");

        // A commit ends while a snapshot is being begun: that snapshot may
        // predate the commit, so it serves this read only.
        s.retire();
        let racing = || {
            let r = begin();
            s.retire();
            r
        };
        s.current(racing).unwrap();
        s.current(begin).unwrap();
        assert_eq!(begun.get(), 4);
    }
}
