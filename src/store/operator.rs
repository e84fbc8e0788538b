//! The operator's handle: what trusted operator and system code does to a
//! store, named apart from what a person does through an [`AccessContext`].
//! A CRM's own request handlers act for people; its setup, admin tooling,
//! schedulers and the `crmstore` CLI's operator commands use this.

use crate::access::AccessContext;
use crate::account::Loaded;
use crate::audit::{ChainReport, Event};
use crate::gate::{Enrolled, Opened, SignIn};
use crate::sessions::{AuthEvent, AuthQuery};
use std::path::Path;

use crate::backup::{Archive, BackupOptions, Counts, Decryption};
use crate::check::CheckReport;
use crate::error::Result;
use crate::model::{Directory, Timestamp};
use crate::progress::Progress;
use crate::store::Store;
#[cfg(any(test, feature = "synth"))]
use crate::synth::GenSpec;

/// Trusted code's handle on a store: `store.operator()`. Nothing here asks
/// who is acting; everything it changes is audited as the operator.
#[derive(Clone, Copy, Debug)]
pub struct Operator<'s>(&'s Store);

impl Store {
    /// The operator's handle: accounts, directories, the audit log, checks,
    /// backups (trusted code, not a person).
    pub fn operator(&self) -> Operator<'_> {
        Operator(self)
    }
}

impl Operator<'_> {
    /// A person's context in `account` as `user`, for trusted code that has
    /// established who they are (the access gate does this for people).
    ///
    /// # Errors
    /// `NotFound` for an unknown account or user; `Denied` for a blocked or
    /// inactive user.
    pub fn context(&self, account: u64, user: u64) -> Result<AccessContext> {
        self.0.engine.context(account, user)
    }

    /// Creates or replaces one account from an account document.
    ///
    /// # Errors
    /// As `Store`'s load: `Invalid` naming the first problem.
    pub fn load_json(&self, text: &str) -> Result<Loaded> {
        crate::account::load_json(&self.0.engine, text)
    }

    /// The directory of `account`.
    ///
    /// # Errors
    /// `NotFound` for an unknown account.
    pub fn directory(&self, account: u64) -> Result<Directory> {
        crate::account::directory(&self.0.engine, account)
    }

    /// Changes the directory of `account` with `edit`, checked like a loaded
    /// document, audited as `directory.change`.
    ///
    /// # Errors
    /// `NotFound` for an unknown account; `Invalid` for a bad reference, a
    /// removed user or a changed account id.
    pub fn update_directory(&self, account: u64, edit: impl FnOnce(&mut Directory)) -> Result<()> {
        crate::account::update_directory(&self.0.engine, account, edit)
    }

    /// The audit events of `account` in ascending seq, at or after `since`,
    /// of `action` (an `AuditAction` name) when given.
    ///
    /// # Errors
    /// `NotFound` for an unknown account; `Invalid` for an unknown action.
    pub fn audit_list(
        &self,
        account: u64,
        since: Option<Timestamp>,
        action: Option<&str>,
    ) -> Result<Vec<Event>> {
        self.0
            .engine
            .read(|r| crate::audit::audit_list(r, account, since, action))
    }

    /// Walks `account`'s audit chain.
    ///
    /// # Errors
    /// `NotFound` for an unknown account.
    pub fn audit_verify(&self, account: u64) -> Result<ChainReport> {
        self.0
            .engine
            .read(|r| crate::audit::audit_verify(r, account))
    }

    /// Verifies every index against the records, both ways.
    ///
    /// # Errors
    /// Storage errors; what is inconsistent is in the report.
    pub fn check(&self) -> Result<CheckReport> {
        crate::check::check(&self.0.engine)
    }

    /// Writes an archive of the store or one account.
    ///
    /// # Errors
    /// As the backup: `NotFound`, `Io`, `Corrupt` for a damaged store.
    pub fn backup(&self, opts: &BackupOptions, progress: &dyn Progress) -> Result<Archive> {
        crate::backup::write::backup(&self.0.engine, opts, progress)
    }

    #[cfg(any(test, feature = "synth"))]
    /// Creates or replaces an account with generated data (benchmarks,
    /// trying things).
    ///
    /// # Errors
    /// `Invalid` for a bad spec.
    pub fn generate(&self, spec: &GenSpec, progress: &dyn Progress) -> Result<()> {
        crate::synth::generate(&self.0.engine, spec, progress)
    }

    /// The account as a document `load_json` reads back.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown account.
    pub fn dump_json(&self, account: u64) -> Result<serde_json::Value> {
        crate::account::dump_json(&self.0.engine, account)
    }

    /// Writes the account as a document `load_json` reads back, streaming its
    /// records from one read transaction (constant memory).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown account; [`Error::Io`](crate::Error::Io) when `out` fails.
    pub fn dump(&self, account: u64, out: impl std::io::Write) -> Result<()> {
        crate::account::dump(&self.0.engine, account, out)
    }

    /// The ids of every account in the store, ascending.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn account_list(&self) -> Result<Vec<u64>> {
        crate::account::accounts(&self.0.engine)
    }

    /// Restores account `account` from a full or account archive, seeking
    /// straight to it. Without `as_new` it replaces the live account in one
    /// write transaction (readers see the old or the new, never a mix),
    /// keeping the live audit log; with `as_new` it lands beside it under
    /// that id, with the archived log. Either way `backup.restore` is
    /// appended. A bad archive leaves the store untouched.
    ///
    /// # Errors
    /// `NotFound` when the archive lacks the account; `Conflict` when
    /// `as_new` names an existing account; `Crypto`/`Corrupt`/`Incompatible`
    /// for a bad archive.
    pub fn restore_account(
        &self,
        file: &Path,
        key: &Decryption,
        account: u64,
        as_new: Option<u64>,
    ) -> Result<Counts> {
        crate::backup::restore::restore_account(&self.0.engine, file, key, account, as_new)
    }

    /// Purges, in every account, the batches whose retention ended by `now`.
    /// Returns how many records were purged.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn purge_expired(&self, now: Timestamp) -> Result<u64> {
        crate::trash::purge_expired(&self.0.engine, now)
    }

    /// Creates a store-wide login with a password.
    ///
    /// # Errors
    /// `Invalid` for a bad login or a password outside 8..=1024 bytes;
    /// `Conflict` when the login exists.
    pub fn login_add(&self, login: &str, password: &str) -> Result<()> {
        crate::gate::login_add(&self.0.engine, login, password)
    }

    /// Sets a login's password and ends every session of it, in every
    /// account. How many sessions ended.
    ///
    /// # Errors
    /// `NotFound` for an unknown login; `Invalid` for a bad password.
    pub fn login_passwd(&self, login: &str, password: &str, now: Timestamp) -> Result<u64> {
        crate::gate::login_passwd(&self.0.engine, login, password, now)
    }

    /// Opens a session for a person a CRM's own identity provider signed in
    /// (`method` names it; `mfa`: it checked a second factor). No password:
    /// this is trusted code vouching, as [`Operator::context`] is.
    ///
    /// # Errors
    /// `NotFound` for an unknown account or a login with no user there;
    /// `Denied` for a blocked or inactive user.
    pub fn session_open_external(
        &self,
        sign_in: &SignIn<'_>,
        method: &str,
        mfa: bool,
        now: Timestamp,
    ) -> Result<Opened> {
        crate::gate::open_external(&self.0.engine, sign_in, method, mfa, now)
    }

    /// `account`'s authorization log, as `q` filters it.
    ///
    /// # Errors
    /// `NotFound` for an unknown account.
    pub fn auth_log(&self, account: u64, q: AuthQuery) -> Result<Vec<AuthEvent>> {
        crate::gate::auth_log(&self.0.engine, account, q)
    }

    /// Verifies `account`'s authorization log from where the last purge cut it.
    ///
    /// # Errors
    /// `NotFound` for an unknown account.
    pub fn auth_verify(&self, account: u64) -> Result<ChainReport> {
        crate::gate::auth_verify(&self.0.engine, account)
    }

    /// Drops, in every account, authorization-log events past the account's
    /// `auth_log_retention_days` at `now` (what `serve` runs daily). How many.
    ///
    /// # Errors
    /// Storage errors.
    pub fn purge_auth_logs(&self, now: Timestamp) -> Result<u64> {
        crate::gate::purge_logs(&self.0.engine, now)
    }

    /// A new TOTP secret for `login` (replacing one not yet confirmed): its
    /// text and `otpauth://` URI, shown once. It counts once confirmed.
    ///
    /// # Errors
    /// `NotFound` for an unknown login; `Conflict` when it has a confirmed one.
    pub fn totp_enroll(&self, login: &str, now: Timestamp) -> Result<Enrolled> {
        crate::gate::totp_enroll(&self.0.engine, login, now)
    }

    /// Confirms `login`'s enrolment with a first code; returns the ten
    /// recovery codes, shown once (only their hashes are kept).
    ///
    /// # Errors
    /// `Denied` for a wrong code; `Conflict` with nothing to confirm.
    pub fn totp_confirm(&self, login: &str, code: &str, now: Timestamp) -> Result<Vec<String>> {
        crate::gate::totp_confirm(&self.0.engine, login, code, now)
    }
}
