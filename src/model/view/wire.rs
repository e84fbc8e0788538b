//! Postcard's encoding, read by hand and in place: what a
//! [`RecordView`](super::RecordView) is parsed with. (Through serde, the
//! built-ins were a tenth of a page; and a field map can be stepped over
//! without building its values.) Every reader refuses what postcard refuses:
//! varints longer than their integer, texts that are not UTF-8, bools other
//! than 0 or 1, unknown variants, lists nested past the bound.

use crate::model::value::MAX_LIST_DEPTH;
use crate::model::{Access, Principal, Share};

/// A postcard varint of a `u64` (lengths, ids, times) at the front of `bytes`.
#[inline]
pub(super) fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    varint_of(bytes, 64)
}

/// An enum's variant index: postcard writes it as a `u32` varint.
fn variant(bytes: &[u8]) -> Option<(u64, &[u8])> {
    varint_of(bytes, 32)
}

/// A LEB128 varint of an integer of `bits` bits, refused as postcard refuses
/// it: longer than such an integer's bytes, or its last byte past its bits.
#[inline]
fn varint_of(bytes: &[u8], bits: u32) -> Option<(u64, &[u8])> {
    // Most varints of a record (lengths, variants, small ids) are one byte.
    if let Some((&b, rest)) = bytes.split_first() {
        if b < 0x80 {
            return Some((u64::from(b), rest));
        }
    }
    let (max_len, max_last) = (bits.div_ceil(7) as usize, (1u8 << (bits % 7)) - 1);
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(max_len) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i == max_len - 1 && *b > max_last {
                return None;
            }
            return Some((v, bytes.get(i + 1..)?));
        }
    }
    None
}

/// A postcard string at the front of `bytes`, checked to be UTF-8.
fn text(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = varint(bytes)?;
    let len = usize::try_from(len).ok()?;
    let (s, rest) = (rest.get(..len)?, rest.get(len..)?);
    Some((std::str::from_utf8(s).ok()?, rest))
}

/// `bytes` after the [`Value`](crate::Value) at their front, found without
/// building it: what postcard writes for each variant, in declaration order.
pub(super) fn skip_value(bytes: &[u8], depth: u32) -> Option<&[u8]> {
    let (variant, rest) = variant(bytes)?;
    match variant {
        0 => Some(rest),                                           // Null
        1 => rest.first().filter(|b| **b <= 1).and(rest.get(1..)), // Bool
        2 | 5 => varint(rest).map(|(_, rest)| rest),               // Int, Timestamp: zigzag varint
        3 => rest.get(8..),                                        // Float
        4 => text(rest).map(|(_, rest)| rest),                     // Text
        6 if depth < MAX_LIST_DEPTH => {
            let (n, mut rest) = varint(rest)?;
            for _ in 0..n {
                rest = skip_value(rest, depth + 1)?;
            }
            Some(rest)
        }
        _ => None,
    }
}

/// The front of a record's bytes, read a postcard item at a time.
pub(super) struct Cursor<'a>(pub(super) &'a [u8]);

impl<'a> Cursor<'a> {
    pub(super) fn varint(&mut self) -> Option<u64> {
        let (v, rest) = varint(self.0)?;
        self.0 = rest;
        Some(v)
    }

    /// An `i64`: postcard writes it zigzag-encoded.
    pub(super) fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    pub(super) fn str(&mut self) -> Option<&'a str> {
        let (s, rest) = text(self.0)?;
        self.0 = rest;
        Some(s)
    }

    /// An `Option`: a 0 or 1 byte, then the value if 1.
    pub(super) fn option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        let (&tag, rest) = self.0.split_first()?;
        self.0 = rest;
        match tag {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }

    /// A whole field map (checked), returned as its bytes.
    pub(super) fn field_map(&mut self) -> Option<&'a [u8]> {
        let start = self.0;
        let mut entries = Entries::new(start);
        for e in &mut entries {
            e.ok()?;
        }
        self.0 = entries.rest;
        start.get(..start.len() - entries.rest.len())
    }
}

/// A field map entry: the field's name, and the entry's bytes (name and value).
pub(super) type Entry<'a> = (&'a str, &'a [u8]);

/// The entries of a field map's bytes (its count, then name/value pairs),
/// each checked as it is reached; the first bad one is an `Err`, and ends
/// the walk.
pub(super) struct Entries<'a> {
    left: u64,
    rest: &'a [u8],
}

/// A field map entry, or the bytes after it, are not what postcard wrote.
#[derive(Debug)]
pub(super) struct Bad;

impl<'a> Entries<'a> {
    pub(super) fn new(map: &'a [u8]) -> Self {
        match varint(map) {
            Some((left, rest)) => Entries { left, rest },
            // A count that does not read: one `Err`, then the end.
            None => Entries { left: 1, rest: &[] },
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Bad>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let entry = text(self.rest).and_then(|(name, after_name)| {
            let after = skip_value(after_name, 0)?;
            Some((name, self.rest.get(..self.rest.len() - after.len())?, after))
        });
        match entry {
            Some((name, bytes, after)) => {
                self.left -= 1;
                self.rest = after;
                Some(Ok((name, bytes)))
            }
            None => {
                self.left = 0;
                Some(Err(Bad))
            }
        }
    }
}

/// The value of a field map entry (its name, then its value) that
/// [`Entries`] yielded: the name was checked there, so it is only stepped over.
pub(super) fn value_of(entry: &[u8]) -> Option<crate::ValueRef<'_>> {
    let (len, rest) = varint(entry)?;
    postcard::from_bytes(rest.get(usize::try_from(len).ok()?..)?).ok()
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
    pub(super) fn read(bytes: &'a [u8]) -> Option<(Shares<'a>, &'a [u8])> {
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
    let (kind, rest) = variant(bytes)?;
    let (id, rest) = varint(rest)?;
    let (access, rest) = variant(rest)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn refuses_shares_postcard_refuses() {
        let ok = postcard::to_allocvec(&vec![Share {
            to: Principal::RoleAndSubordinates(300),
            access: Access::Full,
        }])
        .unwrap();
        let (shares, rest) = Shares::read(&ok).unwrap();
        assert_eq!((shares.len(), rest), (1, &[][..]));
        // An unknown principal kind or access level, a count past the bytes,
        // a variant written longer than a u32 (an overlong zero).
        for bad in [
            &[1, 5, 1, 0][..],
            &[1, 0, 1, 3],
            &[2, 0, 1, 0],
            &[1, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1, 0],
        ] {
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
            Value::Timestamp(crate::Timestamp(-1)),
            Value::List(vec![
                Value::Int(1),
                Value::List(vec![Value::Text("x".into())]),
            ]),
        ];
        for v in values {
            let mut bytes = postcard::to_allocvec(&v).unwrap();
            bytes.push(0xAA);
            assert_eq!(skip_value(&bytes, 0), Some(&[0xAA][..]), "{v:?}");
            for n in 0..bytes.len() - 1 {
                assert_eq!(skip_value(&bytes[..n], 0), None, "{v:?} cut at {n}");
            }
        }
        // What postcard refuses: a bool other than 0 or 1, a varint past 64
        // bits, a text that is not UTF-8, lists nested past the bound.
        assert_eq!(skip_value(&[1, 2], 0), None);
        let long = [2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2];
        assert_eq!(skip_value(&long, 0), None);
        assert_eq!(skip_value(&[4, 1, 0xff], 0), None);
        let overlong_null = [0x80, 0x80, 0x80, 0x80, 0x80, 0];
        assert_eq!(skip_value(&overlong_null, 0), None);
        assert!(postcard::from_bytes::<Value>(&overlong_null).is_err());
        // Five bytes is a u32's most, its last at most 4 bits; u64 takes ten.
        assert_eq!(skip_value(&[0x80, 0x80, 0x80, 0x80, 0x0f], 0), None); // variant 2^31·…: unknown
        assert_eq!(
            variant(&[0x80, 0x80, 0x80, 0x80, 0x0f]).map(|v| v.0),
            Some(0xf000_0000)
        );
        assert_eq!(variant(&[0x80, 0x80, 0x80, 0x80, 0x10]), None);
        assert_eq!(
            varint(&[0x80, 0x80, 0x80, 0x80, 0x10]).map(|v| v.0),
            Some(1 << 32)
        );
        let deep = (0..=MAX_LIST_DEPTH).fold(Value::Null, |v, _| Value::List(vec![v]));
        assert_eq!(skip_value(&postcard::to_allocvec(&deep).unwrap(), 0), None);
    }

    #[test]
    fn entries_stop_at_the_first_bad_one() {
        let map: std::collections::BTreeMap<String, Value> =
            [("a".into(), Value::Int(1)), ("b".into(), Value::Bool(true))].into();
        let mut bytes = postcard::to_allocvec(&map).unwrap();
        let names: Vec<_> = Entries::new(&bytes).map(|e| e.unwrap().0).collect();
        assert_eq!(names, ["a", "b"]);
        *bytes.last_mut().unwrap() = 7; // b's bool
        let got: Vec<_> = Entries::new(&bytes).map(|e| e.is_ok()).collect();
        assert_eq!(got, [true, false]);
        assert_eq!(
            Entries::new(&[]).map(|e| e.is_ok()).collect::<Vec<_>>(),
            [false]
        );
    }
}
