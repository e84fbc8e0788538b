//! Creating, reading, updating and querying records on behalf of a viewer,
//! and the record-level management actions (share, unshare, assign).

mod update;
mod write;

pub use update::Update;

use crate::access::decide::{self, decide, Hidden, RecordAction, Subject};
use crate::access::{AccessContext, Viewer};
use crate::audit::AuditAction;
use crate::error::{Error, Result};
use crate::model::{Access, NewRecord, Principal, Record, RecordView};
use crate::query::plan::{self, Scan};
use crate::query::{Page, Query, Rows};
use crate::store::Store;
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

impl Store {
    /// Creates a record owned by the viewer (or by `new.owner` when the viewer
    /// is an admin or has edit scope `all`).
    ///
    /// # Errors
    /// `Denied` without the create right, for a stage outside the viewer's
    /// stages, or for a hidden or read-only field; `Invalid` for an unknown
    /// owner, team or parent.
    pub fn create(&self, ctx: &AccessContext, new: NewRecord) -> Result<Record> {
        self.act(ctx, "record.create", self.now(), |w, act| {
            create_in(w, act.dir, act.v, ctx.account, new, act.now).map(|r| decide::redact(act.v, r))
        })
    }

    /// Creates many records in one transaction: all or none (an import).
    /// A record may name as parent one created earlier in the same call.
    ///
    /// # Errors
    /// As [`Store::create`], for the first record refused; nothing is created.
    pub fn create_many(&self, ctx: &AccessContext, news: Vec<NewRecord>) -> Result<Vec<Record>> {
        self.act(ctx, "record.create", self.now(), |w, act| {
            news.into_iter()
                .map(|new| {
                    create_in(w, act.dir, act.v, ctx.account, new, act.now)
                        .map(|r| decide::redact(act.v, r))
                })
                .collect()
        })
    }

    /// The record `id` as the viewer sees it.
    ///
    /// # Errors
    /// `NotFound` when it does not exist or the viewer may not see it (the two
    /// are the same answer).
    pub fn get(&self, ctx: &AccessContext, id: u64) -> Result<Record> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            r.view(ctx.account, id, |found| {
                let rec = viewable(found, &v, id)?;
                rec.to_record_without(&Hidden::of(&v, rec.module))
            })
        })
    }

    /// Applies `up` to record `id`: version +1.
    ///
    /// # Errors
    /// `NotFound` if invisible; `Denied` without the edit right or for a hidden
    /// or read-only field; `Conflict` for a stale `expect_version`.
    pub fn update(&self, ctx: &AccessContext, id: u64, up: Update) -> Result<Record> {
        self.act(ctx, "record.update", self.now(), |w, act| {
            update_in(w, act.v, ctx.account, id, up, act.now).map(|r| decide::redact(act.v, r))
        })
    }

    /// One page of the records the viewer may see, in ascending id order.
    ///
    /// # Errors
    /// `Denied` for a filter on a hidden field; `Invalid` for a filter whose
    /// built-ins have the wrong type or an unknown module.
    pub fn query(&self, ctx: &AccessContext, q: &Query) -> Result<Page> {
        // Sized for the page up front: a Record is large, regrowing copies it.
        let mut records = Vec::with_capacity(q.limit.unwrap_or(usize::MAX).min(128));
        let (next_after, examined) = self.page(ctx, q, |rec, hidden| {
            records.push(rec.to_record_without(hidden)?);
            Ok(())
        })?;
        Ok(Page {
            records,
            next_after,
            examined,
        })
    }

    /// [`Store::query`], answered as [`Rows`]: the same records, read in
    /// place from one buffer instead of built one by one (for showing a
    /// page; [`RecordView::to_record`] makes an owned record of one).
    ///
    /// # Errors
    /// As [`Store::query`].
    pub fn query_rows(&self, ctx: &AccessContext, q: &Query) -> Result<Rows> {
        let mut rows = Rows::with_capacity(q.limit.unwrap_or(usize::MAX).min(128));
        let (next_after, examined) = self.page(ctx, q, |rec, hidden| rows.push(rec, hidden))?;
        rows.next_after = next_after;
        rows.examined = examined;
        Ok(rows)
    }

    /// Runs `q` for the viewer, giving each record of the page to `take`
    /// (read in place, with the fields hidden from the viewer, which `take`
    /// must leave out). Returns the next page's cursor and the candidates examined.
    fn page(
        &self,
        ctx: &AccessContext,
        q: &Query,
        mut take: impl FnMut(&RecordView<'_>, &Hidden<'_>) -> Result<()>,
    ) -> Result<(Option<u64>, u64)> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            let filter = prepare_filter(&v, q)?;
            let Some(m) = self.module_for_read(r, ctx.account, &q.module, &v)? else {
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

    /// How many records of the query the viewer may see (`after`/`limit` ignored).
    ///
    /// # Errors
    /// As [`Store::query`].
    pub fn count(&self, ctx: &AccessContext, q: &Query) -> Result<u64> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            let filter = prepare_filter(&v, q)?;
            let Some(m) = self.module_for_read(r, ctx.account, &q.module, &v)? else {
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
            plan::count(r, &v, &scan)
        })
    }

    /// The module id to scan, or `None` when the viewer sees nothing there.
    /// An unknown module is `Invalid`: for an admin, one in no record and no
    /// part of the directory; for anyone else, one the directory does not
    /// mention, whatever records exist (they could see none there, and the
    /// answer must not depend on records they cannot see).
    pub(crate) fn module_for_read(
        &self,
        t: &impl Tx,
        account: u64,
        module: &str,
        v: &Viewer,
    ) -> Result<Option<u32>> {
        crate::limits::check_module(module)?;
        let id = t.module_id(account, module)?;
        if !(v.admin && id.is_some()) {
            let version = t.version_of(account)?.unwrap_or(0);
            if !self
                .directory_in(t, account, version)?
                .mentions_module(module)
            {
                return Err(Error::Invalid(format!("unknown module `{module}`")));
            }
        }
        Ok(id.filter(|_| decide::may_view_module(v, module)))
    }

    /// Shares each record with `to` at `access` (replacing its level if it
    /// already has one). All records or none; audited as `record.share`.
    /// Returns how many records changed: one already as asked keeps its
    /// version and is not audited (nothing is, when none changed).
    ///
    /// # Errors
    /// `NotFound` for an invisible record; `Denied` unless the viewer is an
    /// admin or owns and may edit every record; `Invalid` for an unknown principal.
    pub fn share(
        &self,
        ctx: &AccessContext,
        ids: &[u64],
        to: Principal,
        access: Access,
    ) -> Result<u64> {
        self.manage(ctx, ids, &Manage::Share(to, access))
    }

    /// Removes `from`'s share of each record. As [`Store::share`].
    ///
    /// # Errors
    /// As [`Store::share`].
    pub fn unshare(&self, ctx: &AccessContext, ids: &[u64], from: Principal) -> Result<u64> {
        self.manage(ctx, ids, &Manage::Unshare(from))
    }

    /// Gives each record to `owner` (and `team`, when given). As [`Store::share`].
    ///
    /// # Errors
    /// As [`Store::share`]; `Invalid` for an unknown user or team.
    pub fn assign(
        &self,
        ctx: &AccessContext,
        ids: &[u64],
        owner: u64,
        team: Option<u64>,
    ) -> Result<u64> {
        self.manage(ctx, ids, &Manage::Assign { owner, team })
    }

    fn manage(&self, ctx: &AccessContext, ids: &[u64], what: &Manage) -> Result<u64> {
        let name = match what {
            Manage::Share(..) => AuditAction::RecordShare,
            Manage::Unshare(_) => AuditAction::RecordUnshare,
            Manage::Assign { .. } => AuditAction::RecordAssign,
        }
        .name();
        self.act(ctx, name, self.now(), |w, act| {
            manage_in(w, act.dir, act.v, ctx.account, ids, what, act.now)
        })
    }
}
