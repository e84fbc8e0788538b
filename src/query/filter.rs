//! Filters: the tree, a builder that reads like a sentence, the checks made
//! before a filter runs, and its evaluation against a record.

use crate::error::{Error, Result};
use crate::limits;
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
    /// Every one holds. `a and b and c` is one `And` of three: a chain of
    /// any length nests one level, not one per term.
    And(Vec<Filter>),
    /// Any one holds.
    Or(Vec<Filter>),
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

    /// Both hold. Joins into `self` when it is an `And` already.
    #[must_use]
    pub fn and(self, other: Filter) -> Filter {
        match self {
            Filter::And(mut all) => {
                all.push(other);
                Filter::And(all)
            }
            first => Filter::And(vec![first, other]),
        }
    }

    /// Either holds. Joins into `self` when it is an `Or` already.
    #[must_use]
    pub fn or(self, other: Filter) -> Filter {
        match self {
            Filter::Or(mut any) => {
                any.push(other);
                Filter::Or(any)
            }
            first => Filter::Or(vec![first, other]),
        }
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
                Filter::And(all) | Filter::Or(all) => stack.extend(all),
                Filter::Not(a) => stack.push(a),
            }
        }
        out
    }

    /// Refuses a filter past the limits (`limits`): more than 1,000
    /// comparisons (each value of an `in` list counts) or `and`/`or`/`not`
    /// nested more than 64 deep. Walked with a stack of its own, so that
    /// whatever a caller built is measured before anything recurses into it.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the limit.
    pub(crate) fn check_limits(&self) -> Result<()> {
        let mut terms = 0usize;
        let mut stack = vec![(self, 0u32)];
        while let Some((f, depth)) = stack.pop() {
            if depth > limits::MAX_DEPTH {
                return Err(Error::Invalid(format!(
                    "filter: nests deeper than {} levels",
                    limits::MAX_DEPTH
                )));
            }
            let value = |field, v| {
                limits::check_value(field, v).map_err(|e| Error::Invalid(format!("filter: {e}")))
            };
            match f {
                Filter::Cmp {
                    field, value: v, ..
                } => {
                    value(field, v)?;
                    terms += 1;
                }
                Filter::In { field, values } => {
                    terms = terms.saturating_add(values.len().max(1));
                    if terms <= limits::MAX_FILTER_TERMS {
                        values.iter().try_for_each(|v| value(field, v))?;
                    }
                }
                Filter::And(all) | Filter::Or(all) => {
                    stack.extend(all.iter().map(|f| (f, depth + 1)));
                }
                Filter::Not(a) => stack.push((a, depth + 1)),
            }
            if terms > limits::MAX_FILTER_TERMS {
                return Err(Error::Invalid(format!(
                    "filter: more than {} comparisons",
                    limits::MAX_FILTER_TERMS
                )));
            }
        }
        Ok(())
    }

    /// The conjuncts at the top of the filter (`a and b and c` → `[a, b, c]`).
    pub(crate) fn conjuncts(&self) -> Vec<&Filter> {
        match self {
            Filter::And(all) => all.iter().collect(),
            other => vec![other],
        }
    }

    /// Checks built-in fields get values of their type (after
    /// [`Filter::check_limits`]: it recurses as deep as the filter nests) and turns time text
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
            Filter::And(all) => Filter::And(
                all.into_iter()
                    .map(Filter::prepare)
                    .collect::<Result<_>>()?,
            ),
            Filter::Or(any) => Filter::Or(
                any.into_iter()
                    .map(Filter::prepare)
                    .collect::<Result<_>>()?,
            ),
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
            Filter::And(all) => {
                for f in all {
                    if !f.matches(r)? {
                        return Ok(false);
                    }
                }
                true
            }
            Filter::Or(any) => {
                for f in any {
                    if f.matches(r)? {
                        return Ok(true);
                    }
                }
                false
            }
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
