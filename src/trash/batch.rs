//! Deletion batches: their stored form, who sees which, listing and purging.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::access::Viewer;
use crate::codec;
use crate::error::{Error, Result};
use crate::model::Timestamp;
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

/// Whether `v` sees batch `b`: admins all; others what they or their
/// subordinates deleted.
pub(super) fn sees(v: &Viewer, b: &Batch) -> bool {
    v.admin || v.owners.contains(&b.deleted_by)
}

pub(super) fn batch_for(w: &Writer<'_>, v: &Viewer, a: u64, id: u64) -> Result<Batch> {
    match read_batch(&w.trash, a, id)? {
        Some(b) if sees(v, &b) => Ok(b),
        _ => Err(Error::NotFound(format!("no trash batch `{id}`"))),
    }
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
    for e in r.trash()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, val) = e?;
        let b: Batch = codec::decode(val.value(), || format!("trash key {:?}", k.value()))?;
        if sees(v, &b) {
            out.push(b);
        }
    }
    Ok(out)
}
