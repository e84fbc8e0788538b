//! Reading archives: opening one with its key, and `verify` (decrypt and
//! check everything, write nothing).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::chunks::{Chunk, ChunkReader};
use super::crypto::Decryption;
use super::format::{
    bad, check_header, AccountIndex, ArchiveScope, Counts, Header, Item, Kind, Trailer,
};
use crate::audit;
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{Directory, Record, Timestamp};
use crate::progress::Progress;
use crate::trash::Batch;
use crate::txn::AccountState;

/// Where an archive's encrypted bytes come from: a file, or an object read
/// with ranged requests (`remote::RangedReader`).
pub(super) trait Source: Read + std::io::Seek + Send {}

impl<T: Read + std::io::Seek + Send> Source for T {}

pub(super) type Plain = age::stream::StreamReader<BufReader<Box<dyn Source>>>;

/// Opens the archive at `file` (a path, or the URL of an object) with `key`.
pub(super) fn open(file: &Path, key: &Decryption) -> Result<Plain> {
    let source: Box<dyn Source> = if super::remote::is_remote(file) {
        let url = file.to_string_lossy();
        let (remote, name) = super::remote::Remote::open_file(&url)?;
        Box::new(remote.reader(&name)?)
    } else {
        let f = File::open(file).map_err(|e| Error::io_at("cannot open archive", file, e))?;
        Box::new(f)
    };
    key.open(BufReader::with_capacity(1 << 20, source))
}

pub(super) fn header_of(items: &[Item]) -> Result<Header> {
    match items.first() {
        Some(Item::Header(h)) => {
            check_header(h)?;
            Ok(h.clone())
        }
        _ => Err(bad("does not start with a header")),
    }
}

/// What `verify` found: the archive's header facts, its counts, and every
/// problem (empty when the archive is whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub scope: ArchiveScope,
    pub kind: Kind,
    /// The store the archive was written from.
    pub store_id: [u8; 16],
    /// Where each account lies, as read (what a rebuilt sidecar holds).
    pub index: Vec<AccountIndex>,
    pub created_at: Timestamp,
    pub counts: Counts,
    pub accounts: Vec<u64>,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks stored bytes decode as a `T`.
pub(super) fn valid<T: codec::Stored>(bytes: &[u8]) -> Result<()> {
    codec::decode::<T>(bytes, || "archive".to_string()).map(|_| ())
}

/// Checks one item of account `a` decodes as what it claims to be; a record
/// as a restore will land it (`index::check_stored`).
pub(super) fn check_item(a: u64, item: &Item) -> Result<()> {
    match item {
        Item::Directory(b) => valid::<Directory>(b),
        Item::State(b) => valid::<AccountState>(b),
        Item::Record(id, b) => crate::index::check_stored(a, *id, b).map(|_| ()),
        Item::Batch(_, b) => valid::<Batch>(b),
        Item::Trashed(_, _, b) => valid::<Record>(b),
        Item::Audit(_, b) => valid::<audit::Event>(b),
        Item::Gate(b) => valid::<crate::sessions::log::GateState>(b),
        Item::Session(_, b) => valid::<crate::sessions::session::Session>(b),
        Item::AuthEvent(_, b) => valid::<crate::sessions::AuthEvent>(b),
        Item::Lockout(name, b) => {
            crate::sessions::login::normalize(name)?;
            valid::<crate::sessions::lockout::Lock>(b)
        }
        Item::Login(name, b) => {
            crate::sessions::login::normalize(name)?;
            valid::<crate::sessions::login::Login>(b)
        }
        Item::Account(_) => Ok(()),
        Item::Header(_) | Item::Trailer(_) => Err(bad("header or trailer in the middle")),
    }
}

pub(super) fn count_item(item: &Item, counts: &mut Counts) {
    match item {
        Item::Record(..) => counts.records += 1,
        Item::Batch(..) => counts.batches += 1,
        Item::Trashed(..) => counts.trashed += 1,
        Item::Audit(..) => counts.audit += 1,
        _ => {}
    }
}

/// The last key of each table seen in one account. Backups write every
/// table in key order, so a key that does not ascend is out of order or
/// given twice: something no backup wrote, which a restore would refuse.
#[derive(Default)]
struct KeyOrder {
    record: Option<u64>,
    batch: Option<u64>,
    trashed: Option<(u64, u64)>,
    audit: Option<u64>,
    session: Option<u64>,
    auth: Option<u64>,
    broken: bool,
}

impl KeyOrder {
    fn check(&mut self, account: u64, items: &[Item], problems: &mut Vec<String>) {
        fn ascends<K: Ord + Copy>(last: &mut Option<K>, key: K) -> bool {
            let ok = last.is_none_or(|l| l < key);
            *last = Some(key);
            ok
        }
        for item in items {
            if self.broken {
                return;
            }
            let (what, ok) = match item {
                Item::Record(id, _) => ("record", ascends(&mut self.record, *id)),
                Item::Batch(id, _) => ("trash batch", ascends(&mut self.batch, *id)),
                Item::Trashed(b, id, _) => {
                    ("trashed record", ascends(&mut self.trashed, (*b, *id)))
                }
                Item::Audit(seq, _) => ("audit event", ascends(&mut self.audit, *seq)),
                Item::Session(id, _) => ("session", ascends(&mut self.session, *id)),
                Item::AuthEvent(seq, _) => ("auth event", ascends(&mut self.auth, *seq)),
                _ => continue,
            };
            if !ok {
                self.broken = true;
                problems.push(format!(
                    "account `{account}`: a {what} is out of order or given twice"
                ));
            }
        }
    }
}

/// Decrypts and checks everything — structure, every value, every hash and
/// count — and writes nothing.
///
/// # Errors
/// `Crypto` for a wrong key; `Corrupt`/`Incompatible` when the archive
/// cannot be read at all. Mismatches found while reading are in the report.
pub fn verify(file: &Path, key: &Decryption, progress: &dyn Progress) -> Result<VerifyReport> {
    verify_plain(open(file, key)?, progress)
}

/// [`verify`] on the decrypted stream.
pub(crate) fn verify_plain(plain: impl Read, progress: &dyn Progress) -> Result<VerifyReport> {
    walk(
        plain,
        progress,
        |_| Ok(()),
        |a, items, problems| {
            problems.extend(
                items
                    .iter()
                    .filter_map(|i| check_item(a, i).err())
                    .map(|e| e.to_string()),
            );
            Ok(())
        },
    )
}

/// Reads a whole archive once: checks its header with `check`, hands each
/// chunk's items with their account to `visit` (which may note problems, or
/// stop the walk with an error), and checks every hash, count and the footer.
pub(super) fn walk(
    plain: impl Read,
    progress: &dyn Progress,
    check: impl FnOnce(&Header) -> Result<()>,
    mut visit: impl FnMut(u64, Vec<Item>, &mut Vec<String>) -> Result<()>,
) -> Result<VerifyReport> {
    let mut rd = ChunkReader::new(plain, 0);
    let Chunk::Items(first) = rd.next()? else {
        return Err(bad("no header"));
    };
    let header = header_of(&first)?;
    check(&header)?;
    let mut problems = Vec::new();
    let mut seen: Vec<AccountIndex> = Vec::new();
    let mut current: Option<(u64, u64, Sha256, Counts, KeyOrder)> = None;
    let mut trailer: Option<(Trailer, u64, [u8; 32])> = None;
    loop {
        let before = rd.pos;
        let total_before: [u8; 32] = rd.hash.clone().finalize().into();
        let chunk = rd.next()?;
        let items = match chunk {
            Chunk::Footer(at) => {
                match &trailer {
                    Some((_, t_at, _)) if *t_at == at => {}
                    _ => problems.push("footer does not point at the trailer".to_string()),
                }
                break;
            }
            Chunk::Items(items) => items,
        };
        if let Some(Item::Account(_) | Item::Trailer(_)) = items.first() {
            if let Some((a, start, h, counts, _)) = current.take() {
                seen.push(AccountIndex {
                    account: a,
                    start,
                    end: before,
                    counts,
                    sha256: h.finalize().into(),
                });
            }
        }
        match items.first() {
            Some(Item::Trailer(t)) => {
                trailer = Some((t.clone(), before, total_before));
                continue;
            }
            Some(Item::Account(a)) => {
                current = Some((
                    *a,
                    before,
                    Sha256::new(),
                    Counts::default(),
                    KeyOrder::default(),
                ))
            }
            _ => {}
        }
        let Some((account, _, h, counts, order)) = current.as_mut() else {
            problems.push("items outside any account".into());
            continue;
        };
        h.update(&rd.last);
        let records_before = counts.records;
        items.iter().for_each(|i| count_item(i, counts));
        order.check(*account, &items, &mut problems);
        progress.inc(counts.records - records_before);
        visit(*account, items, &mut problems)?;
    }
    let mut probe = [0u8; 1];
    if rd
        .inner()
        .read(&mut probe)
        .map_err(super::crypto::read_error)?
        != 0
    {
        problems.push("bytes after the footer".into());
    }
    let Some((t, _, digest)) = trailer else {
        return Err(bad("no trailer"));
    };
    if t.digest != digest {
        problems.push("digest does not match the contents".into());
    }
    if t.accounts != seen {
        problems.push("account index does not match the contents".into());
    }
    let mut totals = Counts::default();
    seen.iter().for_each(|i| totals.add(&i.counts));
    if totals != t.totals {
        problems.push("counts do not match the contents".into());
    }
    progress.finish();
    Ok(VerifyReport {
        scope: header.scope,
        kind: header.kind,
        store_id: header.store_id,
        created_at: header.created_at,
        counts: totals,
        accounts: seen.iter().map(|i| i.account).collect(),
        index: seen,
        problems,
    })
}
