//! crmstore against SQLite (WAL, a normalized and well-indexed ACL schema)
//! on the same generated data, the same questions, for four viewers. Both
//! sides must return the same ids before anything is timed.
//! `cargo bench --bench compare_sqlite` (sizes: CRMSTORE_SIZES=10000,100000,1000000;
//! p50/p99 over random viewers of the largest: CRMSTORE_VIEWER_DRAWS=1000)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "support/mod.rs"]
mod support;
#[path = "compare_sqlite/viewers.rs"]
mod viewers;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crmstore::synth::{self, GenSpec};
use crmstore::{
    AccessContext, Cascade, Deleted, Directory, FieldRule, Filter, NewRecord, Principal, Query,
    Scope, Store,
};
use rusqlite::{params, Connection};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE records(id INTEGER PRIMARY KEY, module TEXT NOT NULL, owner INT NOT NULL, team INT, stage TEXT,
  parent INT, fields TEXT NOT NULL, version INT NOT NULL, created_at INT NOT NULL, updated_at INT NOT NULL);
CREATE INDEX records_module_owner ON records(module, owner, id);
CREATE INDEX records_module_team ON records(module, team, id);
CREATE INDEX records_module_team_owner ON records(module, team, owner);
CREATE INDEX records_parent ON records(parent);
CREATE TABLE shares(kind INT NOT NULL, principal INT NOT NULL, module TEXT NOT NULL, record INT NOT NULL, access INT NOT NULL,
  PRIMARY KEY(kind, principal, module, record)) WITHOUT ROWID;
CREATE INDEX shares_record ON shares(record);
CREATE TABLE users(id INTEGER PRIMARY KEY, role INT NOT NULL);
CREATE TABLE user_teams(user INT NOT NULL, team INT NOT NULL, PRIMARY KEY(user, team)) WITHOUT ROWID;
CREATE TABLE role_closure(ancestor INT NOT NULL, descendant INT NOT NULL, PRIMARY KEY(ancestor, descendant)) WITHOUT ROWID;
CREATE TABLE group_members(grp INT NOT NULL, user INT NOT NULL, PRIMARY KEY(user, grp)) WITHOUT ROWID;
CREATE TABLE trash(id INTEGER PRIMARY KEY, module TEXT, owner INT, team INT, stage TEXT, parent INT, fields TEXT,
  version INT, created_at INT, updated_at INT);
";

fn kind(p: Principal) -> (i64, i64) {
    match p {
        Principal::User(i) => (1, i as i64),
        Principal::Team(i) => (2, i as i64),
        Principal::Group(i) => (3, i as i64),
        Principal::Role(i) => (4, i as i64),
        Principal::RoleAndSubordinates(i) => (5, i as i64),
    }
}

fn insert_record(tx: &Connection, r: &crmstore::Record) {
    let fields = serde_json::Value::Object(
        r.fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
    .to_string();
    tx.prepare_cached("INSERT INTO records VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        .unwrap()
        .execute(params![
            r.id as i64,
            r.module,
            r.owner as i64,
            r.team.map(|t| t as i64),
            r.stage,
            r.parent.map(|p| p as i64),
            fields,
            r.version as i64,
            r.created_at.0,
            r.updated_at.0
        ])
        .unwrap();
    for s in &r.shares {
        let (k, p) = kind(s.to);
        tx.prepare_cached("INSERT INTO shares VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap()
            .execute(params![k, p, r.module, r.id as i64, 1])
            .unwrap();
    }
}

/// Loads the same generated account into SQLite (the directory as tables:
/// users, team membership, the role closure, resolved group membership).
fn load_sqlite(path: &Path, spec: &GenSpec, dir: &Directory) -> f64 {
    let _ = std::fs::remove_file(path);
    let mut c = Connection::open(path).unwrap();
    c.execute_batch(SCHEMA).unwrap();
    let t = std::time::Instant::now();
    let tx = c.transaction().unwrap();
    for u in &dir.users {
        tx.execute(
            "INSERT INTO users VALUES (?1, ?2)",
            params![u.id as i64, u.role as i64],
        )
        .unwrap();
        for t in &u.teams {
            tx.execute(
                "INSERT INTO user_teams VALUES (?1, ?2)",
                params![u.id as i64, *t as i64],
            )
            .unwrap();
        }
    }
    for r in &dir.roles {
        let mut cur = Some(r.id);
        while let Some(a) = cur {
            tx.execute(
                "INSERT INTO role_closure VALUES (?1, ?2)",
                params![a as i64, r.id as i64],
            )
            .unwrap();
            cur = dir.roles.iter().find(|x| x.id == a).and_then(|x| x.parent);
        }
    }
    for g in &dir.groups {
        for u in &dir.users {
            let mut above = vec![u.role];
            let mut cur = dir
                .roles
                .iter()
                .find(|x| x.id == u.role)
                .and_then(|x| x.parent);
            while let Some(p) = cur {
                above.push(p);
                cur = dir.roles.iter().find(|x| x.id == p).and_then(|x| x.parent);
            }
            let member = g.users.contains(&u.id)
                || g.roles.contains(&u.role)
                || g.teams.iter().any(|t| u.teams.contains(t))
                || g.roles_and_subordinates.iter().any(|r| above.contains(r));
            if member {
                tx.execute(
                    "INSERT INTO group_members VALUES (?1, ?2)",
                    params![g.id as i64, u.id as i64],
                )
                .unwrap();
            }
        }
    }
    for id in 1..=spec.records {
        insert_record(&tx, &synth::record(spec, dir, id));
    }
    tx.commit().unwrap();
    t.elapsed().as_secs_f64()
}

/// The viewer's resolved context as temp tables: what a CRM on SQLite caches
/// per session, as crmstore caches its resolved viewer. Not timed.
fn viewer_tables(c: &Connection, dir: &Directory, user: u64) {
    let u = dir.users.iter().find(|x| x.id == user).unwrap();
    c.execute_batch("DROP TABLE IF EXISTS temp.v_owners; DROP TABLE IF EXISTS temp.v_teams; DROP TABLE IF EXISTS temp.v_principals; DROP TABLE IF EXISTS temp.v_rule_owners;
        CREATE TEMP TABLE v_owners(u INTEGER PRIMARY KEY); CREATE TEMP TABLE v_teams(t INTEGER PRIMARY KEY);
        CREATE TEMP TABLE v_principals(kind INT, id INT, PRIMARY KEY(kind, id)) WITHOUT ROWID; CREATE TEMP TABLE v_rule_owners(u INTEGER PRIMARY KEY);").unwrap();
    // owners: the viewer and everyone whose role is strictly below theirs.
    c.execute("INSERT INTO v_owners SELECT ?1 UNION SELECT us.id FROM users us JOIN role_closure rc ON rc.descendant = us.role WHERE rc.ancestor = ?2 AND us.role != ?2",
        params![user as i64, u.role as i64]).unwrap();
    c.execute(
        "INSERT INTO v_teams SELECT team FROM user_teams WHERE user = ?1",
        params![user as i64],
    )
    .unwrap();
    c.execute("INSERT INTO v_principals SELECT 1, ?1 UNION SELECT 2, team FROM user_teams WHERE user = ?1 UNION SELECT 3, grp FROM group_members WHERE user = ?1
        UNION SELECT 4, ?2 UNION SELECT 5, ancestor FROM role_closure WHERE descendant = ?2", params![user as i64, u.role as i64]).unwrap();
    let principals: BTreeSet<(i64, i64)> = c
        .prepare("SELECT kind, id FROM v_principals")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for rule in dir
        .sharing_rules
        .iter()
        .filter(|r| r.module == "deals" && principals.contains(&kind(r.share_with)))
    {
        let (k, p) = kind(rule.owned_by);
        let sql = match k {
            1 => "INSERT OR IGNORE INTO v_rule_owners SELECT id FROM users WHERE id = ?1",
            2 => "INSERT OR IGNORE INTO v_rule_owners SELECT user FROM user_teams WHERE team = ?1",
            3 => "INSERT OR IGNORE INTO v_rule_owners SELECT user FROM group_members WHERE grp = ?1",
            4 => "INSERT OR IGNORE INTO v_rule_owners SELECT id FROM users WHERE role = ?1",
            _ => "INSERT OR IGNORE INTO v_rule_owners SELECT us.id FROM users us JOIN role_closure rc ON rc.descendant = us.role WHERE rc.ancestor = ?1",
        };
        c.execute(sql, params![p]).unwrap();
    }
}

/// The profile's stage limit as a condition on `r` (empty without one).
fn stage_clause(stages: Option<&BTreeSet<String>>) -> String {
    stages.map_or(String::new(), |st| {
        let list: Vec<String> = st.iter().map(|s| format!("'{s}'")).collect();
        format!(" AND (r.stage IS NULL OR r.stage IN ({}))", list.join(","))
    })
}

/// The visibility predicate on `r` for a view scope: the other formulation,
/// which walks records in id order and stops at the limit.
fn visible_where(select: &str, scope: Scope, stages: Option<&BTreeSet<String>>) -> String {
    let cond = match scope {
        Scope::All => "1".to_string(),
        s => {
            let mut parts = vec!["r.owner IN (SELECT u FROM v_owners)".to_string()];
            if s == Scope::Team {
                parts.push("r.team IN (SELECT t FROM v_teams)".into());
            }
            parts.push("EXISTS (SELECT 1 FROM shares s JOIN v_principals p ON s.kind = p.kind AND s.principal = p.id WHERE s.record = r.id)".into());
            parts.push("r.owner IN (SELECT u FROM v_rule_owners)".into());
            format!("({})", parts.join(" OR "))
        }
    };
    let stage = stage_clause(stages);
    format!("SELECT {select} FROM records r WHERE r.module = 'deals' AND {cond}{stage}")
}

/// The visible-ids subquery for a view scope.
fn visible_sql(select: &str, scope: Scope, stages: Option<&BTreeSet<String>>) -> String {
    let union = match scope {
        Scope::All => "SELECT id FROM records WHERE module = 'deals'".to_string(),
        s => {
            let mut parts = vec!["SELECT id FROM records WHERE module = 'deals' AND owner IN (SELECT u FROM v_owners)".to_string()];
            if s == Scope::Team {
                parts.push("SELECT id FROM records WHERE module = 'deals' AND team IN (SELECT t FROM v_teams)".into());
            }
            parts.push("SELECT s.record FROM v_principals p JOIN shares s ON s.kind = p.kind AND s.principal = p.id AND s.module = 'deals'".into());
            parts.push("SELECT id FROM records WHERE module = 'deals' AND owner IN (SELECT u FROM v_rule_owners)".into());
            parts.join(" UNION ")
        }
    };
    let stage = stage_clause(stages);
    format!("SELECT {select} FROM records r WHERE r.id IN ({union}){stage}")
}

/// What one viewer's visibility is made of, read once per viewer session
/// (as a CRM on SQLite would cache it): owners (their own, their
/// subordinates', sharing-rule owners), teams (team scope), principals.
struct Arms {
    owners: Vec<i64>,
    teams: Vec<i64>,
    principals: Vec<(i64, i64)>,
}

fn arms_of(c: &Connection, scope: Scope) -> Arms {
    let list = |sql: &str| -> Vec<i64> {
        c.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    Arms {
        owners: list("SELECT u FROM v_owners UNION SELECT u FROM v_rule_owners ORDER BY 1"),
        teams: if scope == Scope::Team {
            list("SELECT t FROM v_teams")
        } else {
            vec![]
        },
        principals: c
            .prepare("SELECT kind, id FROM v_principals")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect(),
    }
}

fn join(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// SQLite at its best for a page: a merge of per-arm index ranges, each
/// already in id order (one arm per owner, per team, per principal), with
/// the page's conditions inside every arm, so the LIMIT stops the merge
/// (`MERGE (UNION)` over `SEARCH ... COVERING INDEX`, no temp B-tree).
fn merged_sql(select: &str, a: &Arms, stages: Option<&BTreeSet<String>>, filter: &str) -> String {
    let stage = stage_clause(stages);
    let mut arms: Vec<String> = Vec::new();
    for o in &a.owners {
        arms.push(format!(
            "SELECT r.id FROM records r WHERE r.module = 'deals' AND r.owner = {o}{stage} {filter}"
        ));
    }
    for t in &a.teams {
        arms.push(format!(
            "SELECT r.id FROM records r WHERE r.module = 'deals' AND r.team = {t}{stage} {filter}"
        ));
    }
    for (k, p) in &a.principals {
        arms.push(if stage.is_empty() && filter.is_empty() {
            format!("SELECT s.record FROM shares s WHERE s.kind = {k} AND s.principal = {p} AND s.module = 'deals'")
        } else {
            format!("SELECT s.record FROM shares s JOIN records r ON r.id = s.record WHERE s.kind = {k} AND s.principal = {p} AND s.module = 'deals'{stage} {filter}")
        });
    }
    format!(
        "SELECT {select} FROM records r WHERE r.id IN ({} ORDER BY 1 LIMIT 50) ORDER BY r.id",
        arms.join(" UNION ")
    )
}

/// SQLite at its best for a count: inclusion–exclusion over index-backed
/// counts (owners; teams not owned; shares of records neither).
fn merged_count_sql(a: &Arms, stages: Option<&BTreeSet<String>>) -> String {
    let stage = stage_clause(stages);
    let owners = join(&a.owners);
    let teams = join(&a.teams);
    let pairs: Vec<String> = a
        .principals
        .iter()
        .map(|(k, p)| format!("({k},{p})"))
        .collect();
    let team_term = if a.teams.is_empty() {
        "0".to_string()
    } else {
        format!("(SELECT count(*) FROM records r WHERE r.module = 'deals' AND r.team IN ({teams}) AND r.owner NOT IN ({owners}){stage})")
    };
    let not_team = if a.teams.is_empty() {
        String::new()
    } else {
        format!(" AND (r.team IS NULL OR r.team NOT IN ({teams}))")
    };
    format!(
        "SELECT (SELECT count(*) FROM records r WHERE r.module = 'deals' AND r.owner IN ({owners}){stage}) + {team_term} + \
         (SELECT count(DISTINCT s.record) FROM shares s JOIN records r ON r.id = s.record WHERE s.module = 'deals' \
          AND (s.kind, s.principal) IN (VALUES {}) AND r.owner NOT IN ({owners}){not_team}{stage})",
        if pairs.is_empty() { "(0,0)".to_string() } else { pairs.join(",") }
    )
}

/// A record as a CRM on SQLite reads it for a list or a detail view: every
/// column, the fields as the JSON text stored (hidden ones removed by the SQL).
/// (crmstore's `Record` also carries the shares; this row does not.)
#[derive(Debug)]
#[allow(dead_code, reason = "read by the benchmark's Debug and drop only")]
struct Row {
    id: u64,
    module: String,
    owner: u64,
    team: Option<u64>,
    stage: Option<String>,
    parent: Option<u64>,
    fields: String,
    version: u64,
    created_at: i64,
    updated_at: i64,
}

/// The select list returning whole rows with `hidden` fields removed.
fn row_select(hidden: &[String]) -> String {
    let fields = if hidden.is_empty() {
        "r.fields".to_string()
    } else {
        let paths: Vec<String> = hidden.iter().map(|f| format!("'$.{f}'")).collect();
        format!("json_remove(r.fields, {})", paths.join(", "))
    };
    format!("r.id, r.module, r.owner, r.team, r.stage, r.parent, {fields}, r.version, r.created_at, r.updated_at")
}

fn sql_rows(c: &Connection, sql: &str) -> Vec<Row> {
    c.prepare_cached(sql)
        .unwrap()
        .query_map([], |r| {
            Ok(Row {
                id: r.get::<_, i64>(0)? as u64,
                module: r.get(1)?,
                owner: r.get::<_, i64>(2)? as u64,
                team: r.get::<_, Option<i64>>(3)?.map(|x| x as u64),
                stage: r.get(4)?,
                parent: r.get::<_, Option<i64>>(5)?.map(|x| x as u64),
                fields: r.get(6)?,
                version: r.get::<_, i64>(7)? as u64,
                created_at: r.get(8)?,
                updated_at: r.get(9)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Both sides' pages hold the same records with the same visible fields.
fn assert_same(store: &[crmstore::Record], sql: &[Row], what: &str) {
    let ids = |r: &[Row]| r.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        store.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids(sql),
        "{what}: ids differ"
    );
    for (a, b) in store.iter().zip(sql) {
        let fields: serde_json::Value = serde_json::from_str(&b.fields).unwrap();
        let ours: serde_json::Map<String, serde_json::Value> = a
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        assert_eq!(
            fields,
            serde_json::Value::Object(ours),
            "{what}: fields of {}",
            a.id
        );
        assert_eq!(
            (a.owner, a.team, &a.stage),
            (b.owner, b.team, &b.stage),
            "{what}"
        );
    }
}

fn sql_ids(c: &Connection, sql: &str) -> Vec<u64> {
    c.prepare_cached(sql)
        .unwrap()
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|x| x.unwrap() as u64)
        .collect()
}

fn store_ids(store: &Store, ctx: &AccessContext, q: &Query) -> Vec<u64> {
    store
        .query(ctx, q)
        .unwrap()
        .records
        .iter()
        .map(|r| r.id)
        .collect()
}

fn sizes() -> Vec<u64> {
    std::env::var("CRMSTORE_SIZES")
        .ok()
        .map_or(vec![10_000, 100_000, 1_000_000], |s| {
            s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
        })
}

fn compare(c: &mut Criterion) {
    for n in sizes() {
        let spec = GenSpec {
            account: 1,
            records: n,
            users: 200,
            teams: 20,
            seed: 42,
        };
        let store = Store::open(support::generated(n)).unwrap();
        let dir = store.operator().directory(1).unwrap();
        let sqlite_path: PathBuf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("target/bench-data/sqlite-{n}.db"));
        if !sqlite_path.exists() {
            let s = load_sqlite(&sqlite_path, &spec, &dir);
            eprintln!("sqlite bulk load of {n}: {s:.2} s");
        }
        let conn = Connection::open(&sqlite_path).unwrap();
        // Statistics for the planner, as any competent deployment has.
        conn.execute_batch("ANALYZE").unwrap();
        let v = support::viewers(&store);
        let mut g = c.benchmark_group(format!("compare {n}"));
        g.sample_size(10);
        g.measurement_time(std::time::Duration::from_secs(2));
        g.warm_up_time(std::time::Duration::from_millis(500));
        for (name, user) in [
            ("own rep", v.rep),
            ("manager", v.manager),
            ("team scope", v.team),
            ("share-only", v.partner),
        ] {
            let ctx = store.operator().context(1, user).unwrap();
            let perms = dir
                .profiles
                .iter()
                .find(|p| p.id == dir.users.iter().find(|u| u.id == user).unwrap().profile)
                .unwrap()
                .modules["deals"]
                .clone();
            viewer_tables(&conn, &dir, user);
            let hidden: Vec<String> = perms
                .fields
                .iter()
                .filter(|(_, rule)| **rule == FieldRule::Hidden)
                .map(|(f, _)| f.clone())
                .collect();
            let (view, stages) = (perms.view, perms.stages.as_ref());
            let rows = row_select(&hidden);
            let amount = "AND json_extract(r.fields, '$.amount') >= 50000";
            // Two SQL formulations (a UNION of index-backed arms; an id-order
            // scan with OR/EXISTS), each returning whole rows or only ids.
            let sql = |select: &str, union: bool, filter: &str| {
                let base = if union {
                    visible_sql(select, view, stages)
                } else {
                    visible_where(select, view, stages)
                };
                format!("{base} {filter} ORDER BY r.id LIMIT 50")
            };
            let count_sql = format!(
                "SELECT count(*) FROM ({})",
                visible_sql("r.id", view, stages)
            );
            let arms = arms_of(&conn, view);
            let merged = |select: &str, filter: &str| merged_sql(select, &arms, stages, filter);
            let merged_count = merged_count_sql(&arms, stages);
            let page = Query::module("deals").limit(50);
            let filtered = Query::module("deals")
                .filter(Filter::field("amount").ge(50_000))
                .limit(50);
            // Same answers before any timing: ids, visible fields, count.
            for (q, filter) in [(&page, ""), (&filtered, amount)] {
                let ours = store.query(&ctx, q).unwrap().records;
                assert_eq!(store.query_rows(&ctx, q).unwrap().to_records(), ours);
                for union in [true, false] {
                    let what = format!("{n} {name} {filter} union={union}");
                    assert_same(&ours, &sql_rows(&conn, &sql(&rows, union, filter)), &what);
                    assert_eq!(
                        sql_ids(&conn, &sql("r.id", union, filter)),
                        ours.iter().map(|r| r.id).collect::<Vec<_>>(),
                        "{what}"
                    );
                }
            }
            for (q, filter) in [(&page, ""), (&filtered, amount)] {
                let ours = store.query(&ctx, q).unwrap().records;
                let what = format!("{n} {name} {filter} merged");
                assert_same(&ours, &sql_rows(&conn, &merged(&rows, filter)), &what);
            }
            let count: i64 = conn.query_row(&count_sql, [], |r| r.get(0)).unwrap();
            let counted: i64 = conn.query_row(&merged_count, [], |r| r.get(0)).unwrap();
            assert_eq!(
                count, counted,
                "{n} {name}: inclusion-exclusion count differs"
            );
            assert_eq!(
                store.count(&ctx, &Query::module("deals")).unwrap(),
                count as u64,
                "{n} {name}: count differs"
            );
            let probe = *store_ids(&store, &ctx, &page).last().unwrap_or(&1);
            // A lookup by primary key, then the predicate: the best SQL for one record.
            let get_sql = format!("{} AND r.id = {probe}", visible_where(&rows, view, stages));
            assert_same(
                &[store.get(&ctx, probe).unwrap()],
                &sql_rows(&conn, &get_sql),
                "get by id",
            );
            eprintln!("{n} {name}: sees {count}");
            g.bench_function(format!("{name}/count/crmstore"), |b| {
                b.iter(|| store.count(&ctx, &Query::module("deals")).unwrap())
            });
            g.bench_function(format!("{name}/count/sqlite naive"), |b| {
                b.iter(|| {
                    conn.query_row(&count_sql, [], |r| r.get::<_, i64>(0))
                        .unwrap()
                })
            });
            let mut counting = conn.prepare_cached(&merged_count).unwrap();
            g.bench_function(format!("{name}/count/sqlite"), |b| {
                b.iter(|| counting.query_row([], |r| r.get::<_, i64>(0)).unwrap())
            });
            drop(counting);
            for (question, q, filter) in [
                ("first page", &page, ""),
                ("filtered page", &filtered, amount),
            ] {
                g.bench_function(format!("{name}/{question}/crmstore"), |b| {
                    b.iter(|| store.query(&ctx, q).unwrap())
                });
                g.bench_function(format!("{name}/{question}/crmstore rows"), |b| {
                    b.iter(|| store.query_rows(&ctx, q).unwrap())
                });
                let best = merged(&rows, filter);
                g.bench_function(format!("{name}/{question}/sqlite"), |b| {
                    b.iter(|| sql_rows(&conn, &best))
                });
                // SQLite's floor: the 50 answer rows fetched by primary key.
                let answer = join(
                    &store_ids(&store, &ctx, q)
                        .iter()
                        .map(|&i| i as i64)
                        .collect::<Vec<_>>(),
                );
                let floor =
                    format!("SELECT {rows} FROM records r WHERE r.id IN ({answer}) ORDER BY r.id");
                g.bench_function(
                    format!("{name}/{question}/sqlite floor (rows by id)"),
                    |b| b.iter(|| sql_rows(&conn, &floor)),
                );
                for (form, union) in [(" naive union", true), (" naive id-order scan", false)] {
                    let whole = sql(&rows, union, filter);
                    g.bench_function(format!("{name}/{question}/sqlite{form}"), |b| {
                        b.iter(|| sql_rows(&conn, &whole))
                    });
                }
            }
            g.bench_function(format!("{name}/get by id/crmstore"), |b| {
                b.iter(|| store.get(&ctx, probe).unwrap())
            });
            g.bench_function(format!("{name}/get by id/sqlite"), |b| {
                b.iter(|| sql_rows(&conn, &get_sql))
            });
        }
        g.finish();
        let draws = std::env::var("CRMSTORE_VIEWER_DRAWS").ok();
        if let Some(draws) = draws.and_then(|d| d.parse().ok()) {
            if Some(&n) == sizes().iter().max() {
                viewers::percentiles(&store, &conn, &dir, n, draws);
            }
        }
        writes(c, n, &conn);
    }
}

/// Single insert, and delete with cascade (to a trash, restored between
/// iterations), on copies so the cached data stays as generated.
fn writes(c: &mut Criterion, n: u64, conn: &Connection) {
    let (_d, path) = support::copy_of(n, "compare-writes");
    let store = Store::open(&path).unwrap();
    let admin = store.operator().context(1, 1).unwrap();
    let mut g = c.benchmark_group(format!("compare {n}"));
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(2));
    g.warm_up_time(std::time::Duration::from_millis(500));
    g.bench_function("single insert/crmstore", |b| {
        b.iter(|| {
            store
                .create(
                    &admin,
                    NewRecord::new("deals")
                        .field("name", "x")
                        .field("amount", 5),
                )
                .unwrap()
        })
    });
    let mut next = 10_000_000i64;
    g.bench_function("single insert/sqlite", |b| b.iter(|| {
        next += 1;
        conn.execute("INSERT INTO records VALUES (?1, 'deals', 1, 1, 'new', NULL, '{\"name\":\"x\",\"amount\":5}', 1, 0, 0)", params![next]).unwrap();
    }));
    // A deal with its comment: ids ≡ 1 (mod 7) have a comment 6 above them.
    let root = 8u64;
    g.bench_function("delete with cascade/crmstore", |b| {
        b.iter_batched(
            || (),
            |()| {
                let Deleted {
                    batch: bt,
                    count: _,
                } = store.delete(&admin, &[root], Cascade::Yes).unwrap();
                store.restore_batch(&admin, bt, None).unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("delete with cascade/sqlite", |b| {
        b.iter_batched(
            || (),
            |()| {
                conn.execute_batch(&format!(
                    "BEGIN;
                INSERT INTO trash SELECT * FROM records WHERE id = {root} OR parent = {root};
                DELETE FROM shares WHERE record IN (SELECT id FROM trash);
                DELETE FROM records WHERE id IN (SELECT id FROM trash);
                COMMIT;
                BEGIN; INSERT INTO records SELECT * FROM trash; DELETE FROM trash; COMMIT;"
                ))
                .unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    conn.execute("DELETE FROM records WHERE id > 9999999", [])
        .unwrap();
}

fn bulk_load(c: &mut Criterion) {
    let n = 100_000;
    let spec = GenSpec {
        account: 1,
        records: n,
        users: 200,
        teams: 20,
        seed: 42,
    };
    let tmp =
        tempfile::tempdir_in(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")).unwrap();
    let mut g = c.benchmark_group("bulk load 100000");
    g.sample_size(10);
    g.bench_function("crmstore", |b| {
        b.iter_batched(
            || {
                let p = tmp.path().join("bulk.redb");
                let _ = std::fs::remove_file(&p);
                Store::open(&p).unwrap()
            },
            |store| {
                store
                    .operator()
                    .generate(&spec, &crmstore::NoProgress)
                    .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    let dir = synth::directory(&spec).unwrap();
    g.bench_function("sqlite", |b| {
        b.iter(|| load_sqlite(&tmp.path().join("bulk.db"), &spec, &dir))
    });
    g.finish();
}

criterion_group!(benches, compare, bulk_load);
criterion_main!(benches);
