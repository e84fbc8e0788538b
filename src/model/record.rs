//! Records: what is stored, what a viewer gets back, and how both look in JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::directory::{Access, Principal};
use super::value::{Timestamp, Value};
use crate::codec::Stored;

/// One share of a record: `to` gets `access` on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub to: Principal,
    pub access: Access,
}

/// A record as stored, and (with hidden fields removed) as a viewer reads it.
/// Stored as postcard in this declaration order (layout 2), which `view.rs`
/// reads in place: every built-in first, the field map last, so reading the
/// built-ins (all the access rules need) never walks the fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    pub module: String,
    pub owner: u64,
    pub team: Option<u64>,
    pub stage: Option<String>,
    /// The record this one hangs under (a comment under a deal); deletes cascade along it.
    pub parent: Option<u64>,
    /// Distinct principals, in the order they were added.
    pub shares: Vec<Share>,
    /// 1 at creation, +1 on every change.
    pub version: u64,
    pub created_at: Timestamp,
    pub created_by: u64,
    pub updated_at: Timestamp,
    pub updated_by: u64,
    pub fields: BTreeMap<String, Value>,
}

/// Layout 1 of a stored record, written before the field map moved last:
/// read from stores and archives that older releases wrote, never written.
#[derive(Deserialize)]
pub(crate) struct RecordV1 {
    id: u64,
    module: String,
    owner: u64,
    team: Option<u64>,
    stage: Option<String>,
    parent: Option<u64>,
    fields: BTreeMap<String, Value>,
    shares: Vec<Share>,
    version: u64,
    created_at: Timestamp,
    created_by: u64,
    updated_at: Timestamp,
    updated_by: u64,
}

impl From<RecordV1> for Record {
    fn from(r: RecordV1) -> Record {
        Record {
            id: r.id,
            module: r.module,
            owner: r.owner,
            team: r.team,
            stage: r.stage,
            parent: r.parent,
            shares: r.shares,
            version: r.version,
            created_at: r.created_at,
            created_by: r.created_by,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
            fields: r.fields,
        }
    }
}

/// `r` in layout 1 (the body, without the layout byte), as older releases
/// wrote it: what [`RecordV1`] reads. Postcard writes a tuple as it writes a
/// struct. For tests and the layout benchmark; never stored.
pub(crate) fn layout_1_body(r: &Record) -> postcard::Result<Vec<u8>> {
    postcard::to_allocvec(&(
        r.id,
        &r.module,
        r.owner,
        r.team,
        &r.stage,
        r.parent,
        &r.fields,
        &r.shares,
        r.version,
        r.created_at,
        r.created_by,
        r.updated_at,
        r.updated_by,
    ))
}

impl Stored for Record {
    const VERSION: u8 = 2;

    fn read_older(version: u8, body: &[u8]) -> Option<postcard::Result<Self>> {
        (version == 1).then(|| postcard::from_bytes::<RecordV1>(body).map(Record::from))
    }
}

/// Names a user field may not take: they are the built-ins of every record
/// (and of the filter language).
pub const BUILT_IN_FIELDS: [&str; 12] = [
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
    "updated_at",
    "created_by",
];

impl Record {
    /// The JSON the CLI prints for `get`, `query` and `export`.
    pub fn to_json(&self) -> serde_json::Value {
        let fields: serde_json::Map<String, serde_json::Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        serde_json::json!({
            "id": self.id,
            "module": self.module,
            "owner": self.owner,
            "team": self.team,
            "stage": self.stage,
            "parent": self.parent,
            "fields": fields,
            "shares": self.shares,
            "version": self.version,
            "created_at": self.created_at.to_rfc3339(),
            "updated_at": self.updated_at.to_rfc3339(),
        })
    }
}

/// What a caller gives to create a record. Built like a sentence:
/// `NewRecord::new("deals").field("name", "Big deal").team(1).stage("new")`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewRecord {
    pub module: String,
    pub fields: BTreeMap<String, Value>,
    pub team: Option<u64>,
    pub stage: Option<String>,
    pub parent: Option<u64>,
    /// `None`: the creator owns it.
    pub owner: Option<u64>,
}

impl NewRecord {
    pub fn new(module: impl Into<String>) -> Self {
        NewRecord {
            module: module.into(),
            ..Default::default()
        }
    }
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }
    pub fn team(mut self, team: u64) -> Self {
        self.team = Some(team);
        self
    }
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = Some(stage.into());
        self
    }
    pub fn parent(mut self, parent: u64) -> Self {
        self.parent = Some(parent);
        self
    }
    pub fn owner(mut self, owner: u64) -> Self {
        self.owner = Some(owner);
        self
    }
}
