//! The records table as a read transaction finds it (format 3's `u128` key,
//! or an older store's tuple key), read the same way either way.

use redb::{AccessGuard, ReadOnlyTable, ReadableTableMetadata};

use crate::error::{Error, Result};
use crate::tables::{record_key, record_key_parts};

/// A record's stored bytes, borrowed from a read transaction's page.
pub(crate) type StoredBytes = AccessGuard<'static, &'static [u8]>;

/// The records table as a read transaction finds it: [`RECORDS`](crate::tables::RECORDS), or in a
/// store of format 1 or 2 opened read-only (which is never migrated)
/// [`RECORDS_V1`](crate::tables::RECORDS_V1). Both hold the same bytes in the same order.
pub(crate) enum Records {
    Current(ReadOnlyTable<u128, &'static [u8]>),
    V1(ReadOnlyTable<(u64, u64), &'static [u8]>),
}

impl Records {
    pub(crate) fn get(&self, account: u64, id: u64) -> Result<Option<StoredBytes>> {
        Ok(match self {
            Records::Current(t) => t.get(record_key(account, id))?,
            Records::V1(t) => t.get((account, id))?,
        })
    }

    /// The records of `account` (of every account with `None`) in key order,
    /// each as ((account, id), bytes).
    pub(crate) fn range(&self, account: Option<u64>) -> Result<RecordRange> {
        Ok(match (self, account) {
            (Records::Current(t), Some(a)) => {
                RecordRange::Current(t.range(record_key(a, 0)..=record_key(a, u64::MAX))?)
            }
            (Records::Current(t), None) => RecordRange::Current(t.range::<u128>(..)?),
            (Records::V1(t), Some(a)) => RecordRange::V1(t.range((a, 0)..=(a, u64::MAX))?),
            (Records::V1(t), None) => RecordRange::V1(t.range::<(u64, u64)>(..)?),
        })
    }

    /// How many records the store holds.
    pub(crate) fn len(&self) -> Result<u64> {
        Ok(match self {
            Records::Current(t) => t.len()?,
            Records::V1(t) => t.len()?,
        })
    }
}

/// Records in key order, from [`Records::range`].
pub(crate) enum RecordRange {
    Current(redb::Range<'static, u128, &'static [u8]>),
    V1(redb::Range<'static, (u64, u64), &'static [u8]>),
}

impl Iterator for RecordRange {
    type Item = Result<((u64, u64), StoredBytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self {
            RecordRange::Current(r) => r.next()?.map(|(k, v)| (record_key_parts(k.value()), v)),
            RecordRange::V1(r) => r.next()?.map(|(k, v)| (k.value(), v)),
        };
        Some(entry.map_err(Error::from))
    }
}
