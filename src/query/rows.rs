//! [`Rows`]: a page of records read in place, for callers that show a page
//! and do not need owned records.

use crate::codec::Stored;
use crate::error::Result;
use crate::model::FieldMask;
use crate::model::{Record, RecordView};

/// One page of a query's answer as [`RecordView`]s over one buffer: the
/// records' stored bytes, hidden fields already cut out. Answering costs no
/// allocation per record (a [`Page`](crate::Page) builds a [`Record`], with
/// its strings and field map, for each); reading a view parses it in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    bytes: Vec<u8>,
    /// Where each record's bytes end in `bytes`.
    ends: Vec<usize>,
    /// Pass to [`Query::after`](crate::Query::after) for the next page;
    /// `None` when this was the last.
    pub next_after: Option<u64>,
    /// How many index candidates were examined (as [`Page::examined`](crate::Page::examined)).
    pub examined: u64,
}

impl Rows {
    pub(crate) fn with_capacity(records: usize) -> Rows {
        Rows {
            bytes: Vec::with_capacity(records * 128),
            ends: Vec::with_capacity(records),
            ..Rows::default()
        }
    }

    /// Adds `view` without the `hidden` fields.
    pub(crate) fn push(&mut self, view: &RecordView<'_>, hidden: &FieldMask<'_>) -> Result<()> {
        view.write_without(hidden, &mut self.bytes)?;
        self.ends.push(self.bytes.len());
        Ok(())
    }

    /// How many records the page holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the page holds no record.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Record `i` of the page (ascending by id).
    pub fn get(&self, i: usize) -> Option<RecordView<'_>> {
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)?,
        };
        let bytes = self.bytes.get(start..*self.ends.get(i)?)?;
        // Every record was a parsed view before `push` wrote it back in the
        // current layout, every entry checked: it parses.
        RecordView::parse(Record::VERSION, bytes)?.ok()
    }

    /// The records, ascending by id.
    pub fn iter(&self) -> RowsIter<'_> {
        RowsIter {
            rows: self,
            next: 0,
        }
    }

    /// The page as owned records (what [`Store::query`](crate::Store::query) returns).
    pub fn to_records(&self) -> Vec<Record> {
        self.iter().map(|r| r.to_record()).collect()
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = RecordView<'a>;
    type IntoIter = RowsIter<'a>;

    fn into_iter(self) -> RowsIter<'a> {
        self.iter()
    }
}

/// The records of [`Rows`], ascending by id, each read in place as it is reached.
#[derive(Clone, Debug)]
pub struct RowsIter<'a> {
    rows: &'a Rows,
    next: usize,
}

impl<'a> Iterator for RowsIter<'a> {
    type Item = RecordView<'a>;

    fn next(&mut self) -> Option<RecordView<'a>> {
        let row = self.rows.get(self.next)?;
        self.next += 1;
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.rows.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for RowsIter<'_> {}
