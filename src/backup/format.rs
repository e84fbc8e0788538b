//! The archive format: `age( frames )`, where the plaintext is a sequence of
//! standard zstd frames, so `age -d -i KEY ARCHIVE | zstd -d` gives the
//! entries back with the reference tools.
//!
//! ```text
//! Format (plaintext inside age):
//!   chunk*  footer
//!   chunk  = skippable frame (magic 0x184D2A50, 8-byte LE length L) + zstd frame of L bytes
//!            whose content is items, each a 4-byte LE length + postcard `Item`
//!   footer = skippable frame (magic 0x184D2A51, 16 bytes): trailer chunk offset (u64 LE), b"CRMTRLR1"
//! ```
//! The first chunk holds `Item::Header`. Each account starts a new chunk with
//! `Item::Account`. The last chunk holds `Item::Trailer`: per-account offsets
//! and SHA-256 (so one account restores by seeking), counts, and the SHA-256
//! of every plaintext byte before the trailer chunk. Chunks are at most
//! [`CHUNK_BYTES`] before compression: memory stays flat for any store size.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Timestamp;

pub(crate) const MAGIC: [u8; 8] = *b"CRMSARCH";
/// The archive format this build writes; newer ones are refused, older ones
/// read. 2: records may be in layout 2 (`codec::Stored for Record`).
/// 3: each account carries the access gate's state, sessions (as history),
/// authorization log, lockouts and its users' logins (`Item::Gate` ...
/// `Item::Login`, after the audit log).
pub const ARCHIVE_FORMAT: u32 = 3;
pub(crate) const SKIP_CHUNK: u32 = 0x184D_2A50;
pub(crate) const SKIP_FOOTER: u32 = 0x184D_2A51;
pub(crate) const FOOTER_LEN: u64 = 24;
pub(crate) const FOOTER_TAG: [u8; 8] = *b"CRMTRLR1";
/// Items are gathered up to this many bytes before a chunk is compressed.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;
/// A chunk claiming more than this is refused before it is read.
pub(crate) const MAX_CHUNK: u64 = 64 << 20;

/// What an archive holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveScope {
    Full,
    Account(u64),
}

impl std::fmt::Display for ArchiveScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveScope::Full => write!(f, "full"),
            ArchiveScope::Account(a) => write!(f, "account:{a}"),
        }
    }
}

/// Why an archive was written; retention keeps weekly and monthly ones and
/// never prunes manual ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Manual,
    Weekly,
    Monthly,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Manual => "manual",
            Kind::Weekly => "weekly",
            Kind::Monthly => "monthly",
        }
    }

    /// Parses `manual`, `weekly` or `monthly`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for anything else.
    pub fn parse(text: &str) -> Result<Kind> {
        match text {
            "manual" => Ok(Kind::Manual),
            "weekly" => Ok(Kind::Weekly),
            "monthly" => Ok(Kind::Monthly),
            _ => Err(Error::Invalid(format!(
                "`{text}` is not a backup kind (manual, weekly, monthly)"
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub magic: [u8; 8],
    pub format: u32,
    pub created_at: Timestamp,
    pub scope: ArchiveScope,
    pub kind: Kind,
    pub store_id: [u8; 16],
}

/// How many entries of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub records: u64,
    pub batches: u64,
    pub trashed: u64,
    pub audit: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.batches += o.batches;
        self.trashed += o.trashed;
        self.audit += o.audit;
    }
}

/// Where one account lies in the plaintext, and the SHA-256 of those bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIndex {
    pub account: u64,
    pub start: u64,
    pub end: u64,
    pub counts: Counts,
    pub sha256: [u8; 32],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Trailer {
    pub accounts: Vec<AccountIndex>,
    pub totals: Counts,
    pub digest: [u8; 32],
}

/// One entry. Values are the store's own encoded bytes (version byte +
/// postcard), so archiving copies them without decoding. Indexes are not
/// archived: a restore rebuilds them from the records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Item {
    Header(Header),
    Account(u64),
    Directory(Vec<u8>),
    State(Vec<u8>),
    Record(u64, Vec<u8>),
    Batch(u64, Vec<u8>),
    Trashed(u64, u64, Vec<u8>),
    Audit(u64, Vec<u8>),
    Trailer(Trailer),
    // Format 3 (the access gate), after every older variant so their
    // encodings stay what they were.
    Gate(Vec<u8>),
    Session(u64, Vec<u8>),
    AuthEvent(u64, Vec<u8>),
    Lockout(String, Vec<u8>),
    Login(String, Vec<u8>),
}

/// [`Item`] borrowing its bytes, for writing without copies. INVARIANT:
/// same variants in the same order as `Item`, so both encode alike.
#[derive(Serialize)]
pub(crate) enum ItemRef<'a> {
    Header(&'a Header),
    Account(u64),
    Directory(&'a [u8]),
    State(&'a [u8]),
    Record(u64, &'a [u8]),
    Batch(u64, &'a [u8]),
    Trashed(u64, u64, &'a [u8]),
    Audit(u64, &'a [u8]),
    Trailer(&'a Trailer),
    Gate(&'a [u8]),
    Session(u64, &'a [u8]),
    AuthEvent(u64, &'a [u8]),
    Lockout(&'a str, &'a [u8]),
    Login(&'a str, &'a [u8]),
}

/// A damaged or foreign archive.
pub(crate) fn bad(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("archive: {what}"))
}

/// Reads the footer at the end of a seekable plaintext: the trailer offset.
pub(crate) fn footer_offset(tail: &[u8; FOOTER_LEN as usize]) -> Result<u64> {
    let magic = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if magic != SKIP_FOOTER || tail[16..] != FOOTER_TAG {
        return Err(bad(
            "no footer: the archive is truncated or not a crmstore archive",
        ));
    }
    let mut at = [0u8; 8];
    at.copy_from_slice(&tail[8..16]);
    Ok(u64::from_le_bytes(at))
}

/// Checks a header can be read by this build.
pub(crate) fn check_header(h: &Header) -> Result<()> {
    if h.magic != MAGIC {
        return Err(bad("not a crmstore archive"));
    }
    if h.format > ARCHIVE_FORMAT {
        return Err(Error::Incompatible(format!(
            "archive format `{}` is newer than this crmstore reads (`{ARCHIVE_FORMAT}`); upgrade crmstore",
            h.format
        )));
    }
    Ok(())
}
