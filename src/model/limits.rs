//! Every limit on what a store holds and what a caller may send, in one place
//! (DESIGN.md "Bad input").
//!
//! INVARIANT (limits): whatever a write accepts, every reader reads back.
//! `index::save` and `index::save_all`, the only writers of records, check
//! each record here before it is stored, whichever path brought it (create,
//! update, share, load, restore, trash restore, `gen`); readers enforce the
//! same numbers (`view::wire` on list depth, `query::parse` on filter text).
//! Every walk below is iterative: no input decides how deep the stack goes.

use crate::error::{Error, Result};
use crate::model::record::BUILT_IN_FIELDS;
use crate::model::{Record, Value, ValueRef};

/// Lists nest at most this deep in a field value (the depth decoding a
/// stored value allows, so a write never stores what a read refuses).
pub const MAX_DEPTH: u32 = crate::model::value::MAX_LIST_DEPTH;
/// A text value is at most this many bytes.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// A record's stored form is at most this many bytes.
pub const MAX_RECORD_BYTES: usize = 8 << 20;
/// A module name is 1 to this many bytes.
pub const MAX_MODULE_NAME: usize = 64;
/// A field or stage name is 1 to this many bytes.
pub const MAX_FIELD_NAME: usize = 128;
/// Filter text is at most this many bytes.
pub const MAX_FILTER_BYTES: usize = 64 << 10;
/// A filter has at most this many comparisons.
pub const MAX_FILTER_TERMS: usize = 1_000;
/// Ids (records, users, teams, ...) are 1 to this: they fit the signed
/// integers of filter text, JSON readers and SQL mirrors.
pub const MAX_ID: u64 = i64::MAX as u64;

fn name(kind: &str, text: &str, max: usize) -> Result<()> {
    if text.is_empty() || text.len() > max || text.chars().any(char::is_control) {
        let shown: String = text.chars().take(40).collect();
        let more = if shown.len() < text.len() { "…" } else { "" };
        return Err(Error::Invalid(format!(
            "{kind} name `{shown}{more}` must be 1 to {max} bytes, without control characters"
        )));
    }
    Ok(())
}

/// A module name: 1 to 64 bytes, no control characters.
pub(crate) fn check_module(module: &str) -> Result<()> {
    name("module", module, MAX_MODULE_NAME)
}

/// A pipeline stage: 1 to 128 bytes, no control characters.
pub(crate) fn check_stage(stage: &str) -> Result<()> {
    name("stage", stage, MAX_FIELD_NAME)
}

/// A field name: 1 to 128 bytes, not a built-in.
pub(crate) fn check_field(field: &str) -> Result<()> {
    name("field", field, MAX_FIELD_NAME)?;
    if BUILT_IN_FIELDS.contains(&field) || field == "updated_by" {
        return Err(Error::Invalid(format!(
            "`{field}` is a built-in, not a field (set it with its own argument)"
        )));
    }
    Ok(())
}

/// An id: 1 to [`MAX_ID`].
pub(crate) fn check_id(kind: &str, id: u64) -> Result<()> {
    if id == 0 || id > MAX_ID {
        return Err(Error::Invalid(format!(
            "{kind} id `{id}` is out of range (1 to {MAX_ID})"
        )));
    }
    Ok(())
}

/// What the value walk needs of an owned or a borrowed value.
trait Node: Sized {
    fn text_len(&self) -> Option<usize>;
    fn items(&self) -> Option<&[Self]>;
}

impl Node for Value {
    fn text_len(&self) -> Option<usize> {
        match self {
            Value::Text(s) => Some(s.len()),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }
}

impl Node for ValueRef<'_> {
    fn text_len(&self) -> Option<usize> {
        match self {
            ValueRef::Text(s) => Some(s.len()),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            ValueRef::List(v) => Some(v),
            _ => None,
        }
    }
}

/// Depth and text sizes of one value, walked with a stack of its own (only
/// a list needs one: a scalar, most fields, is checked without allocating).
fn check_tree<N: Node>(field: &str, value: &N) -> Result<()> {
    let bad = |what: String| Error::Invalid(format!("field `{field}`: {what}"));
    if value.items().is_none() {
        return match value.text_len() {
            Some(n) if n > MAX_TEXT_BYTES => {
                Err(bad(format!("a text is longer than {MAX_TEXT_BYTES} bytes")))
            }
            _ => Ok(()),
        };
    }
    // (items still to visit, the depth of the list holding them)
    let mut stack: Vec<(&[N], u32)> = vec![(std::slice::from_ref(value), 0)];
    while let Some((items, depth)) = stack.pop() {
        let Some((first, rest)) = items.split_first() else {
            continue;
        };
        stack.push((rest, depth));
        if first.text_len().is_some_and(|n| n > MAX_TEXT_BYTES) {
            return Err(bad(format!("a text is longer than {MAX_TEXT_BYTES} bytes")));
        }
        if let Some(inner) = first.items() {
            if depth >= MAX_DEPTH {
                return Err(bad(format!("lists nest deeper than {MAX_DEPTH} levels")));
            }
            stack.push((inner, depth + 1));
        }
    }
    Ok(())
}

/// A field's name and value.
pub(crate) fn check_field_value(field: &str, value: &Value) -> Result<()> {
    check_field(field)?;
    check_value(field, value)
}

/// A value compared with field `field` (a filter's): depth and text sizes,
/// so that comparing it cannot recurse deeper than a stored value can.
pub(crate) fn check_value(field: &str, value: &Value) -> Result<()> {
    check_tree(field, value)
}

/// A field read in place from stored bytes (a bulk write).
pub(crate) fn check_field_ref(field: &str, value: &ValueRef<'_>) -> Result<()> {
    check_field(field)?;
    check_tree(field, value)
}

/// The built-ins of a record (not its fields, not its size).
pub(crate) fn check_built_ins(id: u64, module: &str, stage: Option<&str>) -> Result<()> {
    check_id("record", id)?;
    check_module(module)?;
    stage.map_or(Ok(()), check_stage)
}

/// A whole record about to be stored as `stored_len` bytes.
pub(crate) fn check_record(r: &Record, stored_len: usize) -> Result<()> {
    let at = |e: Error| Error::Invalid(format!("record `{}`: {e}", r.id));
    check_built_ins(r.id, &r.module, r.stage.as_deref()).map_err(at)?;
    for (k, v) in &r.fields {
        check_field_value(k, v).map_err(at)?;
    }
    check_size(stored_len).map_err(at)
}

/// A record's stored size.
pub(crate) fn check_size(stored_len: usize) -> Result<()> {
    if stored_len > MAX_RECORD_BYTES {
        return Err(Error::Invalid(format!(
            "it would be stored in {stored_len} bytes, more than {MAX_RECORD_BYTES}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: u32) -> Value {
        (0..levels).fold(Value::Null, |v, _| Value::List(vec![v]))
    }

    #[test]
    fn values_nest_up_to_the_limit_and_not_one_level_more() {
        assert!(check_field_value("x", &nested(MAX_DEPTH)).is_ok());
        let e = check_field_value("x", &nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(e
            .to_string()
            .contains("field `x`: lists nest deeper than 64"));
        // Far past it, the walk still answers (it keeps its own stack).
        let deep = nested(100_000);
        assert!(check_field_value("x", &deep).is_err());
        // Dropping it recursively would overflow the test's stack.
        std::mem::forget(deep);
    }

    #[test]
    fn texts_are_held_to_one_mebibyte_also_inside_lists() {
        let ok = Value::Text("a".repeat(MAX_TEXT_BYTES));
        assert!(check_field_value("x", &ok).is_ok());
        let long = Value::List(vec![
            Value::Int(1),
            Value::Text("a".repeat(MAX_TEXT_BYTES + 1)),
        ]);
        let e = check_field_value("x", &long).unwrap_err();
        assert!(e.to_string().contains("longer than 1048576 bytes"), "{e}");
    }

    #[test]
    fn names_and_ids_have_their_ranges() {
        assert!(check_module(&"m".repeat(64)).is_ok());
        for bad in ["", "a\nb", &"m".repeat(65)] {
            assert!(
                matches!(check_module(bad), Err(Error::Invalid(_))),
                "{bad:?}"
            );
        }
        let e = check_module(&"m".repeat(100_000)).unwrap_err().to_string();
        assert!(e.len() < 200, "the error names the text, cut: {e}");
        assert!(check_field(&"f".repeat(128)).is_ok());
        assert!(check_field(&"f".repeat(129)).is_err());
        assert!(check_field("owner").is_err() && check_field("updated_by").is_err());
        assert!(check_stage("won").is_ok() && check_stage("").is_err());
        assert!(check_id("record", 1).is_ok() && check_id("record", MAX_ID).is_ok());
        assert!(check_id("record", 0).is_err() && check_id("record", MAX_ID + 1).is_err());
    }
}
