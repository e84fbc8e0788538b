//! The share index as a read transaction finds it: format 5's, whose values
//! carry each shared record's owner and team, or an older store's (opened
//! read-only, never migrated), whose values are the access level alone.

use redb::ReadOnlyTable;

use super::Reader;
use crate::error::{Error, Result};
use crate::tables::{ShareValue, BY_SHARE, BY_SHARE_V1};

/// A `tables::BY_SHARE` key: (account, principal kind, principal id, module,
/// record id).
pub(crate) type ShareKey = (u64, u8, u64, u32, u64);

/// The owner and team of a shared record, where the index keeps them.
pub(crate) type Holder = Option<(u64, Option<u64>)>;

impl Reader {
    /// The share index, whichever of its two forms the store has.
    pub(crate) fn shares(&self) -> Result<Shares<'_>> {
        if let Some(t) = self.by_share.get() {
            return Ok(Shares::Current(t));
        }
        if let Some(t) = self.shares_v1.get() {
            return Ok(Shares::V1(t));
        }
        Ok(match self.txn.open_table(BY_SHARE) {
            Ok(t) => Shares::Current(self.by_share.get_or_init(|| t)),
            Err(redb::TableError::TableDoesNotExist(_)) => {
                let t = self.txn.open_table(BY_SHARE_V1)?;
                Shares::V1(self.shares_v1.get_or_init(|| t))
            }
            Err(e) => return Err(e.into()),
        })
    }
}

pub(crate) enum Shares<'r> {
    Current(&'r ReadOnlyTable<ShareKey, ShareValue>),
    V1(&'r ReadOnlyTable<ShareKey, u8>),
}

impl Shares<'_> {
    /// The records of `module` shared with principal `(kind, id)`, from
    /// record `from` on, in id order.
    pub(crate) fn range(
        &self,
        account: u64,
        (kind, id): (u8, u64),
        module: u32,
        from: u64,
    ) -> Result<ShareRange> {
        let lo = (account, kind, id, module, from);
        let hi = (account, kind, id, module, u64::MAX);
        Ok(match self {
            Shares::Current(t) => ShareRange::Current(t.range(lo..=hi)?),
            Shares::V1(t) => ShareRange::V1(t.range(lo..=hi)?),
        })
    }

    /// Every entry, in key order.
    pub(crate) fn all(&self) -> Result<ShareRange> {
        Ok(match self {
            Shares::Current(t) => ShareRange::Current(t.range::<ShareKey>(..)?),
            Shares::V1(t) => ShareRange::V1(t.range::<ShareKey>(..)?),
        })
    }

    /// The entry at `key`: its access code and holder.
    pub(crate) fn get(&self, key: ShareKey) -> Result<Option<(u8, Holder)>> {
        Ok(match self {
            Shares::Current(t) => t.get(key)?.map(|g| {
                let (access, owner, team) = g.value();
                (access, Some((owner, team)))
            }),
            Shares::V1(t) => t.get(key)?.map(|g| (g.value(), None)),
        })
    }
}

/// Share entries in key order, from [`Shares::range`] or [`Shares::all`]:
/// (key, access code, holder).
pub(crate) enum ShareRange {
    Current(redb::Range<'static, ShareKey, ShareValue>),
    V1(redb::Range<'static, ShareKey, u8>),
}

impl Iterator for ShareRange {
    type Item = Result<(ShareKey, u8, Holder)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self {
            ShareRange::Current(r) => r.next()?.map(|(k, v)| {
                let (access, owner, team) = v.value();
                (k.value(), access, Some((owner, team)))
            }),
            ShareRange::V1(r) => r.next()?.map(|(k, v)| (k.value(), v.value(), None)),
        };
        Some(entry.map_err(Error::from))
    }
}
