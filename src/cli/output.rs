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

/// Writes one line to stderr (notes, problems, errors, `serve`'s log). A
/// closed stderr (a supervisor gone) loses the line instead of panicking, as
/// `eprintln!` would.
pub fn note(text: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Cells wider than this many characters are cut, with an ellipsis, in
/// tables (JSON output is never cut): one long field value must not turn
/// every row into a screenful.
pub const MAX_CELL: usize = 200;

/// `cell` cut to [`MAX_CELL`] characters, the last of them `…` when cut.
fn cut(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.char_indices().nth(MAX_CELL - 1) {
        Some((end, _)) if cell[end..].chars().nth(1).is_some() => {
            format!("{}…", &cell[..end]).into()
        }
        _ => cell.into(),
    }
}

/// Prints aligned columns with a header row. Pads by hand: `format!`'s
/// width argument panics past 65,535.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let header: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    let cut_rows: Vec<Vec<std::borrow::Cow<'_, str>>> = std::iter::once(&header)
        .chain(rows)
        .map(|row| row.iter().map(|c| cut(c)).collect())
        .collect();
    let mut widths = vec![0usize; headers.len()];
    for row in &cut_rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    for row in &cut_rows {
        text.clear();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            let pad = w.saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        writeln!(out, "{}", text.trim_end())?;
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

/// A listing as `--json` prints it (one object per line) or as a table.
pub fn listing<T>(
    json: bool,
    items: &[T],
    to_json: impl Fn(&T) -> serde_json::Value,
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    if json {
        return items.iter().try_for_each(|i| line(to_json(i)));
    }
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    table(headers, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_with_an_ellipsis_and_short_ones_kept() {
        let long = "é".repeat(70_000);
        let c = cut(&long);
        assert_eq!(c.chars().count(), MAX_CELL);
        assert!(c.ends_with('…') && c.starts_with("éé"));
        let exact = "x".repeat(MAX_CELL);
        assert_eq!(cut(&exact), exact.as_str());
        assert_eq!(cut("short"), "short");
    }
}
