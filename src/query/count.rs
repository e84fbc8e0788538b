//! Counting what a viewer may see from maintained counts (tables.rs,
//! `RANGE_COUNTS` and `STAGE_COUNTS`), so a count costs the viewer's ranges,
//! not their records.

use std::collections::BTreeSet;

use super::plan::{open, scan, sources, Scan, Source};
use crate::access::decide::stage_allowed;
use crate::access::Viewer;
use crate::error::Result;
use crate::txn::Reader;

/// The number of records `v` may view. Without a filter the index decides
/// it without reading a record:
/// - who sees the whole module: the module's stage counts, those at a stage
///   outside the viewer's limit left out;
/// - anyone else: the maintained counts of the (owner, team) pairs the
///   viewer's owner and team ranges cover, plus the shared records none of
///   those ranges holds (each share entry names its record's owner and team).
///
/// The cost grows with the viewer's owners, the module's (owner, team) pairs
/// for team scope, and the viewer's shares; not with the records they see.
/// A filter, or a stage limit on a narrower scope, is counted record by record.
pub(crate) fn count(r: &Reader, v: &Viewer, scan_: &Scan<'_>) -> Result<u64> {
    let staged = !v.admin && v.perms(scan_.module).is_some_and(|p| p.stages.is_some());
    let (account, m) = (scan_.account, scan_.module_id);
    let sources = sources(v, scan_.module, None);
    let all = sources.contains(&Source::Module);
    let counts = match r.counts()? {
        Some(c) if scan_.filter.is_none() && (all || !staged) => c,
        // Format 4 and older, opened read-only, keep no counts.
        None if scan_.filter.is_none() && !staged => return count_ids(r, account, m, &sources),
        _ => return count_scanned(r, v, scan_),
    };
    if all {
        let mut n: u64 = 0;
        for e in r.stage_counts()?.range((account, m, None)..)? {
            let (key, records) = e?;
            let (a, mm, stage) = key.value();
            if (a, mm) != (account, m) {
                break;
            }
            if stage_allowed(v, scan_.module, stage) {
                n = n.saturating_add(records.value());
            }
        }
        return Ok(n);
    }
    let (mut owners, mut teams, mut principals) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
    for s in &sources {
        match s {
            Source::Owner(o) => drop(owners.insert(*o)),
            Source::Team(t) => drop(teams.insert(*t)),
            Source::Share(p) => principals.push((p.kind_code(), p.id())),
            // `sources` gives these only for the whole module or a filter.
            Source::Module | Source::Stage(_) | Source::Parent(_) => {
                return count_ids(r, account, m, &sources)
            }
        }
    }
    let covered = |owner: u64, team: Option<u64>| {
        owners.contains(&owner) || team.is_some_and(|t| teams.contains(&t))
    };
    // Owner ranges alone are a few short ranges of the counts (one entry per
    // team an owner's records have); team ranges walk the module's pairs once.
    let walks: Vec<(u64, u64)> = if teams.is_empty() {
        owners.iter().map(|&o| (o, o)).collect()
    } else {
        vec![(0, u64::MAX)]
    };
    let mut n: u64 = 0;
    for (lo, hi) in walks {
        for e in counts.range((account, m, lo, None)..=(account, m, hi, Some(u64::MAX)))? {
            let (key, records) = e?;
            let (_, _, owner, team) = key.value();
            if covered(owner, team) {
                n = n.saturating_add(records.value());
            }
        }
    }
    // Shared records not counted above; one record may be shared with
    // several of the viewer's principals: gather, sort, drop repeats.
    let mut shared = Vec::new();
    for p in principals {
        for e in r.shares()?.range(account, p, m, 0)? {
            let (k, _, holder) = e?;
            match holder {
                Some((owner, team)) if covered(owner, team) => {}
                Some(_) => shared.push(k.4),
                // Only an older share index lacks holders, and a store
                // with one keeps no counts.
                None => return count_ids(r, account, m, &sources),
            }
        }
    }
    shared.sort_unstable();
    shared.dedup();
    Ok(n.saturating_add(shared.len() as u64))
}

/// Record by record, as a page reads them.
fn count_scanned(r: &Reader, v: &Viewer, scan_: &Scan<'_>) -> Result<u64> {
    let mut n = 0;
    scan(r, v, scan_, |_, _| {
        n += 1;
        Ok(true)
    })?;
    Ok(n)
}

/// The number of distinct ids in `sources`' ranges: what [`count`] answers
/// from a store of format 4 or older opened read-only, which keeps no counts.
/// The memory, 8 bytes an id, grows with what the viewer sees, as the time does.
fn count_ids(r: &Reader, account: u64, m: u32, sources: &BTreeSet<Source>) -> Result<u64> {
    let mut ids = Vec::new();
    for s in sources {
        for id in open(r, account, m, s, 0)? {
            ids.push(id?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids.len() as u64)
}
