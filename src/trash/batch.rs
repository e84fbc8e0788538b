//! Deletion batches: their stored form, who sees which, listing and purging.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::access::decide::{decide, may_see_batch_of, RecordAction};
use crate::access::Viewer;
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{Record, Timestamp};
use crate::txn::{Reader, Writer};

/// One record in a batch, as a listing shows it (no fields: nothing a lister
/// may not see).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashedItem {
    pub id: u64,
    pub module: String,
    pub parent: Option<u64>,
}

/// A deletion batch: what one `delete` moved to the trash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub id: u64,
    pub deleted_by: u64,
    pub deleted_at: Timestamp,
    pub expires_at: Timestamp,
    /// The records still in the batch, ascending by id.
    pub records: Vec<TrashedItem>,
}

impl codec::Stored for Batch {}

impl Batch {
    /// The JSON `trash list --json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "batch": self.id, "deleted_by": self.deleted_by,
            "deleted_at": self.deleted_at.to_rfc3339(), "expires_at": self.expires_at.to_rfc3339(),
            "count": self.records.len(), "records": self.records,
        })
    }
}

pub(super) fn read_batch(
    t: &impl ReadableTable<(u64, u64), &'static [u8]>,
    a: u64,
    b: u64,
) -> Result<Option<Batch>> {
    t.get((a, b))?
        .map(|g| codec::decode(g.value(), || format!("trash key ({a}, {b})")))
        .transpose()
}

/// Record `id` of batch `batch` as it was deleted; `Corrupt` when the
/// batch lists it and the trash does not hold it.
pub(super) fn trashed_record(
    trashed: &impl ReadableTable<(u64, u64, u64), &'static [u8]>,
    a: u64,
    batch: u64,
    id: u64,
) -> Result<Record> {
    let key = (a, batch, id);
    trashed
        .get(key)?
        .map(|g| codec::decode(g.value(), || format!("trashed key {key:?}")))
        .transpose()?
        .ok_or_else(|| {
            Error::Corrupt(format!(
                "trash batch `{batch}` lists record `{id}` it does not hold"
            ))
        })
}

/// What of batch `b` the viewer sees, with each record seen as it was
/// deleted: an admin all of it; anyone else the records they may view (under
/// today's directory) of a batch they or their subordinates deleted, and
/// `None` when that is none of them. A record a viewer may not view does not
/// exist for them, in the trash too: no listing, count, restore or error
/// names it.
fn seen_records(
    trashed: &impl ReadableTable<(u64, u64, u64), &'static [u8]>,
    v: &Viewer,
    a: u64,
    mut b: Batch,
) -> Result<Option<(Batch, Vec<Record>)>> {
    if !may_see_batch_of(v, b.deleted_by) {
        return Ok(None);
    }
    let mut kept = Vec::with_capacity(b.records.len());
    let mut records = Vec::with_capacity(b.records.len());
    for item in b.records {
        let r = trashed_record(trashed, a, b.id, item.id)?;
        if v.admin || decide(v, &r, RecordAction::View) {
            kept.push(item);
            records.push(r);
        }
    }
    b.records = kept;
    Ok((!b.records.is_empty()).then_some((b, records)))
}

/// [`seen_records`] without the records: what a listing shows. An admin's
/// batch is taken whole, without reading its records.
pub(super) fn visible_part(
    trashed: &impl ReadableTable<(u64, u64, u64), &'static [u8]>,
    v: &Viewer,
    a: u64,
    b: Batch,
) -> Result<Option<Batch>> {
    if v.admin {
        return Ok(Some(b));
    }
    Ok(seen_records(trashed, v, a, b)?.map(|(b, _)| b))
}

/// The records of batch `id` that `v` sees, read in `r`, as they were
/// deleted; `NotFound` when they see none of it.
pub(crate) fn seen_in(r: &Reader, v: &Viewer, a: u64, id: u64) -> Result<Vec<Record>> {
    let missing = || Error::NotFound(format!("no trash batch `{id}`"));
    let whole = read_batch(r.trash()?, a, id)?.ok_or_else(missing)?;
    let (_, records) = seen_records(r.trashed()?, v, a, whole)?.ok_or_else(missing)?;
    Ok(records)
}

/// The whole batch `id` and the part of it `v` sees; `NotFound` when they
/// see none of it.
pub(super) fn batch_for(w: &Writer<'_>, v: &Viewer, a: u64, id: u64) -> Result<(Batch, Batch)> {
    let missing = || Error::NotFound(format!("no trash batch `{id}`"));
    let whole = read_batch(&w.trash, a, id)?.ok_or_else(missing)?;
    let seen = visible_part(&w.trashed, v, a, whole.clone())?.ok_or_else(missing)?;
    Ok((whole, seen))
}

/// Removes a batch and its records for good.
pub(super) fn purge_batch(w: &mut Writer<'_>, a: u64, batch: &Batch) -> Result<u64> {
    for item in &batch.records {
        w.trashed.remove((a, batch.id, item.id))?;
    }
    w.trash.remove((a, batch.id))?;
    Ok(batch.records.len() as u64)
}

pub(super) fn list(r: &Reader, v: &Viewer, a: u64) -> Result<Vec<Batch>> {
    let mut out = Vec::new();
    let trashed = r.trashed()?;
    for e in r.trash()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, val) = e?;
        let b: Batch = codec::decode(val.value(), || format!("trash key {:?}", k.value()))?;
        out.extend(visible_part(trashed, v, a, b)?);
    }
    Ok(out)
}
