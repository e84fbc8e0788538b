//! Soft delete into a restorable trash: deletion batches, cascade along
//! `parent`, whole or partial restore, purge, and retention.
//!
//! INVARIANT (trash): trashed records are in no index and not in `RECORDS`;
//! each sits in exactly one batch (`TRASHED`), listed in that batch's header
//! (`TRASH`). Every delete, restore and purge is one transaction with its
//! audit event.

mod batch;

use std::collections::{BTreeMap, BTreeSet};

use redb::ReadableTable;

use crate::access::action::{decide_action, Target};
use crate::access::decide::{decide, RecordAction};
use crate::access::{AccessContext, Action, Viewer};
use crate::audit::monitor;
use crate::audit::{self, AuditAction, Entry};
use crate::codec;
use crate::engine::{Acting, Engine};
use crate::error::{Error, Result};
use crate::model::{Record, Timestamp};
use crate::records::visible;
use crate::txn::{Tx, Writer};
use crate::{index, util};

pub(crate) use batch::seen_in;
use batch::{batch_for, list, purge_batch, trashed_record};
pub use batch::{Batch, TrashedItem};

fn delete_in(
    w: &mut Writer<'_>,
    act: &mut Acting<'_>,
    ids: &[u64],
    cascade: Cascade,
) -> Result<Deleted> {
    let (v, settings, now) = (act.v, &act.dir.account, act.now);
    let a = settings.id;
    let roots = util::dedup(ids);
    if roots.is_empty() {
        return Err(Error::Invalid("no record ids given".into()));
    }
    let mut doomed: BTreeMap<u64, Record> = BTreeMap::new();
    for &id in &roots {
        let r = visible(w, v, a, id)?;
        decide_action(v, Action::Delete(id), Target::Record(&r)).or_denied()?;
        doomed.insert(id, r);
    }
    // Walk down `parent` from every root. A child the deleter may not view
    // does not exist for them (DESIGN.md): it neither blocks the delete nor
    // goes with it; it stays live, naming a parent in the trash, and is
    // under it again when that comes back. Without cascade any child they
    // can view, not itself being deleted, is a conflict.
    let mut stack: Vec<u64> = roots.clone();
    while let Some(p) = stack.pop() {
        for c in index::children(w, a, p)? {
            if doomed.contains_key(&c) {
                continue;
            }
            let child = w
                .record(a, c)?
                .ok_or_else(|| Error::Corrupt(format!("by_parent names missing record `{c}`")))?;
            if !decide(v, &child, RecordAction::View) {
                continue;
            }
            if cascade == Cascade::No {
                return Err(Error::LiveChildren { record: p });
            }
            if !decide(v, &child, RecordAction::Delete) {
                return Err(Error::Denied(format!(
                    "user `{}` may not delete every record below record `{p}`",
                    v.user
                )));
            }
            doomed.insert(c, child);
            stack.push(c);
        }
    }
    let count = doomed.len() as u64;
    monitor::charge(
        w,
        v,
        settings,
        crate::MonitorAction::Delete,
        count,
        now,
        &mut act.block,
    )?;
    let mut state = w.state(a)?;
    let batch_id = state.take_batch_id()?;
    w.put_state(a, &state)?;
    let days = i64::from(settings.trash_retention_days);
    let batch = Batch {
        id: batch_id,
        deleted_by: v.user,
        deleted_at: now,
        expires_at: now.plus_secs(days.saturating_mul(86_400)),
        records: doomed
            .values()
            .map(|r| TrashedItem {
                id: r.id,
                module: r.module.clone(),
                parent: r.parent,
            })
            .collect(),
    };
    for r in doomed.values() {
        index::remove(w, a, r)?;
        w.trashed
            .insert((a, batch_id, r.id), codec::encode(r)?.as_slice())?;
    }
    w.trash
        .insert((a, batch_id), codec::encode(&batch)?.as_slice())?;
    let target = format!(
        "batch {batch_id}: {}",
        roots
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let detail = if cascade == Cascade::Yes {
        "cascade"
    } else {
        ""
    }
    .to_string();
    audit::append(
        w,
        a,
        now,
        Entry {
            actor: Some(v.user),
            action: crate::audit::AuditAction::RecordDelete,
            target,
            count,
            detail,
        },
    )?;
    Ok(Deleted {
        batch: batch_id,
        count,
    })
}

fn restore_in(
    w: &mut Writer<'_>,
    v: &Viewer,
    a: u64,
    batch_id: u64,
    only: Option<&[u64]>,
    now: Timestamp,
) -> Result<u64> {
    let (mut batch, seen) = batch_for(w, v, a, batch_id)?;
    // What the viewer sees of the batch is all there is of it for them: the
    // whole batch is their part of it, and a record of the rest is "not in"
    // it, as one of another batch would be.
    let in_batch: BTreeMap<u64, Option<u64>> =
        seen.records.iter().map(|i| (i.id, i.parent)).collect();
    let mut chosen: BTreeSet<u64> = BTreeSet::new();
    match only {
        None => chosen.extend(in_batch.keys()),
        Some(ids) => {
            for &id in ids {
                if !in_batch.contains_key(&id) {
                    return Err(Error::NotFound(format!(
                        "record `{id}` is not in trash batch `{batch_id}`"
                    )));
                }
                // A record comes back with its ancestors from the same batch.
                let mut cur = Some(id);
                while let Some(c) = cur.filter(|c| in_batch.contains_key(c)) {
                    if !chosen.insert(c) {
                        break;
                    }
                    cur = in_batch.get(&c).copied().flatten();
                }
            }
        }
    }
    let records = chosen
        .iter()
        .map(|&id| trashed_record(&w.trashed, a, batch_id, id))
        .collect::<Result<Vec<_>>>()?;
    decide_action(v, Action::RestoreBatch(batch_id), Target::Batch(&records)).or_denied()?;
    for r in &records {
        let id = r.id;
        if w.record(a, id)?.is_some() {
            return Err(Error::Corrupt(format!(
                "record `{id}` is both live and in trash batch `{batch_id}`"
            )));
        }
        if let Some(p) = r.parent {
            if !chosen.contains(&p) && w.record(a, p)?.is_none() {
                return Err(Error::ParentGone {
                    record: id,
                    parent: p,
                });
            }
        }
    }
    let mut stored = Vec::with_capacity(records.len());
    for r in &records {
        w.trashed.remove((a, batch_id, r.id))?;
        stored.push((r.id, codec::encode(r)?));
    }
    index::save_all(w, a, &stored)?;
    batch.records.retain(|i| !chosen.contains(&i.id));
    if batch.records.is_empty() {
        w.trash.remove((a, batch_id))?;
    } else {
        w.trash
            .insert((a, batch_id), codec::encode(&batch)?.as_slice())?;
    }
    let count = records.len() as u64;
    let target = format!("batch {batch_id}");
    let detail = if only.is_some() {
        "partial"
    } else {
        "whole batch"
    }
    .to_string();
    audit::append(
        w,
        a,
        now,
        Entry {
            actor: Some(v.user),
            action: crate::audit::AuditAction::RecordRestore,
            target,
            count,
            detail,
        },
    )?;
    Ok(count)
}

/// Whether a delete takes the records below its roots (by `parent`) along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cascade {
    /// Only the roots; a root with a live child the deleter can see is a
    /// `Conflict`.
    No,
    /// The roots and every record below them the deleter can see.
    Yes,
}

/// What a delete moved to the trash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The deletion batch (what `restore` and `purge` take).
    pub batch: u64,
    /// How many records it holds.
    pub count: u64,
}

/// [`Store::delete`].
pub(crate) fn delete(
    store: &Engine,
    ctx: &AccessContext,
    ids: &[u64],
    cascade: Cascade,
) -> Result<Deleted> {
    let now = store.now();
    store.act(ctx, AuditAction::RecordDelete.name(), now, |w, act| {
        delete_in(w, act, ids, cascade)
    })
}

/// [`Store::trash_list`].
pub(crate) fn trash_list(store: &Engine, ctx: &AccessContext) -> Result<Vec<Batch>> {
    store.read(|r| {
        let v = store.viewer_in(r, ctx)?;
        list(r, &v, ctx.account)
    })
}

/// [`Store::restore_batch`].
pub(crate) fn restore(
    store: &Engine,
    ctx: &AccessContext,
    batch: u64,
    only: Option<&[u64]>,
) -> Result<u64> {
    let now = store.now();
    store.act(ctx, AuditAction::RecordRestore.name(), now, |w, act| {
        restore_in(w, act.v, ctx.account, batch, only, now)
    })
}

/// [`Store::purge`].
pub(crate) fn purge(store: &Engine, ctx: &AccessContext, batch: u64) -> Result<u64> {
    let now = store.now();
    store.act(ctx, AuditAction::RecordPurge.name(), now, |w, act| {
        let v = act.v;
        let (b, _) = batch_for(w, v, ctx.account, batch)?;
        decide_action(v, Action::PurgeBatch(batch), Target::Account).or_denied()?;
        let count = purge_batch(w, ctx.account, &b)?;
        let e = Entry {
            actor: Some(v.user),
            action: crate::audit::AuditAction::RecordPurge,
            target: format!("batch {batch}"),
            count,
            detail: String::new(),
        };
        audit::append(w, ctx.account, now, e)?;
        Ok(count)
    })
}

/// [`Store::purge_expired`].
pub(crate) fn purge_expired(store: &Engine, now: Timestamp) -> Result<u64> {
    store.write(|w| {
        let mut expired: BTreeMap<u64, Vec<Batch>> = BTreeMap::new();
        for e in w.trash.range::<(u64, u64)>(..)? {
            let (k, val) = e?;
            let (a, id) = k.value();
            let b: Batch = codec::decode(val.value(), || format!("trash key ({a}, {id})"))?;
            if b.expires_at <= now {
                expired.entry(a).or_default().push(b);
            }
        }
        // Judged as of `now`, logged at the real time with `now` beside it
        // when they differ: a drill's `--now` in the future must not put
        // an event out of time order.
        let at = store.now();
        // (A caller's own "now" is a moment earlier: not a drill.)
        let detail = if now.0.abs_diff(at.0) < 1_000_000 {
            "retention expired".to_string()
        } else {
            format!("retention expired as of {}", now.to_rfc3339())
        };
        let mut total = 0u64;
        for (a, batches) in expired {
            let mut count = 0;
            for b in &batches {
                count = u64::saturating_add(count, purge_batch(w, a, b)?);
            }
            let target = batches
                .iter()
                .map(|b| format!("batch {}", b.id))
                .collect::<Vec<_>>()
                .join(",");
            let e = Entry {
                actor: None,
                action: crate::audit::AuditAction::RecordPurge,
                target,
                count,
                detail: detail.clone(),
            };
            audit::append(w, a, at, e)?;
            total = total.saturating_add(count);
        }
        Ok(total)
    })
}
