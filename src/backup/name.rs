//! Archive file names: `crmstore-{full|accountA}-{kind}-{YYYYMMDDTHHMMSSZ}[-N].age`.
//! The one place that writes the pattern and the one that reads it back.
//!
//! A backup folder may be writable by anyone, so its sidecars are never
//! trusted: what `list` and `prune` decide (scope, kind, time, which file to
//! remove) comes from an archive's own name, read here, and only a bare name
//! of this pattern is ever acted on.

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, TimeZone, Utc};

use super::atomic::{create_temp, tmp_name, TempFile};
use super::format::{ArchiveScope, Kind};
use crate::error::{Error, Result};
use crate::model::Timestamp;

const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// What an archive's name says of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameFacts {
    pub scope: ArchiveScope,
    pub kind: Kind,
    /// The second it was written (names carry no finer time).
    pub created_at: Timestamp,
    /// 1, or N of a `-N` name (a second archive of the same second).
    pub n: u32,
}

/// A new archive's name in `dir` for `scope` and `kind` written at `at`, and
/// its temporary file, created: the first `-N` whose archive does not exist
/// and whose temporary file this process could create (`create_new`), so two
/// backups of one second into one folder take two names, and neither ever
/// touches the other's file.
///
/// # Errors
/// `Io` naming the temporary file when it cannot be created.
pub(crate) fn create_in(
    dir: &Path,
    scope: ArchiveScope,
    kind: Kind,
    at: Timestamp,
) -> Result<(PathBuf, File, TempFile)> {
    let mut after = 0;
    loop {
        let path = new_in(dir, scope, kind, at, after);
        match create_temp(&path) {
            Ok((file, guard)) => return Ok((path, file, guard)),
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                after = parse(
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default(),
                )
                .map_or(after + 1, |f| f.n);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The first free name in `dir` numbered above `after`.
fn new_in(dir: &Path, scope: ArchiveScope, kind: Kind, at: Timestamp, after: u32) -> PathBuf {
    dir.join(new_name(scope, kind, at, after, |n| {
        let p = dir.join(n);
        p.exists() || tmp_name(&p).exists()
    }))
}

/// The first archive name for `scope`, `kind` and `at` numbered above
/// `after` that `taken` does not claim.
pub(crate) fn new_name(
    scope: ArchiveScope,
    kind: Kind,
    at: Timestamp,
    after: u32,
    taken: impl Fn(&str) -> bool,
) -> String {
    let stamp = chrono::DateTime::<Utc>::from_timestamp_micros(at.0)
        .map(|t| t.format(STAMP).to_string())
        .unwrap_or_else(|| at.0.to_string());
    let scope = match scope {
        ArchiveScope::Full => "full".to_string(),
        ArchiveScope::Account(a) => format!("account{a}"),
    };
    let base = format!("crmstore-{scope}-{}-{stamp}", kind.name());
    let mut n = after.saturating_add(1);
    loop {
        let name = if n == 1 {
            format!("{base}.age")
        } else {
            format!("{base}-{n}.age")
        };
        if !taken(&name) {
            return name;
        }
        n = n.saturating_add(1);
    }
}

/// Reads a bare file name of the pattern; `None` for anything else (a path,
/// `..`, another file).
pub fn parse(name: &str) -> Option<NameFacts> {
    let rest = name.strip_prefix("crmstore-")?.strip_suffix(".age")?;
    let mut parts = rest.split('-');
    let scope = match parts.next()? {
        "full" => ArchiveScope::Full,
        s => {
            let digits = s.strip_prefix("account")?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
                return None;
            }
            ArchiveScope::Account(digits.parse().ok()?)
        }
    };
    let kind = Kind::parse(parts.next()?).ok()?;
    let stamp = NaiveDateTime::parse_from_str(parts.next()?, STAMP).ok()?;
    let n = match parts.next() {
        None => 1,
        Some(d) if d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0') => {
            d.parse().ok().filter(|&n| n >= 2)?
        }
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    let created_at = Timestamp(Utc.from_utc_datetime(&stamp).timestamp_micros());
    Some(NameFacts {
        scope,
        kind,
        created_at,
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_they_were_written() {
        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp::parse("2026-12-05T22:59:05.123Z").unwrap();
        for (scope, kind) in [
            (ArchiveScope::Full, Kind::Weekly),
            (ArchiveScope::Account(42), Kind::Manual),
        ] {
            let (p, _, first) = create_in(dir.path(), scope, kind, at).unwrap();
            let name = p.file_name().unwrap().to_str().unwrap();
            let facts = parse(name).unwrap();
            assert_eq!((facts.scope, facts.kind, facts.n), (scope, kind, 1));
            assert_eq!(
                facts.created_at,
                Timestamp::parse("2026-12-05T22:59:05Z").unwrap()
            );
            // A second backup of the same second while the first still writes.
            let (second, _, _guard) = create_in(dir.path(), scope, kind, at).unwrap();
            let name = second.file_name().unwrap().to_str().unwrap();
            assert_eq!(parse(name).unwrap().n, 2, "{name}");
            assert!(
                tmp_name(&p).exists(),
                "the first one's temporary file is its own"
            );
            drop(first);
            assert!(!tmp_name(&p).exists());
            // Once the first is an archive, a third takes the next free name.
            std::fs::write(&p, b"x").unwrap();
            let (third, _, _g) = create_in(dir.path(), scope, kind, at).unwrap();
            assert_eq!(
                parse(third.file_name().unwrap().to_str().unwrap())
                    .unwrap()
                    .n,
                3
            );
        }
    }

    #[test]
    fn anything_else_is_not_an_archive_name() {
        for bad in [
            "/etc/passwd",
            "../crmstore-full-weekly-20261205T225905Z.age",
            "sub/crmstore-full-weekly-20261205T225905Z.age",
            "crmstore-full-weekly-20261205T225905Z.age.json",
            "crmstore-full-yearly-20261205T225905Z.age",
            "crmstore-account-weekly-20261205T225905Z.age",
            "crmstore-account01-weekly-20261205T225905Z.age",
            "crmstore-full-weekly-20261305T225905Z.age",
            "crmstore-full-weekly-20261205T225905Z-1.age",
            "crmstore-full-weekly-20261205T225905Z-2-3.age",
            "crmstore-full-weekly-20261205T225905Z",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
