//! The tables of one transaction, opened together: [`Reader`] for a read
//! transaction, [`Writer`] for a write transaction. Both answer the lookups
//! every operation needs through [`Tx`], so access checks read the same way
//! inside and outside a write.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use redb::{
    AccessGuard, ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{Error, Result};
use crate::model::{Directory, Record, RecordView};
use crate::tables::*;

pub(crate) mod counts;
pub(crate) mod index;
mod records;
mod shares;

pub(crate) use records::Records;
pub(crate) use shares::ShareKey;

/// The token a write transaction asks for before it hands out the records
/// table or an index table: only this module and `index` can make one, so
/// only `index` writes them.
#[derive(Clone, Copy)]
pub(crate) struct Sealed(pub(in crate::txn) ());

/// Per-account counters and the head of the audit chain (`tables::ACCOUNTS`).
///
/// INVARIANT (ids never reused): `next_record` is above every record id the
/// account ever had, live, trashed or purged; likewise `next_batch`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountState {
    pub next_record: u64,
    pub next_batch: u64,
    pub next_seq: u64,
    pub head: [u8; 32],
}

impl codec::Stored for AccountState {}

impl AccountState {
    /// Takes the next record id (ids start at 1 and are never reused).
    pub(crate) fn take_record_id(&mut self) -> Result<u64> {
        take(&mut self.next_record, "record")
    }

    /// Takes the next trash batch id (as record ids).
    pub(crate) fn take_batch_id(&mut self) -> Result<u64> {
        take(&mut self.next_batch, "trash batch")
    }
}

/// Ids stop at `limits::MAX_ID`: past it the counter refuses, never wraps.
fn take(counter: &mut u64, what: &str) -> Result<u64> {
    let id = (*counter).max(1);
    if id > crate::limits::MAX_ID {
        return Err(Error::Conflict(format!("{what} ids are exhausted")));
    }
    *counter = id + 1;
    Ok(id)
}

/// Lookups shared by read and write transactions.
pub(crate) trait Tx {
    fn version_of(&self, account: u64) -> Result<Option<u64>>;
    fn directory_of(&self, account: u64) -> Result<Option<Directory>>;
    fn record(&self, account: u64, id: u64) -> Result<Option<Record>>;
    fn module_id(&self, account: u64, module: &str) -> Result<Option<u32>>;
    /// Whether session `session` of `user` is not ended (one key lookup).
    fn session_live(&self, account: u64, user: u64, session: u64) -> Result<bool>;
}

pub(crate) fn read_directory(
    t: &impl ReadableTable<u64, &'static [u8]>,
    account: u64,
) -> Result<Option<Directory>> {
    t.get(account)?
        .map(|g| codec::decode(g.value(), || format!("directory of account `{account}`")))
        .transpose()
}

fn read_state(t: &impl ReadableTable<u64, &'static [u8]>, account: u64) -> Result<AccountState> {
    t.get(account)?
        .map(|g| codec::decode(g.value(), || format!("accounts key {account}")))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Where a record's bytes are, for a `Corrupt` error.
pub(crate) fn record_place(account: u64, id: u64) -> String {
    format!("records key ({account}, {id})")
}

fn decode_record(
    found: Option<AccessGuard<'_, &'static [u8]>>,
    account: u64,
    id: u64,
) -> Result<Option<Record>> {
    found
        .map(|g| codec::decode(g.value(), || record_place(account, id)))
        .transpose()
}

/// From one list of the tables (the registry), everything that walks them:
/// [`Reader`], whose tables open on first use (a `get` touches two tables,
/// not fifteen); `WriteTables`, every table opened in a write transaction;
/// `WriteTables::clear_account`, which drops an account's data from every
/// table marked `clear` (with the lowest key of an account); and the check
/// that a store has every table. The records are beside the list: a read
/// transaction may find them in either of two tables ([`Records`]).
///
/// A table marked `index` or `index_versioned` (the records and their index
/// entries) is written only through `crate::index`, which alone can make the
/// [`Sealed`] token its write access asks for: INVARIANT (indexes) has one
/// writer.
macro_rules! tables {
    ($($vis:vis $name:ident: $def:ident => $k:ty, $v:ty, $access:ident $(, clear $lo:expr)? $(, since $since:literal)?;)*) => {
        pub(crate) struct WriteTables<'t> {
            records: Table<'t, u128, &'static [u8]>,
            $($vis $name: Table<'t, $k, $v>,)*
        }

        impl<'t> WriteTables<'t> {
            pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self> {
                Ok(WriteTables {
                    records: txn.open_table(RECORDS)?,
                    $($name: txn.open_table($def)?,)*
                })
            }

            pub(crate) fn state(&self, account: u64) -> Result<AccountState> {
                read_state(&self.accounts, account)
            }

            /// The records table, for `crate::index` alone.
            pub(crate) fn records(&mut self, _: Sealed) -> &mut Table<'t, u128, &'static [u8]> {
                &mut self.records
            }

            $(write_access!($access, $name, 't, $k, $v);)*

            /// Drops every record, index entry, field name and trash batch of
            /// account `a`; returns how many trash batches went.
            pub(crate) fn clear_account(&mut self, a: u64) -> Result<u64> {
                let next = a.checked_add(1);
                let batches = self.trash.range((a, 0)..=(a, u64::MAX))?.count() as u64;
                clear_range(&mut self.records, record_key(a, 0), next.map(|n| record_key(n, 0)))?;
                $($(clear_range(&mut self.$name, ($lo)(a), next.map($lo))?;)?)*
                Ok(batches)
            }
        }

        pub(crate) struct Reader {
            txn: ReadTransaction,
            records: OnceLock<Records>,
            shares_v1: OnceLock<ReadOnlyTable<ShareKey, u8>>,
            $($name: OnceLock<ReadOnlyTable<$k, $v>>,)*
        }

        impl Reader {
            pub(crate) fn new(txn: ReadTransaction) -> Self {
                Reader {
                    txn,
                    records: OnceLock::new(),
                    shares_v1: OnceLock::new(),
                    $($name: OnceLock::new(),)*
                }
            }

            /// Whether every table a store of `format` has exists (the store
            /// was made ready by `Engine::init`); the records may be in their
            /// format-2 table. A table marked `since N` came with format N: an
            /// older store opened read-only lacks it, and only what uses it fails.
            pub(crate) fn all_tables_exist(&self, format: u32) -> Result<bool> {
                let names: HashSet<String> = self
                    .txn
                    .list_tables()?
                    .map(|t| t.name().to_string())
                    .collect();
                let records = [RECORDS.name(), RECORDS_V1.name()]
                    .iter()
                    .any(|n| names.contains(*n));
                let since: &[(&str, u32)] = &[$(($def.name(), 1 $(.max($since))?)),*];
                Ok(records && since.iter().all(|(n, v)| *v > format || names.contains(*n)))
            }

            /// Whether the store has the access gate's tables (format 4): a
            /// store of an older format opened read-only has not.
            pub(crate) fn has_gate(&self) -> Result<bool> {
                Ok(self.txn.list_tables()?.any(|t| t.name() == GATE.name()))
            }

            pub(crate) fn records(&self) -> Result<&Records> {
                if let Some(t) = self.records.get() {
                    return Ok(t);
                }
                let t = match self.txn.open_table(RECORDS) {
                    Ok(t) => Records::Current(t),
                    Err(redb::TableError::TableDoesNotExist(_)) => {
                        Records::V1(self.txn.open_table(RECORDS_V1)?)
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(self.records.get_or_init(|| t))
            }

            $(read_access!($access, $name, $def, $k, $v);)*
        }
    };
}

/// A read transaction's access to one table: opened on first use; a table
/// marked `index_versioned` is read through an accessor that also knows its
/// older form (as the records are).
macro_rules! read_access {
    (index_versioned, $name:ident, $def:ident, $k:ty, $v:ty) => {};
    ($access:ident, $name:ident, $def:ident, $k:ty, $v:ty) => {
        pub(crate) fn $name(&self) -> Result<&ReadOnlyTable<$k, $v>> {
            if let Some(t) = self.$name.get() {
                return Ok(t);
            }
            let t = self.txn.open_table($def)?;
            Ok(self.$name.get_or_init(|| t))
        }
    };
}

/// A write transaction's access to one table: `open` tables are fields of
/// the crate's, `index` tables only reach the holder of a [`Sealed`] token.
macro_rules! write_access {
    (open, $name:ident, $t:lifetime, $k:ty, $v:ty) => {};
    ($access:ident, $name:ident, $t:lifetime, $k:ty, $v:ty) => {
        pub(crate) fn $name(&mut self, _: Sealed) -> &mut Table<$t, $k, $v> {
            &mut self.$name
        }
    };
}

/// Removes the keys from `lo` up to `hi` (exclusive; unbounded with `None`).
fn clear_range<'a, K: redb::Key + 'static, V: redb::Value + 'static>(
    t: &mut Table<'_, K, V>,
    lo: K::SelfType<'a>,
    hi: Option<K::SelfType<'a>>,
) -> Result<()> {
    use std::ops::Bound;
    let hi = hi.map_or(Bound::Unbounded, Bound::Excluded);
    t.retain_in::<K::SelfType<'a>, _>((Bound::Included(lo), hi), |_, _| false)?;
    Ok(())
}

tables! {
    pub(crate) accounts: ACCOUNTS => u64, &'static [u8], open;
    pub(crate) directory: DIRECTORY => u64, &'static [u8], open;
    pub(crate) dir_version: DIR_VERSION => u64, u64, open;
    pub(crate) modules: MODULES => (u64, &'static str), u32, open;
    fields: FIELDS => (u64, u32, &'static str), (), index, clear |a| (a, 0, "");
    by_module: BY_MODULE => (u64, u32, u64), (), index, clear |a| (a, 0, 0);
    by_owner: BY_OWNER => (u64, u32, u64, u64), (), index, clear |a| (a, 0, 0, 0);
    by_team: BY_TEAM => (u64, u32, u64, u64), (), index, clear |a| (a, 0, 0, 0);
    by_stage: BY_STAGE => (u64, u32, &'static str, u64), (), index, clear |a| (a, 0, "", 0);
    by_share: BY_SHARE => (u64, u8, u64, u32, u64), ShareValue, index_versioned, clear |a| (a, 0, 0, 0, 0), since 5;
    range_counts: RANGE_COUNTS => (u64, u32, u64, Option<u64>), u64, index_versioned, clear |a| (a, 0, 0, None), since 5;
    stage_counts: STAGE_COUNTS => (u64, u32, Option<&'static str>), u64, index, clear |a| (a, 0, None), since 5;
    by_parent: BY_PARENT => (u64, u64, u64), (), index, clear |a| (a, 0, 0);
    pub(crate) trash: TRASH => (u64, u64), &'static [u8], open, clear |a| (a, 0);
    pub(crate) trashed: TRASHED => (u64, u64, u64), &'static [u8], open, clear |a| (a, 0, 0);
    pub(crate) audit: AUDIT => (u64, u64), &'static [u8], open;
    pub(crate) logins: LOGINS => &'static str, &'static [u8], open, since 4;
    pub(crate) gate: GATE => u64, &'static [u8], open, since 4;
    pub(crate) sessions: SESSIONS => (u64, u64), &'static [u8], open, since 4;
    pub(crate) tokens: TOKENS => &'static [u8], TokenValue, open, since 4;
    pub(crate) user_sessions: USER_SESSIONS => (u64, u64, u64), (), open, since 4;
    pub(crate) login_sessions: LOGIN_SESSIONS => (&'static str, u64, u64), (), open, since 4;
    pub(crate) lockouts: LOCKOUTS => (u64, &'static str), &'static [u8], open, since 4;
    pub(crate) auth_log: AUTH_LOG => (u64, u64), &'static [u8], open, since 4;
}

impl Reader {
    pub(crate) fn state(&self, account: u64) -> Result<AccountState> {
        read_state(self.accounts()?, account)
    }

    /// Calls `f` with record `id` read in place from its stored bytes, hidden
    /// fields and all: only the crate sees such a view (see `model::view`).
    pub(crate) fn view<T>(
        &self,
        account: u64,
        id: u64,
        f: impl FnOnce(Option<RecordView<'_>>) -> Result<T>,
    ) -> Result<T> {
        let guard = self.records()?.get(account, id)?;
        let view = guard.as_ref().map(|g| view_of(g.value(), account, id));
        f(view.transpose()?)
    }
}

/// The record stored at `(account, id)` as `bytes`, read in place.
pub(crate) fn view_of(bytes: &[u8], account: u64, id: u64) -> Result<RecordView<'_>> {
    codec::parse(bytes, RecordView::parse, || record_place(account, id))
}

impl Tx for Reader {
    fn session_live(&self, account: u64, user: u64, session: u64) -> Result<bool> {
        // Only a store with the gate's tables ever made a session context.
        Ok(self
            .user_sessions()?
            .get((account, user, session))?
            .is_some())
    }
    fn version_of(&self, account: u64) -> Result<Option<u64>> {
        Ok(self.dir_version()?.get(account)?.map(|g| g.value()))
    }
    fn directory_of(&self, account: u64) -> Result<Option<Directory>> {
        read_directory(self.directory()?, account)
    }
    fn record(&self, account: u64, id: u64) -> Result<Option<Record>> {
        decode_record(self.records()?.get(account, id)?, account, id)
    }
    fn module_id(&self, account: u64, module: &str) -> Result<Option<u32>> {
        Ok(self.modules()?.get((account, module))?.map(|g| g.value()))
    }
}

/// The tables of a write transaction, and what this transaction already
/// knows about module ids and registered field names (bulk writes repeat them
/// for every record).
pub(crate) struct Writer<'t> {
    tables: WriteTables<'t>,
    module_cache: HashMap<u64, HashMap<String, u32>>,
    field_cache: HashMap<(u64, u32), HashSet<String>>,
}

impl<'t> std::ops::Deref for Writer<'t> {
    type Target = WriteTables<'t>;
    fn deref(&self) -> &Self::Target {
        &self.tables
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tables
    }
}

impl Tx for Writer<'_> {
    fn session_live(&self, account: u64, user: u64, session: u64) -> Result<bool> {
        Ok(self.user_sessions.get((account, user, session))?.is_some())
    }
    fn version_of(&self, account: u64) -> Result<Option<u64>> {
        Ok(self.dir_version.get(account)?.map(|g| g.value()))
    }
    fn directory_of(&self, account: u64) -> Result<Option<Directory>> {
        read_directory(&self.directory, account)
    }
    fn record(&self, account: u64, id: u64) -> Result<Option<Record>> {
        decode_record(self.records.get(record_key(account, id))?, account, id)
    }
    fn module_id(&self, account: u64, module: &str) -> Result<Option<u32>> {
        Ok(self.modules.get((account, module))?.map(|g| g.value()))
    }
}

impl<'t> Writer<'t> {
    /// The ids of every account, ascending, as this transaction sees them.
    pub(crate) fn accounts(&self) -> Result<Vec<u64>> {
        self.directory
            .range::<u64>(..)?
            .map(|e| Ok(e?.0.value()))
            .collect()
    }

    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(Writer {
            tables: WriteTables::open(txn)?,
            module_cache: HashMap::new(),
            field_cache: HashMap::new(),
        })
    }

    /// Registers a field name of a module (for CSV headers), once per transaction.
    pub(crate) fn register_field(
        &mut self,
        sealed: Sealed,
        account: u64,
        module: u32,
        name: &str,
    ) -> Result<()> {
        // Looked up by `&str`: a bulk write asks this for every field of
        // every record, and all but the first ask find it.
        let known = self.field_cache.entry((account, module)).or_default();
        if !known.contains(name) {
            self.tables
                .fields(sealed)
                .insert((account, module, name), ())?;
            known.insert(name.to_string());
        }
        Ok(())
    }

    pub(crate) fn put_state(&mut self, account: u64, state: &AccountState) -> Result<()> {
        self.accounts
            .insert(account, codec::encode(state)?.as_slice())?;
        Ok(())
    }

    /// Stores a directory and bumps the account's directory version, so every
    /// cached viewer of the account is re-resolved on its next use.
    pub(crate) fn put_directory(&mut self, dir: &Directory) -> Result<()> {
        let account = dir.account.id;
        self.directory
            .insert(account, codec::encode(dir)?.as_slice())?;
        let next = self
            .version_of(account)?
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| {
                Error::Conflict(format!("account `{account}` has no directory version left"))
            })?;
        self.dir_version.insert(account, next)?;
        Ok(())
    }

    /// The module's id, interning the name on first use.
    pub(crate) fn intern_module(&mut self, account: u64, module: &str) -> Result<u32> {
        // Looked up by `&str`, as field names are: bulk writes ask per record.
        if let Some(id) = self.module_cache.get(&account).and_then(|m| m.get(module)) {
            return Ok(*id);
        }
        if let Some(id) = self.module_id(account, module)? {
            self.cache_module(account, module, id);
            return Ok(id);
        }
        // Module ids are dense per account: the next is the count so far.
        let used = self
            .modules
            .range((account, "")..)?
            .take_while(|e| e.as_ref().map_or(true, |(k, _)| k.value().0 == account));
        let id = u32::try_from(used.count())
            .map_err(|_| crate::Error::Invalid("too many modules".into()))?;
        self.tables.modules.insert((account, module), id)?;
        self.cache_module(account, module, id);
        Ok(id)
    }

    fn cache_module(&mut self, account: u64, module: &str, id: u32) {
        let known = self.module_cache.entry(account).or_default();
        known.insert(module.to_string(), id);
    }
}
