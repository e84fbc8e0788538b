//! Creating, reading, updating and querying records on behalf of a viewer,
//! and the record-level management actions (share, unshare, assign).

use std::collections::BTreeMap;

use crate::access::decide::{self, decide, Action};
use crate::access::{AccessContext, Viewer};
use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::model::record::{check_field_name, fields_from_json};
use crate::model::{
    Access, Directory, FieldRule, NewRecord, Principal, Record, Share, Timestamp, Value,
};
use crate::query::plan::{self, Scan};
use crate::query::{Page, Query};
use crate::store::Store;
use crate::txn::{Tx, Writer};
use crate::{index, util};

/// A change to one record. `Update::new().set("amount", 5).stage("won")`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    /// Field → new value; `Value::Null` removes the field.
    pub set: BTreeMap<String, Value>,
    /// `Some(None)` clears the stage.
    pub stage: Option<Option<String>>,
    /// `Some(None)` detaches the record from its parent.
    pub parent: Option<Option<u64>>,
    /// Refuse with [`Error::Conflict`] unless the record is at this version.
    pub expect_version: Option<u64>,
}

impl Update {
    pub fn new() -> Self {
        Update::default()
    }
    #[must_use]
    pub fn set(mut self, field: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.insert(field.into(), value.into());
        self
    }
    #[must_use]
    pub fn stage(mut self, stage: Option<&str>) -> Self {
        self.stage = Some(stage.map(str::to_string));
        self
    }
    #[must_use]
    pub fn parent(mut self, parent: Option<u64>) -> Self {
        self.parent = Some(parent);
        self
    }
    #[must_use]
    pub fn expect_version(mut self, v: u64) -> Self {
        self.expect_version = Some(v);
        self
    }

    /// Reads the CLI's `--set` object. `stage` and `parent` change the
    /// built-ins; `owner` and `team` are changed by `assign`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the bad key or value.
    pub fn from_json(text: &str) -> Result<Update> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("--set must be a JSON object: {e}")))?;
        let mut up = Update::new();
        let mut fields = Vec::new();
        for (k, v) in map {
            match k.as_str() {
                "stage" => match v {
                    serde_json::Value::Null => up.stage = Some(None),
                    serde_json::Value::String(s) => up.stage = Some(Some(s)),
                    _ => return Err(Error::Invalid("`stage` must be text or null".into())),
                },
                "parent" => match v {
                    serde_json::Value::Null => up.parent = Some(None),
                    other => match other.as_u64() {
                        Some(p) => up.parent = Some(Some(p)),
                        None => {
                            return Err(Error::Invalid(
                                "`parent` must be a record id or null".into(),
                            ))
                        }
                    },
                },
                "owner" | "team" => {
                    return Err(Error::Invalid(format!(
                        "`{k}` is changed with `assign`, not `update`"
                    )))
                }
                _ => fields.push((k, v)),
            }
        }
        up.set = fields_from_json(fields)?;
        Ok(up)
    }
}

pub(crate) fn not_found(id: u64) -> Error {
    Error::NotFound(format!("no record `{id}`"))
}

/// The record `id` if `v` may view it; a hidden record is missing, exactly.
pub(crate) fn visible(t: &impl Tx, v: &Viewer, account: u64, id: u64) -> Result<Record> {
    match t.record(account, id)? {
        Some(r) if decide(v, &r, Action::View) => Ok(r),
        _ => Err(not_found(id)),
    }
}

fn check_writes(
    v: &Viewer,
    module: &str,
    fields: impl Iterator<Item = impl AsRef<str>>,
) -> Result<()> {
    for f in fields {
        let f = f.as_ref();
        check_field_name(f)?;
        if let Some(rule) = decide::field_rule(v, module, f) {
            let what = if rule == FieldRule::Hidden {
                "hidden"
            } else {
                "read-only"
            };
            return Err(Error::Denied(format!(
                "field `{f}` of `{module}` is {what} for user `{}`",
                v.user
            )));
        }
    }
    Ok(())
}

/// A new parent must exist, be visible, and not be the record or below it.
fn check_parent(
    t: &impl Tx,
    v: &Viewer,
    account: u64,
    child: Option<u64>,
    parent: u64,
) -> Result<()> {
    let unknown = || Error::Invalid(format!("unknown parent record `{parent}`"));
    visible(t, v, account, parent).map_err(|_| unknown())?;
    let mut cur = Some(parent);
    let mut steps = 0u64;
    while let Some(p) = cur {
        if Some(p) == child {
            return Err(Error::Invalid(format!(
                "parent `{parent}` would make a cycle"
            )));
        }
        steps += 1;
        if steps > 1_000_000 {
            return Err(Error::Corrupt("parent chain does not end".into()));
        }
        cur = t.record(account, p)?.and_then(|r| r.parent);
    }
    Ok(())
}

fn check_module_name(module: &str) -> Result<()> {
    if module.is_empty() || module.len() > 64 || module.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "module name `{module}` must be 1 to 64 printable bytes"
        )));
    }
    Ok(())
}

fn check_stage(v: &Viewer, module: &str, stage: Option<&str>) -> Result<()> {
    if decide::stage_allowed(v, module, stage) {
        return Ok(());
    }
    Err(Error::Denied(format!(
        "stage `{}` of `{module}` is outside user `{}`'s pipeline stages",
        stage.unwrap_or_default(),
        v.user
    )))
}

fn create(
    w: &mut Writer<'_>,
    dir: &Directory,
    v: &Viewer,
    account: u64,
    new: NewRecord,
) -> Result<Record> {
    check_module_name(&new.module)?;
    let module = new.module.as_str();
    if !decide::may_create(v, module) {
        return Err(Error::Denied(format!(
            "user `{}` may not create records in `{module}`",
            v.user
        )));
    }
    let owner = new.owner.unwrap_or(v.user);
    if owner != v.user && !decide::may_set_owner(v, module) {
        return Err(Error::Denied(format!(
            "user `{}` may only create records they own",
            v.user
        )));
    }
    let owner_user = dir
        .user(owner)
        .ok_or_else(|| Error::Invalid(format!("unknown owner `{owner}`")))?;
    let team = new.team.or_else(|| owner_user.teams.first().copied());
    if let Some(t) = team {
        dir.team(t)
            .ok_or_else(|| Error::Invalid(format!("unknown team `{t}`")))?;
    }
    check_stage(v, module, new.stage.as_deref())?;
    check_writes(v, module, new.fields.keys())?;
    if let Some(p) = new.parent {
        check_parent(w, v, account, None, p)?;
    }
    let mut state = w.state(account)?;
    let id = state.next_record.max(1);
    state.next_record = id + 1;
    w.put_state(account, &state)?;
    let now = Timestamp::now();
    let mut fields = new.fields;
    fields.retain(|_, val| *val != Value::Null);
    let rec = Record {
        id,
        module: new.module,
        owner,
        team,
        stage: new.stage,
        parent: new.parent,
        fields,
        shares: Vec::new(),
        version: 1,
        created_at: now,
        created_by: v.user,
        updated_at: now,
        updated_by: v.user,
    };
    index::save(w, account, None, &rec)?;
    Ok(rec)
}

fn update(w: &mut Writer<'_>, v: &Viewer, account: u64, id: u64, up: Update) -> Result<Record> {
    let old = visible(w, v, account, id)?;
    if !decide(v, &old, Action::Edit) {
        return Err(Error::Denied(format!(
            "user `{}` may not edit record `{id}`",
            v.user
        )));
    }
    if let Some(want) = up.expect_version {
        if want != old.version {
            return Err(Error::Conflict(format!(
                "record `{id}` is at version `{}`, not `{want}`",
                old.version
            )));
        }
    }
    check_writes(v, &old.module, up.set.keys())?;
    let mut new = old.clone();
    if let Some(stage) = up.stage {
        check_stage(v, &old.module, stage.as_deref())?;
        new.stage = stage;
    }
    if let Some(parent) = up.parent {
        if let Some(p) = parent {
            check_parent(w, v, account, Some(id), p)?;
        }
        new.parent = parent;
    }
    for (k, val) in up.set {
        if val == Value::Null {
            new.fields.remove(&k);
        } else {
            new.fields.insert(k, val);
        }
    }
    touch(&mut new, v.user);
    index::save(w, account, Some(&old), &new)?;
    Ok(new)
}

fn touch(r: &mut Record, by: u64) {
    r.version += 1;
    r.updated_at = Timestamp::now();
    r.updated_by = by;
}

/// What `share`, `unshare` and `assign` do to each record.
enum Manage {
    Share(Principal, Access),
    Unshare(Principal),
    Assign { owner: u64, team: Option<u64> },
}

fn manage(
    w: &mut Writer<'_>,
    dir: &Directory,
    v: &Viewer,
    account: u64,
    ids: &[u64],
    what: &Manage,
) -> Result<u64> {
    match what {
        Manage::Share(p, _) | Manage::Unshare(p) if !dir.principal_exists(*p) => {
            return Err(Error::Invalid(format!("unknown principal `{p}`")))
        }
        Manage::Assign { owner, team } => {
            dir.user(*owner)
                .ok_or_else(|| Error::Invalid(format!("unknown user `{owner}`")))?;
            if let Some(t) = team {
                dir.team(*t)
                    .ok_or_else(|| Error::Invalid(format!("unknown team `{t}`")))?;
            }
        }
        _ => {}
    }
    let ids = util::dedup(ids);
    if ids.is_empty() {
        return Err(Error::Invalid("no record ids given".into()));
    }
    // Check every record before changing any: all or nothing.
    let mut records = Vec::with_capacity(ids.len());
    for &id in &ids {
        let r = visible(w, v, account, id)?;
        if !decide::may_manage(v, &r) {
            return Err(Error::Denied(format!(
                "user `{}` may not share or reassign record `{id}` (needs to own it and edit it)",
                v.user
            )));
        }
        records.push(r);
    }
    for old in records {
        let mut new = old.clone();
        match *what {
            Manage::Share(to, access) => match new.shares.iter_mut().find(|s| s.to == to) {
                Some(s) => s.access = access,
                None => new.shares.push(Share { to, access }),
            },
            Manage::Unshare(from) => new.shares.retain(|s| s.to != from),
            Manage::Assign { owner, team } => {
                new.owner = owner;
                if team.is_some() {
                    new.team = team;
                }
            }
        }
        touch(&mut new, v.user);
        index::save(w, account, Some(&old), &new)?;
    }
    let (action, detail) = match what {
        Manage::Share(p, a) => ("record.share", format!("to {p} at {}", access_name(*a))),
        Manage::Unshare(p) => ("record.unshare", format!("from {p}")),
        Manage::Assign { owner, team } => (
            "record.assign",
            format!(
                "owner {owner}{}",
                team.map(|t| format!(" team {t}")).unwrap_or_default()
            ),
        ),
    };
    let target = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let count = ids.len() as u64;
    audit::append(
        w,
        account,
        Timestamp::now(),
        Entry {
            actor: Some(v.user),
            action,
            target,
            count,
            detail,
        },
    )?;
    Ok(count)
}

pub(crate) fn access_name(a: Access) -> &'static str {
    match a {
        Access::Read => "read",
        Access::ReadWrite => "read_write",
        Access::Full => "full",
    }
}

/// Refuses a filter naming a field hidden from `v` (before any other check),
/// then checks its types.
pub(crate) fn prepare_filter(v: &Viewer, q: &Query) -> Result<Option<crate::Filter>> {
    let Some(f) = &q.filter else { return Ok(None) };
    if let Some(h) = f
        .fields()
        .into_iter()
        .find(|name| decide::hidden(v, &q.module, name))
    {
        return Err(Error::Denied(format!(
            "field `{h}` of `{}` is hidden from user `{}`",
            q.module, v.user
        )));
    }
    f.clone().prepare().map(Some)
}

impl Store {
    /// Creates a record owned by the viewer (or by `new.owner` when the viewer
    /// is an admin or has edit scope `all`).
    ///
    /// # Errors
    /// `Denied` without the create right, for a stage outside the viewer's
    /// stages, or for a hidden or read-only field; `Invalid` for an unknown
    /// owner, team or parent.
    pub fn create(&self, ctx: &AccessContext, new: NewRecord) -> Result<Record> {
        self.act(ctx, "record.create", Timestamp::now(), |w, act| {
            create(w, act.dir, act.v, ctx.account, new).map(|r| decide::redact(act.v, r))
        })
    }

    /// Creates many records in one transaction: all or none (an import).
    /// A record may name as parent one created earlier in the same call.
    ///
    /// # Errors
    /// As [`Store::create`], for the first record refused; nothing is created.
    pub fn create_many(&self, ctx: &AccessContext, news: Vec<NewRecord>) -> Result<Vec<Record>> {
        self.act(ctx, "record.create", Timestamp::now(), |w, act| {
            news.into_iter()
                .map(|new| {
                    create(w, act.dir, act.v, ctx.account, new).map(|r| decide::redact(act.v, r))
                })
                .collect()
        })
    }

    /// The record `id` as the viewer sees it.
    ///
    /// # Errors
    /// `NotFound` when it does not exist or the viewer may not see it (the two
    /// are the same answer).
    pub fn get(&self, ctx: &AccessContext, id: u64) -> Result<Record> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            visible(r, &v, ctx.account, id).map(|rec| decide::redact(&v, rec))
        })
    }

    /// Applies `up` to record `id`: version +1.
    ///
    /// # Errors
    /// `NotFound` if invisible; `Denied` without the edit right or for a hidden
    /// or read-only field; `Conflict` for a stale `expect_version`.
    pub fn update(&self, ctx: &AccessContext, id: u64, up: Update) -> Result<Record> {
        self.act(ctx, "record.update", Timestamp::now(), |w, act| {
            update(w, act.v, ctx.account, id, up).map(|r| decide::redact(act.v, r))
        })
    }

    /// Whether the viewer may do `action` to record `id` (for showing or
    /// hiding a button; every action checks again when it runs).
    ///
    /// # Errors
    /// `NotFound` when the viewer may not see the record at all.
    pub fn can(&self, ctx: &AccessContext, id: u64, action: Action) -> Result<bool> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            visible(r, &v, ctx.account, id).map(|rec| decide(&v, &rec, action))
        })
    }

    /// One page of the records the viewer may see, in ascending id order.
    ///
    /// # Errors
    /// `Denied` for a filter on a hidden field; `Invalid` for a filter whose
    /// built-ins have the wrong type or an unknown module.
    pub fn query(&self, ctx: &AccessContext, q: &Query) -> Result<Page> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            let filter = prepare_filter(&v, q)?;
            let empty = Page {
                records: Vec::new(),
                next_after: None,
                examined: 0,
            };
            let Some(m) = self.module_for_read(r, ctx.account, &q.module, &v)? else {
                return Ok(empty);
            };
            let limit = q.limit.unwrap_or(usize::MAX);
            if limit == 0 {
                return Ok(empty);
            }
            let scan = Scan {
                account: ctx.account,
                module: &q.module,
                module_id: m,
                filter: filter.as_ref(),
                after: q.after,
                action: Action::View,
            };
            let mut records = Vec::new();
            let mut more = false;
            let examined = plan::scan(r, &v, &scan, |rec| {
                if records.len() == limit {
                    more = true;
                    return Ok(false);
                }
                records.push(decide::redact(&v, rec));
                Ok(true)
            })?;
            let next_after = if more {
                records.last().map(|r| r.id)
            } else {
                None
            };
            Ok(Page {
                records,
                next_after,
                examined,
            })
        })
    }

    /// How many records of the query the viewer may see (`after`/`limit` ignored).
    ///
    /// # Errors
    /// As [`Store::query`].
    pub fn count(&self, ctx: &AccessContext, q: &Query) -> Result<u64> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            let filter = prepare_filter(&v, q)?;
            let Some(m) = self.module_for_read(r, ctx.account, &q.module, &v)? else {
                return Ok(0);
            };
            let scan = Scan {
                account: ctx.account,
                module: &q.module,
                module_id: m,
                filter: filter.as_ref(),
                after: None,
                action: Action::View,
            };
            plan::count(r, &v, &scan)
        })
    }

    /// The module id to scan, or `None` when the viewer sees nothing there.
    /// An unknown module (in no record and no part of the directory) is `Invalid`.
    pub(crate) fn module_for_read(
        &self,
        t: &impl Tx,
        account: u64,
        module: &str,
        v: &Viewer,
    ) -> Result<Option<u32>> {
        let id = t.module_id(account, module)?;
        if id.is_none() {
            let version = t.dir_version(account)?.unwrap_or(0);
            if !self
                .directory_in(t, account, version)?
                .mentions_module(module)
            {
                return Err(Error::Invalid(format!("unknown module `{module}`")));
            }
        }
        Ok(id.filter(|_| decide::may_view_module(v, module)))
    }

    /// Shares each record with `to` at `access` (replacing its level if it
    /// already has one). All records or none; audited as `record.share`.
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
        self.manage(ctx, ids, &Manage::Share(to, access))
    }

    /// Removes `from`'s share of each record. As [`Store::share`].
    ///
    /// # Errors
    /// As [`Store::share`].
    pub fn unshare(&self, ctx: &AccessContext, ids: &[u64], from: Principal) -> Result<u64> {
        self.manage(ctx, ids, &Manage::Unshare(from))
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
        self.manage(ctx, ids, &Manage::Assign { owner, team })
    }

    fn manage(&self, ctx: &AccessContext, ids: &[u64], what: &Manage) -> Result<u64> {
        let name = match what {
            Manage::Share(..) => "record.share",
            Manage::Unshare(_) => "record.unshare",
            Manage::Assign { .. } => "record.assign",
        };
        self.act(ctx, name, Timestamp::now(), |w, act| {
            manage(w, act.dir, act.v, ctx.account, ids, what)
        })
    }
}
