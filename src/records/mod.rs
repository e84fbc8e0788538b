//! Creating, reading, updating and querying records on behalf of a viewer,
//! and the record-level management actions (share, unshare, assign).

mod update;
mod write;

pub use update::Update;

use crate::access::decide::{self, decide, RecordAction, Subject};
use crate::access::{AccessContext, Viewer};
use crate::audit::AuditAction;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::FieldMask;
use crate::model::{Access, NewRecord, Principal, Record, RecordView};
use crate::query::plan::{self, Scan};
use crate::query::{Page, Query, Rows};
use crate::txn::Tx;

use write::{create_in, manage_in, update_in, Manage};

pub(crate) fn not_found(id: u64) -> Error {
    Error::NotFound(format!("no record `{id}`"))
}

/// The record `id` if `v` may view it; a hidden record is missing, exactly.
pub(crate) fn visible(t: &impl Tx, v: &Viewer, account: u64, id: u64) -> Result<Record> {
    viewable(t.record(account, id)?, v, id)
}

/// `found` (record `id`, if it exists) when `v` may view it, else not found.
fn viewable<R>(found: Option<R>, v: &Viewer, id: u64) -> Result<R>
where
    for<'r> &'r R: Into<Subject<'r>>,
{
    match found {
        Some(r) if decide(v, &r, RecordAction::View) => Ok(r),
        _ => Err(not_found(id)),
    }
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
    // A filter built in code is measured before anything recurses into it
    // (parsed ones were, as they were read).
    f.check_limits()?;
    if let Some(why) = decide::hidden_filter_refusal(v, &q.module, f.fields().into_iter()) {
        return Err(Error::Denied(why));
    }
    f.clone().prepare().map(Some)
}

/// [`Store::create`].
pub(crate) fn create(store: &Engine, ctx: &AccessContext, new: NewRecord) -> Result<Record> {
    store.act(ctx, "record.create", store.now(), |w, act| {
        create_in(w, act.dir, act.v, ctx.account, new, act.now).map(|r| decide::redact(act.v, r))
    })
}

/// [`Store::create_many`].
pub(crate) fn create_many(
    store: &Engine,
    ctx: &AccessContext,
    news: Vec<NewRecord>,
) -> Result<Vec<Record>> {
    store.act(ctx, "record.create", store.now(), |w, act| {
        news.into_iter()
            .map(|new| {
                create_in(w, act.dir, act.v, ctx.account, new, act.now)
                    .map(|r| decide::redact(act.v, r))
            })
            .collect()
    })
}

/// [`Store::get`].
pub(crate) fn get(store: &Engine, ctx: &AccessContext, id: u64) -> Result<Record> {
    store.read(|r| {
        let v = store.viewer_in(r, ctx)?;
        r.view(ctx.account, id, |found| {
            let rec = viewable(found, &v, id)?;
            rec.to_record_without(&decide::hidden_fields(&v, rec.module))
        })
    })
}

/// [`Store::update`].
pub(crate) fn update(store: &Engine, ctx: &AccessContext, id: u64, up: Update) -> Result<Record> {
    store.act(ctx, "record.update", store.now(), |w, act| {
        update_in(w, act.v, ctx.account, id, up, act.now).map(|r| decide::redact(act.v, r))
    })
}

/// [`Store::query`].
pub(crate) fn query(store: &Engine, ctx: &AccessContext, q: &Query) -> Result<Page> {
    // Sized for the page up front: a Record is large, regrowing copies it.
    let mut records = Vec::with_capacity(q.limit.unwrap_or(usize::MAX).min(128));
    let (next_after, examined) = page(store, ctx, q, |rec, hidden| {
        records.push(rec.to_record_without(hidden)?);
        Ok(())
    })?;
    Ok(Page {
        records,
        next_after,
        examined,
    })
}

/// [`Store::query_rows`].
pub(crate) fn query_rows(store: &Engine, ctx: &AccessContext, q: &Query) -> Result<Rows> {
    let mut rows = Rows::with_capacity(q.limit.unwrap_or(usize::MAX).min(128));
    let (next_after, examined) = page(store, ctx, q, |rec, hidden| rows.push(rec, hidden))?;
    rows.next_after = next_after;
    rows.examined = examined;
    Ok(rows)
}

/// Runs `q` for the viewer, giving each record of the page to `take`
/// (read in place, with the fields hidden from the viewer, which `take`
/// must leave out). Returns the next page's cursor and the candidates examined.
fn page(
    store: &Engine,
    ctx: &AccessContext,
    q: &Query,
    mut take: impl FnMut(&RecordView<'_>, &FieldMask<'_>) -> Result<()>,
) -> Result<(Option<u64>, u64)> {
    store.read(|r| {
        let v = store.viewer_in(r, ctx)?;
        let filter = prepare_filter(&v, q)?;
        let Some(m) = module_for_read(store, r, ctx.account, &q.module, &v)? else {
            return Ok((None, 0));
        };
        let limit = q.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok((None, 0));
        }
        let scan = Scan {
            account: ctx.account,
            module: &q.module,
            module_id: m,
            filter: filter.as_ref(),
            after: q.after,
            action: RecordAction::View,
        };
        let (mut taken, mut last, mut more) = (0, None, false);
        let examined = plan::scan(r, &v, &scan, |rec, hidden| {
            if taken == limit {
                more = true;
                return Ok(false);
            }
            take(rec, hidden)?;
            taken += 1;
            last = Some(rec.id);
            Ok(true)
        })?;
        Ok((last.filter(|_| more), examined))
    })
}

/// [`Store::count`].
pub(crate) fn count(store: &Engine, ctx: &AccessContext, q: &Query) -> Result<u64> {
    store.read(|r| {
        let v = store.viewer_in(r, ctx)?;
        let filter = prepare_filter(&v, q)?;
        let Some(m) = module_for_read(store, r, ctx.account, &q.module, &v)? else {
            return Ok(0);
        };
        let scan = Scan {
            account: ctx.account,
            module: &q.module,
            module_id: m,
            filter: filter.as_ref(),
            after: None,
            action: RecordAction::View,
        };
        crate::query::count::count(r, &v, &scan)
    })
}

/// The module id to scan, or `None` when the viewer sees nothing there.
/// An unknown module is `Invalid`: for an admin, one in no record and no
/// part of the directory; for anyone else, one the directory does not
/// mention, whatever records exist (they could see none there, and the
/// answer must not depend on records they cannot see).
pub(crate) fn module_for_read(
    store: &Engine,
    t: &impl Tx,
    account: u64,
    module: &str,
    v: &Viewer,
) -> Result<Option<u32>> {
    crate::limits::check_module(module)?;
    let id = t.module_id(account, module)?;
    if !(v.admin && id.is_some()) {
        let version = t.version_of(account)?.unwrap_or(0);
        if !store
            .directory_in(t, account, version)?
            .mentions_module(module)
        {
            return Err(Error::Invalid(format!("unknown module `{module}`")));
        }
    }
    Ok(id.filter(|_| decide::may_view_module(v, module)))
}

/// [`Store::share`].
pub(crate) fn share(
    store: &Engine,
    ctx: &AccessContext,
    ids: &[u64],
    to: Principal,
    access: Access,
) -> Result<u64> {
    manage(store, ctx, ids, &Manage::Share(to, access))
}

/// [`Store::unshare`].
pub(crate) fn unshare(
    store: &Engine,
    ctx: &AccessContext,
    ids: &[u64],
    from: Principal,
) -> Result<u64> {
    manage(store, ctx, ids, &Manage::Unshare(from))
}

/// [`Store::assign`].
pub(crate) fn assign(
    store: &Engine,
    ctx: &AccessContext,
    ids: &[u64],
    owner: u64,
    team: Option<u64>,
) -> Result<u64> {
    manage(store, ctx, ids, &Manage::Assign { owner, team })
}

fn manage(store: &Engine, ctx: &AccessContext, ids: &[u64], what: &Manage) -> Result<u64> {
    let name = match what {
        Manage::Share(..) => AuditAction::RecordShare,
        Manage::Unshare(_) => AuditAction::RecordUnshare,
        Manage::Assign { .. } => AuditAction::RecordAssign,
    }
    .name();
    store.act(ctx, name, store.now(), |w, act| {
        manage_in(w, act.dir, act.v, ctx.account, ids, what, act.now)
    })
}
