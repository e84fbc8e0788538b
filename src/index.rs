//! Writing a record together with its index entries.
//!
//! INVARIANT (indexes): see `tables`. These functions are the only writers of
//! `RECORDS` and the index tables for live records; each is called inside the
//! write transaction of the action, so a record and its entries commit together.

use crate::codec;
use crate::error::{Error, Result};
use crate::model::Record;
use crate::tables::record_key;
use crate::txn::Writer;

/// A `tables::BY_SHARE` key.
pub(crate) type ShareKey = (u64, u8, u64, u32, u64);

/// Every index key a record has, for `put`, `remove` and `check` alike.
pub(crate) struct Entries<'r> {
    pub module: (u64, u32, u64),
    pub owner: (u64, u32, u64, u64),
    pub team: Option<(u64, u32, u64, u64)>,
    pub stage: Option<(u64, u32, &'r str, u64)>,
    pub parent: Option<(u64, u64, u64)>,
    pub shares: Vec<(ShareKey, u8)>,
}

pub(crate) fn entries(account: u64, m: u32, r: &Record) -> Entries<'_> {
    Entries {
        module: (account, m, r.id),
        owner: (account, m, r.owner, r.id),
        team: r.team.map(|t| (account, m, t, r.id)),
        stage: r.stage.as_deref().map(|s| (account, m, s, r.id)),
        parent: r.parent.map(|p| (account, p, r.id)),
        shares: r
            .shares
            .iter()
            .map(|s| {
                (
                    (account, s.to.kind_code(), s.to.id(), m, r.id),
                    s.access.code(),
                )
            })
            .collect(),
    }
}

/// Stores `new` (replacing `old`, the same record as it was) with its index
/// entries. INVARIANT (indexes): old entries removed, new ones written, same
/// transaction.
pub(crate) fn save(
    w: &mut Writer<'_>,
    account: u64,
    old: Option<&Record>,
    new: &Record,
) -> Result<()> {
    save_encoded(w, account, old, new, None)
}

/// [`save`] with the record's stored bytes already at hand (a restore).
pub(crate) fn save_encoded(
    w: &mut Writer<'_>,
    account: u64,
    old: Option<&Record>,
    new: &Record,
    encoded: Option<&[u8]>,
) -> Result<()> {
    let m = w.intern_module(account, &new.module)?;
    if let Some(old) = old {
        remove_entries(w, account, m, old)?;
    }
    let e = entries(account, m, new);
    w.by_module.insert(e.module, ())?;
    w.by_owner.insert(e.owner, ())?;
    if let Some(k) = e.team {
        w.by_team.insert(k, ())?;
    }
    if let Some(k) = e.stage {
        w.by_stage.insert(k, ())?;
    }
    if let Some(k) = e.parent {
        w.by_parent.insert(k, ())?;
    }
    for (k, access) in e.shares {
        w.by_share.insert(k, access)?;
    }
    for name in new.fields.keys() {
        w.register_field(account, m, name)?;
    }
    let replaced = match encoded {
        Some(bytes) => w.records.insert(record_key(account, new.id), bytes)?,
        None => w
            .records
            .insert(record_key(account, new.id), codec::encode(new)?.as_slice())?,
    }
    .is_some();
    // A "new" record over a live one would leave the old one's index entries
    // behind (a crafted archive or document giving an id twice).
    if replaced && old.is_none() {
        return Err(Error::Corrupt(format!(
            "record `{}` of account `{account}` is given twice",
            new.id
        )));
    }
    Ok(())
}

/// Removes a live record and its index entries (the trash keeps its bytes).
/// INVARIANT (indexes): trashed records are in no index.
pub(crate) fn remove(w: &mut Writer<'_>, account: u64, r: &Record) -> Result<()> {
    let m = w.intern_module(account, &r.module)?;
    remove_entries(w, account, m, r)?;
    w.records.remove(record_key(account, r.id))?;
    Ok(())
}

fn remove_entries(w: &mut Writer<'_>, account: u64, m: u32, r: &Record) -> Result<()> {
    let e = entries(account, m, r);
    w.by_module.remove(e.module)?;
    w.by_owner.remove(e.owner)?;
    if let Some(k) = e.team {
        w.by_team.remove(k)?;
    }
    if let Some(k) = e.stage {
        w.by_stage.remove(k)?;
    }
    if let Some(k) = e.parent {
        w.by_parent.remove(k)?;
    }
    for (k, _) in e.shares {
        w.by_share.remove(k)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, GenSpec};

    #[test]
    fn a_new_record_over_a_live_one_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path().join("s.redb")).unwrap();
        let spec = GenSpec {
            account: 1,
            records: 1,
            users: 2,
            teams: 1,
            seed: 1,
        };
        let r = synth::record(&spec, &synth::directory(&spec).unwrap(), 1);
        let e = store
            .write(|w| {
                save(w, 1, None, &r)?;
                save(w, 1, None, &r)
            })
            .unwrap_err();
        assert!(matches!(e, Error::Corrupt(m) if m.contains("given twice")));
        let report = store.check().unwrap();
        assert_eq!((report.records, report.problems.len()), (0, 0));
    }
}
