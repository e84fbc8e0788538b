//! The operator's handle: what trusted operator and system code does to a
//! store, named apart from what a person does through an [`AccessContext`].
//! A CRM's own request handlers act for people; its setup, admin tooling,
//! schedulers and the `crmstore` CLI's operator commands use this.

use crate::access::AccessContext;
use crate::account::Loaded;
use crate::audit::{ChainReport, Event};
use crate::backup::{Archive, BackupOptions};
use crate::check::CheckReport;
use crate::error::Result;
use crate::model::{Directory, Timestamp};
use crate::progress::Progress;
use crate::store::Store;
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
        self.0.context(account, user)
    }

    /// Creates or replaces one account from an account document.
    ///
    /// # Errors
    /// As `Store`'s load: `Invalid` naming the first problem.
    pub fn load_json(&self, text: &str) -> Result<Loaded> {
        self.0.load_json(text)
    }

    /// The directory of `account`.
    ///
    /// # Errors
    /// `NotFound` for an unknown account.
    pub fn directory(&self, account: u64) -> Result<Directory> {
        self.0.directory(account)
    }

    /// Changes the directory of `account` with `edit`, checked like a loaded
    /// document, audited as `directory.change`.
    ///
    /// # Errors
    /// `NotFound` for an unknown account; `Invalid` for a bad reference, a
    /// removed user or a changed account id.
    pub fn update_directory(&self, account: u64, edit: impl FnOnce(&mut Directory)) -> Result<()> {
        self.0.update_directory(account, edit)
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
        self.0.audit_list(account, since, action)
    }

    /// Walks `account`'s audit chain.
    ///
    /// # Errors
    /// `NotFound` for an unknown account.
    pub fn audit_verify(&self, account: u64) -> Result<ChainReport> {
        self.0.audit_verify(account)
    }

    /// Verifies every index against the records, both ways.
    ///
    /// # Errors
    /// Storage errors; what is inconsistent is in the report.
    pub fn check(&self) -> Result<CheckReport> {
        self.0.check()
    }

    /// Writes an archive of the store or one account.
    ///
    /// # Errors
    /// As the backup: `NotFound`, `Io`, `Corrupt` for a damaged store.
    pub fn backup(&self, opts: &BackupOptions, progress: &dyn Progress) -> Result<Archive> {
        self.0.backup(opts, progress)
    }

    /// Creates or replaces an account with generated data (benchmarks,
    /// trying things).
    ///
    /// # Errors
    /// `Invalid` for a bad spec.
    pub fn generate(&self, spec: &GenSpec, progress: &dyn Progress) -> Result<()> {
        self.0.generate(spec, progress)
    }
}
