//! Records from JSON input (the CLI's `--json-record`, an account
//! document's records, an update's fields): every value converted and held
//! to the limits a write holds it to, naming what was wrong.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::record::NewRecord;
use super::value::Value;
use crate::error::{Error, Result};

impl NewRecord {
    /// Reads the CLI's `--json-record` document:
    /// `{"fields":{..},"team":1,"stage":"new","parent":null,"owner":3}`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming what is wrong.
    pub fn from_json(module: &str, text: &str) -> Result<NewRecord> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[serde(default)]
            fields: BTreeMap<String, serde_json::Value>,
            #[serde(default)]
            team: Option<u64>,
            #[serde(default)]
            stage: Option<String>,
            #[serde(default)]
            parent: Option<u64>,
            #[serde(default)]
            owner: Option<u64>,
        }
        super::value::check_integer_literals(text)
            .map_err(|e| Error::Invalid(format!("record document: {e}")))?;
        let doc: Doc = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("record document: {e}")))?;
        Ok(NewRecord {
            module: module.to_string(),
            fields: fields_from_json(doc.fields)?,
            team: doc.team,
            stage: doc.stage,
            parent: doc.parent,
            owner: doc.owner,
        })
    }
}

/// Converts a JSON map of fields, naming the field whose value is bad.
pub(crate) fn fields_from_json(
    map: impl IntoIterator<Item = (String, serde_json::Value)>,
) -> Result<BTreeMap<String, Value>> {
    map.into_iter()
        .map(|(k, v)| {
            let v =
                Value::from_json(&v).map_err(|e| Error::Invalid(format!("field `{k}`: {e}")))?;
            crate::limits::check_field_value(&k, &v)?;
            Ok((k, v))
        })
        .collect()
}
