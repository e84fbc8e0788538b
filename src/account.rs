//! Accounts as documents: `load` (validate everything, then create or replace
//! the account in one transaction) and `dump` (the same document back).

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::index;
use crate::model::record::fields_from_json;
use crate::model::{
    AccountSettings, Directory, Group, Profile, Record, Role, Share, SharingRule, Team, Timestamp,
    User,
};
use crate::store::Store;
use crate::txn::{Reader, Writer};

/// A record in an account document. `version`, times and authors are
/// optional on load (a new record gets version 1, the load time and its
/// owner) and always present in a dump, so `load` then `dump` is a fixed point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocRecord {
    id: u64,
    module: String,
    owner: u64,
    #[serde(default)]
    team: Option<u64>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    parent: Option<u64>,
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    shares: Vec<Share>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    created_by: Option<u64>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    updated_by: Option<u64>,
}

/// The account document of CLI.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    account: AccountSettings,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    teams: Vec<Team>,
    #[serde(default)]
    profiles: Vec<Profile>,
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    sharing_rules: Vec<SharingRule>,
    #[serde(default)]
    records: Vec<DocRecord>,
    /// The next record id to hand out; keeps purged ids from coming back when
    /// an account moves. Optional on load.
    #[serde(default)]
    next_record_id: Option<u64>,
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("account document: {what}"))
}

fn unique<T>(items: &mut [T], kind: &str, id: impl Fn(&T) -> u64) -> Result<()> {
    items.sort_by_key(&id);
    for pair in items.windows(2) {
        if let [a, b] = pair {
            if id(a) == id(b) {
                return Err(invalid(format_args!("duplicate {kind} id `{}`", id(a))));
            }
        }
    }
    Ok(())
}

/// Checks every reference of the directory; sorts its lists by id.
pub(crate) fn validate_directory(d: &mut Directory) -> Result<()> {
    unique(&mut d.roles, "role", |r| r.id)?;
    unique(&mut d.teams, "team", |t| t.id)?;
    unique(&mut d.profiles, "profile", |p| p.id)?;
    unique(&mut d.users, "user", |u| u.id)?;
    unique(&mut d.groups, "group", |g| g.id)?;
    for r in &d.roles {
        if let Some(p) = r.parent {
            d.role(p).ok_or_else(|| {
                invalid(format_args!(
                    "role `{}` has unknown parent role `{p}`",
                    r.id
                ))
            })?;
        }
        let mut seen = BTreeSet::from([r.id]);
        let mut cur = r.parent;
        while let Some(p) = cur {
            if !seen.insert(p) {
                return Err(invalid(format_args!(
                    "roles form a cycle through role `{}`",
                    r.id
                )));
            }
            cur = d.role(p).and_then(|x| x.parent);
        }
    }
    for u in &d.users {
        d.role(u.role).ok_or_else(|| {
            invalid(format_args!(
                "user `{}` has unknown role `{}`",
                u.id, u.role
            ))
        })?;
        d.profile(u.profile).ok_or_else(|| {
            invalid(format_args!(
                "user `{}` has unknown profile `{}`",
                u.id, u.profile
            ))
        })?;
        if let Some(t) = u.teams.iter().find(|t| d.team(**t).is_none()) {
            return Err(invalid(format_args!(
                "user `{}` has unknown team `{t}`",
                u.id
            )));
        }
    }
    for g in &d.groups {
        let bad = g
            .users
            .iter()
            .find(|&&x| d.user(x).is_none())
            .map(|x| format!("user `{x}`"))
            .or_else(|| {
                g.roles
                    .iter()
                    .chain(&g.roles_and_subordinates)
                    .find(|&&x| d.role(x).is_none())
                    .map(|x| format!("role `{x}`"))
            })
            .or_else(|| {
                g.teams
                    .iter()
                    .find(|&&x| d.team(x).is_none())
                    .map(|x| format!("team `{x}`"))
            });
        if let Some(bad) = bad {
            return Err(invalid(format_args!(
                "group `{}` names unknown {bad}",
                g.id
            )));
        }
    }
    for (i, r) in d.sharing_rules.iter().enumerate() {
        for p in [r.owned_by, r.share_with] {
            if !d.principal_exists(p) {
                return Err(invalid(format_args!(
                    "sharing rule {} names unknown principal `{p}`",
                    i + 1
                )));
            }
        }
    }
    if let Some(m) = d.account.monitor.iter().find(|m| m.window_secs == 0) {
        return Err(invalid(format_args!(
            "monitor rule for `{:?}` needs a window of at least 1 second",
            m.action
        )));
    }
    Ok(())
}

fn to_record(d: &Directory, r: DocRecord, now: Timestamp) -> Result<Record> {
    let id = r.id;
    let ctx = |e: Error| {
        invalid(format_args!(
            "record `{id}`: {}",
            e.to_string().trim_start_matches("account document: ")
        ))
    };
    if id == 0 {
        return Err(invalid("record ids start at 1"));
    }
    if r.module.is_empty() {
        return Err(invalid(format_args!("record `{id}` has an empty module")));
    }
    d.user(r.owner).ok_or_else(|| {
        invalid(format_args!(
            "record `{id}` has unknown owner `{}`",
            r.owner
        ))
    })?;
    if let Some(t) = r.team {
        d.team(t)
            .ok_or_else(|| invalid(format_args!("record `{id}` has unknown team `{t}`")))?;
    }
    let mut seen = BTreeSet::new();
    for s in &r.shares {
        if !d.principal_exists(s.to) {
            return Err(invalid(format_args!(
                "record `{id}` is shared with unknown principal `{}`",
                s.to
            )));
        }
        if !seen.insert(s.to) {
            return Err(invalid(format_args!(
                "record `{id}` is shared twice with `{}`",
                s.to
            )));
        }
    }
    let time = |t: Option<String>| t.map_or(Ok(now), |t| Timestamp::parse(&t)).map_err(ctx);
    Ok(Record {
        id,
        module: r.module,
        owner: r.owner,
        team: r.team,
        stage: r.stage,
        parent: r.parent,
        fields: fields_from_json(r.fields).map_err(ctx)?,
        shares: r.shares,
        version: r.version.unwrap_or(1).max(1),
        created_at: time(r.created_at)?,
        created_by: r.created_by.unwrap_or(r.owner),
        updated_at: time(r.updated_at)?,
        updated_by: r.updated_by.unwrap_or(r.owner),
    })
}

/// Parses and validates a whole document.
fn parse(text: &str) -> Result<(Directory, Vec<Record>, u64)> {
    let doc: Document = serde_json::from_str(text).map_err(invalid)?;
    let mut dir = Directory {
        account: doc.account,
        roles: doc.roles,
        teams: doc.teams,
        profiles: doc.profiles,
        users: doc.users,
        groups: doc.groups,
        sharing_rules: doc.sharing_rules,
    };
    validate_directory(&mut dir)?;
    let now = Timestamp::now();
    let mut records = doc
        .records
        .into_iter()
        .map(|r| to_record(&dir, r, now))
        .collect::<Result<Vec<_>>>()?;
    unique(&mut records, "record", |r| r.id)?;
    let parents: HashMap<u64, Option<u64>> = records.iter().map(|r| (r.id, r.parent)).collect();
    for r in &records {
        let mut seen = BTreeSet::from([r.id]);
        let mut cur = r.parent;
        while let Some(p) = cur {
            cur = *parents.get(&p).ok_or_else(|| {
                invalid(format_args!("record `{}` has unknown parent `{p}`", r.id))
            })?;
            if !seen.insert(p) {
                return Err(invalid(format_args!(
                    "record parents form a cycle through record `{}`",
                    r.id
                )));
            }
        }
    }
    let next = records
        .last()
        .map_or(1, |r| r.id + 1)
        .max(doc.next_record_id.unwrap_or(1));
    Ok((dir, records, next))
}

/// How many live records `a` has.
pub(crate) fn record_count(r: &Reader, a: u64) -> Result<u64> {
    let mut n = 0;
    for e in r.records.range((a, 0)..=(a, u64::MAX))? {
        e?;
        n += 1;
    }
    Ok(n)
}

/// Parses and validates a document, storing nothing (the fuzz target).
pub(crate) fn parse_only(text: &str) -> Result<()> {
    parse(text).map(|_| ())
}

/// The key range of one account in a table whose key starts with the account.
fn bounds<K>(lo: K, next_account_lo: Option<K>) -> (Bound<K>, Bound<K>) {
    (
        Bound::Included(lo),
        next_account_lo.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

/// Removes the account's records, index entries, field registry and trash.
/// Its audit log and counters stay (the log is evidence; ids are never reused).
pub(crate) fn clear_data(w: &mut Writer<'_>, a: u64) -> Result<u64> {
    let n = a.checked_add(1);
    let mut dropped = 0;
    w.records
        .retain_in::<(u64, u64), _>(bounds((a, 0), n.map(|n| (n, 0))), |_, _| false)?;
    w.by_module
        .retain_in::<(u64, u32, u64), _>(bounds((a, 0, 0), n.map(|n| (n, 0, 0))), |_, _| false)?;
    w.by_owner.retain_in::<(u64, u32, u64, u64), _>(
        bounds((a, 0, 0, 0), n.map(|n| (n, 0, 0, 0))),
        |_, _| false,
    )?;
    w.by_team.retain_in::<(u64, u32, u64, u64), _>(
        bounds((a, 0, 0, 0), n.map(|n| (n, 0, 0, 0))),
        |_, _| false,
    )?;
    w.by_stage.retain_in::<(u64, u32, &str, u64), _>(
        bounds((a, 0, "", 0), n.map(|n| (n, 0, "", 0))),
        |_, _| false,
    )?;
    w.by_share.retain_in::<(u64, u8, u64, u32, u64), _>(
        bounds((a, 0, 0, 0, 0), n.map(|n| (n, 0, 0, 0, 0))),
        |_, _| false,
    )?;
    w.by_parent
        .retain_in::<(u64, u64, u64), _>(bounds((a, 0, 0), n.map(|n| (n, 0, 0))), |_, _| false)?;
    w.fields
        .retain_in::<(u64, u32, &str), _>(bounds((a, 0, ""), n.map(|n| (n, 0, ""))), |_, _| {
            false
        })?;
    w.trashed
        .retain_in::<(u64, u64, u64), _>(bounds((a, 0, 0), n.map(|n| (n, 0, 0))), |_, _| false)?;
    w.trash
        .retain_in::<(u64, u64), _>(bounds((a, 0), n.map(|n| (n, 0))), |_, _| {
            dropped += 1;
            false
        })?;
    Ok(dropped)
}

fn load(w: &mut Writer<'_>, dir: &Directory, records: &[Record], next: u64) -> Result<u64> {
    let a = dir.account.id;
    let replaced = w.directory.get(a)?.is_some();
    let dropped = clear_data(w, a)?;
    w.put_directory(dir)?;
    for r in records {
        index::save(w, a, None, r)?;
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
        Timestamp::now(),
        Entry {
            actor: None,
            action: "account.load",
            target: format!("account {a}"),
            count,
            detail,
        },
    )?;
    Ok(count)
}

fn dump(r: &Reader, dir: Directory) -> Result<serde_json::Value> {
    let a = dir.account.id;
    let mut records = Vec::new();
    for e in r.records.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        let id = k.value().1;
        let rec: Record = crate::codec::decode(v.value(), || format!("records key ({a}, {id})"))?;
        records.push(DocRecord {
            id,
            module: rec.module,
            owner: rec.owner,
            team: rec.team,
            stage: rec.stage,
            parent: rec.parent,
            fields: rec
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            shares: rec.shares,
            version: Some(rec.version),
            created_at: Some(rec.created_at.to_rfc3339()),
            created_by: Some(rec.created_by),
            updated_at: Some(rec.updated_at.to_rfc3339()),
            updated_by: Some(rec.updated_by),
        });
    }
    let doc = Document {
        account: dir.account,
        roles: dir.roles,
        teams: dir.teams,
        profiles: dir.profiles,
        users: dir.users,
        groups: dir.groups,
        sharing_rules: dir.sharing_rules,
        records,
        next_record_id: Some(r.state(a)?.next_record.max(1)),
    };
    serde_json::to_value(doc).map_err(|e| Error::Invalid(format!("cannot write document: {e}")))
}

impl Store {
    /// Creates or replaces one account from an account document (CLI.md).
    /// Every reference is checked first; a document with any problem is
    /// refused whole and changes nothing. Replacing keeps the account's audit
    /// log (and appends `account.load`) and drops its trash. Returns the
    /// account id and the number of records.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first problem.
    pub fn load_json(&self, text: &str) -> Result<(u64, u64)> {
        let (dir, records, next) = parse(text)?;
        let count = self.write(|w| load(w, &dir, &records, next))?;
        Ok((dir.account.id, count))
    }

    /// The account as a document `load_json` reads back.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown account.
    pub fn dump_json(&self, account: u64) -> Result<serde_json::Value> {
        self.read(|r| {
            let dir = crate::txn::Tx::directory(r, account)?
                .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?;
            dump(r, dir)
        })
    }

    /// The ids of every account in the store, ascending.
    ///
    /// # Errors
    /// Storage errors only.
    pub fn accounts(&self) -> Result<Vec<u64>> {
        self.read(|r| {
            r.directory
                .range::<u64>(..)?
                .map(|e| Ok(e?.0.value()))
                .collect()
        })
    }
}

impl Store {
    /// The directory of `account` (settings, users, roles, teams, groups,
    /// profiles, sharing rules).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown account.
    pub fn directory(&self, account: u64) -> Result<Directory> {
        self.read(|r| {
            crate::txn::Tx::directory(r, account)?
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
    /// the edited directory has a bad reference or changes the account id.
    pub fn update_directory(&self, account: u64, edit: impl FnOnce(&mut Directory)) -> Result<()> {
        self.write(|w| {
            let mut dir = crate::txn::Tx::directory(w, account)?
                .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?;
            edit(&mut dir);
            if dir.account.id != account {
                return Err(Error::Invalid(
                    "a directory change cannot change the account id".into(),
                ));
            }
            validate_directory(&mut dir)?;
            w.put_directory(&dir)?;
            let e = Entry {
                actor: None,
                action: "directory.change",
                target: format!("account {account}"),
                count: 0,
                detail: String::new(),
            };
            audit::append(w, account, Timestamp::now(), e)
        })
    }
}
