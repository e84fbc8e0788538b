//! [`Store`], the front: every public method of the store is here, and each
//! hands off to the module that owns the concept (`records`, `trash`,
//! `export`, `account`, `backup`, `access`); the plumbing they share
//! (transactions, acting for a person, resolving viewers) is `engine`.
//! Methods acting for a person take the [`AccessContext`] of who acts;
//! trusted code's are on [`Operator`] (`store.operator()`).

use std::path::{Path, PathBuf};

use std::net::IpAddr;

use crate::access::{AccessContext, Action, Decision};
use crate::engine::Engine;
use crate::error::Result;
use crate::export::ExportFormat;
use crate::gate::{Opened, Revoke, SecondFactor, SignIn};
use crate::model::Timestamp;
use crate::model::{Access, NewRecord, Principal, Record};
use crate::query::{Page, Query, Rows};
use crate::records::Update;
use crate::sessions::SessionInfo;
use crate::trash::{Batch, Cascade, Deleted};
use options::OpenOptions;

mod operator;
pub(crate) mod options;
pub use crate::engine::FORMAT_VERSION;
pub use operator::Operator;

/// An open crmstore file. Cheap to share between threads (`&Store` is `Sync`):
/// readers never block, writers take turns.
pub struct Store {
    pub(crate) engine: Engine,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.engine.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path` for this process alone, creating it (with
    /// every table and the format version) if the file does not exist. See
    /// [`Store::options`] to share the file with other processes or bound the
    /// page cache.
    ///
    /// # Errors
    /// As [`OpenOptions::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::options().open(path)
    }

    /// Options for opening a store: page cache size, sharing with other processes.
    pub fn options() -> OpenOptions {
        OpenOptions::default()
    }

    /// Opens a store on a redb storage backend of the caller's (fault
    /// injection in tests). Not part of the API.
    #[doc(hidden)]
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        label: impl Into<PathBuf>,
    ) -> Result<Store> {
        Engine::on_backend(backend, label.into()).map(|engine| Store { engine })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.engine.path
    }

    // Acting for a person: each takes the `AccessContext` of who acts.

    /// Whether the viewer may do `action` now, and if not, why: the same
    /// reason the action gives when refused. (Every action decides again
    /// when it runs.)
    ///
    /// # Errors
    /// `NotFound` for a record or trash batch the viewer may not see (it does
    /// not exist for them); storage errors.
    pub fn can(&self, ctx: &AccessContext, action: Action<'_>) -> Result<Decision> {
        crate::ask::can(&self.engine, ctx, action)
    }

    /// Creates a record owned by the viewer (or by `new.owner` when the viewer
    /// is an admin or has edit scope `all`).
    ///
    /// # Errors
    /// `Denied` without the create right, for a stage outside the viewer's
    /// stages, or for a hidden or read-only field; `Invalid` for an unknown
    /// owner, team or parent.
    pub fn create(&self, ctx: &AccessContext, new: NewRecord) -> Result<Record> {
        crate::records::create(&self.engine, ctx, new)
    }

    /// Creates many records in one transaction: all or none (an import).
    /// A record may name as parent one created earlier in the same call.
    ///
    /// # Errors
    /// As [`Store::create`], for the first record refused; nothing is created.
    pub fn create_many(&self, ctx: &AccessContext, news: Vec<NewRecord>) -> Result<Vec<Record>> {
        crate::records::create_many(&self.engine, ctx, news)
    }

    /// The record `id` as the viewer sees it.
    ///
    /// # Errors
    /// `NotFound` when it does not exist or the viewer may not see it (the two
    /// are the same answer).
    pub fn get(&self, ctx: &AccessContext, id: u64) -> Result<Record> {
        crate::records::get(&self.engine, ctx, id)
    }

    /// Applies `up` to record `id`: version +1.
    ///
    /// # Errors
    /// `NotFound` if invisible; `Denied` without the edit right or for a hidden
    /// or read-only field; `Conflict` for a stale `expect_version`.
    pub fn update(&self, ctx: &AccessContext, id: u64, up: Update) -> Result<Record> {
        crate::records::update(&self.engine, ctx, id, up)
    }

    /// One page of the records the viewer may see, in ascending id order.
    ///
    /// # Errors
    /// `Denied` for a filter on a hidden field; `Invalid` for a filter whose
    /// built-ins have the wrong type or an unknown module.
    pub fn query(&self, ctx: &AccessContext, q: &Query) -> Result<Page> {
        crate::records::query(&self.engine, ctx, q)
    }

    /// [`Store::query`], answered as [`Rows`]: the same records, read in
    /// place from one buffer instead of built one by one (for showing a
    /// page; [`RecordView::to_record`](crate::RecordView::to_record) makes an owned record of one).
    ///
    /// # Errors
    /// As [`Store::query`].
    pub fn query_rows(&self, ctx: &AccessContext, q: &Query) -> Result<Rows> {
        crate::records::query_rows(&self.engine, ctx, q)
    }

    /// How many records of the query the viewer may see (`after`/`limit` ignored).
    ///
    /// # Errors
    /// As [`Store::query`].
    pub fn count(&self, ctx: &AccessContext, q: &Query) -> Result<u64> {
        crate::records::count(&self.engine, ctx, q)
    }

    /// Shares each record with `to` at `access` (replacing its level if it
    /// already has one). All records or none; audited as `record.share`.
    /// Returns how many records changed: one already as asked keeps its
    /// version and is not audited (nothing is, when none changed).
    ///
    /// # Errors
    /// `NotFound` for an invisible record; `Denied` unless the viewer is an
    /// admin or owns and may edit every record; `Invalid` for an unknown principal.
    pub fn share(
        &self,
        ctx: &AccessContext,
        ids: &[u64],
        to: Principal,
        access: Access,
    ) -> Result<u64> {
        crate::records::share(&self.engine, ctx, ids, to, access)
    }

    /// Removes `from`'s share of each record. As [`Store::share`].
    ///
    /// # Errors
    /// As [`Store::share`].
    pub fn unshare(&self, ctx: &AccessContext, ids: &[u64], from: Principal) -> Result<u64> {
        crate::records::unshare(&self.engine, ctx, ids, from)
    }

    /// Gives each record to `owner` (and `team`, when given). As [`Store::share`].
    ///
    /// # Errors
    /// As [`Store::share`]; `Invalid` for an unknown user or team.
    pub fn assign(
        &self,
        ctx: &AccessContext,
        ids: &[u64],
        owner: u64,
        team: Option<u64>,
    ) -> Result<u64> {
        crate::records::assign(&self.engine, ctx, ids, owner, team)
    }

    /// Writes every record of `q.module` (matching `q`'s filter) the viewer
    /// may export to `out`, hidden fields left out, and audits
    /// `record.export` with the count. Returns the count.
    ///
    /// # Errors
    /// `Denied` when the viewer's export scope is `none`, the module is
    /// admin-only export and the viewer is not an admin, the filter names a
    /// hidden field, or the activity monitor refuses (and blocks the user).
    pub fn export(
        &self,
        ctx: &AccessContext,
        q: &Query,
        format: ExportFormat,
        out: impl std::io::Write,
    ) -> Result<u64> {
        crate::export::export(&self.engine, ctx, q, format, out)
    }

    /// Moves records (and with [`Cascade::Yes`] everything below them by
    /// `parent`) into one trash batch.
    ///
    /// # Errors
    /// `NotFound` for an invisible record; `Denied` without the delete right
    /// on every record (nothing changes); `Conflict` for live children
    /// without [`Cascade::Yes`]; `Denied` when the activity monitor blocks the user.
    pub fn delete(&self, ctx: &AccessContext, ids: &[u64], cascade: Cascade) -> Result<Deleted> {
        crate::trash::delete(&self.engine, ctx, ids, cascade)
    }

    /// The trash batches the viewer may see, ascending by id.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn trash_list(&self, ctx: &AccessContext) -> Result<Vec<Batch>> {
        crate::trash::trash_list(&self.engine, ctx)
    }

    /// Puts back a batch, or only `only` (with their ancestors from the same
    /// batch): same ids, owner, team, shares, fields, parent and version.
    ///
    /// # Errors
    /// `NotFound` for a batch the viewer may not see; `Denied` when a
    /// non-admin may no longer delete a record restored; `Conflict` when a
    /// record's parent is gone.
    pub fn restore_batch(
        &self,
        ctx: &AccessContext,
        batch: u64,
        only: Option<&[u64]>,
    ) -> Result<u64> {
        crate::trash::restore(&self.engine, ctx, batch, only)
    }

    /// Removes a batch for good. Admins only: the trash is their safety net.
    ///
    /// # Errors
    /// `NotFound` for a batch the viewer may not see; `Denied` for a non-admin.
    pub fn purge(&self, ctx: &AccessContext, batch: u64) -> Result<u64> {
        crate::trash::purge(&self.engine, ctx, batch)
    }

    /// Blocks or unblocks `user`. Admins only; audited as `user.block` /
    /// `user.unblock`.
    ///
    /// # Errors
    /// `Denied` for a non-admin; `NotFound` for an unknown user.
    pub fn set_blocked(&self, ctx: &crate::AccessContext, user: u64, blocked: bool) -> Result<()> {
        crate::account::set_blocked(&self.engine, ctx, user, blocked)
    }

    // The access gate: signing in and out, sessions per device.

    /// Signs in with a password: a new session for `sign_in.login`'s user
    /// in `sign_in.account`, its token shown once (DESIGN.md "The access
    /// gate"). Decided at `now`; refused or not, it is in the account's
    /// authorization log.
    ///
    /// # Errors
    /// `Denied("login failed")` for an unknown login, one not linked in the
    /// account, or a wrong password (the same answer, the same time); then,
    /// only after the password was right, `Denied` naming a lockout, a
    /// blocked or an inactive user.
    pub fn session_open(
        &self,
        sign_in: &SignIn<'_>,
        password: &str,
        now: Timestamp,
    ) -> Result<Opened> {
        crate::gate::open_password(&self.engine, sign_in, password, None, now)
    }

    /// [`Store::session_open`] with a second factor: a TOTP code or a
    /// recovery code, needed once the login has confirmed TOTP.
    ///
    /// # Errors
    /// As [`Store::session_open`]; after the password was right, `Denied`
    /// naming a missing, wrong or replayed code, or an enrolment required.
    pub fn session_open_with(
        &self,
        sign_in: &SignIn<'_>,
        password: &str,
        second: Option<SecondFactor<'_>>,
        now: Timestamp,
    ) -> Result<Opened> {
        crate::gate::open_password(&self.engine, sign_in, password, second, now)
    }

    /// The context of the session `token` names, re-checked at `now`: not
    /// ended, within its lifetime and idle limit, its user neither blocked
    /// nor inactive. Call it on every request: an ending bites on the next.
    ///
    /// # Errors
    /// `Denied` naming why the session does not work.
    pub fn authenticate(&self, token: &str, ip: IpAddr, now: Timestamp) -> Result<AccessContext> {
        crate::gate::authenticate(&self.engine, token, ip, now)
    }

    /// Ends the session `token` names ("log out this device").
    ///
    /// # Errors
    /// `Denied` for a token that names no live session.
    pub fn session_close(&self, token: &str, now: Timestamp) -> Result<()> {
        crate::gate::close(&self.engine, token, now)
    }

    /// Opens a session in `account` for the same login, without the
    /// password, when that account's own policy lets the user in.
    ///
    /// # Errors
    /// As [`Store::authenticate`] for the token; `NotFound` when the login
    /// has no user in `account`; `Denied` as [`Store::session_open`].
    pub fn session_switch(
        &self,
        token: &str,
        account: u64,
        ip: IpAddr,
        now: Timestamp,
    ) -> Result<Opened> {
        crate::gate::switch(&self.engine, token, account, ip, now)
    }

    /// The viewer's sessions (an admin: `user`'s), current ones only, or
    /// with `all` the ended and lapsed ones too, with why they ended.
    ///
    /// # Errors
    /// `Denied` for a non-admin asking about another user.
    pub fn session_list(
        &self,
        ctx: &AccessContext,
        user: Option<u64>,
        all: bool,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>> {
        crate::gate::list(&self.engine, ctx, user, all, now)
    }

    /// Ends sessions: some by id, or all of a user's but one ("log out all
    /// other devices"). A user ends their own; an admin anyone's in the
    /// account (also in the audit log). How many were live.
    ///
    /// # Errors
    /// `NotFound` for a session id the viewer may not end; `Denied` for a
    /// non-admin naming another user.
    pub fn session_revoke(
        &self,
        ctx: &AccessContext,
        which: Revoke<'_>,
        now: Timestamp,
    ) -> Result<u64> {
        crate::gate::revoke(&self.engine, ctx, which, now)
    }

    /// Clears `login`'s lockout in the viewer's account (admins only).
    ///
    /// # Errors
    /// `Denied` for a non-admin; `NotFound` when the login is not locked.
    pub fn login_unlock(&self, ctx: &AccessContext, login: &str, now: Timestamp) -> Result<()> {
        crate::gate::unlock(&self.engine, ctx, login, now)
    }

    /// Removes `user`'s second factor (admins only): their next sign-in
    /// needs only the password, or an enrolment where 2FA is required. Every
    /// session of their login ends, in every account. How many ended.
    ///
    /// # Errors
    /// `Denied` for a non-admin; `NotFound` for an unknown user or one
    /// without a login.
    pub fn totp_reset(&self, ctx: &AccessContext, user: u64, now: Timestamp) -> Result<u64> {
        crate::gate::totp_reset(&self.engine, ctx, user, now)
    }

    /// An admin's change to the directory of their account (policy, shifts,
    /// users, ...), checked like a loaded document and audited with the
    /// admin as the actor. Through a session it may not lock the admin out
    /// (their own address or shift).
    ///
    /// # Errors
    /// `Denied` for a non-admin; `Invalid` as a document would be;
    /// `Conflict` for a change that would lock the admin's session out.
    pub fn update_directory(
        &self,
        ctx: &AccessContext,
        edit: impl FnOnce(&mut crate::model::Directory),
    ) -> Result<()> {
        crate::gate::update_directory(&self.engine, ctx, edit)
    }
}
