//! Reading a stored record in place: [`RecordView`].
//!
//! A record is stored as postcard of [`Record`]'s fields in declaration order
//! (postcard writes no names). A view parses those bytes once, borrowing every
//! string from them; the field map stays bytes, walked again on each access
//! (records have a handful of fields). The access rules and filters read
//! views, so a candidate that the viewer may not see, or that a filter
//! rejects, costs no allocation, and a page of [`Rows`](crate::Rows) is its
//! records' bytes, with hidden fields cut out, in one buffer.
//!
//! INVARIANT: a view the crate hands to a caller was parsed from bytes that
//! hold no field hidden from that caller (`Rows` cuts them out before storing
//! a record). Views over a record's stored bytes stay inside the crate.

use std::collections::BTreeMap;
use std::ops::Range;

use super::directory::{Access, Principal};
use super::record::{Record, Share};
use super::value::{Timestamp, ValueRef, MAX_LIST_DEPTH};
use crate::access::decide::Hidden;

/// The front of a stored record's bytes, read a postcard item at a time.
/// (Built-ins are read by hand: through serde they were a tenth of a page.)
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Option<u64> {
        let (v, rest) = varint(self.0)?;
        self.0 = rest;
        Some(v)
    }

    /// An `i64`: postcard writes it zigzag-encoded.
    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn str(&mut self) -> Option<&'a str> {
        let (s, rest) = text(self.0, false)?;
        self.0 = rest;
        std::str::from_utf8(s).ok()
    }

    /// An `Option`: a 0 or 1 byte, then the value if 1.
    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        let (&tag, rest) = self.0.split_first()?;
        self.0 = rest;
        match tag {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }
}

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
    body: &'a [u8],
    /// Where the field map (its length, then its entries) lies in `body`.
    fields: Range<usize>,
}

/// The entries of a stored field map, in name order: name, and the entry's
/// own bytes (name and value).
struct Entries<'a> {
    left: u64,
    rest: &'a [u8],
    /// Whether to check that texts are UTF-8 (the first walk, in `parse`, does).
    check: bool,
}

/// A field's name and its entry's bytes (name and value).
type Entry<'a> = (&'a [u8], &'a [u8]);

impl<'a> Entries<'a> {
    fn new(bytes: &'a [u8], check: bool) -> Option<Self> {
        let (left, rest) = varint(bytes)?;
        Some(Entries { left, rest, check })
    }

    /// The next entry; `Err` when the bytes end or are not a field map.
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ()> {
        if self.left == 0 {
            return Ok(None);
        }
        let (name, after_name) = text(self.rest, self.check).ok_or(())?;
        let after = skip_value(after_name, 0, self.check).ok_or(())?;
        let entry = self.rest.get(..self.rest.len() - after.len()).ok_or(())?;
        self.left -= 1;
        self.rest = after;
        Ok(Some((name, entry)))
    }
}

/// A postcard varint (LEB128, at most 10 bytes) at the front of `bytes`.
#[inline]
fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    // Most varints of a record (lengths, variants, small ids) are one byte.
    if let Some((&b, rest)) = bytes.split_first() {
        if b < 0x80 {
            return Some((u64::from(b), rest));
        }
    }
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        if i == 9 && *b > 1 {
            return None; // past 64 bits: postcard refuses it too
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, bytes.get(i + 1..)?));
        }
    }
    None
}

/// A postcard string at the front of `bytes`, checked to be UTF-8 if `check`.
fn text(bytes: &[u8], check: bool) -> Option<(&[u8], &[u8])> {
    let (len, rest) = varint(bytes)?;
    let len = usize::try_from(len).ok()?;
    let (s, rest) = (rest.get(..len)?, rest.get(len..)?);
    if check {
        std::str::from_utf8(s).ok()?;
    }
    Some((s, rest))
}

/// `bytes` after the [`Value`](super::Value) at their front, found without
/// building it: what postcard writes for each variant, in declaration order.
/// (Stepping over fields is most of reading a record in place; the values
/// are decoded only when asked for.)
fn skip_value(bytes: &[u8], depth: u32, check: bool) -> Option<&[u8]> {
    let (variant, rest) = varint(bytes)?;
    match variant {
        0 => Some(rest),                                           // Null
        1 => rest.first().filter(|b| **b <= 1).and(rest.get(1..)), // Bool
        2 | 5 => varint(rest).map(|(_, rest)| rest),               // Int, Timestamp: zigzag varint
        3 => rest.get(8..),                                        // Float
        4 => text(rest, check).map(|(_, rest)| rest),              // Text
        6 if depth < MAX_LIST_DEPTH => {
            let (n, mut rest) = varint(rest)?;
            for _ in 0..n {
                rest = skip_value(rest, depth + 1, check)?;
            }
            Some(rest)
        }
        _ => None,
    }
}

impl<'a> RecordView<'a> {
    /// Parses a stored record (its bytes after the encoding version).
    pub(crate) fn parse(body: &'a [u8]) -> postcard::Result<RecordView<'a>> {
        Self::read(body).ok_or(postcard::Error::DeserializeBadEncoding)
    }

    fn read(body: &'a [u8]) -> Option<RecordView<'a>> {
        let mut c = Cursor(body);
        let (id, module, owner) = (c.varint()?, c.str()?, c.varint()?);
        let (team, stage, parent) = (
            c.option(Cursor::varint)?,
            c.option(Cursor::str)?,
            c.option(Cursor::varint)?,
        );
        let start = body.len() - c.0.len();
        let mut entries = Entries::new(c.0, true)?;
        while entries.next_entry().ok()?.is_some() {}
        let end = body.len() - entries.rest.len();
        let (shares, rest) = Shares::read(entries.rest)?;
        let mut c = Cursor(rest);
        Some(RecordView {
            id,
            module,
            owner,
            team,
            stage,
            parent,
            shares,
            version: c.varint()?,
            created_at: Timestamp(c.zigzag()?),
            created_by: c.varint()?,
            updated_at: Timestamp(c.zigzag()?),
            updated_by: c.varint()?,
            body,
            fields: start..end,
        })
    }

    /// Each field's name and entry bytes, not checked again: `parse` walked
    /// and checked these bytes, so this walk cannot fail.
    fn entries(&self) -> impl Iterator<Item = Entry<'a>> + use<'a> {
        let mut e = Entries::new(
            self.body.get(self.fields.clone()).unwrap_or_default(),
            false,
        );
        std::iter::from_fn(move || e.as_mut()?.next_entry().ok().flatten())
    }

    /// The fields, in name order.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> + use<'a> {
        self.entries()
            .filter_map(|(name, entry)| Some((std::str::from_utf8(name).ok()?, value_of(entry)?)))
    }

    /// The value of field `name`, if the record has it.
    pub fn field(&self, name: &str) -> Option<ValueRef<'a>> {
        self.entries()
            .find(|(n, _)| *n == name.as_bytes())
            .and_then(|(_, entry)| value_of(entry))
    }

    /// The owned record.
    pub fn to_record(&self) -> Record {
        self.to_record_without(&Hidden::default())
    }

    /// The owned record without the `hidden` fields.
    pub(crate) fn to_record_without(&self, hidden: &Hidden<'_>) -> Record {
        // Inserted one by one: `collect` would gather and sort what is
        // stored sorted already.
        let mut fields = BTreeMap::new();
        for (name, value) in self.fields() {
            if !hidden.contains(name) {
                fields.insert(name.to_owned(), value.to_value());
            }
        }
        Record {
            id: self.id,
            module: self.module.to_owned(),
            owner: self.owner,
            team: self.team,
            stage: self.stage.map(str::to_owned),
            parent: self.parent,
            fields,
            shares: self.shares.iter().collect(),
            version: self.version,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        }
    }

    /// Appends this record's bytes without the `hidden` fields to `out`:
    /// what `parse` reads back as this view less those fields.
    pub(crate) fn write_without(&self, hidden: &Hidden<'_>, out: &mut Vec<u8>) {
        let head = self.body.get(..self.fields.start).unwrap_or_default();
        let tail = self.body.get(self.fields.end..).unwrap_or_default();
        out.extend_from_slice(head);
        // The count goes in front of the entries; below 128 (every record in
        // practice) it is one byte, written in place once the entries are known.
        let at = out.len();
        out.push(0);
        let mut kept = 0usize;
        for (name, entry) in self.entries() {
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
        out.extend_from_slice(tail);
    }
}

/// A stored record's shares, read in place: checked once when the record is
/// parsed, then decoded on each walk (a record has a few; `decide` reads them
/// for every candidate, which must not allocate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shares<'a> {
    len: usize,
    bytes: &'a [u8],
}

impl<'a> Shares<'a> {
    /// The shares at the front of `bytes` (postcard: a count, then each
    /// share's principal variant and id and its access variant), and the rest.
    fn read(bytes: &'a [u8]) -> Option<(Shares<'a>, &'a [u8])> {
        let (n, mut rest) = varint(bytes)?;
        let len = usize::try_from(n).ok()?;
        let start = rest;
        for _ in 0..len {
            (_, rest) = share(rest)?;
        }
        let bytes = start.get(..start.len() - rest.len())?;
        Some((Shares { len, bytes }, rest))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Each share, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = Share> + use<'a> {
        let mut rest = self.bytes;
        // `read` checked every share, so this walk cannot stop early.
        std::iter::from_fn(move || {
            let (s, after) = share(rest)?;
            rest = after;
            Some(s)
        })
    }
}

/// One share at the front of `bytes`, as postcard wrote it.
fn share(bytes: &[u8]) -> Option<(Share, &[u8])> {
    let (kind, rest) = varint(bytes)?;
    let (id, rest) = varint(rest)?;
    let (access, rest) = varint(rest)?;
    let to = match kind {
        0 => Principal::User(id),
        1 => Principal::Team(id),
        2 => Principal::Group(id),
        3 => Principal::Role(id),
        4 => Principal::RoleAndSubordinates(id),
        _ => return None,
    };
    let access = match access {
        0 => Access::Read,
        1 => Access::ReadWrite,
        2 => Access::Full,
        _ => return None,
    };
    Some((Share { to, access }, rest))
}

/// The value of a field map entry (its name, then its value).
fn value_of(entry: &[u8]) -> Option<ValueRef<'_>> {
    let (_, value) = text(entry, false)?;
    postcard::from_bytes(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    fn sample() -> Record {
        Record {
            id: 7,
            module: "deals".into(),
            owner: 3,
            team: Some(2),
            stage: Some("won".into()),
            parent: None,
            fields: [
                ("amount".to_string(), Value::Int(5)),
                ("iban".to_string(), Value::Text("DE00".into())),
                ("tags".to_string(), Value::List(vec![Value::Null])),
            ]
            .into(),
            shares: vec![Share {
                to: Principal::Team(4),
                access: Access::Read,
            }],
            version: 2,
            created_at: Timestamp(1),
            created_by: 3,
            updated_at: Timestamp(2),
            updated_by: 1,
        }
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
        let bytes = postcard::to_allocvec(&r).unwrap();
        let view = RecordView::parse(&bytes).unwrap();
        assert_eq!(view.to_record(), r);
        // 200 fields: a two-byte count, rewritten when some are cut.
        let f000 = ["f000"];
        let mut cut = Vec::new();
        view.write_without(&Hidden::from_names(&f000), &mut cut);
        r.fields.remove("f000");
        assert_eq!(RecordView::parse(&cut).unwrap().to_record(), r);
    }

    #[test]
    fn reads_what_was_stored_and_cuts_hidden_fields() {
        let bytes = postcard::to_allocvec(&sample()).unwrap();
        let view = RecordView::parse(&bytes).unwrap();
        assert_eq!(view.to_record(), sample());
        assert_eq!(view.field("amount"), Some(ValueRef::Int(5)));
        assert_eq!(view.field("nope"), None);

        let iban = ["iban"];
        let hidden = Hidden::from_names(&iban);
        let mut expected = sample();
        expected.fields.remove("iban");
        assert_eq!(view.to_record_without(&hidden), expected);
        let mut cut = Vec::new();
        view.write_without(&hidden, &mut cut);
        let back = RecordView::parse(&cut).unwrap();
        assert_eq!(back.to_record(), expected);
        assert_eq!(postcard::from_bytes::<Record>(&cut).unwrap(), expected);
        // Every truncation is an error, never a panic or a partial record.
        for n in 0..bytes.len() {
            assert!(RecordView::parse(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn refuses_shares_postcard_refuses() {
        let ok = postcard::to_allocvec(&vec![Share {
            to: Principal::RoleAndSubordinates(300),
            access: Access::Full,
        }])
        .unwrap();
        let (shares, rest) = Shares::read(&ok).unwrap();
        assert_eq!((shares.len(), rest), (1, &[][..]));
        // An unknown principal kind or access level, a count past the bytes.
        for bad in [&[1, 5, 1, 0][..], &[1, 0, 1, 3], &[2, 0, 1, 0]] {
            assert!(Shares::read(bad).is_none(), "{bad:?}");
            assert!(postcard::from_bytes::<Vec<Share>>(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn steps_over_every_kind_of_value_as_postcard_wrote_it() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(-300),
            Value::Float(2.5),
            Value::Text("grüße".into()),
            Value::Timestamp(Timestamp(-1)),
            Value::List(vec![
                Value::Int(1),
                Value::List(vec![Value::Text("x".into())]),
            ]),
        ];
        for v in values {
            let mut bytes = postcard::to_allocvec(&v).unwrap();
            bytes.push(0xAA);
            assert_eq!(skip_value(&bytes, 0, true), Some(&[0xAA][..]), "{v:?}");
            for n in 0..bytes.len() - 1 {
                assert_eq!(skip_value(&bytes[..n], 0, true), None, "{v:?} cut at {n}");
            }
        }
        // What postcard refuses: a bool other than 0 or 1, a varint past 64 bits.
        assert_eq!(skip_value(&[1, 2], 0, true), None);
        assert_eq!(
            skip_value(
                &[2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2],
                0,
                true
            ),
            None
        );
        let deep = (0..=MAX_LIST_DEPTH).fold(Value::Null, |v, _| Value::List(vec![v]));
        assert_eq!(
            skip_value(&postcard::to_allocvec(&deep).unwrap(), 0, true),
            None
        );
    }
}
