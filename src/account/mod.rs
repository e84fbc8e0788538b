//! Accounts as documents: `load` (validate everything, then create or replace
//! the account in one transaction) and `dump` (the same document back), and
//! clearing an account's data.

mod document;

use redb::ReadableTable;

use crate::audit::{self, Entry};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Directory, Record, Timestamp};

use crate::txn::{record_place, Reader, Writer};
use crate::{codec, index};

use document::{parse, write_document};
pub(crate) use document::{parse_only, validate_directory};

/// How many live records `a` has.
pub(crate) fn record_count(r: &Reader, a: u64) -> Result<u64> {
    let mut n = 0;
    for e in r.records()?.range(Some(a))? {
        e?;
        n += 1;
    }
    Ok(n)
}

/// Records encoded and landed at a time by `load`.
const BATCH: usize = 65_536;

fn load_in(
    w: &mut Writer<'_>,
    dir: &Directory,
    records: &[Record],
    next: u64,
    now: Timestamp,
) -> Result<u64> {
    let a = dir.account.id;
    let replaced = w.directory.get(a)?.is_some();
    let dropped = w.clear_account(a)?;
    w.put_directory(dir)?;
    // A load over a live account ends its sessions: who they were may
    // have changed.
    crate::sessions::on_directory(w, None, dir, now, now)?;
    // Encoded a slice at a time: the document is in memory already, its
    // stored bytes need not be too.
    for part in records.chunks(BATCH) {
        let encoded = part
            .iter()
            .map(|r| Ok((r.id, codec::encode(r)?)))
            .collect::<Result<Vec<_>>>()?;
        index::save_all(w, a, &encoded)?;
    }
    let mut state = w.state(a)?;
    state.next_record = state.next_record.max(next);
    w.put_state(a, &state)?;
    let detail = if replaced {
        format!("replaced; {dropped} trash batches dropped")
    } else {
        "created".to_string()
    };
    let count = records.len() as u64;
    audit::append(
        w,
        a,
        now,
        Entry {
            actor: None,
            action: crate::audit::AuditAction::AccountLoad,
            target: format!("account {a}"),
            count,
            detail,
        },
    )?;
    Ok(count)
}

fn dump_in(r: &Reader, account: u64, out: &mut impl std::io::Write) -> Result<()> {
    let dir = crate::txn::Tx::directory_of(r, account)?
        .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?;
    let next = r.state(account)?.next_record.max(1);
    let records = r.records()?.range(Some(account))?.map(|e| {
        let ((_, id), v) = e?;
        crate::codec::decode::<Record>(v.value(), || record_place(account, id))
    });
    write_document(out, &dir, records, next)
}

/// What `load_json` stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub account: u64,
    pub records: u64,
}

/// Creates or replaces one account from an account document (CLI.md).
/// Every reference is checked first; a document with any problem is
/// refused whole and changes nothing. Replacing keeps the account's audit
/// log (and appends `account.load`) and drops its trash.
///
/// # Errors
/// [`Error::Invalid`] naming the first problem.
pub(crate) fn load_json(store: &Engine, text: &str) -> Result<Loaded> {
    let now = store.now();
    let (dir, records, next) = parse(text, now)?;
    let count = store.write(|w| load_in(w, &dir, &records, next, now))?;
    Ok(Loaded {
        account: dir.account.id,
        records: count,
    })
}

/// [`Store::dump_json`].
pub(crate) fn dump_json(store: &Engine, account: u64) -> Result<serde_json::Value> {
    let mut text = Vec::new();
    dump(store, account, &mut text)?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::Corrupt(format!("dump of account `{account}`: {e}")))
}

/// [`Store::dump`].
pub(crate) fn dump(store: &Engine, account: u64, mut out: impl std::io::Write) -> Result<()> {
    store.read(|r| dump_in(r, account, &mut out))
}

/// [`Store::accounts`].
pub(crate) fn accounts(store: &Engine) -> Result<Vec<u64>> {
    store.read(|r| {
        r.directory()?
            .range::<u64>(..)?
            .map(|e| Ok(e?.0.value()))
            .collect()
    })
}

/// The directory of `account` (settings, users, roles, teams, groups,
/// profiles, sharing rules).
///
/// # Errors
/// [`Error::NotFound`] for an unknown account.
pub(crate) fn directory(store: &Engine, account: u64) -> Result<Directory> {
    store.read(|r| {
        crate::txn::Tx::directory_of(r, account)?
            .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))
    })
}

/// Changes the directory of `account` with `edit` (a user moves team or
/// role, a profile or group changes, ...). The result is checked like a
/// loaded document and stored in one transaction, audited as
/// `directory.change`; records and trash are untouched, and every viewer
/// sees the change on their next call.
///
/// # Errors
/// [`Error::NotFound`] for an unknown account; [`Error::Invalid`] when
/// the edited directory has a bad reference, removes a user or changes
/// the account id.
pub(crate) fn update_directory(
    store: &Engine,
    account: u64,
    edit: impl FnOnce(&mut Directory),
) -> Result<()> {
    let now = store.now();
    store.write(|w| change_directory(w, account, None, edit, |_| Ok(()), now))
}

/// Changes the directory of `account` in `w` with `edit`, checked like a
/// loaded document and by `accept` (given the new directory), audited as
/// `directory.change` by `actor` (`None`: the operator). Sessions of users
/// now blocked or inactive end.
pub(crate) fn change_directory(
    w: &mut crate::txn::Writer<'_>,
    account: u64,
    actor: Option<u64>,
    edit: impl FnOnce(&mut Directory),
    accept: impl FnOnce(&Directory) -> Result<()>,
    now: Timestamp,
) -> Result<()> {
    let mut dir = crate::txn::Tx::directory_of(w, account)?
        .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?;
    let old = dir.clone();
    let before: Vec<u64> = dir.users.iter().map(|u| u.id).collect();
    edit(&mut dir);
    if dir.account.id != account {
        return Err(Error::Invalid(
            "a directory change cannot change the account id".into(),
        ));
    }
    validate_directory(&mut dir)?;
    // Records name their owner and authors: a user who leaves is
    // deactivated, never removed, so every record's users stay known and
    // `dump` still loads.
    if let Some(gone) = before.iter().find(|&&id| dir.user(id).is_none()) {
        return Err(Error::Invalid(format!(
            "user `{gone}` cannot be removed (set `active` to false instead)"
        )));
    }
    accept(&dir)?;
    w.put_directory(&dir)?;
    crate::sessions::on_directory(w, Some(&old), &dir, now, now)?;
    let e = Entry {
        actor,
        action: crate::audit::AuditAction::DirectoryChange,
        target: format!("account {account}"),
        count: 0,
        detail: String::new(),
    };
    audit::append(w, account, now, e)
}

/// [`Store::set_blocked`].
pub(crate) fn set_blocked(
    store: &Engine,
    ctx: &crate::AccessContext,
    user: u64,
    blocked: bool,
) -> Result<()> {
    let name = if blocked {
        crate::audit::AuditAction::UserBlock
    } else {
        crate::audit::AuditAction::UserUnblock
    }
    .name();
    store.act(ctx, name, store.now(), |w, act| {
        use crate::access::action::{decide_action, Target};
        decide_action(act.v, crate::Action::Block { user }, Target::Account).or_denied()?;
        crate::audit::monitor::set_blocked(
            w,
            ctx.account,
            Some(act.v.user),
            user,
            blocked,
            "by an admin",
            act.now,
        )
    })
}
