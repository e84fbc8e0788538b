//! `check`: every record against its index entries and every index entry
//! against its record, in both directions, in one read transaction, with
//! memory that does not grow with the store.

use std::collections::{BTreeMap, HashSet};

use crate::codec;
use crate::engine::Engine;
use crate::error::Result;
use crate::index::entries;
use crate::model::Record;
use crate::txn::counts::CountKey;
use crate::txn::{record_place, Reader, Tx};

/// What `check` found. Findings are collected, not stopped at (up to
/// [`CheckReport::MAX_PROBLEMS`] are kept; `problem_count` counts all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub records: u64,
    pub index_entries: u64,
    pub problem_count: u64,
    pub problems: Vec<String>,
}

impl CheckReport {
    pub const MAX_PROBLEMS: usize = 20;

    /// Whether every index agrees with the records.
    pub fn is_consistent(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < Self::MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

fn record_of(
    r: &Reader,
    report: &mut CheckReport,
    index: &str,
    account: u64,
    id: u64,
) -> Result<Option<(Record, u32)>> {
    let rec = match r.record(account, id) {
        Ok(Some(rec)) => rec,
        Ok(None) => {
            report.problem(format!(
                "{index}: entry for missing record `{id}` of account `{account}`"
            ));
            return Ok(None);
        }
        Err(crate::Error::Corrupt(m)) => {
            report.problem(m);
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match r.module_id(account, &rec.module)? {
        Some(m) => Ok(Some((rec, m))),
        None => {
            report.problem(format!(
                "record `{id}` of account `{account}` has an uninterned module"
            ));
            Ok(None)
        }
    }
}

/// Runs every check on a consistent snapshot.
pub(crate) fn check_in(r: &Reader) -> Result<CheckReport> {
    let mut rep = CheckReport::default();
    // What `tables::RANGE_COUNTS` should hold: one entry per (module, owner,
    // team), so this grows with the directory, not the records.
    let mut counted: BTreeMap<CountKey, u64> = BTreeMap::new();
    let mut staged: BTreeMap<(u64, u32, Option<String>), u64> = BTreeMap::new();
    // Records → entries.
    for e in r.records()?.range(None)? {
        let ((a, id), v) = e?;
        rep.records += 1;
        let rec: Record = match codec::decode(v.value(), || record_place(a, id)) {
            Ok(rec) => rec,
            Err(e) => {
                rep.problem(e.to_string());
                continue;
            }
        };
        if rec.id != id {
            rep.problem(format!(
                "record stored under `{id}` says it is `{}`",
                rec.id
            ));
        }
        let Some(m) = r.module_id(a, &rec.module)? else {
            rep.problem(format!(
                "record `{id}` of account `{a}` has an uninterned module"
            ));
            continue;
        };
        let e = entries(a, m, &rec);
        let mut missing = Vec::new();
        if r.by_module()?.get(e.module)?.is_none() {
            missing.push("module");
        }
        if r.by_owner()?.get(e.owner)?.is_none() {
            missing.push("owner");
        }
        if let Some(k) = e.team {
            if r.by_team()?.get(k)?.is_none() {
                missing.push("team");
            }
        }
        if let Some(k) = e.stage {
            if r.by_stage()?.get(k)?.is_none() {
                missing.push("stage");
            }
        }
        if let Some(k) = e.parent {
            if r.by_parent()?.get(k)?.is_none() {
                missing.push("parent");
            }
        }
        for (k, (access, owner, team)) in &e.shares {
            let found = r.shares()?.get(*k)?;
            let holder = Some((*owner, *team));
            if !found.is_some_and(|(a, h)| a == *access && h.is_none_or(|_| h == holder)) {
                missing.push("share");
            }
        }
        *counted.entry(e.counted).or_default() += 1;
        let (a, m, stage) = e.staged;
        *staged.entry((a, m, stage.map(str::to_string))).or_default() += 1;
        if !missing.is_empty() {
            rep.problem(format!(
                "record `{id}` of account `{a}` lacks its {} index entries",
                missing.join(", ")
            ));
        }
    }
    // Entries → records.
    macro_rules! entries_of {
        ($table:ident, $key:ty, $name:literal, |$k:ident| ($a:expr, $id:expr), |$e:ident, $m:ident| $expect:expr) => {
            for item in r.$table()?.range::<$key>(..)? {
                let (key, _) = item?;
                let $k = key.value();
                rep.index_entries += 1;
                let (a, id) = ($a, $id);
                if let Some((rec, $m)) = record_of(r, &mut rep, $name, a, id)? {
                    let $e = entries(a, $m, &rec);
                    if !$expect {
                        rep.problem(format!(
                            "{}: entry {:?} does not match record `{id}`",
                            $name, $k
                        ));
                    }
                }
            }
        };
    }
    entries_of!(
        by_module,
        (u64, u32, u64),
        "by_module",
        |k| (k.0, k.2),
        |e, m| e.module == k
    );
    entries_of!(
        by_owner,
        (u64, u32, u64, u64),
        "by_owner",
        |k| (k.0, k.3),
        |e, m| e.owner == k
    );
    entries_of!(
        by_team,
        (u64, u32, u64, u64),
        "by_team",
        |k| (k.0, k.3),
        |e, m| e.team == Some(k)
    );
    entries_of!(
        by_stage,
        (u64, u32, &str, u64),
        "by_stage",
        |k| (k.0, k.3),
        |e, m| e.stage == Some(k)
    );
    entries_of!(
        by_parent,
        (u64, u64, u64),
        "by_parent",
        |k| (k.0, k.2),
        |e, m| e.parent == Some(k)
    );
    for item in r.shares()?.all()? {
        let (k, _, _) = item?;
        rep.index_entries += 1;
        let (a, id) = (k.0, k.4);
        if let Some((rec, m)) = record_of(r, &mut rep, "by_share", a, id)? {
            if !entries(a, m, &rec).shares.iter().any(|(s, _)| *s == k) {
                rep.problem(format!(
                    "by_share: entry {k:?} does not match record `{id}`"
                ));
            }
        }
    }
    if let Some(table) = r.counts()? {
        let range = table.range::<CountKey>(..)?;
        compare_counts(&mut rep, "range_counts", range, &counted, |k| k)?;
        let range = r.stage_counts()?.range::<(u64, u32, Option<&str>)>(..)?;
        compare_counts(&mut rep, "stage_counts", range, &staged, |(a, m, s)| {
            (a, m, s.map(str::to_string))
        })?;
    }
    // INVARIANT (trash): a trashed record is not live and its batch lists it.
    // Entries come in (account, batch, id) order: each batch header is
    // decoded once, into a set, for all of its records (linear in the trash).
    // The batch last read, and the ids its header lists (`None`: no header).
    type Listed = Result<Option<HashSet<u64>>>;
    let mut batch_ids: Option<((u64, u64), Listed)> = None;
    for item in r.trashed()?.range::<(u64, u64, u64)>(..)? {
        let (key, _) = item?;
        let (a, batch, id) = key.value();
        if r.record(a, id)?.is_some() {
            rep.problem(format!(
                "record `{id}` of account `{a}` is both live and in trash batch `{batch}`"
            ));
        }
        if batch_ids.as_ref().is_none_or(|(k, _)| *k != (a, batch)) {
            let listed = r.trash()?.get((a, batch))?.map(|g| {
                codec::decode::<crate::Batch>(g.value(), || format!("trash key ({a}, {batch})"))
                    .map(|b| b.records.iter().map(|i| i.id).collect())
            });
            batch_ids = Some(((a, batch), listed.transpose()));
        }
        match batch_ids.as_ref().map(|(_, ids)| ids) {
            Some(Ok(Some(ids))) if ids.contains(&id) => {}
            Some(Err(e)) => rep.problem(e.to_string()),
            _ => rep.problem(format!(
                "trash batch `{batch}` of account `{a}` does not list record `{id}` it holds"
            )),
        }
    }
    crate::sessions::check(r, &mut |p| rep.problem(p))?;
    Ok(rep)
}

/// INVARIANT (range counts): each maintained count in `range` equals the
/// records `want` counted under its key, and no count exists without them.
/// (A store of format 4 or older opened read-only keeps none.)
fn compare_counts<K: redb::Key + 'static, W: Ord + std::fmt::Debug>(
    rep: &mut CheckReport,
    name: &str,
    range: redb::Range<'_, K, u64>,
    want: &BTreeMap<W, u64>,
    key_of: impl Fn(K::SelfType<'_>) -> W,
) -> Result<()> {
    let mut seen = 0;
    for item in range {
        let (key, n) = item?;
        let (key, n) = (key_of(key.value()), n.value());
        rep.index_entries += 1;
        let records = want.get(&key).copied().unwrap_or(0);
        if records > 0 {
            seen += 1;
        }
        if n != records {
            rep.problem(format!(
                "{name}: {key:?} says {n} records, the records say {records}"
            ));
        }
    }
    if seen < want.len() {
        rep.problem(format!(
            "{name}: {} ranges of records have no count",
            want.len() - seen
        ));
    }
    Ok(())
}

/// Verifies every index against the records, both ways.
///
/// # Errors
/// Storage errors only; what is inconsistent is in the report.
pub(crate) fn check(store: &Engine) -> Result<CheckReport> {
    store.read(check_in)
}
