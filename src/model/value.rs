//! Field values, their JSON form, and the one total order filters compare by.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A point in time: microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// Parses RFC 3339 text (`2026-11-23T14:00:00Z`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the text when it is not RFC 3339.
    pub fn parse(text: &str) -> Result<Self> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.with_timezone(&Utc).timestamp_micros()))
            .map_err(|_| Error::Invalid(format!("`{text}` is not an RFC 3339 time")))
    }

    /// RFC 3339 in UTC, with as many fractional digits as needed.
    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_micros(self.0)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_else(|| self.0.to_string())
    }

    /// This time plus `secs` seconds (saturating).
    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1_000_000)))
    }
}

/// A field's value. Fields are schemaless: a field may hold any type, and a
/// later update may change it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Timestamp(Timestamp),
    List(#[serde(deserialize_with = "bounded_list")] Vec<Value>),
}

/// Lists nest at most this deep in stored values: bytes from a store or an
/// archive cannot drive decoding into a stack overflow. (JSON input is held to
/// 128 levels by serde_json before it gets here, and to this by every write.)
/// (`limits::MAX_DEPTH`, the limit a write holds values to, is this.)
pub(crate) const MAX_LIST_DEPTH: u32 = 64;

thread_local! {
    static LIST_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn bounded_list<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            LIST_DEPTH.with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    let depth = LIST_DEPTH.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let _leave = Leave;
    if depth > MAX_LIST_DEPTH {
        return Err(serde::de::Error::custom("lists nested too deeply"));
    }
    Vec::<T>::deserialize(d)
}

/// A field's value borrowed from the bytes it was read from: what a
/// [`RecordView`](crate::RecordView) hands out, and what filters compare.
/// Stored the same way as [`Value`] (same variants, same order).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub enum ValueRef<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
    Timestamp(Timestamp),
    List(#[serde(deserialize_with = "bounded_list")] Vec<ValueRef<'a>>),
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(*b),
            ValueRef::Int(i) => Value::Int(*i),
            ValueRef::Float(f) => Value::Float(*f),
            ValueRef::Text(s) => Value::Text((*s).to_owned()),
            ValueRef::Timestamp(t) => Value::Timestamp(*t),
            ValueRef::List(items) => Value::List(items.iter().map(ValueRef::to_value).collect()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            ValueRef::Null => 0,
            ValueRef::Bool(_) => 1,
            ValueRef::Int(_) | ValueRef::Float(_) => 2,
            ValueRef::Text(_) => 3,
            ValueRef::Timestamp(_) => 4,
            ValueRef::List(_) => 5,
        }
    }

    /// [`Value::total_cmp`], on borrowed values.
    pub fn total_cmp(&self, other: &ValueRef<'_>) -> Ordering {
        match (self, other) {
            (ValueRef::Bool(a), ValueRef::Bool(b)) => a.cmp(b),
            (ValueRef::Int(a), ValueRef::Int(b)) => a.cmp(b),
            (ValueRef::Int(a), ValueRef::Float(b)) => (*a as f64).total_cmp(b),
            (ValueRef::Float(a), ValueRef::Int(b)) => a.total_cmp(&(*b as f64)),
            (ValueRef::Float(a), ValueRef::Float(b)) => a.total_cmp(b),
            (ValueRef::Text(a), ValueRef::Text(b)) => a.cmp(b),
            (ValueRef::Timestamp(a), ValueRef::Timestamp(b)) => a.cmp(b),
            (ValueRef::List(a), ValueRef::List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    match x.total_cmp(y) {
                        Ordering::Equal => continue,
                        o => return o,
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl From<u64> for ValueRef<'_> {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(ValueRef::Float(v as f64), ValueRef::Int)
    }
}

impl Value {
    /// Reads a value from JSON. A timestamp is written `{"timestamp": "RFC 3339"}`;
    /// no other object is a value.
    ///
    /// # Errors
    /// [`Error::Invalid`] for other objects, numbers out of range and bad times.
    pub fn from_json(json: &serde_json::Value) -> Result<Value> {
        use serde_json::Value as J;
        Ok(match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Value::Int(i),
                (None, Some(f)) if n.is_f64() => Value::Float(f),
                _ => return Err(Error::Invalid(format!("number `{n}` is out of range"))),
            },
            J::String(s) => Value::Text(s.clone()),
            J::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect::<Result<_>>()?)
            }
            J::Object(map) => {
                match (map.len(), map.get("timestamp")) {
                    (1, Some(J::String(s))) => Value::Timestamp(Timestamp::parse(s)?),
                    _ => return Err(Error::Invalid(
                        "an object is not a value (a time is written {\"timestamp\":\"RFC 3339\"})"
                            .into(),
                    )),
                }
            }
        })
    }

    /// The JSON form `from_json` reads back.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Text(s) => J::String(s.clone()),
            Value::Timestamp(t) => serde_json::json!({ "timestamp": t.to_rfc3339() }),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
        }
    }

    /// Text for a CSV cell: plain for scalars, JSON for lists and times.
    pub fn to_cell(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::Timestamp(t) => t.to_rfc3339(),
            other => other.to_json().to_string(),
        }
    }

    /// This value, borrowed (a list borrows each of its items).
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Text(s) => ValueRef::Text(s),
            Value::Timestamp(t) => ValueRef::Timestamp(*t),
            Value::List(items) => ValueRef::List(items.iter().map(Value::as_value_ref).collect()),
        }
    }

    /// The one order filters compare by: first by type —
    /// null < bool < number < text < timestamp < list — then within the type.
    /// Integers and floats are one type, compared by numeric value; text
    /// compares by bytes; lists element by element.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        self.as_value_ref().total_cmp(&other.as_value_ref())
    }
}

/// Checks that every integer literal of JSON text (a number written without
/// `.`, `e` or `E`) fits an `i64`. serde_json reads one that does not as a
/// float, silently, when it is below `-2^63` or above `2^64`: a field that
/// should hold `-99999999999999999999` must be refused as `99999999999999999999`
/// is, not stored rounded. Skips strings; leaves malformed text to the parser.
///
/// # Errors
/// [`Error::Invalid`] naming the first literal out of range.
pub(crate) fn check_integer_literals(json: &str) -> Result<()> {
    let b = json.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i += 1;
                while let Some(&c) = b.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while b
                    .get(i)
                    .is_some_and(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                let lit = json.get(start..i).unwrap_or_default();
                if !lit.contains(['.', 'e', 'E']) && lit.parse::<i64>().is_err() && lit != "-" {
                    return Err(Error::Invalid(format!(
                        "number `{lit}` is out of range (integers are 64-bit, signed)"
                    )));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Timestamp(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!([1, 2.5, "a", null, true, {"timestamp": "2026-01-02T03:04:05Z"}]);
        let v = Value::from_json(&j).unwrap();
        assert_eq!(v.to_json(), j);
        assert!(Value::from_json(&serde_json::json!({"x": 1})).is_err());
        assert!(Value::from_json(&serde_json::json!(u64::MAX)).is_err());
    }

    #[test]
    fn integer_literals_out_of_range_are_refused_whatever_their_sign() {
        for ok in [
            r#"{"a": -9223372036854775808, "b": 9223372036854775807}"#,
            r#"{"a": 1e30, "b": -1.5e300, "c": "99999999999999999999", "d": [1, -2]}"#,
            r#"{"k\"99999999999999999999": 1}"#,
        ] {
            assert!(check_integer_literals(ok).is_ok(), "{ok}");
        }
        for bad in [
            r#"{"a": -99999999999999999999}"#,
            r#"{"a": 99999999999999999999}"#,
            r#"{"a": [1, 9223372036854775808]}"#,
        ] {
            let e = check_integer_literals(bad).unwrap_err().to_string();
            assert!(e.contains("is out of range"), "{bad}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_on_decode() {
        let nest = |n: usize| (0..n).fold(Value::Int(1), |v, _| Value::List(vec![v]));
        let ok = postcard::to_allocvec(&nest(10)).unwrap();
        assert_eq!(postcard::from_bytes::<Value>(&ok).unwrap(), nest(10));
        // Hand-made bytes: variant `List` (6), length 1, repeated far past the limit.
        let mut deep: Vec<u8> = std::iter::repeat_n([6u8, 1], 100_000).flatten().collect();
        deep.extend([2, 2]); // Int(1)
        assert!(postcard::from_bytes::<Value>(&deep).is_err());
        assert_eq!(
            LIST_DEPTH.with(std::cell::Cell::get),
            0,
            "depth is unwound after an error"
        );
    }

    #[test]
    fn order_is_by_type_then_value() {
        assert_eq!(
            Value::Int(2).total_cmp(&Value::Float(1.5)),
            Ordering::Greater
        );
        assert_eq!(Value::Int(2).total_cmp(&Value::Float(2.0)), Ordering::Equal);
        assert_eq!(
            Value::Text("1".into()).total_cmp(&Value::Int(5)),
            Ordering::Greater
        );
        assert_eq!(Value::Null.total_cmp(&Value::Bool(false)), Ordering::Less);
    }
}
