//! The maintained counts (`tables::RANGE_COUNTS`, `tables::STAGE_COUNTS`):
//! how `txn::index` keeps them in a record write's transaction, and how a
//! read transaction finds them.
//!
//! INVARIANT (range counts): each entry equals the live records with its key,
//! and none exists for zero.

use redb::{ReadOnlyTable, ReadableTable};

use super::Reader;
use crate::error::{Error, Result};
use crate::tables::RANGE_COUNTS;

/// A `tables::RANGE_COUNTS` key: (account, module, owner, team).
pub(crate) type CountKey = (u64, u32, u64, Option<u64>);

impl Reader {
    /// The maintained counts (`tables::RANGE_COUNTS`); `None` in a store of
    /// format 4 or older opened read-only, which has none.
    pub(crate) fn counts(&self) -> Result<Option<&ReadOnlyTable<CountKey, u64>>> {
        if let Some(t) = self.range_counts.get() {
            return Ok(Some(t));
        }
        match self.txn.open_table(RANGE_COUNTS) {
            Ok(t) => Ok(Some(self.range_counts.get_or_init(|| t))),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Counts `n` more records under `key` (INVARIANT (range counts)).
pub(super) fn add_count<'k, K: redb::Key + 'static>(
    table: &mut redb::Table<'_, K, u64>,
    key: K::SelfType<'k>,
    n: u64,
) -> Result<()>
where
    K::SelfType<'k>: Copy + std::fmt::Debug,
{
    let had = table.get(key)?.map_or(0, |g| g.value());
    let now = had
        .checked_add(n)
        .ok_or_else(|| Error::Corrupt(format!("count {key:?} would overflow")))?;
    table.insert(key, now)?;
    Ok(())
}

/// Counts one record less under `key`; the entry goes with its last record.
pub(super) fn take_count<'k, K: redb::Key + 'static>(
    table: &mut redb::Table<'_, K, u64>,
    key: K::SelfType<'k>,
) -> Result<()>
where
    K::SelfType<'k>: Copy + std::fmt::Debug,
{
    let had = table.get(key)?.map_or(0, |g| g.value());
    match had {
        0 => Err(Error::Corrupt(format!(
            "count {key:?} is below its records (run `crmstore check`)"
        ))),
        1 => table.remove(key).map(drop).map_err(Error::from),
        _ => table.insert(key, had - 1).map(drop).map_err(Error::from),
    }
}
