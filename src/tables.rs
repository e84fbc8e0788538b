//! Every redb table crmstore uses, with its key layout, in one place.
//!
//! Every key of account data starts with the account id, so one account is a
//! contiguous key range in every table: it can be dumped, backed up, restored
//! or dropped alone. Table names carry a version: renaming one is a migration.
//!
//! Module ids (`u32`) are interned per account in [`MODULES`]; record, batch and
//! audit ids are per account and never reused.
//!
//! INVARIANT (indexes): for every live record in [`RECORDS`] there is exactly one
//! entry in [`BY_MODULE`] and [`BY_OWNER`], one in [`BY_TEAM`] if it has a team,
//! [`BY_STAGE`] if it has a stage, [`BY_PARENT`] if it has a parent, one in
//! [`BY_SHARE`] per share, and no other entries name it; [`RANGE_COUNTS`]
//! and [`STAGE_COUNTS`] count them per (module, owner, team) and (module, stage). Trashed records are in no index.
//! Only `crate::index` writes them (`index::Sealed`); `check` verifies this
//! in both directions. The list every walk is generated from is `txn::tables!`.

use redb::TableDefinition;

/// Store-wide settings: `"format"` → u32 (LE), `"store_id"` → 16 random bytes.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");

/// account → `AccountState` (counters and audit chain head; codec-encoded).
pub(crate) const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts_v1");

/// account → `Directory` (settings, users, roles, teams, groups, profiles,
/// sharing rules; codec-encoded). One value so a directory change is one write
/// and a resolved viewer can be cached by [`DIR_VERSION`].
pub(crate) const DIRECTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("directory_v1");

/// account → directory version, bumped by every directory change.
pub(crate) const DIR_VERSION: TableDefinition<u64, u64> = TableDefinition::new("dir_version_v1");

/// (account, module name) → module id.
pub(crate) const MODULES: TableDefinition<(u64, &str), u32> = TableDefinition::new("modules_v1");

/// (account, module id, field name) → (): every field name ever written in a
/// module, so a CSV export knows its header before streaming.
pub(crate) const FIELDS: TableDefinition<(u64, u32, &str), ()> = TableDefinition::new("fields_v1");

/// [`record_key`]`(account, record id)` → `Record` (codec-encoded). One `u128`
/// (account in the high half), ordered as the `(account, id)` pair, because
/// every query looks up each candidate here: one integer compare per B-tree
/// level where a tuple key cost one call per element (format 3).
pub(crate) const RECORDS: TableDefinition<u128, &[u8]> = TableDefinition::new("records_v2");

/// (account, record id) → `Record`: where stores of format 1 and 2 keep their
/// records. A writable open moves them into [`RECORDS`] and deletes this table,
/// in the transaction that marks the store format 3; a read-only open of such a
/// store reads them here (`txn::Records`).
pub(crate) const RECORDS_V1: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("records_v1");

/// The [`RECORDS`] key of record `id` of `account`.
pub(crate) fn record_key(account: u64, id: u64) -> u128 {
    (u128::from(account) << 64) | u128::from(id)
}

/// The (account, record id) of a [`RECORDS`] key.
pub(crate) fn record_key_parts(key: u128) -> (u64, u64) {
    // Both halves are 64 bits wide: the casts keep exactly them.
    ((key >> 64) as u64, key as u64)
}

/// (account, module, record id) → ().
pub(crate) const BY_MODULE: TableDefinition<(u64, u32, u64), ()> =
    TableDefinition::new("by_module_v1");

/// (account, module, owner user, record id) → ().
pub(crate) const BY_OWNER: TableDefinition<(u64, u32, u64, u64), ()> =
    TableDefinition::new("by_owner_v1");

/// (account, module, team, record id) → ().
pub(crate) const BY_TEAM: TableDefinition<(u64, u32, u64, u64), ()> =
    TableDefinition::new("by_team_v1");

/// (account, module, stage, record id) → ().
pub(crate) const BY_STAGE: TableDefinition<(u64, u32, &str, u64), ()> =
    TableDefinition::new("by_stage_v1");

/// (account, principal kind, principal id, module, record id) → (access
/// level, the record's owner, its team). Principal kinds are
/// `Principal::kind_code`; access is `Access::code`. The owner and team let
/// a count tell a shared record it already counted by its owner or team
/// without reading the record (format 5).
pub(crate) const BY_SHARE: TableDefinition<(u64, u8, u64, u32, u64), ShareValue> =
    TableDefinition::new("by_share_v2");

/// A [`BY_SHARE`] value: (access code, owner, team).
pub(crate) type ShareValue = (u8, u64, Option<u64>);

/// [`BY_SHARE`] as stores of format 1 to 4 keep it: the value is the access
/// level alone. A writable open rebuilds it as [`BY_SHARE`] and deletes it;
/// a read-only open of such a store reads it here (`txn::Shares`).
pub(crate) const BY_SHARE_V1: TableDefinition<(u64, u8, u64, u32, u64), u8> =
    TableDefinition::new("by_share_v1");

/// (account, module, owner, team) → how many live records of the module
/// have that owner and team (never 0: the entry goes with its last record).
/// INVARIANT (range counts): equal to the records' count, kept in the
/// transaction of every write of a record, so a count costs the viewer's
/// (owner, team) pairs and shares, not their records (format 5).
pub(crate) const RANGE_COUNTS: TableDefinition<(u64, u32, u64, Option<u64>), u64> =
    TableDefinition::new("range_counts_v1");

/// (account, module, stage) → how many live records of the module are at
/// that stage (or have none), never 0: what a count for a viewer who sees the
/// whole module, perhaps limited to some stages, costs (format 5). Kept and
/// checked as [`RANGE_COUNTS`].
pub(crate) const STAGE_COUNTS: TableDefinition<(u64, u32, Option<&str>), u64> =
    TableDefinition::new("stage_counts_v1");

/// (account, parent record id, child record id) → ().
pub(crate) const BY_PARENT: TableDefinition<(u64, u64, u64), ()> =
    TableDefinition::new("by_parent_v1");

/// (account, batch id) → `Batch` (codec-encoded): a deletion batch's header
/// and the id/module/parent of each record still in it, so a listing never
/// decodes records.
pub(crate) const TRASH: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("trash_v1");

/// (account, batch id, record id) → `Record` (codec-encoded): a trashed record,
/// exactly as it was. INVARIANT (trash): a record id is live or in exactly
/// one batch or purged, never two of these.
pub(crate) const TRASHED: TableDefinition<(u64, u64, u64), &[u8]> =
    TableDefinition::new("trashed_v1");

/// (account, seq) → `Event` (codec-encoded). INVARIANT (audit chain): seqs are
/// dense from 1 and each event's `prev` is the hash of the event before it.
pub(crate) const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit_v1");

// The access gate (`crate::gate`). Logins are store-wide; everything else
// is per account, keyed by the account first as all account data is.

/// login (lowercase email) → `Login` (codec-encoded): the password's PHC
/// string. Store-wide: one login may be linked to users of several accounts.
pub(crate) const LOGINS: TableDefinition<&str, &[u8]> = TableDefinition::new("logins_v1");

/// account → `GateState` (codec-encoded): the next session id and the head
/// of the authorization log (and where a purge cut it).
pub(crate) const GATE: TableDefinition<u64, &[u8]> = TableDefinition::new("gate_v1");

/// (account, session id) → `Session` (codec-encoded): live and ended.
pub(crate) const SESSIONS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("sessions_v1");

/// SHA-256 of a session token's 32 bytes → (account, session id, user,
/// created_at, last_seen, end reason code; 0 while live): everything
/// `authenticate` needs, in one fixed-width value read without decoding. The
/// token itself is never stored.
pub(crate) const TOKENS: TableDefinition<&[u8], TokenValue> = TableDefinition::new("tokens_v1");

/// A [`TOKENS`] value.
pub(crate) type TokenValue = (u64, u64, u64, i64, i64, u8);

/// (account, user, session id) → (): the user's sessions not ended.
pub(crate) const USER_SESSIONS: TableDefinition<(u64, u64, u64), ()> =
    TableDefinition::new("user_sessions_v1");

/// (login, account, session id) → (): the login's sessions not ended, in
/// every account (a password change ends them all).
pub(crate) const LOGIN_SESSIONS: TableDefinition<(&str, u64, u64), ()> =
    TableDefinition::new("login_sessions_v1");

/// (account, login) → `Lock` (codec-encoded): recent wrong passwords and
/// when a lockout ends.
pub(crate) const LOCKOUTS: TableDefinition<(u64, &str), &[u8]> =
    TableDefinition::new("lockouts_v1");

/// (account, seq) → `AuthEvent` (codec-encoded). INVARIANT (auth chain): as
/// the audit chain, from the seq and hash the last purge cut at (`GATE`).
pub(crate) const AUTH_LOG: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("auth_log_v1");
