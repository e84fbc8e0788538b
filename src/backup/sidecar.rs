//! The plaintext sidecar beside each archive (`NAME.age.json`): what is safe
//! to show without the key, and the SHA-256 of the encrypted file, so `list`
//! and a key-less integrity check work.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::format::{AccountIndex, ArchiveScope, Counts, Kind, ARCHIVE_FORMAT};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// One account's place in the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidecarAccount {
    pub account: u64,
    pub start: u64,
    pub end: u64,
    pub records: u64,
}

/// The sidecar's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The archive's file name (in the same folder).
    pub file: String,
    pub format: u32,
    pub created_at: String,
    /// `full` or `account:A`.
    pub scope: String,
    pub kind: Kind,
    pub counts: Counts,
    pub accounts: Vec<SidecarAccount>,
    pub size: u64,
    pub sha256: String,
    pub store_id: String,
    /// When `backup verify` (or `serve`'s check after a scheduled backup)
    /// last found the archive whole, and the SHA-256 of the file it read:
    /// prune counts the archive as verified only while that still matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_sha256: Option<String>,
    /// On object storage: the entity tag the provider gave the archive when
    /// it was uploaded. `list` takes an archive whose size and tag still
    /// match as intact without downloading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Sidecar {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        path: &Path,
        at: Timestamp,
        scope: ArchiveScope,
        kind: Kind,
        counts: Counts,
        index: &[AccountIndex],
        size: u64,
        sha256: &str,
        store_id: [u8; 16],
    ) -> Sidecar {
        Sidecar {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            format: ARCHIVE_FORMAT,
            created_at: at.to_rfc3339(),
            scope: scope.to_string(),
            kind,
            counts,
            accounts: index
                .iter()
                .map(|i| SidecarAccount {
                    account: i.account,
                    start: i.start,
                    end: i.end,
                    records: i.counts.records,
                })
                .collect(),
            size,
            sha256: sha256.to_string(),
            store_id: hex::encode(store_id),
            verified_at: None,
            verified_sha256: None,
            etag: None,
        }
    }

    /// The sidecar path of an archive.
    pub fn path_for(archive: &Path) -> PathBuf {
        let name = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        archive.with_file_name(format!("{name}.json"))
    }

    pub(crate) fn write(&self, archive: &Path) -> Result<()> {
        super::atomic::write_atomic(&Sidecar::path_for(archive), &self.to_json()?)
    }

    pub(crate) fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Reads a sidecar file.
    ///
    /// # Errors
    /// [`Error::Invalid`] when it is not a sidecar.
    pub fn read(path: &Path) -> Result<Sidecar> {
        let text = std::fs::read(path)?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Invalid(format!("sidecar `{}`: {e}", path.display())))
    }

    /// When the archive was written.
    pub fn created(&self) -> Result<Timestamp> {
        Timestamp::parse(&self.created_at)
    }
}
