//! Printing for people (aligned tables) and for scripts (JSON lines).
//! Writes go through here so a closed pipe ends the command quietly.

use std::io::Write;

use crmstore::{Record, Result};

/// Writes one line to stdout.
pub fn line(text: impl std::fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}

/// Prints aligned columns with a header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fmt = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        fmt(headers.iter().map(|h| h.to_uppercase()).collect())
    )?;
    for row in rows {
        writeln!(out, "{}", fmt(row.clone()))?;
    }
    Ok(())
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One row of the people's view of records.
pub fn record_row(r: &Record) -> Vec<String> {
    let fields: Vec<String> = r
        .fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.to_json()))
        .collect();
    vec![
        r.id.to_string(),
        r.module.clone(),
        r.owner.to_string(),
        opt(r.team),
        opt(r.stage.as_deref()),
        opt(r.parent),
        r.version.to_string(),
        fields.join(" "),
    ]
}

pub const RECORD_HEADERS: [&str; 8] = [
    "id", "module", "owner", "team", "stage", "parent", "version", "fields",
];

/// Prints records as JSON lines or a table.
pub fn records(json: bool, records: &[Record]) -> Result<()> {
    if json {
        for r in records {
            line(r.to_json())?;
        }
        Ok(())
    } else {
        table(
            &RECORD_HEADERS,
            &records.iter().map(record_row).collect::<Vec<_>>(),
        )
    }
}
