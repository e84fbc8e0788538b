//! The access rules against a reference written straight from DESIGN.md
//! "Access rules" (no code shared with the crate): random directories and
//! records; for every user and module the visible set, counts, filtered
//! queries, exports, each record's get and every `Action` answer must agree;
//! then the directory is edited (roles, teams, profiles, groups, sharing
//! rules, admins, blocks, privacy) and everything is checked again through
//! the contexts made before the edit. On a disagreement the whole input
//! document is printed.
//!
//! The account is drawn from tapes of choices that proptest generates and
//! shrinks (as Hypothesis does), one tape per role, profile, user, group,
//! rule, record and round of edits: fewer tapes, or smaller numbers on one,
//! is a smaller account (fewer things, rare features off), so a failure
//! shrinks to a small one. Failures found are kept in
//! `tests/proptest-regressions/` and run first.

use std::collections::{BTreeMap, BTreeSet};

use crmstore::{AccessContext, Action, Directory, ExportFormat, Filter, NewRecord, Query, Store};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The choices an account is drawn from; past the end every choice is 0
/// (the simplest).
struct Rng<'t> {
    tape: &'t [u64],
    at: usize,
}

impl<'t> Rng<'t> {
    fn new(tape: &'t [u64]) -> Self {
        Rng { tape, at: 0 }
    }
    fn next(&mut self) -> u64 {
        let v = self.tape.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True one time in `one_in`; never for a 0 (so shrinking turns it off).
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == one_in - 1
    }
    fn some(&mut self, n: u64, max: usize) -> Vec<u64> {
        let k = self.below(max as u64 + 1);
        (0..k)
            .map(|_| 1 + self.below(n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

const MODULES: [&str; 2] = ["deals", "leads"];
const SCOPES: [&str; 4] = ["none", "own", "team", "all"];
const ACCESS: [&str; 3] = ["read", "read_write", "full"];

fn principal(rng: &mut Rng<'_>, users: u64, teams: u64, groups: u64, roles: u64) -> Value {
    match rng.below(5) {
        0 => json!({"user": 1 + rng.below(users)}),
        1 => json!({"team": 1 + rng.below(teams)}),
        2 if groups > 0 => json!({"group": 1 + rng.below(groups)}),
        3 => json!({"role": 1 + rng.below(roles)}),
        _ => json!({"role_and_subordinates": 1 + rng.below(roles)}),
    }
}

/// The choices an account is drawn from, one tape per thing drawn: taking
/// a record's tape away takes that record away, and shrinking it changes
/// only that record, so proptest shrinks a failure to a small account.
#[derive(Clone, Debug)]
struct Tapes {
    account: Vec<u64>,
    roles: Vec<Vec<u64>>,
    teams: u64,
    profiles: Vec<Vec<u64>>,
    users: Vec<Vec<u64>>,
    groups: Vec<Vec<u64>>,
    rules: Vec<Vec<u64>>,
    records: Vec<Vec<u64>>,
    /// One per round of directory edits (and the create after it).
    edits: Vec<Vec<u64>>,
}

fn tapes() -> impl Strategy<Value = Tapes> {
    let tape = |n: usize| prop::collection::vec(0u64..1024, 0..n);
    let many =
        move |n: usize, k: std::ops::RangeInclusive<usize>| prop::collection::vec(tape(n), k);
    (
        tape(4),
        many(2, 1..=5),
        1u64..=3,
        many(24, 1..=3),
        many(8, 2..=6),
        many(10, 0..=2),
        many(12, 0..=2),
        many(16, 0..=13),
        many(16, 0..=3),
    )
        .prop_map(
            |(account, roles, teams, profiles, users, groups, rules, records, edits)| Tapes {
                account,
                roles,
                teams,
                profiles,
                users,
                groups,
                rules,
                records,
                edits,
            },
        )
}

fn document(t: &Tapes) -> Value {
    let (nroles, nteams, nusers, ngroups) = (
        t.roles.len() as u64,
        t.teams,
        t.users.len() as u64,
        t.groups.len() as u64,
    );
    let nprofiles = t.profiles.len() as u64;
    let roles: Vec<Value> = (1..=nroles)
        .zip(&t.roles)
        .map(|(id, tape)| {
            let rng = &mut Rng::new(tape);
            let parent = if id == 1 || rng.chance(4) {
                Value::Null
            } else {
                json!(1 + rng.below(id - 1))
            };
            json!({"id": id, "name": format!("r{id}"), "parent": parent})
        })
        .collect();
    let teams: Vec<Value> = (1..=nteams)
        .map(|id| json!({"id": id, "name": format!("t{id}")}))
        .collect();
    let profiles: Vec<Value> = (1..=nprofiles)
        .zip(&t.profiles)
        .map(|(id, tape)| {
            let rng = &mut Rng::new(tape);
            let mut modules = serde_json::Map::new();
            for m in MODULES {
                if rng.chance(5) {
                    continue;
                }
                let mut p = serde_json::Map::new();
                for action in ["view", "create", "edit", "delete", "export"] {
                    p.insert(action.into(), json!(SCOPES[rng.below(4) as usize]));
                }
                if rng.chance(3) {
                    p.insert(
                        "stages".into(),
                        json!(["a", "b"]
                            .iter()
                            .filter(|_| rng.chance(2))
                            .collect::<Vec<_>>()),
                    );
                }
                let mut fields = serde_json::Map::new();
                if rng.chance(2) {
                    fields.insert("secret".into(), json!("hidden"));
                }
                if rng.chance(2) {
                    fields.insert("ro".into(), json!("read_only"));
                }
                p.insert("fields".into(), Value::Object(fields));
                modules.insert(m.into(), Value::Object(p));
            }
            json!({"id": id, "name": format!("p{id}"), "modules": modules})
        })
        .collect();
    let users: Vec<Value> = (1..=nusers)
        .zip(&t.users)
        .map(|(id, tape)| {
            let rng = &mut Rng::new(tape);
            json!({"id": id, "name": format!("u{id}"), "role": 1 + rng.below(nroles), "teams": rng.some(nteams, 2),
                   "profile": 1 + rng.below(nprofiles), "admin": rng.chance(8)})
        })
        .collect();
    let groups: Vec<Value> = (1..=ngroups)
        .zip(&t.groups)
        .map(|(id, tape)| {
            let rng = &mut Rng::new(tape);
            json!({"id": id, "name": format!("g{id}"), "users": rng.some(nusers, 2), "roles": rng.some(nroles, 1),
                   "roles_and_subordinates": rng.some(nroles, 1), "teams": rng.some(nteams, 1)})
        })
        .collect();
    let rules: Vec<Value> = t
        .rules
        .iter()
        .map(|tape| {
            let rng = &mut Rng::new(tape);
            json!({"module": MODULES[rng.below(2) as usize], "owned_by": principal(rng, nusers, nteams, ngroups, nroles),
                   "share_with": principal(rng, nusers, nteams, ngroups, nroles), "access": ACCESS[rng.below(3) as usize]})
        })
        .collect();
    let records: Vec<Value> = (1..)
        .zip(&t.records)
        .map(|(id, tape)| {
            let rng = &mut Rng::new(tape);
            let mut shares: Vec<Value> = Vec::new();
            for _ in 0..rng.below(3) {
                let to = principal(rng, nusers, nteams, ngroups, nroles);
                if !shares.iter().any(|s| s["to"] == to) {
                    shares.push(json!({"to": to, "access": ACCESS[rng.below(3) as usize]}));
                }
            }
            let stage = ["a", "b", "c"].get(rng.below(4) as usize).map_or(Value::Null, |s| json!(s));
            json!({"id": id, "module": MODULES[rng.below(2) as usize], "owner": 1 + rng.below(nusers),
                   "team": if rng.chance(3) { Value::Null } else { json!(1 + rng.below(nteams)) },
                   "stage": stage,
                   "fields": {"name": format!("n{id}"), "secret": id, "ro": 1}, "shares": shares})
        })
        .collect();
    let rng = &mut Rng::new(&t.account);
    let privacy = |rng: &mut Rng<'_>| MODULES.iter().filter(|_| rng.chance(4)).collect::<Vec<_>>();
    json!({
        "account": {"id": 1, "name": "m", "hierarchy_access": !rng.chance(4),
                    "privacy": {"admin_only_delete": privacy(rng), "admin_only_export": privacy(rng)}},
        "roles": roles, "teams": teams, "profiles": profiles, "users": users, "groups": groups,
        "sharing_rules": rules, "records": records
    })
}

/// The reference: DESIGN.md "Access rules", line by line, on the raw document.
struct Model<'d>(&'d Value);

impl Model<'_> {
    fn user(&self, id: u64) -> &Value {
        self.0["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .unwrap()
    }
    fn parent_role(&self, r: u64) -> Option<u64> {
        self.0["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == r)
            .and_then(|x| x["parent"].as_u64())
    }
    /// Whether role `r` is strictly below role `above`.
    fn below(&self, r: u64, above: u64) -> bool {
        let mut cur = self.parent_role(r);
        while let Some(p) = cur {
            if p == above {
                return true;
            }
            cur = self.parent_role(p);
        }
        false
    }
    fn teams(&self, u: u64) -> Vec<u64> {
        self.user(u)["teams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .collect()
    }
    fn role(&self, u: u64) -> u64 {
        self.user(u)["role"].as_u64().unwrap()
    }
    fn matches(&self, u: u64, p: &Value) -> bool {
        let (role, teams) = (self.role(u), self.teams(u));
        let rs = |r: u64| role == r || self.below(role, r);
        if let Some(x) = p["user"].as_u64() {
            return x == u;
        }
        if let Some(x) = p["team"].as_u64() {
            return teams.contains(&x);
        }
        if let Some(x) = p["role"].as_u64() {
            return role == x;
        }
        if let Some(x) = p["role_and_subordinates"].as_u64() {
            return rs(x);
        }
        let g = p["group"].as_u64().unwrap();
        let g = self.0["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == g)
            .unwrap();
        let has = |k: &str, f: &dyn Fn(u64) -> bool| {
            g[k].as_array()
                .unwrap()
                .iter()
                .any(|x| f(x.as_u64().unwrap()))
        };
        has("users", &|x| x == u)
            || has("roles", &|x| x == role)
            || has("teams", &|x| teams.contains(&x))
            || has("roles_and_subordinates", &rs)
    }
    fn owns(&self, v: u64, r: &Value) -> bool {
        let owner = r["owner"].as_u64().unwrap();
        owner == v
            || (self.0["account"]["hierarchy_access"] == true
                && self.below(self.role(owner), self.role(v)))
    }
    fn share(&self, v: u64, r: &Value) -> usize {
        let level = |a: &Value| 1 + ACCESS.iter().position(|x| a == x).unwrap();
        let direct = r["shares"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| self.matches(v, &s["to"]))
            .map(|s| level(&s["access"]));
        let owner = r["owner"].as_u64().unwrap();
        let rules = self.0["sharing_rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                x["module"] == r["module"]
                    && self.matches(owner, &x["owned_by"])
                    && self.matches(v, &x["share_with"])
            })
            .map(|x| level(&x["access"]));
        direct.chain(rules).max().unwrap_or(0)
    }
    fn perms(&self, v: u64, module: &str) -> Option<&Value> {
        let p = self.user(v)["profile"].clone();
        let prof = self.0["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == p)
            .unwrap();
        prof["modules"].get(module)
    }
    fn allowed(&self, v: u64, r: &Value, action: &str) -> bool {
        if self.user(v)["admin"] == true {
            return true;
        }
        let m = r["module"].as_str().unwrap();
        let Some(p) = self.perms(v, m) else {
            return false;
        };
        let scope = |a: &str| p[a].as_str().unwrap().to_string();
        let covers = |s: &str| match s {
            "all" => true,
            "team" => {
                r["team"]
                    .as_u64()
                    .is_some_and(|t| self.teams(v).contains(&t))
                    || self.owns(v, r)
            }
            "own" => self.owns(v, r),
            _ => false,
        };
        let stage_ok = match (p.get("stages"), r["stage"].as_str()) {
            (Some(st), Some(s)) => st.as_array().unwrap().iter().any(|x| x == s),
            _ => true,
        };
        let share = self.share(v, r);
        let privacy = |k: &str| {
            self.0["account"]["privacy"][k]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == m)
        };
        let view = scope("view") != "none" && stage_ok && (covers(&scope("view")) || share >= 1);
        match action {
            "view" => view,
            "edit" => view && scope("edit") != "none" && (covers(&scope("edit")) || share >= 2),
            "delete" => {
                view && !privacy("admin_only_delete")
                    && scope("delete") != "none"
                    && (covers(&scope("delete")) || share == 3)
            }
            // share / unshare / assign owner = admin or (owns ∧ edit).
            "share" | "assign" => self.owns(v, r) && self.allowed(v, r, "edit"),
            _ => {
                view && !privacy("admin_only_export")
                    && scope("export") != "none"
                    && covers(&scope("export"))
            }
        }
    }
    /// Whether the user may act at all (not blocked; the generator makes
    /// every user active).
    fn usable(&self, v: u64) -> bool {
        self.user(v)["blocked"] != true
    }
    /// create: admin, or a create scope other than none.
    fn may_create(&self, v: u64, module: &str) -> bool {
        self.user(v)["admin"] == true
            || self.perms(v, module).is_some_and(|p| p["create"] != "none")
    }
    fn hidden(&self, v: u64, module: &str) -> BTreeSet<String> {
        if self.user(v)["admin"] == true {
            return BTreeSet::new();
        }
        self.perms(v, module)
            .map(|p| {
                p["fields"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(_, r)| *r == "hidden")
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn run(t: &Tapes) -> Result<(), String> {
    let mut doc = document(t);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.redb")).unwrap();
    store
        .operator()
        .load_json(&doc.to_string())
        .map_err(|e| format!("load: {e}"))?;
    // Made once: each stays valid across directory changes (re-resolved).
    let ctxs: BTreeMap<u64, AccessContext> = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let v = u["id"].as_u64().unwrap();
            (v, store.operator().context(1, v).unwrap())
        })
        .collect();
    check(&store, &doc, &ctxs).map_err(|e| format!("before any edit: {e}"))?;
    for (round, tape) in t.edits.iter().enumerate() {
        let rng = &mut Rng::new(tape);
        let what = edit(rng, &mut doc);
        let mut parts = doc.clone();
        parts.as_object_mut().unwrap().remove("records");
        let new: Directory = serde_json::from_value(parts).map_err(|e| format!("{what}: {e}"))?;
        store
            .operator()
            .update_directory(1, |d| *d = new)
            .map_err(|e| format!("edit {round} ({what}): {e}"))?;
        create(&store, &mut doc, &ctxs, rng)
            .map_err(|e| format!("after edit {round} ({what}): {e}"))?;
        check(&store, &doc, &ctxs).map_err(|e| format!("after edit {round} ({what}): {e}"))?;
    }
    Ok(())
}

/// One directory edit drawn from the tape, made to the document; what it was.
fn edit(rng: &mut Rng<'_>, doc: &mut Value) -> String {
    let count = |doc: &Value, k: &str| doc[k].as_array().map_or(0, Vec::len) as u64;
    let (nusers, nroles, nteams, nprofiles, ngroups) = (
        count(doc, "users"),
        count(doc, "roles"),
        count(doc, "teams"),
        count(doc, "profiles"),
        count(doc, "groups"),
    );
    let u = rng.below(nusers) as usize;
    match rng.below(9) {
        0 => {
            let r = 1 + rng.below(nroles);
            doc["users"][u]["role"] = json!(r);
            format!("user {} to role {r}", u + 1)
        }
        1 => {
            let t = rng.some(nteams, 2);
            doc["users"][u]["teams"] = json!(t);
            format!("user {} to teams {t:?}", u + 1)
        }
        2 => {
            let p = 1 + rng.below(nprofiles);
            doc["users"][u]["profile"] = json!(p);
            format!("user {} to profile {p}", u + 1)
        }
        3 => {
            let admin = doc["users"][u]["admin"] != true;
            doc["users"][u]["admin"] = json!(admin);
            format!("user {} admin {admin}", u + 1)
        }
        4 => {
            let p = rng.below(nprofiles) as usize;
            let m = MODULES[rng.below(2) as usize];
            let action = ["view", "create", "edit", "delete", "export"][rng.below(5) as usize];
            let scope = SCOPES[rng.below(4) as usize];
            let modules = &mut doc["profiles"][p]["modules"];
            if modules.get(m).is_none() {
                modules[m] = json!({"view": "none", "create": "none", "edit": "none",
                                    "delete": "none", "export": "none", "fields": {}});
            }
            modules[m][action] = json!(scope);
            format!("profile {} {m}.{action} = {scope}", p + 1)
        }
        5 if ngroups > 0 => {
            let g = rng.below(ngroups) as usize;
            let users = rng.some(nusers, 3);
            doc["groups"][g]["users"] = json!(users);
            format!("group {} users {users:?}", g + 1)
        }
        6 => {
            let rule = json!({"module": MODULES[rng.below(2) as usize],
                "owned_by": principal(rng, nusers, nteams, ngroups, nroles),
                "share_with": principal(rng, nusers, nteams, ngroups, nroles),
                "access": ACCESS[rng.below(3) as usize]});
            let what = format!("sharing rule {rule}");
            doc["sharing_rules"].as_array_mut().unwrap().push(rule);
            what
        }
        7 => {
            let blocked = doc["users"][u]["blocked"] != true;
            doc["users"][u]["blocked"] = json!(blocked);
            format!("user {} blocked {blocked}", u + 1)
        }
        _ => {
            let which = ["admin_only_delete", "admin_only_export"][rng.below(2) as usize];
            let m = MODULES[rng.below(2) as usize];
            let list = doc["account"]["privacy"][which].as_array_mut().unwrap();
            if let Some(i) = list.iter().position(|x| x == m) {
                list.remove(i);
            } else {
                list.push(json!(m));
            }
            format!("{which} toggles {m}")
        }
    }
}

/// Every user asks whether they may create in each module, as the model
/// says; one of them creates there: a refusal changes nothing, a record
/// made is the viewer's, in the document from then on.
fn create(
    store: &Store,
    doc: &mut Value,
    ctxs: &BTreeMap<u64, AccessContext>,
    rng: &mut Rng<'_>,
) -> Result<(), String> {
    let model_doc = doc.clone();
    let model = Model(&model_doc);
    for (&v, ctx) in ctxs {
        let admin = model.user(v)["admin"] == true;
        for other in ctxs.keys() {
            let asked = store.can(ctx, Action::Block { user: *other });
            match asked {
                Ok(d) if d.allowed == admin => {}
                Err(crmstore::Error::Denied(_)) if !model.usable(v) => {}
                other => return Err(format!("user {v} may block: {other:?}, model {admin}")),
            }
        }
        for m in MODULES {
            let action = Action::Create { module: m };
            let want = model.usable(v) && model.may_create(v, m);
            match store.can(ctx, action) {
                Ok(d) if d.allowed == want => {}
                Err(crmstore::Error::Denied(_)) if !model.usable(v) => {}
                other => return Err(format!("user {v} create in {m}: {other:?}, model {want}")),
            }
        }
    }
    let v = 1 + rng.below(ctxs.len() as u64);
    let m = MODULES[rng.below(2) as usize];
    let want = model.usable(v) && model.may_create(v, m);
    match store.create(&ctxs[&v], NewRecord::new(m).field("name", "made")) {
        Ok(r) if want => {
            // The owner's first team, when no team is given.
            let team = model.teams(v).first().copied();
            if r.owner != v || r.team != team || !r.shares.is_empty() {
                return Err(format!("user {v} created {r:?}"));
            }
            doc["records"].as_array_mut().unwrap().push(json!({
                "id": r.id, "module": m, "owner": v, "team": team, "stage": null,
                "fields": {"name": "made"}, "shares": []}));
        }
        Err(crmstore::Error::Denied(_)) if !want => {}
        other => return Err(format!("user {v} creates in {m}: {other:?}, model {want}")),
    }
    Ok(())
}

fn check(store: &Store, doc: &Value, ctxs: &BTreeMap<u64, AccessContext>) -> Result<(), String> {
    let model = Model(doc);
    let records = doc["records"].as_array().unwrap();
    for u in doc["users"].as_array().unwrap() {
        let v = u["id"].as_u64().unwrap();
        let ctx = &ctxs[&v];
        if !model.usable(v) {
            // A blocked user's context is refused on its next call.
            match store.query(ctx, &Query::module("deals")) {
                Err(crmstore::Error::Denied(_)) => continue,
                other => return Err(format!("blocked user {v} queries: {other:?}")),
            }
        }
        for m in MODULES {
            let want: Vec<u64> = records
                .iter()
                .filter(|r| r["module"] == m && model.allowed(v, r, "view"))
                .map(|r| r["id"].as_u64().unwrap())
                .collect();
            let q = Query::module(m);
            // An admin knows a module any record uses; anyone else only one
            // the directory names (records they cannot see do not count).
            let quoted = format!("\"{m}\"");
            let directory_names = ["account", "profiles", "sharing_rules"]
                .iter()
                .any(|part| doc[*part].to_string().contains(&quoted));
            let admin = u["admin"].as_bool().unwrap_or(false);
            let known = directory_names || (admin && doc.to_string().contains(&quoted));
            if !known {
                match store.query(ctx, &q) {
                    Err(crmstore::Error::Invalid(_)) => continue,
                    other => return Err(format!("unknown module {m}: {other:?}")),
                }
            }
            let page = store.query(ctx, &q).unwrap();
            let got: Vec<u64> = page.records.iter().map(|r| r.id).collect();
            // Read in place, the same page: same records, same hidden fields left out.
            if store.query_rows(ctx, &q).unwrap().to_records() != page.records {
                return Err(format!("user {v} module {m}: rows differ from the page"));
            }
            if got != want {
                return Err(format!(
                    "user {v} module {m}: visible {got:?}, model {want:?}"
                ));
            }
            let count = store.count(ctx, &q).unwrap();
            if count != want.len() as u64 {
                return Err(format!(
                    "user {v} module {m}: count {count}, model {}",
                    want.len()
                ));
            }
            let filtered = Query::module(m).filter(Filter::field("name").ne("zzz"));
            if store.count(ctx, &filtered).unwrap() != want.len() as u64 {
                return Err(format!("user {v} module {m}: filtered count differs"));
            }
            // The built-ins the planner narrows index ranges by (plan.rs):
            // each value some record of the module has, alone, as an `in`
            // list with a value nobody has, and beside another conjunct.
            for field in ["owner", "team", "stage", "parent"] {
                let mut values: Vec<&Value> = Vec::new();
                for r in records
                    .iter()
                    .filter(|r| r["module"] == m && !r[field].is_null())
                {
                    if !values.contains(&&r[field]) {
                        values.push(&r[field]);
                    }
                }
                let nobody = if field == "stage" {
                    "\"nobody\""
                } else {
                    "999999"
                };
                for value in values.iter().take(3) {
                    let text = [
                        format!("{field} = {value}"),
                        format!("{field} in [{value}, {nobody}]"),
                        format!("{field} = {value} and name != \"zzz\""),
                    ];
                    let want_f: Vec<u64> = records
                        .iter()
                        .filter(|r| r["module"] == m && model.allowed(v, r, "view"))
                        .filter(|r| r[field] == **value)
                        .map(|r| r["id"].as_u64().unwrap())
                        .collect();
                    for t in text {
                        let q = Query::module(m).filter(Filter::parse(&t).unwrap());
                        let got: Vec<u64> = store
                            .query(ctx, &q)
                            .map_err(|e| format!("user {v} `{t}`: {e}"))?
                            .records
                            .iter()
                            .map(|r| r.id)
                            .collect();
                        let count = store.count(ctx, &q).unwrap();
                        if got != want_f || count != want_f.len() as u64 {
                            return Err(format!(
                                "user {v} module {m} `{t}`: {got:?} (count {count}), model {want_f:?}"
                            ));
                        }
                    }
                }
            }
            let hidden = model.hidden(v, m);
            let exportable = records
                .iter()
                .filter(|r| r["module"] == m && model.allowed(v, r, "export"))
                .count() as u64;
            let export_denied = model.user(v)["admin"] != true
                && (model.perms(v, m).is_none_or(|p| p["export"] == "none")
                    || doc["account"]["privacy"]["admin_only_export"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x == m));
            let asked = store.can(ctx, Action::ExportModule { module: m });
            if !matches!(&asked, Ok(d) if d.allowed != export_denied) {
                return Err(format!(
                    "user {v} may export {m}: {asked:?}, model {}",
                    !export_denied
                ));
            }
            match store.export(ctx, &q, ExportFormat::Jsonl, std::io::sink()) {
                Ok(n) if !export_denied && n == exportable => {}
                Err(crmstore::Error::Denied(_)) if export_denied => {}
                other => return Err(format!("user {v} module {m}: export {other:?}, model {exportable} denied={export_denied}")),
            }
            for r in records.iter().filter(|r| r["module"] == m) {
                let id = r["id"].as_u64().unwrap();
                let seen = store.get(ctx, id);
                if !model.allowed(v, r, "view") {
                    if !matches!(seen, Err(crmstore::Error::NotFound(_))) {
                        return Err(format!("user {v} gets invisible {id}: {seen:?}"));
                    }
                    continue;
                }
                let rec = seen.map_err(|e| format!("user {v} get {id}: {e}"))?;
                let fields: BTreeSet<String> = rec.fields.keys().cloned().collect();
                let want: BTreeSet<String> = r["fields"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|f| !hidden.contains(*f))
                    .cloned()
                    .collect();
                if fields != want {
                    return Err(format!(
                        "user {v} record {id}: fields {fields:?}, model {want:?}"
                    ));
                }
                for (action, name) in [
                    (Action::Edit(id), "edit"),
                    (Action::Delete(id), "delete"),
                    (Action::Export(id), "export"),
                    (Action::Share(id), "share"),
                    (Action::Assign(id), "assign"),
                ] {
                    let got = store.can(ctx, action).unwrap().allowed;
                    if got != model.allowed(v, r, name) {
                        return Err(format!(
                            "user {v} record {id}: {name} {got}, model {}",
                            !got
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Tapes drawn from `seed` (the fixed cases): the full-size account.
fn seeded(seed: u64) -> Tapes {
    let mut x = seed;
    let mut next = move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut tape = |n: usize| (0..n).map(|_| next() % 1024).collect::<Vec<u64>>();
    let mut many = |n: usize, lo: u64, hi: u64| {
        let k = lo + tape(1)[0] % (hi - lo + 1);
        (0..k).map(|_| tape(n)).collect::<Vec<_>>()
    };
    Tapes {
        account: many(4, 1, 1).remove(0),
        roles: many(2, 1, 5),
        teams: 1 + many(1, 1, 1)[0][0] % 3,
        profiles: many(24, 1, 3),
        users: many(8, 2, 6),
        groups: many(10, 0, 2),
        rules: many(12, 0, 2),
        records: many(16, 0, 13),
        edits: many(16, 0, 3),
    }
}

fn shown(t: &Tapes) -> String {
    serde_json::to_string_pretty(&document(t)).unwrap()
}

proptest! {
    // Shrinking runs the test once per step: a generous budget, spent only
    // on a failure.
    #![proptest_config(ProptestConfig {
        cases: crate::common::proptest_cases(64),
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_store_agrees_with_the_reference(t in tapes()) {
        if let Err(why) = run(&t) {
            prop_assert!(false, "{why}\ndocument before any edit:\n{}", shown(&t));
        }
    }
}

#[test]
fn fixed_seeds_agree() {
    for seed in 0..32 {
        let t = seeded(seed);
        if let Err(why) = run(&t) {
            panic!("seed {seed}: {why}\n{}", shown(&t));
        }
    }
}
