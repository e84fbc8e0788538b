//! Export of the records a viewer may export, as JSON lines or CSV, streamed
//! in one pass from one snapshot, audited with its count.

use std::collections::BTreeSet;
use std::io::Write;

use crate::access::action::{decide_action, Target};
use crate::access::decide::{self, RecordAction};
use crate::access::{AccessContext, Action, Viewer};
use crate::audit::monitor;
use crate::audit::{self, AuditAction, Entry};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{MonitorAction, Record};
use crate::query::plan::{self, Scan};
use crate::query::Query;
use crate::records::prepare_filter;
use crate::txn::Reader;

/// The output format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// One record per line, as `get` prints it.
    Jsonl,
    /// A header of the built-ins and the module's visible field names (sorted), then one row per record.
    Csv,
}

/// The fixed leading columns of a CSV export.
pub const CSV_BUILT_INS: [&str; 9] = [
    "id",
    "module",
    "owner",
    "team",
    "stage",
    "parent",
    "version",
    "created_at",
    "updated_at",
];

fn io_err(e: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(e.to_string()))
}

fn csv_row(r: &Record, fields: &[String]) -> Vec<String> {
    let opt = |o: Option<u64>| o.map(|v| v.to_string()).unwrap_or_default();
    let mut row = vec![
        r.id.to_string(),
        r.module.clone(),
        r.owner.to_string(),
        opt(r.team),
        r.stage.clone().unwrap_or_default(),
        opt(r.parent),
        r.version.to_string(),
        r.created_at.to_rfc3339(),
        r.updated_at.to_rfc3339(),
    ];
    row.extend(
        fields
            .iter()
            .map(|f| r.fields.get(f).map(|v| v.to_cell()).unwrap_or_default()),
    );
    row
}

/// [`Store::export`].
pub(crate) fn export(
    store: &Engine,
    ctx: &AccessContext,
    q: &Query,
    format: ExportFormat,
    out: impl Write,
) -> Result<u64> {
    let snapshot = store.reader()?;
    let r: &Reader = &snapshot;
    let v = store.viewer_in(r, ctx)?;
    let module = q.module.as_str();
    let filter = match prepare_filter(&v, q) {
        Ok(f) => f,
        // A refused export is audited like every refused action.
        Err(Error::Denied(why)) => {
            return store.act(
                ctx,
                AuditAction::RecordExport.name(),
                store.now(),
                |_, _| Err(Error::Denied(why)),
            )
        }
        Err(e) => return Err(e),
    };
    let module_id = crate::records::module_for_read(store, r, ctx.account, module, &v)?;
    let refusal = decide_action(&v, Action::ExportModule { module }, Target::Account).reason;
    let scan = module_id.map(|m| Scan {
        account: ctx.account,
        module,
        module_id: m,
        filter: filter.as_ref(),
        after: None,
        action: RecordAction::Export,
    });
    let mut count = 0u64;
    // A non-admin's CSV header names the fields of the records exported,
    // gathered on this pass: the module's registry also holds names only
    // records they cannot see use. (An admin sees every record: the
    // registry is theirs, and saves this walk.)
    let mut names = (!v.admin && format == ExportFormat::Csv).then(BTreeSet::new);
    if refusal.is_none() {
        if let Some(s) = &scan {
            plan::scan(r, &v, s, |rec, hidden| {
                count += 1;
                if let Some(names) = names.as_mut() {
                    for name in rec.field_names() {
                        let name = name?;
                        if !hidden.contains(name) && !names.contains(name) {
                            names.insert(name.to_string());
                        }
                    }
                }
                Ok(true)
            })?;
        }
    }
    // The export is authorised and audited (and charged to the monitor)
    // before a byte is written; the read snapshot above is what is written.
    store.act(
        ctx,
        AuditAction::RecordExport.name(),
        store.now(),
        |w, act| {
            if let Some(why) = &refusal {
                return Err(Error::Denied(why.clone()));
            }
            monitor::charge(
                w,
                act.v,
                &act.dir.account,
                MonitorAction::Export,
                count,
                act.now,
                &mut act.block,
            )?;
            let detail = format!(
                "{module}{}",
                if filter.is_some() { " filtered" } else { "" }
            );
            audit::append(
                w,
                ctx.account,
                act.now,
                Entry {
                    actor: Some(act.v.user),
                    action: crate::audit::AuditAction::RecordExport,
                    target: module.to_string(),
                    count,
                    detail,
                },
            )
        },
    )?;
    let Some(scan) = scan else {
        return write_empty(format, out).map(|()| 0);
    };
    let fields = match names {
        Some(names) => names.into_iter().collect(),
        None => csv_fields(r, ctx.account, scan.module_id, module, &v)?,
    };
    match format {
        ExportFormat::Jsonl => {
            let mut out = std::io::BufWriter::new(out);
            plan::scan(r, &v, &scan, |rec, hidden| {
                let line = rec.to_record_without(hidden)?.to_json();
                serde_json::to_writer(&mut out, &line).map_err(io_err)?;
                out.write_all(b"\n")?;
                Ok(true)
            })?;
            out.flush()?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(
                CSV_BUILT_INS
                    .iter()
                    .map(|s| s.to_string())
                    .chain(fields.iter().cloned()),
            )
            .map_err(io_err)?;
            plan::scan(r, &v, &scan, |rec, hidden| {
                let rec = rec.to_record_without(hidden)?;
                w.write_record(csv_row(&rec, &fields)).map_err(io_err)?;
                Ok(true)
            })?;
            w.flush()?;
        }
    }
    Ok(count)
}

/// The module's field names the viewer may see, sorted (the registry
/// holds every name ever written in the module).
fn csv_fields(r: &Reader, a: u64, m: u32, module: &str, v: &Viewer) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in r.fields()?.range((a, m, "")..(a, m + 1, ""))? {
        let (k, _) = e?;
        let name = k.value().2;
        if !decide::hidden(v, module, name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// An export of a module with no records yet: a CSV still gets its header.
fn write_empty(format: ExportFormat, out: impl Write) -> Result<()> {
    if format == ExportFormat::Csv {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(CSV_BUILT_INS).map_err(io_err)?;
        w.flush()?;
    }
    Ok(())
}
