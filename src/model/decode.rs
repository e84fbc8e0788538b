//! Decoding a stored record, whole or as a viewer reads it.
//!
//! A record is stored as postcard of its fields in declaration order (what
//! `#[derive(Serialize)]` on [`Record`] writes: postcard has no field names).
//! Every decode goes through [`RecordSeed`]; given a `hide` predicate it
//! leaves a viewer's hidden fields out while decoding, so a page of records
//! needs no separate redaction pass and never allocates a hidden field's name.
//!
//! Field names are borrowed from the input while deciding: decode from a byte
//! slice (`postcard::from_bytes`), as `codec` does.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::record::Record;
use super::value::Value;

/// Whether field `.1` of module `.0` is to be left out.
pub(crate) type Hide<'a> = &'a dyn Fn(&str, &str) -> bool;

/// Decodes a [`Record`], leaving out the fields `hide` names.
#[derive(Clone, Copy, Default)]
pub(crate) struct RecordSeed<'a> {
    pub hide: Option<Hide<'a>>,
}

/// The stored order; must match the declaration order of [`Record`].
const FIELDS: &[&str] = &[
    "id",
    "module",
    "owner",
    "team",
    "stage",
    "parent",
    "fields",
    "shares",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
];

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Record, D::Error> {
        RecordSeed::default().deserialize(d)
    }
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Record, D::Error> {
        d.deserialize_struct("Record", FIELDS, self)
    }
}

/// The next element of a stored record, or an error naming which is missing.
fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(s: &mut A, i: usize) -> Result<T, A::Error> {
    s.next_element()?
        .ok_or_else(|| de::Error::invalid_length(i, &"a stored record"))
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stored record")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Record, A::Error> {
        let id = next(&mut s, 0)?;
        let module: String = next(&mut s, 1)?;
        let owner = next(&mut s, 2)?;
        let team = next(&mut s, 3)?;
        let stage = next(&mut s, 4)?;
        let parent = next(&mut s, 5)?;
        let fields = s
            .next_element_seed(FieldsSeed {
                module: &module,
                hide: self.hide,
            })?
            .ok_or_else(|| de::Error::invalid_length(6, &self))?;
        Ok(Record {
            id,
            module,
            owner,
            team,
            stage,
            parent,
            fields,
            shares: next(&mut s, 7)?,
            version: next(&mut s, 8)?,
            created_at: next(&mut s, 9)?,
            created_by: next(&mut s, 10)?,
            updated_at: next(&mut s, 11)?,
            updated_by: next(&mut s, 12)?,
        })
    }
}

struct FieldsSeed<'a> {
    module: &'a str,
    hide: Option<Hide<'a>>,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = BTreeMap<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of fields")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
        let mut out = BTreeMap::new();
        while let Some(name) = m.next_key::<&'de str>()? {
            // A hidden value is still decoded (postcard cannot skip a value
            // without knowing its type), then dropped here.
            let value: Value = m.next_value()?;
            if !self.hide.is_some_and(|h| h(self.module, name)) {
                out.insert(name.to_owned(), value);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::model::{Access, Principal, Share, Timestamp};

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
    fn whole_and_hidden_fields_left_out() {
        let bytes = codec::encode(&sample()).unwrap();
        let whole: Record = codec::decode(&bytes, || "t".into()).unwrap();
        assert_eq!(whole, sample());
        let hide = |m: &str, f: &str| m == "deals" && f == "iban";
        let seed = RecordSeed { hide: Some(&hide) };
        let seen = codec::decode_seed(&bytes, seed, || "t".into()).unwrap();
        let mut expected = sample();
        expected.fields.remove("iban");
        assert_eq!(seen, expected);
        // Every truncation is an error, never a panic or a partial record.
        for n in 1..bytes.len() {
            assert!(codec::decode::<Record>(&bytes[..n], || "t".into()).is_err());
        }
    }
}
