//! The tamper-evident audit log: one hash chain of events per account,
//! appended in the same transaction as the action it records.
//!
//! INVARIANT (audit chain): an account's events have seqs 1, 2, 3, ... with no
//! gap; each event's `prev` is the previous event's `hash` (zeros for the
//! first), its `hash` is SHA-256 over its content and `prev`, and the
//! account's state holds the last hash and the next seq. Events name fields,
//! never their values.

pub(crate) mod monitor;
use serde::{Deserialize, Serialize};

pub use crate::chain::ChainReport;
use crate::chain::{self, Link};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::txn::{Reader, Writer};

/// One audited action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: Timestamp,
    /// The user who acted; `None` for the operator (CLI `load`, backups, `serve`).
    pub actor: Option<u64>,
    /// `record.delete`, `access.denied`, ... (CLI.md lists them).
    pub action: String,
    /// What was acted on (record ids, a batch, a user).
    pub target: String,
    /// How many records the action touched.
    pub count: u64,
    pub detail: String,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

impl codec::Stored for Event {}

chain::linked!(Event {
    seq,
    at,
    actor,
    action,
    target,
    count,
    detail,
    prev
});

impl Event {
    /// The JSON line `audit list --json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.seq, "at": self.at.to_rfc3339(), "actor": self.actor,
            "action": self.action, "target": self.target, "count": self.count,
            "detail": self.detail, "hash": hex::encode(self.hash),
        })
    }
}

/// Every action an event may name (CLI.md "audit list"; `backup.failed`
/// is `serve`'s alert). Stored events keep the name as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    RecordDelete,
    RecordRestore,
    RecordPurge,
    RecordExport,
    RecordShare,
    RecordUnshare,
    RecordAssign,
    AccountLoad,
    DirectoryChange,
    UserBlock,
    UserUnblock,
    BackupCreate,
    BackupRestore,
    BackupFailed,
    AccessDenied,
    /// An admin ended another user's sessions (the gate).
    SessionRevoke,
    /// An admin cleared a login's lockout.
    LoginUnlock,
    /// An admin reset a user's two-factor sign-in.
    TotpReset,
}

impl AuditAction {
    /// Every action, in the order CLI.md lists them.
    pub const ALL: [AuditAction; 18] = [
        AuditAction::RecordDelete,
        AuditAction::RecordRestore,
        AuditAction::RecordPurge,
        AuditAction::RecordExport,
        AuditAction::RecordShare,
        AuditAction::RecordUnshare,
        AuditAction::RecordAssign,
        AuditAction::AccountLoad,
        AuditAction::DirectoryChange,
        AuditAction::UserBlock,
        AuditAction::UserUnblock,
        AuditAction::BackupCreate,
        AuditAction::BackupRestore,
        AuditAction::BackupFailed,
        AuditAction::AccessDenied,
        AuditAction::SessionRevoke,
        AuditAction::LoginUnlock,
        AuditAction::TotpReset,
    ];

    /// The name events carry (`record.delete`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::RecordDelete => "record.delete",
            AuditAction::RecordRestore => "record.restore",
            AuditAction::RecordPurge => "record.purge",
            AuditAction::RecordExport => "record.export",
            AuditAction::RecordShare => "record.share",
            AuditAction::RecordUnshare => "record.unshare",
            AuditAction::RecordAssign => "record.assign",
            AuditAction::AccountLoad => "account.load",
            AuditAction::DirectoryChange => "directory.change",
            AuditAction::UserBlock => "user.block",
            AuditAction::UserUnblock => "user.unblock",
            AuditAction::BackupCreate => "backup.create",
            AuditAction::BackupRestore => "backup.restore",
            AuditAction::BackupFailed => "backup.failed",
            AuditAction::AccessDenied => "access.denied",
            AuditAction::SessionRevoke => "session.revoke",
            AuditAction::LoginUnlock => "login.unlock",
            AuditAction::TotpReset => "totp.reset",
        }
    }

    /// Reads an action's name.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the text and listing the names.
    pub fn parse(text: &str) -> Result<AuditAction> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.name() == text)
            .ok_or_else(|| {
                let all: Vec<&str> = AuditAction::ALL.iter().map(|a| a.name()).collect();
                Error::Invalid(format!(
                    "`{text}` is not an audit action (one of: {})",
                    all.join(", ")
                ))
            })
    }
}

/// What to append: the action and what it touched.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub actor: Option<u64>,
    pub action: AuditAction,
    pub target: String,
    pub count: u64,
    pub detail: String,
}

/// Appends `e` to `account`'s chain in the caller's transaction.
pub(crate) fn append(w: &mut Writer<'_>, account: u64, at: Timestamp, e: Entry) -> Result<()> {
    let mut state = w.state(account)?;
    let seq = state.next_seq.max(1);
    let mut ev = Event {
        seq,
        at,
        actor: e.actor,
        action: e.action.name().to_string(),
        target: e.target,
        count: e.count,
        detail: e.detail,
        prev: state.head,
        hash: [0; 32],
    };
    ev.hash = ev.digest();
    w.audit
        .insert((account, seq), codec::encode(&ev)?.as_slice())?;
    state.next_seq = chain::next_seq(seq, &format!("the audit log of account `{account}`"))?;
    state.head = ev.hash;
    w.put_state(account, &state)
}

fn events(r: &Reader, account: u64) -> Result<impl Iterator<Item = Result<Event>> + '_> {
    Ok(r.audit()?
        .range((account, 0)..=(account, u64::MAX))?
        .map(move |e| {
            let (k, v) = e?;
            let seq = k.value().1;
            codec::decode(v.value(), || format!("audit key ({account}, {seq})"))
        }))
}

/// Events of `account` in ascending seq, at or after `since`, of `action`.
pub(crate) fn list_in(
    r: &Reader,
    account: u64,
    since: Option<Timestamp>,
    action: Option<&str>,
) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for ev in events(r, account)? {
        let ev = ev?;
        if since.is_none_or(|s| ev.at >= s) && action.is_none_or(|a| ev.action == a) {
            out.push(ev);
        }
    }
    Ok(out)
}

/// Walks `account`'s chain from the first event to the head.
pub(crate) fn verify_in(r: &Reader, account: u64) -> Result<ChainReport> {
    let state = r.state(account)?;
    let ends = chain::Ends {
        first_seq: 1,
        prev: [0; 32],
        next_seq: state.next_seq,
        head: state.head,
    };
    chain::verify(events(r, account)?, ends)
}

/// The events of `account` in ascending seq, at or after `since`, of
/// `action` (an [`AuditAction`] name) when given (`Operator::audit_list`).
///
/// # Errors
/// `NotFound` for an unknown account; `Invalid` for an unknown action;
/// `Corrupt` for an undecodable event.
pub(crate) fn audit_list(
    r: &Reader,
    account: u64,
    since: Option<Timestamp>,
    action: Option<&str>,
) -> Result<Vec<Event>> {
    if let Some(a) = action {
        AuditAction::parse(a)?;
    }
    known(r, account)?;
    list_in(r, account, since, action)
}

/// Checks `account`'s hash chain from the first event to the head
/// (`Operator::audit_verify`).
///
/// # Errors
/// `NotFound` for an unknown account; what is broken is in the report.
pub(crate) fn audit_verify(r: &Reader, account: u64) -> Result<ChainReport> {
    known(r, account)?;
    verify_in(r, account)
}

fn known(r: &Reader, account: u64) -> Result<()> {
    use crate::txn::Tx;
    r.version_of(account)?
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))
}
