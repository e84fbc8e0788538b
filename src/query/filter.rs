//! Filters: the tree, a builder that reads like a sentence, the checks made
//! before a filter runs, and its evaluation against a record.

use crate::error::{Error, Result};
use crate::model::{RecordView, Timestamp, Value, ValueRef};

/// A comparison operator of the filter language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`: the text (or any text in a list) contains the value.
    Contains,
}

/// A condition on records. Build one with [`Filter::field`] or parse the
/// text syntax with [`Filter::parse`]:
/// `Filter::field("stage").eq("won").and(Filter::field("amount").ge(1000))`.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Cmp {
        field: String,
        op: CmpOp,
        value: Value,
    },
    In {
        field: String,
        values: Vec<Value>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// A field named in a filter being built.
#[derive(Clone, Debug)]
pub struct FieldRef(String);

macro_rules! cmp_methods {
    ($($name:ident => $op:ident),*) => {$(
        pub fn $name(self, value: impl Into<Value>) -> Filter {
            Filter::Cmp { field: self.0, op: CmpOp::$op, value: value.into() }
        }
    )*};
}

impl FieldRef {
    cmp_methods!(eq => Eq, ne => Ne, lt => Lt, le => Le, gt => Gt, ge => Ge, contains => Contains);

    pub fn is_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Filter {
        Filter::In {
            field: self.0,
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

impl Filter {
    /// Starts a condition on `name` (a field or a built-in: `id owner team
    /// stage parent created_at updated_at`).
    pub fn field(name: impl Into<String>) -> FieldRef {
        FieldRef(name.into())
    }

    /// Parses the filter text of CLI.md.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the column where the text went wrong.
    pub fn parse(text: &str) -> Result<Filter> {
        super::parse::parse(text)
    }

    #[must_use]
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    #[must_use]
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// Every field name the filter mentions, anywhere in it.
    pub(crate) fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(f) = stack.pop() {
            match f {
                Filter::Cmp { field, .. } | Filter::In { field, .. } => out.push(field.as_str()),
                Filter::And(a, b) | Filter::Or(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Filter::Not(a) => stack.push(a),
            }
        }
        out
    }

    /// The conjuncts at the top of the filter (`a and b and c` → `[a, b, c]`).
    pub(crate) fn conjuncts(&self) -> Vec<&Filter> {
        match self {
            Filter::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    /// Checks built-in fields get values of their type and turns time text
    /// for `created_at`/`updated_at` into times.
    pub(crate) fn prepare(self) -> Result<Filter> {
        Ok(match self {
            Filter::Cmp { field, op, value } => {
                if op == CmpOp::Contains && !matches!(value, Value::Text(_)) {
                    return Err(Error::Invalid(format!(
                        "filter: `{field} ~` needs a text value"
                    )));
                }
                let value = builtin_value(&field, value)?;
                Filter::Cmp { field, op, value }
            }
            Filter::In { field, values } => {
                let values = values
                    .into_iter()
                    .map(|v| builtin_value(&field, v))
                    .collect::<Result<_>>()?;
                Filter::In { field, values }
            }
            Filter::And(a, b) => a.prepare()?.and(b.prepare()?),
            Filter::Or(a, b) => a.prepare()?.or(b.prepare()?),
            Filter::Not(a) => a.prepare()?.not(),
        })
    }

    /// Whether `r` satisfies the filter; `Corrupt` if a field it reads is.
    pub(crate) fn matches(&self, r: &RecordView<'_>) -> Result<bool> {
        Ok(match self {
            Filter::Cmp { field, op, value } => {
                let got = field_value(r, field)?;
                let ord = compare(&got, value);
                match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                    CmpOp::Contains => contains(&got, value),
                }
            }
            Filter::In { field, values } => {
                let got = field_value(r, field)?;
                values.iter().any(|v| compare(&got, v).is_eq())
            }
            Filter::And(a, b) => a.matches(r)? && b.matches(r)?,
            Filter::Or(a, b) => a.matches(r)? || b.matches(r)?,
            Filter::Not(a) => !a.matches(r)?,
        })
    }
}

fn builtin_value(field: &str, value: Value) -> Result<Value> {
    let ok = match (field, &value) {
        ("id" | "owner", Value::Int(i)) | ("team" | "parent", Value::Int(i)) => *i >= 0,
        ("team" | "parent" | "stage", Value::Null) => true,
        ("stage", Value::Text(_)) => true,
        ("created_at" | "updated_at", Value::Text(t)) => {
            return Timestamp::parse(t)
                .map(Value::Timestamp)
                .map_err(|e| Error::Invalid(format!("filter: `{field}`: {e}")))
        }
        ("id" | "owner" | "team" | "parent" | "stage" | "created_at" | "updated_at", _) => false,
        _ => true,
    };
    if ok {
        Ok(value)
    } else {
        Err(Error::Invalid(format!(
            "filter: `{field}` cannot be compared with `{}`",
            value.to_json()
        )))
    }
}

/// A record's value for a field or built-in; a missing field is null.
fn field_value<'r>(r: &RecordView<'r>, field: &str) -> Result<ValueRef<'r>> {
    let opt_int = |o: Option<u64>| o.map_or(ValueRef::Null, ValueRef::from);
    Ok(match field {
        "id" => ValueRef::from(r.id),
        "owner" => ValueRef::from(r.owner),
        "team" => opt_int(r.team),
        "parent" => opt_int(r.parent),
        "stage" => r.stage.map_or(ValueRef::Null, ValueRef::Text),
        "created_at" => ValueRef::Timestamp(r.created_at),
        "updated_at" => ValueRef::Timestamp(r.updated_at),
        other => r.try_field(other)?.unwrap_or(ValueRef::Null),
    })
}

/// [`Value::total_cmp`], except that a time field compared with RFC 3339
/// text compares as times (the filter text has no time literal).
fn compare(got: &ValueRef<'_>, lit: &Value) -> std::cmp::Ordering {
    if let (ValueRef::Timestamp(t), Value::Text(s)) = (got, lit) {
        if let Ok(l) = Timestamp::parse(s) {
            return t.cmp(&l);
        }
    }
    got.total_cmp(&lit.as_value_ref())
}

fn contains(got: &ValueRef<'_>, lit: &Value) -> bool {
    let Value::Text(needle) = lit else {
        return false;
    };
    match got {
        ValueRef::Text(s) => s.contains(needle.as_str()),
        ValueRef::List(items) => items
            .iter()
            .any(|i| matches!(i, ValueRef::Text(s) if s.contains(needle.as_str()))),
        _ => false,
    }
}
