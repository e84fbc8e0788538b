//! The write paths behind `Store::create`, `update`, `share`, `unshare` and
//! `assign`: every check first, then the change with its index entries (and
//! audit event) in the caller's transaction.

use crate::access::action::{decide_action, Action, Target};
use crate::access::decide::{self, decide, RecordAction};
use crate::access::Viewer;
use crate::audit::{self, AuditAction, Entry};
use crate::error::{Error, Result};
use crate::model::{
    Access, Directory, FieldRule, NewRecord, Principal, Record, Share, Timestamp, Value,
};
use crate::txn::{Tx, Writer};
use crate::{index, limits, util};

use super::{access_name, visible, Update};

fn check_writes(
    v: &Viewer,
    module: &str,
    fields: impl Iterator<Item = impl AsRef<str>>,
) -> Result<()> {
    for f in fields {
        let f = f.as_ref();
        limits::check_field(f)?;
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

/// A new parent must exist, be visible, be one the viewer may edit, and not
/// be the record or below it. Attaching is a change to the parent (its
/// delete now cascades, or conflicts): a user who may only read a record
/// must not be able to hang records under it and so block its owner's delete.
fn check_parent(
    t: &impl Tx,
    v: &Viewer,
    account: u64,
    child: Option<u64>,
    parent: u64,
) -> Result<()> {
    let unknown = || Error::Invalid(format!("unknown parent record `{parent}`"));
    let p = visible(t, v, account, parent).map_err(|_| unknown())?;
    if !decide(v, &p, RecordAction::Edit) {
        return Err(Error::Denied(format!(
            "user `{}` may not attach records to record `{parent}` (needs to edit it)",
            v.user
        )));
    }
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

pub(super) fn create_in(
    w: &mut Writer<'_>,
    dir: &Directory,
    v: &Viewer,
    account: u64,
    new: NewRecord,
    now: Timestamp,
) -> Result<Record> {
    limits::check_module(&new.module)?;
    let module = new.module.as_str();
    decide_action(v, Action::Create { module }, Target::Account).or_denied()?;
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
    let id = state.take_record_id()?;
    w.put_state(account, &state)?;
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

pub(super) fn update_in(
    w: &mut Writer<'_>,
    v: &Viewer,
    account: u64,
    id: u64,
    up: Update,
    now: Timestamp,
) -> Result<Record> {
    let old = visible(w, v, account, id)?;
    decide_action(v, Action::Edit(id), Target::Record(&old)).or_denied()?;
    if let Some(want) = up.expect_version {
        if want != old.version {
            return Err(Error::StaleVersion {
                record: id,
                version: old.version,
                expected: want,
            });
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
    touch(&mut new, v.user, now)?;
    index::save(w, account, Some(&old), &new)?;
    Ok(new)
}

/// A change's new version, time and author. The version refuses to wrap:
/// `--expect-version` relies on it only ever growing.
fn touch(r: &mut Record, by: u64, now: Timestamp) -> Result<()> {
    r.version = r
        .version
        .checked_add(1)
        .ok_or_else(|| Error::Conflict(format!("record `{}` is at the last version", r.id)))?;
    r.updated_at = now;
    r.updated_by = by;
    Ok(())
}

/// What `share`, `unshare` and `assign` do to each record.
pub(super) enum Manage {
    Share(Principal, Access),
    Unshare(Principal),
    Assign { owner: u64, team: Option<u64> },
}

pub(super) fn manage_in(
    w: &mut Writer<'_>,
    dir: &Directory,
    v: &Viewer,
    account: u64,
    ids: &[u64],
    what: &Manage,
    now: Timestamp,
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
        decide_action(v, Action::Share(id), Target::Record(&r)).or_denied()?;
        records.push(r);
    }
    // A record the change leaves as it was (an unshare of a principal it is
    // not shared with, an assign to its owner) keeps its version and is not
    // counted or audited.
    let mut changed = Vec::with_capacity(records.len());
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
        if new == old {
            continue;
        }
        touch(&mut new, v.user, now)?;
        index::save(w, account, Some(&old), &new)?;
        changed.push(new.id);
    }
    if changed.is_empty() {
        return Ok(0);
    }
    let (action, detail) = match what {
        Manage::Share(p, a) => (
            AuditAction::RecordShare,
            format!("to {p} at {}", access_name(*a)),
        ),
        Manage::Unshare(p) => (AuditAction::RecordUnshare, format!("from {p}")),
        Manage::Assign { owner, team } => (
            AuditAction::RecordAssign,
            format!(
                "owner {owner}{}",
                team.map(|t| format!(" team {t}")).unwrap_or_default()
            ),
        ),
    };
    let target = changed
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let count = changed.len() as u64;
    audit::append(
        w,
        account,
        now,
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

#[cfg(test)]
mod tests {
    use crate::{Error, NewRecord, Store, Update};

    #[test]
    fn a_version_at_the_top_refuses_to_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.redb")).unwrap();
        store
            .operator()
            .load_json(
                r#"{"account": {"id": 1, "name": "a"},
                    "roles": [{"id": 1, "name": "r"}],
                    "profiles": [{"id": 1, "name": "p"}],
                    "users": [{"id": 1, "name": "u", "role": 1, "profile": 1, "admin": true}]}"#,
            )
            .unwrap();
        let ctx = store.engine.context(1, 1).unwrap();
        let mut r = store.create(&ctx, NewRecord::new("deals")).unwrap();
        let old = r.clone();
        r.version = u64::MAX;
        store
            .engine
            .write(|w| crate::index::save(w, 1, Some(&old), &r))
            .unwrap();
        let e = store
            .update(&ctx, r.id, Update::new().set("a", 1))
            .unwrap_err();
        assert!(matches!(e, Error::Conflict(m) if m.contains("last version")));
        let e = store
            .share(
                &ctx,
                &[r.id],
                crate::Principal::User(1),
                crate::Access::Read,
            )
            .unwrap_err();
        assert!(matches!(e, Error::Conflict(_)));
        assert_eq!(store.get(&ctx, r.id).unwrap().version, u64::MAX);
    }
}
