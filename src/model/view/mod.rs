//! Reading a stored record in place: [`RecordView`].
//!
//! A record is stored as postcard of [`Record`]'s fields in declaration order:
//! layout 2 puts every built-in first and the field map last (layout 1, read
//! from older stores and archives, had the map after `parent`). A view reads
//! the built-ins once, borrowing every string, and leaves the field map as
//! bytes, walked — and checked — only as far as an access needs: the access
//! rules read no field, a filter stops at the field it names. So a candidate
//! the viewer may not see, or that a filter rejects, allocates nothing, and
//! costs the same for a record of three fields or of three hundred.
//!
//! INVARIANT: a view the crate hands to a caller was parsed from bytes that
//! hold no field hidden from that caller and whose field map was checked
//! whole ([`Rows`](crate::Rows) copies a record with `write_without`, which
//! checks every entry it copies). Views over a record's stored bytes stay
//! inside the crate, where every access to the field map reports a corrupt
//! entry it reaches as [`Error::Corrupt`].

mod wire;

use std::collections::BTreeMap;

pub use wire::Shares;
use wire::{value_of, Cursor, Entries};

use super::record::Record;
use super::value::{Timestamp, ValueRef};
use crate::codec::Stored;
use crate::error::{Error, Result};
use crate::model::FieldMask;

/// A record read in place from a page's bytes: the built-ins as values, text
/// borrowed, fields read on access. [`RecordView::to_record`] makes the owned
/// [`Record`].
#[derive(Clone, Debug, PartialEq)]
pub struct RecordView<'a> {
    pub id: u64,
    pub module: &'a str,
    pub owner: u64,
    pub team: Option<u64>,
    pub stage: Option<&'a str>,
    pub parent: Option<u64>,
    /// Distinct principals, in the order they were added.
    pub shares: Shares<'a>,
    pub version: u64,
    pub created_at: Timestamp,
    pub created_by: u64,
    pub updated_at: Timestamp,
    pub updated_by: u64,
    /// The built-ins' bytes, `id` to `parent` and `shares` to `updated_by`:
    /// with the field map after them, layout 2 of this record.
    head: &'a [u8],
    tail: &'a [u8],
    /// The field map: its count, then its entries.
    fields: &'a [u8],
}

impl<'a> RecordView<'a> {
    /// Parses a stored record written with `layout` (its bytes after the
    /// layout byte); `None` for a layout no release wrote.
    pub(crate) fn parse(layout: u8, body: &'a [u8]) -> Option<postcard::Result<RecordView<'a>>> {
        matches!(layout, 1 | Record::VERSION)
            .then(|| Self::read(layout, body).ok_or(postcard::Error::DeserializeBadEncoding))
    }

    fn read(layout: u8, body: &'a [u8]) -> Option<RecordView<'a>> {
        let mut c = Cursor(body);
        let (id, module, owner) = (c.varint()?, c.str()?, c.varint()?);
        let (team, stage, parent) = (
            c.option(Cursor::varint)?,
            c.option(Cursor::str)?,
            c.option(Cursor::varint)?,
        );
        let head = body.get(..body.len() - c.0.len())?;
        // Layout 1 has the field map here: it must be walked to reach the rest.
        let layout_1_fields = if layout == 1 {
            Some(c.field_map()?)
        } else {
            None
        };
        let rest = c.0;
        let (shares, after) = Shares::read(rest)?;
        let mut c = Cursor(after);
        let (version, created_at, created_by, updated_at, updated_by) = (
            c.varint()?,
            Timestamp(c.zigzag()?),
            c.varint()?,
            Timestamp(c.zigzag()?),
            c.varint()?,
        );
        let tail = rest.get(..rest.len() - c.0.len())?;
        let fields = layout_1_fields.unwrap_or(c.0);
        wire::varint(fields)?; // the map's count, at least, is there
        Some(RecordView {
            id,
            module,
            owner,
            team,
            stage,
            parent,
            shares,
            version,
            created_at,
            created_by,
            updated_at,
            updated_by,
            head,
            tail,
            fields,
        })
    }

    /// The field map's entries, each checked as it is reached.
    fn entries(&self) -> Entries<'a> {
        Entries::new(self.fields)
    }

    fn corrupt(&self) -> Error {
        Error::Corrupt(format!(
            "record `{}` has a corrupt field map (run `crmstore check`)",
            self.id
        ))
    }

    /// The field names, in order; `Corrupt` at an entry that is.
    pub(crate) fn field_names(&self) -> impl Iterator<Item = Result<&'a str>> + use<'a, '_> {
        self.entries()
            .map(|e| e.map(|(name, _)| name).map_err(|_| self.corrupt()))
    }

    /// The fields, in name order.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> + use<'a> {
        self.entries().map_while(|e| {
            let (name, entry) = e.ok()?;
            Some((name, value_of(entry)?))
        })
    }

    /// The value of field `name`, if the record has it.
    pub fn field(&self, name: &str) -> Option<ValueRef<'a>> {
        self.try_field(name).ok().flatten()
    }

    /// The value of field `name`; `Corrupt` if the map is, up to that field.
    pub(crate) fn try_field(&self, name: &str) -> Result<Option<ValueRef<'a>>> {
        for e in self.entries() {
            let (n, entry) = e.map_err(|_| self.corrupt())?;
            if n == name {
                return value_of(entry).map(Some).ok_or_else(|| self.corrupt());
            }
        }
        Ok(None)
    }

    /// Checks every field entry whole, name and value, handing each name to
    /// `f` in order with its value, and `bad()` at the first entry that is not what postcard
    /// wrote: what a record from outside must pass before its bytes are
    /// stored as they are (it is what decoding the record whole checks).
    pub(crate) fn check_fields(
        &self,
        bad: impl Fn() -> Error,
        mut f: impl FnMut(&'a str, &ValueRef<'a>) -> Result<()>,
    ) -> Result<()> {
        for e in self.entries() {
            let (name, entry) = e.map_err(|_| bad())?;
            let value = value_of(entry).ok_or_else(&bad)?;
            f(name, &value)?;
        }
        Ok(())
    }

    /// The owned record. (A view from [`Rows`](crate::Rows) was checked
    /// whole when the page was built, so every field is in it.)
    pub fn to_record(&self) -> Record {
        // Inserted one by one, as below.
        let mut fields = BTreeMap::new();
        for (name, value) in self.fields() {
            fields.insert(name.to_owned(), value.to_value());
        }
        self.with_fields(fields)
    }

    /// The owned record without the `hidden` fields; `Corrupt` if any entry is.
    pub(crate) fn to_record_without(&self, hidden: &FieldMask<'_>) -> Result<Record> {
        // Inserted one by one: `collect` would gather and sort what is
        // stored sorted already.
        let mut fields = BTreeMap::new();
        for e in self.entries() {
            let (name, entry) = e.map_err(|_| self.corrupt())?;
            if !hidden.contains(name) {
                let value = value_of(entry).ok_or_else(|| self.corrupt())?;
                fields.insert(name.to_owned(), value.to_value());
            }
        }
        Ok(self.with_fields(fields))
    }

    fn with_fields(&self, fields: BTreeMap<String, super::Value>) -> Record {
        Record {
            id: self.id,
            module: self.module.to_owned(),
            owner: self.owner,
            team: self.team,
            stage: self.stage.map(str::to_owned),
            parent: self.parent,
            shares: self.shares.iter().collect(),
            version: self.version,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            fields,
        }
    }

    /// Appends this record without the `hidden` fields to `out`, in layout 2
    /// whichever layout it was read from: what `parse` reads back as this view
    /// less those fields. `Corrupt` (and `out` as it was) if any entry is.
    pub(crate) fn write_without(&self, hidden: &FieldMask<'_>, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(self.head);
        out.extend_from_slice(self.tail);
        // The count goes in front of the entries; below 128 (every record in
        // practice) it is one byte, written in place once the entries are known.
        let at = out.len();
        out.push(0);
        let mut kept = 0usize;
        for e in self.entries() {
            let Ok((name, entry)) = e else {
                out.truncate(start);
                return Err(self.corrupt());
            };
            if !hidden.contains(name) {
                out.extend_from_slice(entry);
                kept += 1;
            }
        }
        let mut len = [0u8; 10];
        // A usize is at most 10 bytes of varint: this cannot fail.
        if let Ok(len) = postcard::to_slice(&kept, &mut len) {
            match (&*len, out.get_mut(at)) {
                ([one], Some(slot)) => *slot = *one,
                _ => drop(out.splice(at..=at, len.iter().copied())),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Access, Principal, Share, Value};

    fn sample() -> Record {
        Record {
            id: 7,
            module: "deals".into(),
            owner: 3,
            team: Some(2),
            stage: Some("won".into()),
            parent: None,
            shares: vec![Share {
                to: Principal::Team(4),
                access: Access::Read,
            }],
            version: 2,
            created_at: Timestamp(1),
            created_by: 3,
            updated_at: Timestamp(2),
            updated_by: 1,
            fields: [
                ("amount".to_string(), Value::Int(5)),
                ("iban".to_string(), Value::Text("DE00".into())),
                ("tags".to_string(), Value::List(vec![Value::Null])),
            ]
            .into(),
        }
    }

    /// The record in both layouts, as postcard wrote them.
    fn layouts(r: &Record) -> [(u8, Vec<u8>); 2] {
        [
            (1, crate::model::record::layout_1_body(r).unwrap()),
            (2, postcard::to_allocvec(r).unwrap()),
        ]
    }

    fn view(layout: u8, bytes: &[u8]) -> RecordView<'_> {
        RecordView::parse(layout, bytes).unwrap().unwrap()
    }

    #[test]
    fn reads_every_built_in_as_postcard_wrote_it() {
        let mut r = sample();
        (r.team, r.stage, r.parent) = (None, None, Some(u64::MAX));
        (r.created_at, r.updated_at) = (Timestamp(i64::MIN), Timestamp(-1));
        r.id = 300;
        r.shares = [
            Principal::User(1),
            Principal::Team(2),
            Principal::Group(3),
            Principal::Role(4),
            Principal::RoleAndSubordinates(5),
        ]
        .into_iter()
        .zip(
            [Access::Read, Access::ReadWrite, Access::Full]
                .into_iter()
                .cycle(),
        )
        .map(|(to, access)| Share { to, access })
        .collect();
        r.fields = (0..200)
            .map(|i| (format!("f{i:03}"), Value::Int(i)))
            .collect();
        for (layout, bytes) in layouts(&r) {
            let v = view(layout, &bytes);
            assert_eq!(v.to_record(), r);
            assert_eq!(v.to_record_without(&FieldMask::default()).unwrap(), r);
            // 200 fields: a two-byte count, rewritten when some are cut.
            let f000 = ["f000"];
            let mut cut = Vec::new();
            v.write_without(&FieldMask::from_names(&f000), &mut cut)
                .unwrap();
            let mut less = r.clone();
            less.fields.remove("f000");
            assert_eq!(view(Record::VERSION, &cut).to_record(), less);
        }
        assert!(RecordView::parse(3, &[]).is_none(), "no such layout");
    }

    #[test]
    fn reads_what_was_stored_and_cuts_hidden_fields() {
        let iban = ["iban"];
        let hidden = FieldMask::from_names(&iban);
        let mut expected = sample();
        expected.fields.remove("iban");
        for (layout, bytes) in layouts(&sample()) {
            let v = view(layout, &bytes);
            assert_eq!(v.to_record(), sample());
            assert_eq!(v.field("amount"), Some(ValueRef::Int(5)));
            assert_eq!(v.field("nope"), None);
            assert_eq!(v.to_record_without(&hidden).unwrap(), expected);
            let mut cut = vec![9];
            v.write_without(&hidden, &mut cut).unwrap();
            assert_eq!(view(Record::VERSION, &cut[1..]).to_record(), expected);
            assert_eq!(postcard::from_bytes::<Record>(&cut[1..]).unwrap(), expected);
            // Every truncation is an error (now or when the fields are
            // read), never a panic or a partial record.
            for n in 0..bytes.len() {
                let Some(Ok(v)) = RecordView::parse(layout, &bytes[..n]) else {
                    continue;
                };
                assert!(v.to_record_without(&FieldMask::default()).is_err(), "{n}");
                let mut out = vec![9];
                assert!(v.write_without(&FieldMask::default(), &mut out).is_err());
                assert_eq!(out, [9], "a failed write leaves the buffer as it was");
            }
        }
    }

    #[test]
    fn reads_no_field_until_asked_and_reports_a_corrupt_one() {
        let mut bytes = postcard::to_allocvec(&sample()).unwrap();
        // `tags` is last: `[Null]` ends `6, 1, 0`. Make its item an unknown variant.
        *bytes.last_mut().unwrap() = 9;
        let v = view(Record::VERSION, &bytes);
        assert_eq!((v.id, v.owner, v.shares.len()), (7, 3, 1));
        assert_eq!(v.try_field("amount").unwrap(), Some(ValueRef::Int(5)));
        assert!(matches!(v.try_field("tags"), Err(Error::Corrupt(m)) if m.contains("record `7`")));
        assert!(v.to_record_without(&FieldMask::default()).is_err());
        assert!(postcard::from_bytes::<Record>(&bytes).is_err());
    }
}
