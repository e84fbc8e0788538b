//! Inserting many new entries into a table through redb's cursors.
//!
//! `Table::insert` descends the B-tree once per entry. A cursor (redb 4.4+)
//! buffers a run of ascending inserts into one gap of the tree and splices
//! them in as whole leaves, one parent update per ~1 MiB of entries. Bulk
//! writes (restore, load, `gen`) sort each table's entries first, so a run
//! lasts until the next key the table already holds: a full restore lands
//! the records table in a handful of runs and an owner index in one run per
//! owner and batch, where it made one descent per entry.

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::Bound;

use redb::{CursorError, Key, Table, Value};

use crate::error::Result;

/// Inserts `entries`, none of whose keys the table may hold, in runs: one
/// cursor per gap of the table the entries fall into. Any order is correct;
/// ascending order is what makes runs long.
///
/// Returns the first entry whose key the table (or an earlier entry) already
/// holds; entries from there on are not inserted, and the caller refuses the
/// whole transaction. Unlike `Table::insert`, nothing is ever overwritten.
pub(crate) fn insert_new<'e, K: Key + 'static, V: Value + 'static>(
    table: &mut Table<'_, K, V>,
    entries: &'e [(K::SelfType<'e>, V::SelfType<'e>)],
) -> Result<Option<&'e (K::SelfType<'e>, V::SelfType<'e>)>> {
    let mut at = 0;
    while let Some(entry @ (key, value)) = entries.get(at) {
        // The gap before the smallest key >= `key`: everything before it is
        // smaller, so the insert fails only if that key is `key` itself.
        let mut cursor = table.lower_bound_mut(Bound::Included(key))?;
        if !inserted(cursor.insert_before(key, value))? {
            cursor.close()?;
            return Ok(Some(entry));
        }
        at += 1;
        // The run ends at the first entry that does not sort between the
        // last insert and the table's next key; it starts the next run.
        while let Some((key, value)) = entries.get(at) {
            if !inserted(cursor.insert_before(key, value))? {
                break;
            }
            at += 1;
        }
        cursor.close()?;
    }
    Ok(None)
}

/// Puts `entries` in key order. An index key ends in a record id, and bulk
/// writes bring records in id order, so the entries sharing a `prefix` (the
/// key without its id) come in order already: grouping them by prefix, one
/// hash per entry, and ordering the groups costs less than sorting every
/// key (sorting the stage index's text keys was a sixth of a full
/// restore's index work). Entries in any other order end up sorted too.
pub(crate) fn in_key_order<K: Ord + Copy, V: Copy, P: Hash + Eq + Ord>(
    entries: &mut Vec<(K, V)>,
    prefix: impl Fn(&K) -> P,
) {
    if entries.is_sorted_by_key(|e| e.0) {
        return;
    }
    let mut groups: HashMap<P, Vec<(K, V)>> = HashMap::new();
    for e in entries.drain(..) {
        groups.entry(prefix(&e.0)).or_default().push(e);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    entries.extend(groups.into_iter().flat_map(|(_, g)| g));
    if !entries.is_sorted_by_key(|e| e.0) {
        entries.sort_unstable_by_key(|e| e.0);
    }
}

/// Whether a cursor insert landed: `false` when the key does not fit the
/// cursor's gap, an error when storage failed.
fn inserted(r: std::result::Result<(), CursorError>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(CursorError::UnorderedKey) => Ok(false),
        Err(e) => Err(redb::Error::from(e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};

    const T: TableDefinition<(u64, u64), u64> = TableDefinition::new("t");

    type Entry = ((u64, u64), u64);

    fn contents(db: &redb::Database) -> Vec<Entry> {
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        t.iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.value(), v.value())
            })
            .collect()
    }

    /// Inserts `entries` into a table already holding `existing`, in one
    /// transaction committed only when nothing was refused.
    fn insert_into(existing: &[u64], entries: &[Entry]) -> (Option<Entry>, Vec<Entry>) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            for &g in existing {
                for id in (0..1000).step_by(10) {
                    t.insert((g, id), 0).unwrap();
                }
            }
        }
        txn.commit().unwrap();
        let txn = db.begin_write().unwrap();
        let refused = {
            let mut t = txn.open_table(T).unwrap();
            insert_new(&mut t, entries).unwrap().copied()
        };
        if refused.is_none() {
            txn.commit().unwrap();
        } else {
            txn.abort().unwrap();
        }
        (refused, contents(&db))
    }

    #[test]
    fn runs_between_existing_keys_land_in_order_whatever_the_input_order() {
        // Groups 1 and 3 exist (ids 0, 10, ..., 990); the new entries fall
        // into gaps inside them, around them and into an empty group 2.
        let mut entries: Vec<Entry> = Vec::new();
        for g in 0..5 {
            for id in (5..1200).step_by(7) {
                if id % 10 != 0 {
                    entries.push(((g, id), g * 10_000 + id));
                }
            }
        }
        let mut expected: Vec<_> = entries.clone();
        for g in [1, 3] {
            expected.extend((0..1000).step_by(10).map(|id| ((g, id), 0)));
        }
        expected.sort();
        // Sorted, reversed and interleaved input all give the same table.
        let mut reversed = entries.clone();
        reversed.reverse();
        let mut shuffled = entries.clone();
        shuffled.sort_by_key(|((g, id), _)| (id % 13, *g, *id));
        for input in [&entries, &reversed, &shuffled] {
            assert_eq!(insert_into(&[1, 3], input), (None, expected.clone()));
        }
    }

    #[test]
    fn in_key_order_sorts_ids_ascending_per_prefix_and_any_other_order() {
        // Records in id order: each prefix's ids ascend, prefixes interleave.
        let grouped: Vec<Entry> = (1..500).map(|id| ((id * 7 % 5, id), id)).collect();
        let mut shuffled = grouped.clone();
        shuffled.sort_by_key(|((_, id), _)| id % 13);
        let mut expected = grouped.clone();
        expected.sort();
        for mut input in [grouped, shuffled] {
            in_key_order(&mut input, |k| k.0);
            assert_eq!(input, expected);
        }
    }

    #[test]
    fn a_key_the_table_holds_or_given_twice_is_refused_not_overwritten() {
        let existing = [1];
        let before = insert_into(&existing, &[]).1;
        // (1, 500) is in the table already: refused there.
        let clash = [((0, 1), 7), ((1, 499), 7), ((1, 500), 7), ((1, 501), 7)];
        assert_eq!(
            insert_into(&existing, &clash),
            (Some(((1, 500), 7)), before.clone())
        );
        // Given twice in the input, both within one run and across runs.
        let twice = [((2, 1), 7), ((2, 1), 8)];
        assert_eq!(
            insert_into(&existing, &twice),
            (Some(((2, 1), 8)), before.clone())
        );
        let later = [((2, 1), 7), ((0, 1), 7), ((2, 1), 8)];
        assert_eq!(insert_into(&existing, &later), (Some(((2, 1), 8)), before));
    }
}
