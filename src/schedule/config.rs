//! `serve`'s configuration: the `[backup]` and `[trash]` sections of its TOML
//! file, their defaults, the cron expressions (UTC, with seconds), and when a
//! run counts as missed.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::Deserialize;

use crate::backup::{Decryption, Encryption};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// The `[backup]` and `[trash]` sections of `serve`'s TOML config.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub backup: BackupSection,
    #[serde(default)]
    pub trash: TrashSection,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSection {
    pub dir: PathBuf,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub passphrase_file: Option<PathBuf>,
    /// An age identity file to verify each scheduled archive with (with
    /// `recipients`; a `passphrase_file` verifies by itself). Without one,
    /// nothing `serve` writes is verified, so prune removes nothing until an
    /// operator's `backup verify` has verified a newer archive.
    #[serde(default)]
    pub identity: Option<PathBuf>,
    #[serde(default = "weekly")]
    pub weekly: String,
    #[serde(default = "monthly")]
    pub monthly: String,
    #[serde(default = "five")]
    pub keep_weekly: usize,
    #[serde(default = "twelve")]
    pub keep_monthly: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrashSection {
    #[serde(default = "purge")]
    pub purge: String,
}

impl Default for TrashSection {
    fn default() -> Self {
        TrashSection { purge: purge() }
    }
}

fn weekly() -> String {
    "0 0 3 * * Sun".into()
}
fn monthly() -> String {
    "0 0 4 1 * *".into()
}
fn purge() -> String {
    "0 30 2 * * *".into()
}
fn five() -> usize {
    5
}
fn twelve() -> usize {
    12
}

impl ScheduleConfig {
    /// Parses the TOML text.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming what is wrong.
    pub fn parse(text: &str) -> Result<ScheduleConfig> {
        let mut cfg: ScheduleConfig =
            toml::from_str(text).map_err(|e| Error::Invalid(format!("config: {e}")))?;
        // A folder, `file:///folder` or an object storage URL.
        cfg.backup.dir = crate::backup::destination(&cfg.backup.dir.to_string_lossy())?;
        for expr in [&cfg.backup.weekly, &cfg.backup.monthly, &cfg.trash.purge] {
            cron(expr)?;
        }
        Ok(cfg)
    }

    /// The key `serve` verifies its archives with, when it has one.
    pub(crate) fn decryption(&self) -> Result<Option<Decryption>> {
        match (&self.backup.passphrase_file, &self.backup.identity) {
            (_, Some(id)) => Decryption::identity_file(id).map(Some),
            (Some(p), None) => Decryption::passphrase_file(p).map(Some),
            (None, None) => Ok(None),
        }
    }

    pub(crate) fn encryption(&self) -> Result<Encryption> {
        match &self.backup.passphrase_file {
            Some(p) if self.backup.recipients.is_empty() => Encryption::passphrase_file(p),
            Some(_) => Err(Error::Invalid(
                "config: give recipients or passphrase_file, not both".into(),
            )),
            None => Encryption::recipients(&self.backup.recipients),
        }
    }
}

pub(crate) fn cron(expr: &str) -> Result<Cron> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(expr)
        .map_err(|e| Error::Invalid(format!("config: cron expression `{expr}`: {e}")))
}

fn utc(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(t.0).unwrap_or_default()
}

/// Whether a run of `expr` due at or before `now` is newer than `newest`
/// (no archive at all counts as missed).
pub(crate) fn missed(expr: &str, newest: Option<Timestamp>, now: Timestamp) -> Result<bool> {
    let Some(newest) = newest else {
        return Ok(true);
    };
    let due = cron(expr)?
        .find_previous_occurrence(&utc(now), true)
        .map_err(|e| Error::Invalid(format!("cron expression `{expr}`: {e}")))?;
    Ok(utc(newest) < due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn a_missed_run_is_seen_once_from_the_newest_archive() {
        let weekly = "0 0 3 * * Sun";
        // 2026-11-22 is a Sunday.
        assert!(missed(
            weekly,
            Some(at("2026-11-15T03:00:00Z")),
            at("2026-11-23T10:00:00Z")
        )
        .unwrap());
        assert!(!missed(
            weekly,
            Some(at("2026-11-22T03:00:00Z")),
            at("2026-11-23T10:00:00Z")
        )
        .unwrap());
        assert!(!missed(
            weekly,
            Some(at("2026-11-22T03:00:05Z")),
            at("2026-11-28T10:00:00Z")
        )
        .unwrap());
        assert!(
            missed(weekly, None, at("2026-11-23T10:00:00Z")).unwrap(),
            "no archive yet"
        );
        assert!(missed(
            "0 0 4 1 * *",
            Some(at("2026-10-01T04:00:01Z")),
            at("2026-11-23T00:00:00Z")
        )
        .unwrap());
    }

    #[test]
    fn config_parses_with_defaults_and_refuses_bad_cron() {
        let cfg =
            ScheduleConfig::parse("[backup]\ndir = \"/b\"\nrecipients = [\"age1x\"]\n").unwrap();
        assert_eq!((cfg.backup.keep_weekly, cfg.backup.keep_monthly), (5, 12));
        assert_eq!(cfg.trash.purge, "0 30 2 * * *");
        assert!(
            ScheduleConfig::parse("[backup]\ndir = \"/b\"\nweekly = \"every tuesday\"\n").is_err()
        );
        assert!(ScheduleConfig::parse("[backup]\ndir = \"/b\"\nunknown = 1\n").is_err());
    }
}
