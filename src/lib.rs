//! crmstore: an embedded record store for CRM applications, on redb.
//!
//! Every record carries its owner, team and shares; every read is filtered by
//! what the viewer may see (profiles with per-module scopes, role hierarchy,
//! teams, groups, sharing rules, pipeline stages, field-level security).
//!
//! ```
//! use crmstore::{Filter, NewRecord, Query, SignIn, Store, Timestamp};
//! # fn main() -> crmstore::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path().join("crm.redb"))?;
//! let op = store.operator(); // trusted code: setup and admin tooling
//! op.load_json(r#"{
//!   "account": {"id": 1, "name": "Acme"},
//!   "roles": [{"id": 1, "name": "Rep", "parent": null}],
//!   "teams": [{"id": 1, "name": "East"}],
//!   "profiles": [{"id": 1, "name": "Sales", "modules": {
//!       "deals": {"view": "own", "create": "own", "edit": "own"}}}],
//!   "users": [{"id": 1, "name": "ana", "role": 1, "teams": [1], "profile": 1,
//!              "login": "ana@acme.test"},
//!             {"id": 2, "name": "bob", "role": 1, "teams": [1], "profile": 1}]
//! }"#)?;
//! op.login_passwd("ana@acme.test", "her passphrase", Timestamp::now())?;
//! // Ana signs in; each request then proves who is asking with the token.
//! let ip = std::net::IpAddr::from([203, 0, 113, 7]);
//! let who = SignIn { account: 1, login: "ana@acme.test", ip, device: "laptop" };
//! let session = store.session_open(&who, "her passphrase", Timestamp::now())?;
//! let ana = store.authenticate(&session.token, ip, Timestamp::now())?;
//! let deal = store.create(&ana, NewRecord::new("deals").field("amount", 1200).stage("new"))?;
//! let page = store.query(&ana, &Query::module("deals").filter(Filter::field("amount").ge(1000)))?;
//! assert_eq!(page.records[0].id, deal.id);
//! // The same kind of page read in place (for showing a list): no allocation per record.
//! let rows = store.query_rows(&ana, &Query::module("deals").limit(50))?;
//! assert_eq!(rows.get(0).and_then(|r| r.field("amount")), Some(crmstore::ValueRef::Int(1200)));
//! // bob owns nothing and sees nothing: not even that the deal exists.
//! let bob = op.context(1, 2)?; // trusted code's handle for a user, no sign-in
//! assert!(matches!(store.get(&bob, deal.id), Err(crmstore::Error::NotFound(_))));
//! // Logged out, the token no longer works.
//! store.session_close(&session.token, Timestamp::now())?;
//! assert!(store.authenticate(&session.token, ip, Timestamp::now()).is_err());
//! # Ok(()) }
//! ```

mod access;
mod account;
mod ask;
mod audit;
pub mod backup;
mod bulk;
mod chain;
mod check;
mod codec;
mod engine;
mod error;
mod export;
mod gate;
mod model;
mod progress;
mod query;
mod records;
pub mod schedule;
mod sessions;
mod snapshot;
mod store;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
mod tables;
mod trash;
mod txn;
// Paths kept at the root: the index writer belongs to the transaction layer
// (`txn::Sealed`), the limits to the model they bound.
pub(crate) use model::limits;
pub(crate) use txn::index;
mod util;

pub use access::{AccessContext, Action, Decision};
pub use account::Loaded;
pub use audit::{AuditAction, ChainReport, Event};
pub use check::CheckReport;
pub use error::{Error, Result};
pub use export::{ExportFormat, CSV_BUILT_INS};
pub use gate::{Enrolled, Opened, Revoke, SecondFactor, SignIn};
pub use model::{
    Access, AccountSettings, Directory, FieldRule, Group, Lockout, ModulePerms, MonitorAction,
    MonitorRule, NewRecord, Principal, Privacy, Profile, Record, RecordView, Role, Scope, Security,
    Share, Shares, SharingRule, Shift, Team, Timestamp, User, Value, ValueRef,
};
pub use progress::{NoProgress, Progress};
pub use query::{CmpOp, FieldRef, Filter, Page, Query, Rows, RowsIter};
pub use records::Update;
pub use sessions::{AuthEvent, AuthMethod, AuthOutcome, AuthQuery, EndReason, SessionInfo};
pub use store::options::{Clock, OpenOptions, DEFAULT_CACHE_BYTES};
pub use store::{Operator, Store, FORMAT_VERSION};
pub use trash::{Batch, Cascade, Deleted, TrashedItem};

/// Entry points for the fuzz targets in `fuzz/` (and one benchmark): bytes
/// in, an answer out, never a panic. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads stored record bytes in place as a query's scan does, then looks
    /// up field `name` as a filter does: whether the record has it.
    /// (`benches/record_layout.rs`.)
    pub fn read_field_in_place(bytes: &[u8], name: &str) -> crate::Result<bool> {
        let view = crate::txn::view_of(bytes, 0, 0)?;
        Ok(view.try_field(name)?.is_some())
    }

    /// `r` as stored in `layout`: 1 as older releases wrote it, else as this
    /// build writes it. (`benches/record_layout.rs`.)
    pub fn stored_in_layout(r: &crate::Record, layout: u8) -> crate::Result<Vec<u8>> {
        if layout != 1 {
            return crate::codec::encode(r);
        }
        let body = crate::model::record::layout_1_body(r)
            .map_err(|e| crate::Error::Invalid(format!("cannot encode record: {e}")))?;
        Ok([&[1][..], &body].concat())
    }

    /// Parses and validates an account document without storing it.
    pub fn account_document(text: &str) -> crate::Result<()> {
        crate::account::parse_only(text)
    }

    /// Decodes stored bytes as a record, whole and read in place (every
    /// field read, and written back as a page does), checks them in place as
    /// a bulk write does, and reports whether the readings disagree.
    pub fn stored_record(bytes: &[u8]) -> crate::Result<()> {
        use crate::codec::Stored;
        use crate::{Record, RecordView};
        let all = crate::model::FieldMask::default();
        let whole = crate::codec::decode::<Record>(bytes, || "fuzz".into());
        let in_place = crate::txn::view_of(bytes, 0, 0).and_then(|v| {
            let mut cut = Vec::new();
            v.write_without(&all, &mut cut)?;
            let again = RecordView::parse(Record::VERSION, &cut)
                .and_then(Result::ok)
                .map(|v| v.to_record());
            Ok((v.to_record_without(&all)?, again))
        });
        // What a bulk write checks before storing bytes as they are.
        let checked = crate::txn::view_of(bytes, 0, 0).and_then(|v| {
            v.check_fields(|| crate::Error::Corrupt("field map".into()), |_, _| Ok(()))
        });
        if checked.is_ok() != whole.is_ok() {
            return Err(crate::Error::Corrupt(format!(
                "read in place and checked as {checked:?}, whole as {whole:?}"
            )));
        }
        // Compared encoded: a NaN field is not equal to itself.
        let enc = |r: &Record| crate::codec::encode(r).ok();
        let agree = match (&whole, &in_place) {
            (Ok(w), Ok((r, again))) => enc(r) == enc(w) && again.as_ref().map(enc) == Some(enc(w)),
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !agree {
            return Err(crate::Error::Corrupt(format!(
                "read in place as {in_place:?}, whole as {whole:?}"
            )));
        }
        whole.map(|_| ())
    }

    /// The write→read round trip (issue 17): whatever `create` accepts from
    /// `record` (the CLI's `--json-record`, in module `deals` of `store`'s
    /// account 1, for its admin user 1), every read answers: `get`, `query`,
    /// `query_rows`, both exports and `dump`, and the dump loads back (as
    /// account 2) to the same records. `Ok` when `create` refused it.
    pub fn write_then_read(store: &crate::Store, record: &str) -> crate::Result<()> {
        use crate::{ExportFormat, NewRecord, Query};
        let ctx = store.operator().context(1, 1)?;
        let Ok(new) = NewRecord::from_json("deals", record) else {
            return Ok(());
        };
        let Ok(made) = store.create(&ctx, new) else {
            return Ok(());
        };
        let broken = |what: &str, e: crate::Error| {
            crate::Error::Corrupt(format!("record `{}` written, then {what}: {e}", made.id))
        };
        let got = store.get(&ctx, made.id).map_err(|e| broken("get", e))?;
        let q = Query::module("deals").after(made.id - 1).limit(1);
        let page = store.query(&ctx, &q).map_err(|e| broken("query", e))?;
        let rows = store.query_rows(&ctx, &q).map_err(|e| broken("rows", e))?;
        if page.records != [got.clone()] || rows.to_records() != page.records {
            return Err(broken(
                "read differently",
                crate::Error::Corrupt(String::new()),
            ));
        }
        for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
            store
                .export(&ctx, &Query::module("deals"), format, std::io::sink())
                .map_err(|e| broken("export", e))?;
        }
        let mut doc = store
            .operator()
            .dump_json(1)
            .map_err(|e| broken("dump", e))?;
        doc["account"]["id"] = serde_json::json!(2);
        store
            .operator()
            .load_json(&doc.to_string())
            .map_err(|e| broken("load of its dump", e))?;
        let again = store
            .get(&store.operator().context(2, 1)?, made.id)
            .map_err(|e| broken("get after load", e))?;
        if again.fields != got.fields {
            return Err(broken(
                "loaded back differently",
                crate::Error::Corrupt(String::new()),
            ));
        }
        Ok(())
    }

    /// Reads a decrypted archive stream as `verify` does.
    pub fn archive_plaintext(bytes: &[u8]) -> crate::Result<()> {
        crate::backup::read::verify_plain(bytes, &crate::NoProgress).map(|_| ())
    }
}
