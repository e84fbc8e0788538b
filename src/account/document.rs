//! The account document of CLI.md: its JSON types, the checks a document
//! passes before anything is stored, and rendering an account back.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits;
use crate::model::json::fields_from_json;
use crate::model::{
    AccountSettings, Directory, Group, Profile, Record, Role, Share, SharingRule, Team, Timestamp,
    User,
};

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
    shifts: Vec<crate::model::Shift>,
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

/// Every id and name of the directory is in its range (`limits`).
fn check_limits(d: &Directory) -> Result<()> {
    let ids = [("account", d.account.id)]
        .into_iter()
        .chain(d.roles.iter().map(|r| ("role", r.id)))
        .chain(d.teams.iter().map(|t| ("team", t.id)))
        .chain(d.profiles.iter().map(|p| ("profile", p.id)))
        .chain(d.users.iter().map(|u| ("user", u.id)))
        .chain(d.groups.iter().map(|g| ("group", g.id)));
    for (kind, id) in ids {
        limits::check_id(kind, id).map_err(invalid)?;
    }
    for p in &d.profiles {
        let at = |e: Error| invalid(format_args!("profile `{}`: {e}", p.id));
        for (module, perms) in &p.modules {
            limits::check_module(module).map_err(at)?;
            for field in perms.fields.keys() {
                limits::check_field(field).map_err(at)?;
            }
            for stage in perms.stages.iter().flatten() {
                limits::check_stage(stage).map_err(at)?;
            }
        }
    }
    let privacy = &d.account.privacy;
    let rules = d.sharing_rules.iter().map(|r| &r.module);
    for module in privacy
        .admin_only_delete
        .iter()
        .chain(&privacy.admin_only_export)
        .chain(rules)
    {
        limits::check_module(module).map_err(invalid)?;
    }
    Ok(())
}

/// Checks every reference of the directory; sorts its lists by id.
pub(crate) fn validate_directory(d: &mut Directory) -> Result<()> {
    check_limits(d)?;
    unique(&mut d.roles, "role", |r| r.id)?;
    unique(&mut d.teams, "team", |t| t.id)?;
    unique(&mut d.profiles, "profile", |p| p.id)?;
    unique(&mut d.users, "user", |u| u.id)?;
    unique(&mut d.groups, "group", |g| g.id)?;
    crate::model::network::normalize(&mut d.account.security.ip_allowlist, "account")?;
    for p in &mut d.profiles {
        let whose = format!("profile `{}`", p.id);
        crate::model::network::normalize(&mut p.ip_allowlist, &whose)?;
    }
    if d.shifts.len() > crate::model::shift::MAX_SHIFTS {
        return Err(invalid(format_args!(
            "{} shifts; an account has at most {}",
            d.shifts.len(),
            crate::model::shift::MAX_SHIFTS
        )));
    }
    unique(&mut d.shifts, "shift", |s| s.id)?;
    for s in &d.shifts {
        s.check()?;
    }
    for u in &d.users {
        if let Some(s) = u.shift {
            if !d.shifts.iter().any(|x| x.id == s) {
                return Err(invalid(format_args!(
                    "user `{}` has unknown shift `{s}`",
                    u.id
                )));
            }
        }
    }
    // Logins compare lowercase; one account links each to one user.
    let mut logins = BTreeMap::new();
    for u in &mut d.users {
        if let Some(l) = &u.login {
            let l = crate::sessions::login::normalize(l)
                .map_err(|e| invalid(format_args!("user `{}`: {e}", u.id)))?;
            if let Some(other) = logins.insert(l.clone(), u.id) {
                return Err(invalid(format_args!(
                    "users `{other}` and `{}` share the login `{l}`",
                    u.id
                )));
            }
            u.login = Some(l);
        }
    }
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
    limits::check_built_ins(id, &r.module, r.stage.as_deref()).map_err(ctx)?;
    let users = [
        ("owner", Some(r.owner)),
        ("created_by", r.created_by),
        ("updated_by", r.updated_by),
    ];
    for (role, user) in users {
        if let Some(u) = user.filter(|&u| d.user(u).is_none()) {
            return Err(invalid(format_args!(
                "record `{id}` has unknown {role} `{u}`"
            )));
        }
    }
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
/// `now`: the time a record without its own times gets.
pub(super) fn parse(text: &str, now: Timestamp) -> Result<(Directory, Vec<Record>, u64)> {
    // Also holds every id and `next_record_id` to `limits::MAX_ID` (i64::MAX).
    crate::model::value::check_integer_literals(text).map_err(invalid)?;
    let doc: Document = serde_json::from_str(text).map_err(invalid)?;
    let mut dir = Directory {
        account: doc.account,
        roles: doc.roles,
        teams: doc.teams,
        profiles: doc.profiles,
        users: doc.users,
        groups: doc.groups,
        sharing_rules: doc.sharing_rules,
        shifts: doc.shifts,
    };
    validate_directory(&mut dir)?;
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
    let after_last = match records.last() {
        Some(r) => {
            r.id.checked_add(1)
                .ok_or_else(|| invalid(format_args!("record id `{}` is too large", r.id)))?
        }
        None => 1,
    };
    let next = after_last.max(doc.next_record_id.unwrap_or(1));
    Ok((dir, records, next))
}

/// Parses and validates a document, storing nothing (the fuzz target).
pub(crate) fn parse_only(text: &str) -> Result<()> {
    parse(text, Timestamp(0)).map(|_| ())
}

fn doc_record(rec: Record) -> DocRecord {
    DocRecord {
        id: rec.id,
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
    }
}

/// Writes the document of an account — the directory, then each record as it
/// is read (one per line), then the next record id — so a dump streams in
/// constant memory however many records the account holds.
pub(super) fn write_document(
    out: &mut impl std::io::Write,
    dir: &Directory,
    records: impl Iterator<Item = Result<Record>>,
    next_record_id: u64,
) -> Result<()> {
    fn json(v: &impl Serialize) -> Result<String> {
        serde_json::to_string(v).map_err(|e| Error::Invalid(format!("cannot write document: {e}")))
    }
    write!(
        out,
        "{{\"account\":{},\n\"roles\":{},\n\"teams\":{},\n\"profiles\":{},\n\"users\":{},\n\"groups\":{},\n\"sharing_rules\":{},\n\"shifts\":{},\n\"records\":[",
        json(&dir.account)?,
        json(&dir.roles)?,
        json(&dir.teams)?,
        json(&dir.profiles)?,
        json(&dir.users)?,
        json(&dir.groups)?,
        json(&dir.sharing_rules)?,
        json(&dir.shifts)?,
    )?;
    for (i, rec) in records.enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(out, "{sep}\n{}", json(&doc_record(rec?))?)?;
    }
    writeln!(out, "\n],\n\"next_record_id\":{next_record_id}}}")?;
    Ok(())
}
