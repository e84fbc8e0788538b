//! The store file's format: making a file a ready store, refusing a format
//! this build cannot read, and marking an older one it reads.

use std::collections::{BTreeMap, HashMap};

use redb::{ReadableTable, TableHandle, WriteTransaction};

use super::Engine;
use crate::error::{Error, Result};
use crate::tables::{
    record_key, record_key_parts, BY_SHARE, BY_SHARE_V1, META, MODULES, RANGE_COUNTS, RECORDS,
    RECORDS_V1, STAGE_COUNTS,
};
use crate::txn::{view_of, Reader, Writer};

/// The format version this build writes. A store with a higher one is refused;
/// a lower one is read, and marked with this one when first opened writable.
/// 2: records may be stored in layout 2 (`codec::Stored for Record`).
/// 3: records are keyed by one `u128` (`tables::RECORDS`); the first writable
/// open of an older store moves them there, in one transaction.
/// 4: the access gate's tables (`tables::LOGINS` ... `AUTH_LOG`), and
/// directories at layout 2 (with `user.login` and `account.security`); the
/// first writable open of an older store creates the tables.
/// 5: maintained counts (`tables::RANGE_COUNTS`, `STAGE_COUNTS`) and share entries that carry
/// their record's owner and team (`tables::BY_SHARE`); the first writable
/// open of an older store builds both from the records ([`migrate_counts`]).
pub const FORMAT_VERSION: u32 = 5;

impl Engine {
    /// Makes the file a ready store: format version, store id, every table.
    /// Most opens find it ready and only read, so opening never writes (nor
    /// waits for a disk flush) unless it must: to finish a new store, or once
    /// to mark an older one with this format (so an older release, which could
    /// not read what this one writes, refuses it instead of misreading it).
    pub(super) fn init(&self) -> Result<()> {
        match self.ready()? {
            Some(FORMAT_VERSION) => return Ok(()),
            Some(_) if self.db.is_read_only() => return Ok(()),
            Some(_) => {
                let txn = self.db.begin_write()?;
                migrate_records(&txn)?;
                migrate_counts(&txn)?;
                txn.open_table(META)?
                    .insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
                // The tables later formats added.
                drop(Writer::open(&txn)?);
                txn.commit()?;
                return Ok(());
            }
            None => {}
        }
        if self.db.is_read_only() {
            return Err(Error::Incompatible(format!(
                "`{}` is not a complete crmstore store (open it writable once to finish it)",
                self.path.display()
            )));
        }
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let format = meta.get("format")?.map(|g| g.value().to_vec());
            match format {
                None => {
                    let has_data = txn.list_tables()?.any(|t| t.name() != META.name());
                    if has_data {
                        return Err(Error::Incompatible(format!(
                            "`{}` is a redb file but not a crmstore store",
                            self.path.display()
                        )));
                    }
                    meta.insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
                    let id = crate::util::random_id();
                    meta.insert("store_id", id.to_le_bytes().as_slice())?;
                }
                Some(bytes) => {
                    self.check_format(&bytes)?;
                    meta.insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
                }
            }
        }
        migrate_records(&txn)?;
        migrate_counts(&txn)?;
        // Create every table so read transactions can open them all.
        drop(Writer::open(&txn)?);
        txn.commit()?;
        Ok(())
    }

    /// The file's format when it already is a store this build reads, with
    /// every table; `None` when it must be finished.
    fn ready(&self) -> Result<Option<u32>> {
        let txn = self.db.begin_read()?;
        let format = match txn.open_table(META) {
            Ok(meta) => meta.get("format")?.map(|g| g.value().to_vec()),
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(bytes) = format else {
            return Ok(None);
        };
        let format = self.check_format(&bytes)?;
        Ok(Reader::new(txn).all_tables_exist(format)?.then_some(format))
    }

    /// The format version in `bytes`; refuses one this build cannot read.
    fn check_format(&self, bytes: &[u8]) -> Result<u32> {
        let v = <[u8; 4]>::try_from(bytes)
            .map(u32::from_le_bytes)
            .map_err(|_| Error::Corrupt("corrupt format version in `meta`".into()))?;
        if v > FORMAT_VERSION {
            return Err(Error::Incompatible(format!(
                "`{}` has store format `{v}`; this crmstore reads up to `{FORMAT_VERSION}` (upgrade crmstore)",
                self.path.display()
            )));
        }
        Ok(v)
    }

    /// The random id written at creation; archives name the store they came from.
    pub(crate) fn store_id(&self) -> Result<[u8; 16]> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let id = meta
            .get("store_id")?
            .map(|g| g.value().to_vec())
            .unwrap_or_default();
        <[u8; 16]>::try_from(id.as_slice())
            .map_err(|_| Error::Corrupt("corrupt store id in `meta`".into()))
    }
}

/// Moves the records of a format 1 or 2 store from `RECORDS_V1` into
/// `RECORDS` (same bytes, same order) and deletes the old table, inside `txn`:
/// the store is migrated whole, with the format mark, or not at all. Costs one
/// sequential copy of the records (measured in the README); nothing else changes.
fn migrate_records(txn: &WriteTransaction) -> Result<()> {
    let exists = txn.list_tables()?.any(|t| t.name() == RECORDS_V1.name());
    if !exists {
        return Ok(());
    }
    {
        let old = txn.open_table(RECORDS_V1)?;
        let mut new = txn.open_table(RECORDS)?;
        for e in old.iter()? {
            let (k, v) = e?;
            let (account, id) = k.value();
            new.insert(record_key(account, id), v.value())?;
        }
    }
    txn.delete_table(RECORDS_V1)?;
    Ok(())
}

/// Format 5, inside `txn` as [`migrate_records`]: counts the records of every
/// (account, module, owner, team) into `RANGE_COUNTS` and of every (account,
/// module, stage) into `STAGE_COUNTS`, and rebuilds the share
/// index as `BY_SHARE`, each entry with its record's owner and team, deleting
/// the old one. A store without the old share index (new, or already format
/// 5) is left as it is. Costs one walk of the records, read in place, and a
/// lookup per share.
fn migrate_counts(txn: &WriteTransaction) -> Result<()> {
    let exists = txn.list_tables()?.any(|t| t.name() == BY_SHARE_V1.name());
    if !exists {
        return Ok(());
    }
    {
        let records = txn.open_table(RECORDS)?;
        let modules = txn.open_table(MODULES)?;
        let mut ids: HashMap<(u64, String), u32> = HashMap::new();
        let mut counted: BTreeMap<(u64, u32, u64, Option<u64>), u64> = BTreeMap::new();
        let mut staged: BTreeMap<(u64, u32, Option<String>), u64> = BTreeMap::new();
        for e in records.iter()? {
            let (k, bytes) = e?;
            let (account, id) = record_key_parts(k.value());
            let v = view_of(bytes.value(), account, id)?;
            let key = (account, v.module.to_string());
            let m = match ids.get(&key) {
                Some(m) => *m,
                None => {
                    let m = modules.get((account, v.module))?.map(|g| g.value());
                    let m = m.ok_or_else(|| {
                        Error::Corrupt(format!(
                            "record `{id}` of account `{account}` has an uninterned module"
                        ))
                    })?;
                    *ids.entry(key).or_insert(m)
                }
            };
            *counted.entry((account, m, v.owner, v.team)).or_default() += 1;
            let stage = v.stage.map(str::to_string);
            *staged.entry((account, m, stage)).or_default() += 1;
        }
        let mut counts = txn.open_table(RANGE_COUNTS)?;
        for (key, n) in counted {
            counts.insert(key, n)?;
        }
        let mut stages = txn.open_table(STAGE_COUNTS)?;
        for ((a, m, stage), n) in &staged {
            stages.insert((*a, *m, stage.as_deref()), *n)?;
        }
        let old = txn.open_table(BY_SHARE_V1)?;
        let mut new = txn.open_table(BY_SHARE)?;
        for e in old.iter()? {
            let (k, access) = e?;
            let k = k.value();
            let (account, id) = (k.0, k.4);
            let bytes = records.get(record_key(account, id))?.ok_or_else(|| {
                Error::Corrupt(format!(
                    "by_share: entry for missing record `{id}` of account `{account}` \
                     (run `crmstore check` on a read-only open)"
                ))
            })?;
            let v = view_of(bytes.value(), account, id)?;
            new.insert(k, (access.value(), v.owner, v.team))?;
        }
    }
    txn.delete_table(BY_SHARE_V1)?;
    Ok(())
}
