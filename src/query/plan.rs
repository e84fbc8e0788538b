//! The index-driven planner and executor.
//!
//! A viewer's visible set is a union of index ranges (DESIGN.md "Visibility
//! must come from indexes"): `all` → the module range (or, with a filter on an
//! indexed built-in, that index's range); `own` → owner ranges of the viewer
//! and subordinates; `team` → team ranges of the viewer's teams plus own;
//! shares → the viewer's principal ranges; sharing rules → owner ranges of the
//! rules' sources. The ranges are merged in id order without repeats, and each
//! candidate is still put through [`decide`] and the filter, so the cost grows
//! with what the viewer can see, never with the size of the account.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::filter::{CmpOp, Filter};
use crate::access::decide::{decide, hidden_fields, RecordAction};
use crate::access::Viewer;
use crate::error::{Error, Result};
use crate::model::FieldMask;
use crate::model::{Principal, RecordView, Scope, Value};
use crate::txn::Reader;

/// One index range of candidates.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    Module,
    Owner(u64),
    Team(u64),
    Stage(String),
    Parent(u64),
    Share(Principal),
}

/// The ranges whose union holds every record of `module` `v` may view.
pub(crate) fn sources(v: &Viewer, module: &str, filter: Option<&Filter>) -> BTreeSet<Source> {
    let view = if v.admin {
        Scope::All
    } else {
        v.perms(module).map_or(Scope::None, |p| p.view)
    };
    let mut out = BTreeSet::new();
    match view {
        Scope::None => return out,
        Scope::All => {
            out.extend(
                filter
                    .and_then(indexed_choice)
                    .unwrap_or_else(|| vec![Source::Module]),
            );
            return out;
        }
        Scope::Team => out.extend(v.teams.iter().map(|&t| Source::Team(t))),
        Scope::Own => {}
    }
    out.extend(v.owners.iter().map(|&o| Source::Owner(o)));
    out.extend(v.principals.iter().map(|&p| Source::Share(p)));
    for grant in v.rules.get(module).into_iter().flatten() {
        out.extend(grant.owners.iter().map(|&o| Source::Owner(o)));
    }
    out
}

/// For a viewer who sees the whole module: a top-level `owner|team|stage|parent
/// = v` (or `in [..]`) conjunct narrows the scan to that index.
fn indexed_choice(filter: &Filter) -> Option<Vec<Source>> {
    let source = |field: &str, value: &Value| -> Option<Source> {
        match (field, value) {
            ("owner", Value::Int(i)) => Some(Source::Owner(u64::try_from(*i).ok()?)),
            ("team", Value::Int(i)) => Some(Source::Team(u64::try_from(*i).ok()?)),
            ("parent", Value::Int(i)) => Some(Source::Parent(u64::try_from(*i).ok()?)),
            ("stage", Value::Text(s)) => Some(Source::Stage(s.clone())),
            _ => None,
        }
    };
    filter.conjuncts().into_iter().find_map(|c| match c {
        Filter::Cmp {
            field,
            op: CmpOp::Eq,
            value,
        } => Some(vec![source(field, value)?]),
        Filter::In { field, values } => values.iter().map(|v| source(field, v)).collect(),
        _ => None,
    })
}

type Ids = Box<dyn Iterator<Item = Result<u64>>>;

fn ids<K: redb::Key + 'static>(
    range: redb::Range<'static, K, impl redb::Value + 'static>,
    id: impl Fn(K::SelfType<'_>) -> u64 + 'static,
) -> Ids {
    Box::new(range.map(move |e| e.map(|(k, _)| id(k.value())).map_err(Error::from)))
}

pub(super) fn open(r: &Reader, account: u64, m: u32, src: &Source, from: u64) -> Result<Ids> {
    const MAX: u64 = u64::MAX;
    Ok(match src {
        Source::Module => ids(
            r.by_module()?
                .range((account, m, from)..=(account, m, MAX))?,
            |k| k.2,
        ),
        Source::Owner(o) => ids(
            r.by_owner()?
                .range((account, m, *o, from)..=(account, m, *o, MAX))?,
            |k| k.3,
        ),
        Source::Team(t) => ids(
            r.by_team()?
                .range((account, m, *t, from)..=(account, m, *t, MAX))?,
            |k| k.3,
        ),
        Source::Stage(s) => ids(
            r.by_stage()?
                .range((account, m, s.as_str(), from)..=(account, m, s.as_str(), MAX))?,
            |k| k.3,
        ),
        Source::Parent(p) => ids(
            r.by_parent()?
                .range((account, *p, from)..=(account, *p, MAX))?,
            |k| k.2,
        ),
        Source::Share(p) => Box::new(
            r.shares()?
                .range(account, (p.kind_code(), p.id()), m, from)?
                .map(|e| e.map(|(k, _, _)| k.4)),
        ),
    })
}

/// The union of sorted id streams, ascending, each id once.
struct Merge {
    streams: Vec<Ids>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    last: Option<u64>,
}

impl Merge {
    fn new(mut streams: Vec<Ids>) -> Result<Merge> {
        let mut heap = BinaryHeap::with_capacity(streams.len());
        for (i, s) in streams.iter_mut().enumerate() {
            if let Some(id) = s.next().transpose()? {
                heap.push(Reverse((id, i)));
            }
        }
        Ok(Merge {
            streams,
            heap,
            last: None,
        })
    }
}

impl Iterator for Merge {
    type Item = Result<u64>;

    fn next(&mut self) -> Option<Result<u64>> {
        while let Some(Reverse((id, i))) = self.heap.pop() {
            match self.streams.get_mut(i).and_then(Iterator::next) {
                Some(Ok(next)) => self.heap.push(Reverse((next, i))),
                Some(Err(e)) => return Some(Err(e)),
                None => {}
            }
            if self.last != Some(id) {
                self.last = Some(id);
                return Some(Ok(id));
            }
        }
        None
    }
}

/// What to visit: the module, its id, the checked filter, the first id after
/// which to start, and the action every visited record must pass.
pub(crate) struct Scan<'a> {
    pub account: u64,
    pub module: &'a str,
    pub module_id: u32,
    pub filter: Option<&'a Filter>,
    pub after: Option<u64>,
    pub action: RecordAction,
}

/// Calls `visit` with each record `v` may `scan.action` that passes the
/// filter, read in place, and the fields of the module hidden from `v`, in
/// ascending id order, until it returns `false`. Returns how many candidates
/// were examined. A candidate that is rejected costs no allocation.
/// (Neither `decide` nor a filter reads a hidden field: filters naming one are
/// refused before the scan.)
pub(crate) fn scan(
    r: &Reader,
    v: &Viewer,
    scan: &Scan<'_>,
    mut visit: impl FnMut(&RecordView<'_>, &FieldMask<'_>) -> Result<bool>,
) -> Result<u64> {
    let Some(from) = scan.after.map_or(Some(0), |a| a.checked_add(1)) else {
        return Ok(0);
    };
    let streams = sources(v, scan.module, scan.filter)
        .iter()
        .map(|s| open(r, scan.account, scan.module_id, s, from))
        .collect::<Result<Vec<_>>>()?;
    let hidden = hidden_fields(v, scan.module);
    let mut examined = 0;
    for id in Merge::new(streams)? {
        let id = id?;
        examined += 1;
        let go_on = r.view(scan.account, id, |found| {
            let Some(rec) = found else {
                return Err(Error::Corrupt(format!(
                    "an index names record `{id}`, which does not exist (run `crmstore check`)"
                )));
            };
            if rec.module != scan.module || !decide(v, &rec, scan.action) {
                return Ok(true);
            }
            match scan.filter {
                Some(f) if !f.matches(&rec)? => Ok(true),
                _ => visit(&rec, &hidden),
            }
        })?;
        if !go_on {
            break;
        }
    }
    Ok(examined)
}
