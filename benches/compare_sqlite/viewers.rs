//! The tail, not just the median: the first page and the count of deals
//! for many draws of a random user of the generated account (every profile:
//! reps, managers, team scope, share-only, analysts, admins), both engines,
//! each answer checked equal before it is timed. Runs when
//! `CRMSTORE_VIEWER_DRAWS` (e.g. 1000) is set, on the largest size.

use std::time::{Duration, Instant};

use super::*;

/// What SQLite runs for one viewer, written once per viewer session.
struct Statements {
    page: String,
    count: String,
}

fn statements(conn: &Connection, dir: &Directory, user: u64) -> Statements {
    let u = dir.users.iter().find(|x| x.id == user).unwrap();
    let perms = dir
        .profiles
        .iter()
        .find(|p| p.id == u.profile)
        .unwrap()
        .modules["deals"]
        .clone();
    viewer_tables(conn, dir, user);
    let hidden: Vec<String> = perms
        .fields
        .iter()
        .filter(|(_, rule)| **rule == FieldRule::Hidden && !u.admin)
        .map(|(f, _)| f.clone())
        .collect();
    let rows = row_select(&hidden);
    let scope = if u.admin { Scope::All } else { perms.view };
    let stages = if u.admin { None } else { perms.stages.as_ref() };
    if scope == Scope::All {
        // Whoever sees the whole module is best served by the id-order scan:
        // the LIMIT stops it, and there are no arms to merge.
        Statements {
            page: format!(
                "{} ORDER BY r.id LIMIT 50",
                visible_where(&rows, scope, stages)
            ),
            count: format!(
                "SELECT count(*) FROM ({})",
                visible_where("r.id", scope, stages)
            ),
        }
    } else {
        let arms = arms_of(conn, scope);
        Statements {
            page: merged_sql(&rows, &arms, stages, ""),
            count: merged_count_sql(&arms, stages),
        }
    }
}

fn timed<T>(f: impl FnMut() -> T) -> Duration {
    let mut f = f;
    std::hint::black_box(f());
    let t = Instant::now();
    std::hint::black_box(f());
    t.elapsed()
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `draws` random users (seeded), each timed once per question after one
/// untimed run; prints p50, p99 and the worst per engine and question.
pub(crate) fn percentiles(store: &Store, conn: &Connection, dir: &Directory, n: u64, draws: usize) {
    let users: Vec<u64> = dir
        .users
        .iter()
        .filter(|u| store.operator().context(1, u.id).is_ok())
        .map(|u| u.id)
        .collect();
    let page = Query::module("deals").limit(50);
    let deals = Query::module("deals");
    let mut sql = std::collections::HashMap::new();
    // Four series: crmstore page, SQLite page, crmstore count, SQLite count.
    let mut times: [Vec<Duration>; 4] = Default::default();
    let mut seed = 0x5EED_u64;
    for _ in 0..draws {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let user = users[(seed >> 33) as usize % users.len()];
        let ctx = store.operator().context(1, user).unwrap();
        let st = sql
            .entry(user)
            .or_insert_with(|| statements(conn, dir, user));
        let ours = store.query(&ctx, &page).unwrap().records;
        assert_same(
            &ours,
            &sql_rows(conn, &st.page),
            &format!("{n} user {user}"),
        );
        let theirs: i64 = conn
            .prepare_cached(&st.count)
            .unwrap()
            .query_row([], |r| r.get(0))
            .unwrap();
        assert_eq!(
            store.count(&ctx, &deals).unwrap(),
            theirs as u64,
            "{n} user {user}: count differs"
        );
        times[0].push(timed(|| store.query_rows(&ctx, &page).unwrap()));
        times[1].push(timed(|| sql_rows(conn, &st.page)));
        times[2].push(timed(|| store.count(&ctx, &deals).unwrap()));
        times[3].push(timed(|| {
            conn.prepare_cached(&st.count)
                .unwrap()
                .query_row([], |r| r.get::<_, i64>(0))
                .unwrap()
        }));
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    eprintln!(
        "{n} records, {draws} draws over {} users: question | engine | p50 µs | p99 µs | max µs",
        users.len()
    );
    for (i, (question, engine)) in [
        ("first page", "crmstore (rows)"),
        ("first page", "SQLite, best"),
        ("count", "crmstore"),
        ("count", "SQLite, best"),
    ]
    .iter()
    .enumerate()
    {
        let t = &mut times[i];
        t.sort_unstable();
        eprintln!(
            "| {question} | {engine} | {:.1} | {:.1} | {:.1} |",
            us(quantile(t, 0.5)),
            us(quantile(t, 0.99)),
            us(t[t.len() - 1])
        );
    }
}
