//! [`Update`]: a change to one record, built in code or read from the CLI's `--set`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::json::fields_from_json;
use crate::model::value::check_integer_literals;
use crate::model::Value;

/// A change to one record. `Update::new().set("amount", 5).stage("won")`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    /// Field → new value; `Value::Null` removes the field.
    pub set: BTreeMap<String, Value>,
    /// `Some(None)` clears the stage.
    pub stage: Option<Option<String>>,
    /// `Some(None)` detaches the record from its parent.
    pub parent: Option<Option<u64>>,
    /// Refuse with [`Error::Conflict`] unless the record is at this version.
    pub expect_version: Option<u64>,
}

impl Update {
    pub fn new() -> Self {
        Update::default()
    }
    #[must_use]
    pub fn set(mut self, field: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.insert(field.into(), value.into());
        self
    }
    #[must_use]
    pub fn stage(mut self, stage: Option<&str>) -> Self {
        self.stage = Some(stage.map(str::to_string));
        self
    }
    #[must_use]
    pub fn parent(mut self, parent: Option<u64>) -> Self {
        self.parent = Some(parent);
        self
    }
    #[must_use]
    pub fn expect_version(mut self, v: u64) -> Self {
        self.expect_version = Some(v);
        self
    }

    /// Reads the CLI's `--set` object. `stage` and `parent` change the
    /// built-ins; `owner` and `team` are changed by `assign`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the bad key or value.
    pub fn from_json(text: &str) -> Result<Update> {
        check_integer_literals(text).map_err(|e| Error::Invalid(format!("--set: {e}")))?;
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("--set must be a JSON object: {e}")))?;
        let mut up = Update::new();
        let mut fields = Vec::new();
        for (k, v) in map {
            match k.as_str() {
                "stage" => match v {
                    serde_json::Value::Null => up.stage = Some(None),
                    serde_json::Value::String(s) => up.stage = Some(Some(s)),
                    _ => return Err(Error::Invalid("`stage` must be text or null".into())),
                },
                "parent" => match v {
                    serde_json::Value::Null => up.parent = Some(None),
                    other => match other.as_u64() {
                        Some(p) => up.parent = Some(Some(p)),
                        None => {
                            return Err(Error::Invalid(
                                "`parent` must be a record id or null".into(),
                            ))
                        }
                    },
                },
                "owner" | "team" => {
                    return Err(Error::Invalid(format!(
                        "`{k}` is changed with `assign`, not `update`"
                    )))
                }
                _ => fields.push((k, v)),
            }
        }
        up.set = fields_from_json(fields)?;
        Ok(up)
    }
}
