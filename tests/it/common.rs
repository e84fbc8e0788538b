//! Fixtures shared by the behaviour tests.

use std::path::{Path, PathBuf};

use crmstore::{AccessContext, Query, Store};

/// A sales org exercising every rule:
/// roles CEO(1) → Manager(2) → Rep(3); Other(4) under CEO.
/// users: 1 admin; 2 manager (own); 3 rep East (own); 4 rep West (own);
/// 5 team-scope East; 6 all-scope limited to stages new/won; 7 share-only
/// (in group 1); 8 inactive; 9 blocked.
pub const DOC: &str = r#"{
  "account": {"id": 1, "name": "Acme", "privacy": {"admin_only_delete": ["leads"], "admin_only_export": ["leads"]}},
  "roles": [{"id": 1, "name": "CEO", "parent": null}, {"id": 2, "name": "Manager", "parent": 1},
            {"id": 3, "name": "Rep", "parent": 2}, {"id": 4, "name": "Other", "parent": 1}],
  "teams": [{"id": 1, "name": "East"}, {"id": 2, "name": "West"}],
  "profiles": [
    {"id": 1, "name": "Admin", "modules": {}},
    {"id": 2, "name": "Own", "modules": {
       "deals": {"view": "own", "create": "own", "edit": "own", "delete": "own", "export": "own",
                 "fields": {"iban": "hidden", "discount": "read_only"}},
       "leads": {"view": "own", "create": "own", "edit": "own", "delete": "own", "export": "own"},
       "comments": {"view": "own", "create": "own", "edit": "own", "delete": "own", "export": "own"}}},
    {"id": 3, "name": "Team", "modules": {
       "deals": {"view": "team", "create": "own", "edit": "own", "delete": "none", "export": "team"}}},
    {"id": 4, "name": "All", "modules": {
       "deals": {"view": "all", "create": "all", "edit": "all", "delete": "all", "export": "all", "stages": ["new", "won"]}}},
    {"id": 5, "name": "ShareOnly", "modules": {
       "deals": {"view": "own", "create": "none", "edit": "own", "delete": "own", "export": "own"}}}],
  "users": [
    {"id": 1, "name": "ada", "role": 1, "teams": [1, 2], "profile": 1, "admin": true},
    {"id": 2, "name": "max", "role": 2, "teams": [1], "profile": 2},
    {"id": 3, "name": "raj", "role": 3, "teams": [1], "profile": 2},
    {"id": 4, "name": "sue", "role": 3, "teams": [2], "profile": 2},
    {"id": 5, "name": "tia", "role": 4, "teams": [1], "profile": 3},
    {"id": 6, "name": "ali", "role": 4, "teams": [], "profile": 4},
    {"id": 7, "name": "vic", "role": 4, "teams": [], "profile": 5},
    {"id": 8, "name": "old", "role": 4, "teams": [], "profile": 2, "active": false},
    {"id": 9, "name": "bad", "role": 4, "teams": [], "profile": 2, "blocked": true}],
  "groups": [{"id": 1, "name": "Partners", "users": [7]}],
  "sharing_rules": [],
  "records": [
    {"id": 1, "module": "deals", "owner": 3, "team": 1, "stage": "new", "fields": {"name": "a", "amount": 100, "iban": "DE1", "discount": 5}},
    {"id": 2, "module": "deals", "owner": 3, "team": 1, "stage": "lost", "fields": {"name": "b", "amount": 2000},
     "shares": [{"to": {"group": 1}, "access": "read"}]},
    {"id": 3, "module": "deals", "owner": 4, "team": 2, "stage": "won", "fields": {"name": "c", "amount": 3000}},
    {"id": 4, "module": "deals", "owner": 2, "team": 1, "stage": "new", "fields": {"name": "d", "amount": 50}},
    {"id": 5, "module": "comments", "owner": 3, "team": 1, "parent": 1, "fields": {"text": "hello"}},
    {"id": 6, "module": "leads", "owner": 3, "team": 1, "fields": {"name": "l"}}]
}"#;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub store: Store,
}

impl Fixture {
    pub fn ctx(&self, user: u64) -> AccessContext {
        self.store.operator().context(1, user).unwrap()
    }

    /// The ids of `module` that `user` sees.
    pub fn ids(&self, user: u64, module: &str) -> Vec<u64> {
        ids(&self.store, &self.ctx(user), module)
    }
}

pub fn ids(store: &Store, ctx: &AccessContext, module: &str) -> Vec<u64> {
    store
        .query(ctx, &Query::module(module))
        .unwrap()
        .records
        .iter()
        .map(|r| r.id)
        .collect()
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.redb");
    let store = Store::open(&path).unwrap();
    store.operator().load_json(DOC).unwrap();
    Fixture {
        _dir: dir,
        path,
        store,
    }
}

/// Runs `f` on the raw redb file (to damage it behind crmstore's back).
pub fn raw(path: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    f(&txn);
    txn.commit().unwrap();
}

/// Changes the stored bytes of record `id` of account 1 with `damage`,
/// behind crmstore's back (what a damaged page gives).
pub fn damage_record(path: &Path, id: u64, damage: impl FnOnce(&mut Vec<u8>)) {
    raw(path, |txn| {
        let def: redb::TableDefinition<u128, &[u8]> = redb::TableDefinition::new("records_v2");
        let mut t = txn.open_table(def).unwrap();
        let key = (1u128 << 64) | u128::from(id);
        let mut bytes = redb::ReadableTable::get(&t, key)
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        damage(&mut bytes);
        t.insert(key, bytes.as_slice()).unwrap();
    });
}

/// Proptest cases: `PROPTEST_CASES` when set (to dig), else a modest default for CI.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}
