//! Writing a record together with its index entries.
//!
//! INVARIANT (indexes): see `tables`. These functions are the only writers of
//! `RECORDS` and the index tables for live records; each is called inside the
//! write transaction of the action, so a record and its entries commit together.

use std::collections::BTreeMap;

use redb::ReadableTable;

use crate::bulk;
use crate::codec;
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{Record, RecordView, Share};
use crate::tables::{record_key, record_key_parts, ShareValue};
use crate::txn::counts::{add_count, take_count, CountKey};
use crate::txn::{Sealed, ShareKey, Writer};

/// What this module shows a write transaction to be handed the records and
/// index tables (`txn::WriteTables`).
const SEALED: Sealed = Sealed(());

/// The ids of the live records whose parent is `parent`.
pub(crate) fn children(w: &mut Writer<'_>, account: u64, parent: u64) -> Result<Vec<u64>> {
    let range = (account, parent, 0)..=(account, parent, u64::MAX);
    w.by_parent(SEALED)
        .range(range)?
        .map(|e| Ok(e?.0.value().2))
        .collect()
}

/// Every index key a record has, for `put`, `remove` and `check` alike.
pub(crate) struct Entries<'r> {
    pub module: (u64, u32, u64),
    pub owner: (u64, u32, u64, u64),
    pub team: Option<(u64, u32, u64, u64)>,
    pub stage: Option<(u64, u32, &'r str, u64)>,
    pub parent: Option<(u64, u64, u64)>,
    pub shares: Vec<(ShareKey, ShareValue)>,
    /// The `tables::RANGE_COUNTS` key the record is counted under.
    pub counted: CountKey,
    /// The `tables::STAGE_COUNTS` key the record is counted under.
    pub staged: (u64, u32, Option<&'r str>),
}

/// The built-ins an index key is made of, from an owned record or one read
/// in place.
struct Keyed<'r, S> {
    id: u64,
    owner: u64,
    team: Option<u64>,
    stage: Option<&'r str>,
    parent: Option<u64>,
    shares: S,
}

impl<'r, S: Iterator<Item = Share>> Keyed<'r, S> {
    fn entries(self, account: u64, m: u32) -> Entries<'r> {
        let id = self.id;
        Entries {
            module: (account, m, id),
            owner: (account, m, self.owner, id),
            team: self.team.map(|t| (account, m, t, id)),
            stage: self.stage.map(|s| (account, m, s, id)),
            parent: self.parent.map(|p| (account, p, id)),
            shares: self
                .shares
                .map(|s| {
                    (
                        (account, s.to.kind_code(), s.to.id(), m, id),
                        (s.access.code(), self.owner, self.team),
                    )
                })
                .collect(),
            counted: (account, m, self.owner, self.team),
            staged: (account, m, self.stage),
        }
    }
}

pub(crate) fn entries(account: u64, m: u32, r: &Record) -> Entries<'_> {
    Keyed {
        id: r.id,
        owner: r.owner,
        team: r.team,
        stage: r.stage.as_deref(),
        parent: r.parent,
        shares: r.shares.iter().copied(),
    }
    .entries(account, m)
}

fn view_entries<'r>(account: u64, m: u32, v: &RecordView<'r>) -> Entries<'r> {
    Keyed {
        id: v.id,
        owner: v.owner,
        team: v.team,
        stage: v.stage,
        parent: v.parent,
        shares: v.shares.iter(),
    }
    .entries(account, m)
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
    let bytes = codec::encode(new)?;
    limits::check_record(new, bytes.len())?;
    let m = w.intern_module(account, &new.module)?;
    if let Some(old) = old {
        remove_entries(w, account, m, old)?;
    }
    let e = entries(account, m, new);
    w.by_module(SEALED).insert(e.module, ())?;
    w.by_owner(SEALED).insert(e.owner, ())?;
    if let Some(k) = e.team {
        w.by_team(SEALED).insert(k, ())?;
    }
    if let Some(k) = e.stage {
        w.by_stage(SEALED).insert(k, ())?;
    }
    if let Some(k) = e.parent {
        w.by_parent(SEALED).insert(k, ())?;
    }
    for (k, value) in e.shares {
        w.by_share(SEALED).insert(k, value)?;
    }
    add_count(w.range_counts(SEALED), e.counted, 1)?;
    add_count(w.stage_counts(SEALED), e.staged, 1)?;
    for name in new.fields.keys() {
        w.register_field(SEALED, account, m, name)?;
    }
    let replaced = w
        .records(SEALED)
        .insert(record_key(account, new.id), bytes.as_slice())?
        .is_some();
    // A "new" record over a live one would leave the old one's index entries
    // behind (a crafted archive or document giving an id twice).
    if replaced && old.is_none() {
        return Err(given_twice(account, new.id));
    }
    Ok(())
}

/// Reads stored record bytes from outside (an archive, a bulk write) in
/// place and checks them whole: they decode as a record of id `id`, every
/// field entry is what postcard wrote, and every limit a write path holds a
/// record to holds (`limits`). What `save_all` stores, `backup` writes and
/// `verify` accepts is exactly what passes here.
///
/// # Errors
/// `Corrupt` naming the record for bytes that do not decode; `Invalid` for
/// a record past a limit.
pub(crate) fn check_stored(account: u64, id: u64, bytes: &[u8]) -> Result<RecordView<'_>> {
    check_stored_in(None, account, id, bytes).map(|(v, _)| v)
}

/// [`check_stored`]; given the bulk write's transaction, it also interns the
/// record's module and registers each field name in the same walk (returns
/// the module id, 0 without one).
fn check_stored_in<'b>(
    mut w: Option<&mut Writer<'_>>,
    account: u64,
    id: u64,
    bytes: &'b [u8],
) -> Result<(RecordView<'b>, u32)> {
    let place = || format!("record `{id}` of account `{account}`");
    let v = codec::parse(bytes, RecordView::parse, place)?;
    if v.id != id {
        return Err(Error::Corrupt(format!("{} says it is `{}`", place(), v.id)));
    }
    let over = |e: Error| Error::Invalid(format!("{}: {e}", place()));
    limits::check_built_ins(id, v.module, v.stage)
        .and_then(|()| limits::check_size(bytes.len()))
        .map_err(over)?;
    let m = match w.as_deref_mut() {
        Some(w) => w.intern_module(account, v.module)?,
        None => 0,
    };
    let bad = || Error::Corrupt(format!("{} has a corrupt field map", place()));
    v.check_fields(bad, |name, value| {
        limits::check_field_ref(name, value).map_err(over)?;
        match w.as_deref_mut() {
            Some(w) => w.register_field(SEALED, account, m, name),
            None => Ok(()),
        }
    })?;
    Ok((v, m))
}

fn given_twice(account: u64, id: u64) -> Error {
    Error::Corrupt(format!(
        "record `{id}` of account `{account}` is given twice"
    ))
}

/// Stores many new records given as (id, stored bytes), with their index
/// entries: what [`save`] does for each, for the writes that bring thousands
/// of records into an account range none of them is in (restore, load,
/// `gen`). Each record is read in place and checked whole (the bytes are
/// stored as they are: an archive's come from outside), and every table's
/// entries are sorted and landed in runs through redb's cursors (`bulk`).
/// Refuses a record whose bytes name another id, an id the account holds or
/// `stored` repeats, and a share to one principal twice; never overwrites.
pub(crate) fn save_all<B: AsRef<[u8]>>(
    w: &mut Writer<'_>,
    account: u64,
    stored: &[(u64, B)],
) -> Result<()> {
    let n = stored.len();
    let mut rows = Vec::with_capacity(n);
    let (mut module, mut owner) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut team, mut stage) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut parent, mut shares) = (Vec::new(), Vec::new());
    let mut counted: BTreeMap<CountKey, u64> = BTreeMap::new();
    let mut staged: BTreeMap<(u64, u32, Option<&str>), u64> = BTreeMap::new();
    for (id, bytes) in stored {
        let (id, bytes) = (*id, bytes.as_ref());
        let (v, m) = check_stored_in(Some(&mut *w), account, id, bytes)?;
        rows.push((record_key(account, id), bytes));
        let e = view_entries(account, m, &v);
        module.push((e.module, ()));
        owner.push((e.owner, ()));
        team.extend(e.team.map(|k| (k, ())));
        stage.extend(e.stage.map(|k| (k, ())));
        parent.extend(e.parent.map(|k| (k, ())));
        shares.extend(e.shares);
        *counted.entry(e.counted).or_default() += 1;
        *staged.entry(e.staged).or_default() += 1;
    }
    rows.sort_unstable_by_key(|e| e.0);
    if let Some(&(key, _)) = bulk::insert_new(w.records(SEALED), &rows)? {
        return Err(given_twice(account, record_key_parts(key).1));
    }
    // With the record ids distinct, every index key below is distinct but a
    // share key: it names the record, so a repeat is one record sharing
    // with one principal twice.
    bulk::in_key_order(&mut shares, |k| (k.1, k.2, k.3));
    if let Some(((_, _, _, _, id), _)) = bulk::insert_new(w.by_share(SEALED), &shares)? {
        return Err(Error::Corrupt(format!(
            "record `{id}` of account `{account}` shares with one principal twice"
        )));
    }
    // The account is the same in every key: the prefixes leave it out.
    bulk::in_key_order(&mut module, |k| k.1);
    land_distinct(w.by_module(SEALED), &module)?;
    bulk::in_key_order(&mut owner, |k| (k.1, k.2));
    land_distinct(w.by_owner(SEALED), &owner)?;
    bulk::in_key_order(&mut team, |k| (k.1, k.2));
    land_distinct(w.by_team(SEALED), &team)?;
    bulk::in_key_order(&mut stage, |k| (k.1, k.2));
    land_distinct(w.by_stage(SEALED), &stage)?;
    bulk::in_key_order(&mut parent, |k| k.1);
    land_distinct(w.by_parent(SEALED), &parent)?;
    // One entry per (module, owner, team): thousands at most, not a record's worth.
    for (key, n) in counted {
        add_count(w.range_counts(SEALED), key, n)?;
    }
    for (key, n) in staged {
        add_count(w.stage_counts(SEALED), key, n)?;
    }
    Ok(())
}

/// Lands index entries that cannot repeat (each names a distinct record
/// once, and the records have landed).
fn land_distinct<'e, K: redb::Key + 'static>(
    table: &mut redb::Table<'_, K, ()>,
    entries: &'e [(K::SelfType<'e>, ())],
) -> Result<()> {
    match bulk::insert_new(table, entries)? {
        None => Ok(()),
        Some(_) => Err(Error::Corrupt(format!(
            "index `{}` holds an entry twice",
            redb::TableHandle::name(table)
        ))),
    }
}

/// Removes a live record and its index entries (the trash keeps its bytes).
/// INVARIANT (indexes): trashed records are in no index.
pub(crate) fn remove(w: &mut Writer<'_>, account: u64, r: &Record) -> Result<()> {
    let m = w.intern_module(account, &r.module)?;
    remove_entries(w, account, m, r)?;
    w.records(SEALED).remove(record_key(account, r.id))?;
    Ok(())
}

fn remove_entries(w: &mut Writer<'_>, account: u64, m: u32, r: &Record) -> Result<()> {
    let e = entries(account, m, r);
    w.by_module(SEALED).remove(e.module)?;
    w.by_owner(SEALED).remove(e.owner)?;
    if let Some(k) = e.team {
        w.by_team(SEALED).remove(k)?;
    }
    if let Some(k) = e.stage {
        w.by_stage(SEALED).remove(k)?;
    }
    if let Some(k) = e.parent {
        w.by_parent(SEALED).remove(k)?;
    }
    for (k, _) in e.shares {
        w.by_share(SEALED).remove(k)?;
    }
    take_count(w.range_counts(SEALED), e.counted)?;
    take_count(w.stage_counts(SEALED), e.staged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Access, Principal};
    use crate::synth::{self, GenSpec};
    use crate::Store;

    const SPEC: GenSpec = GenSpec {
        account: 1,
        records: 300,
        users: 12,
        teams: 3,
        seed: 5,
    };

    /// A store holding the generated directory and nothing else.
    fn empty_account(dir: &tempfile::TempDir, name: &str) -> Store {
        let store = Store::open(dir.path().join(name)).unwrap();
        let d = synth::directory(&SPEC).unwrap();
        store.engine.write(|w| w.put_directory(&d)).unwrap();
        store
    }

    fn records() -> Vec<Record> {
        let d = synth::directory(&SPEC).unwrap();
        (1..=SPEC.records)
            .map(|id| synth::record(&SPEC, &d, id))
            .collect()
    }

    fn stored(records: &[Record]) -> Vec<(u64, Vec<u8>)> {
        records
            .iter()
            .map(|r| (r.id, codec::encode(r).unwrap()))
            .collect()
    }

    fn fields_table(store: &Store) -> Vec<(u64, u32, String)> {
        store
            .engine
            .read(|r| {
                let mut out = Vec::new();
                for e in r.fields()?.range::<(u64, u32, &str)>(..)? {
                    let (key, _) = e?;
                    let (a, m, f) = key.value();
                    out.push((a, m, f.to_string()));
                }
                Ok(out)
            })
            .unwrap()
    }

    #[test]
    fn save_all_stores_what_save_stores_one_by_one_in_any_order() {
        let all = records();
        for kind in [
            |r: &Record| r.parent.is_some(),
            |r: &Record| !r.shares.is_empty(),
            |r: &Record| r.stage.is_some(),
        ] {
            assert!(all.iter().any(kind), "the records exercise every index");
        }
        let dir = tempfile::tempdir().unwrap();
        let one_by_one = empty_account(&dir, "a.redb");
        one_by_one
            .engine
            .write(|w| all.iter().try_for_each(|r| save(w, 1, None, r)))
            .unwrap();
        let mut shuffled = stored(&all);
        shuffled.sort_by_key(|(id, _)| (id % 11, u64::MAX - id));
        for (name, input) in [("b.redb", stored(&all)), ("c.redb", shuffled)] {
            let bulk = empty_account(&dir, name);
            // In two calls: the second lands between entries of the first.
            let (first, second) = input.split_at(input.len() / 2);
            bulk.engine.write(|w| save_all(w, 1, first)).unwrap();
            bulk.engine.write(|w| save_all(w, 1, second)).unwrap();
            let report = bulk.operator().check().unwrap();
            assert!(report.is_consistent(), "{:?}", report.problems);
            assert_eq!(report.records, SPEC.records);
            assert_eq!(
                bulk.operator().check().unwrap(),
                one_by_one.operator().check().unwrap()
            );
            assert_eq!(
                bulk.operator().dump_json(1).unwrap(),
                one_by_one.operator().dump_json(1).unwrap()
            );
            assert_eq!(fields_table(&bulk), fields_table(&one_by_one));
        }
    }

    #[test]
    fn save_all_refuses_what_it_would_overwrite_or_misfile_and_stores_nothing() {
        let all = records();
        let dir = tempfile::tempdir().unwrap();
        let store = empty_account(&dir, "s.redb");
        store
            .engine
            .write(|w| save_all(w, 1, &stored(&all[..10])))
            .unwrap();
        let mut shared_twice = all[20].clone();
        let to = Principal::User(2);
        shared_twice.shares = vec![
            Share {
                to,
                access: Access::Read,
            },
            Share {
                to,
                access: Access::Full,
            },
        ];
        let mut truncated = stored(&all[30..31]);
        truncated[0].1.pop();
        let ok = stored(&all[40..50]);
        let with = |more: Vec<(u64, Vec<u8>)>| [ok.clone(), more].concat();
        let misfiled = vec![(62, stored(&all[60..61]).remove(0).1)];
        let cases = [
            (
                with(stored(&all[45..46])),
                "record `46` of account `1` is given twice",
            ),
            (
                with(stored(&all[5..6])),
                "record `6` of account `1` is given twice",
            ),
            (with(misfiled), "record `62` of account `1` says it is `61`"),
            (
                with(stored(&[shared_twice])),
                "record `21` of account `1` shares with one principal twice",
            ),
            (
                with(truncated),
                "record `31` of account `1` has a corrupt field map",
            ),
        ];
        for (input, says) in cases {
            let e = store.engine.write(|w| save_all(w, 1, &input)).unwrap_err();
            assert!(matches!(&e, Error::Corrupt(m) if m.contains(says)), "{e}");
            let report = store.operator().check().unwrap();
            assert_eq!((report.records, report.problems.len()), (10, 0), "{says}");
        }
    }

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
            .engine
            .write(|w| {
                save(w, 1, None, &r)?;
                save(w, 1, None, &r)
            })
            .unwrap_err();
        assert!(matches!(e, Error::Corrupt(m) if m.contains("given twice")));
        let report = store.operator().check().unwrap();
        assert_eq!((report.records, report.problems.len()), (0, 0));
    }
}
