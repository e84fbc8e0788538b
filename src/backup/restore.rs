//! Restores: a whole store into a new file (renamed into place only after
//! every check passed), and one account into a live store (seeking straight
//! to it) in one write transaction.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc::Receiver;

use redb::ReadableTable;
use sha2::Digest;

use super::atomic::{create_temp, publish, tmp_name};
use super::chunks::{Chunk, ChunkReader};
use super::crypto::Decryption;
use super::format::{bad, footer_offset, ArchiveScope, Counts, Header, Item, Trailer, FOOTER_LEN};
use super::read::{header_of, open, valid, walk, Plain};
use crate::audit::{self, Entry};
use crate::codec;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Directory, Record, Timestamp};
use crate::progress::{NoProgress, Progress};
use crate::sessions::lockout::Lock;
use crate::sessions::login::Login;
use crate::sessions::session::{EndReason, Session};
use crate::sessions::AuthEvent;
use crate::trash::Batch;
use crate::txn::{AccountState, Tx, Writer};
use crate::{bulk, index};

/// Items landed at a time: per write transaction by a full restore, per
/// `land` inside an account restore's one transaction. A transaction per
/// 1 MiB chunk (~3,000 records) rewrote and wrote out the same index leaves
/// (one per owner, team and stage) at every commit, and the more items a
/// landing holds, the longer its cursor runs; this many is ~20 MiB of
/// archive items held at once.
const LAND_BATCH: usize = 65_536;

/// Chunks (~1 MiB of items each) read ahead of the landing. 1M records, six
/// runs each: 2 ahead 2.9 s median and 96 MiB peak RSS, 8 ahead 2.5 s and 110 MiB.
const CHUNKS_AHEAD: usize = 8;

/// redb's page cache while a full restore builds a new file. Nothing reads
/// that file during the restore, so a larger cache buys no speed (1M records:
/// 4.9–5.4 s with 16 MiB to 1 GiB), only memory: with redb's default of 1 GiB
/// the restore's peak RSS grew with the store (365 MiB at 1M records).
const RESTORE_CACHE_BYTES: usize = 64 << 20;

/// How the items of one account land in a store.
struct Landing {
    target: u64,
    /// Take the archived audit log and counters (new account or new store);
    /// otherwise keep the live log and merge counters upward. The same for
    /// the access gate's log, sessions and lockouts.
    take_log: bool,
    /// When the restore runs (archived sessions end then).
    now: crate::model::Timestamp,
}

/// Lands a batch of one account's archive items. Records (with their index
/// entries) and the trash and audit tables land in `bulk` runs: each kind
/// comes in key order, so a batch costs a few cursor runs per table rather
/// than a B-tree descent per entry. A key given twice is refused.
fn land(w: &mut Writer<'_>, l: &Landing, items: &[Item], counts: &mut Counts) -> Result<()> {
    let place = || "archive".to_string();
    let a = l.target;
    let mut records = Vec::new();
    let (mut batches, mut trashed, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sessions, mut auth) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            Item::Directory(b) => {
                let mut dir: Directory = codec::decode(b, place)?;
                dir.account.id = a;
                w.put_directory(&dir)?;
            }
            Item::State(b) => {
                let archived: AccountState = codec::decode(b, place)?;
                let state = if l.take_log {
                    archived
                } else {
                    let live = w.state(a)?;
                    AccountState {
                        next_record: live.next_record.max(archived.next_record),
                        next_batch: live.next_batch.max(archived.next_batch),
                        ..live
                    }
                };
                w.put_state(a, &state)?;
            }
            // Read in place and checked whole by `save_all`.
            Item::Record(id, b) => records.push((*id, b.as_slice())),
            Item::Batch(id, b) => {
                valid::<Batch>(b)?;
                batches.push(((a, *id), b.as_slice()));
            }
            Item::Trashed(batch, id, b) => {
                valid::<Record>(b)?;
                trashed.push(((a, *batch, *id), b.as_slice()));
            }
            Item::Audit(seq, b) => {
                if l.take_log {
                    valid::<audit::Event>(b)?;
                    events.push(((a, *seq), b.as_slice()));
                }
                counts.audit += 1;
            }
            Item::Account(_) => {}
            Item::Header(_) | Item::Trailer(_) => {
                return Err(bad("header or trailer in the middle"))
            }
            Item::Gate(b) => land_gate(w, l, b)?,
            Item::Session(id, b) if l.take_log => {
                // History only: a session live at the backup is ended now.
                let mut s: Session = codec::decode(b, place)?;
                if s.end_reason.is_none() {
                    s.ended_at = Some(l.now);
                    s.end_reason = Some(EndReason::Restored);
                }
                sessions.push(((a, *id), codec::encode(&s)?));
            }
            Item::AuthEvent(seq, b) if l.take_log => {
                valid::<AuthEvent>(b)?;
                auth.push(((a, *seq), b.as_slice()));
            }
            Item::Lockout(login, b) if l.take_log => {
                valid::<Lock>(b)?;
                let login = crate::sessions::login::normalize(login)?;
                w.lockouts.insert((a, login.as_str()), b.as_slice())?;
            }
            // The login's credentials as they are in this store win: the
            // person's password today, not the one at the backup.
            Item::Login(name, b) => {
                valid::<Login>(b)?;
                let name = crate::sessions::login::normalize(name)?;
                if w.logins.get(name.as_str())?.is_none() {
                    w.logins.insert(name.as_str(), b.as_slice())?;
                }
            }
            Item::Session(..) | Item::AuthEvent(..) | Item::Lockout(..) => {}
        }
    }
    let sessions: Vec<_> = sessions.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    land_new(&mut w.sessions, &sessions, "session")?;
    land_new(&mut w.auth_log, &auth, "auth event")?;
    index::save_all(w, a, &records)?;
    land_new(&mut w.trash, &batches, "trash batch")?;
    land_new(&mut w.trashed, &trashed, "trashed record")?;
    land_new(&mut w.audit, &events, "audit event")?;
    counts.records += records.len() as u64;
    counts.batches += batches.len() as u64;
    counts.trashed += trashed.len() as u64;
    Ok(())
}

/// The gate's counters: the archive's with its log, else the live ones with
/// session ids past both.
fn land_gate(w: &mut Writer<'_>, l: &Landing, b: &[u8]) -> Result<()> {
    use crate::sessions::log::{put_state, state, GateState};
    let archived: GateState = codec::decode(b, || "archive".to_string())?;
    let st = if l.take_log {
        archived
    } else {
        let live = state(w, l.target)?;
        GateState {
            next_session: live.next_session.max(archived.next_session),
            ..live
        }
    };
    put_state(w, l.target, &st)
}

/// Lands stored values no two of which may share a key.
fn land_new<'e, K: redb::Key + 'static>(
    table: &mut redb::Table<'_, K, &'static [u8]>,
    entries: &'e [(K::SelfType<'e>, &'e [u8])],
    what: &str,
) -> Result<()> {
    match bulk::insert_new(table, entries)? {
        None => Ok(()),
        Some(_) => Err(bad(format_args!("a {what} is given twice"))),
    }
}

/// Builds a new store file at `to` from a full archive. Refuses to overwrite;
/// writes under a temporary name and renames only when every check passed.
///
/// # Errors
/// `Conflict` when `to` exists; `Invalid` for an account archive;
/// `Crypto`/`Corrupt`/`Incompatible` for a bad archive (nothing is left at `to`).
pub fn restore_store(
    file: &Path,
    key: &Decryption,
    to: &Path,
    progress: &dyn Progress,
) -> Result<Counts> {
    if to.exists() {
        return Err(Error::Conflict(format!(
            "`{}` exists; restore builds a new store file",
            to.display()
        )));
    }
    let folder = match to.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => to,
    };
    if !folder.is_dir() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder");
        return Err(Error::io_at("cannot restore into", folder, missing));
    }
    let plain = open(file, key)?;
    // A killed restore to the same place left its temporary file.
    let stale = tmp_name(to);
    if super::atomic::is_stale(&stale) {
        std::fs::remove_file(&stale).map_err(|e| Error::io_at("cannot remove", &stale, e))?;
    }
    let (tmp_file, mut guard) = create_temp(to)?;
    let store = Engine::open_private(tmp_file, &tmp_name(to), RESTORE_CACHE_BYTES)?;
    let mut counts = Counts::default();
    // One pass: every chunk lands as it is read, and every hash, count and
    // the footer are checked on the way; the file is renamed into place only
    // if all of them hold.
    let full = |h: &Header| match h.scope {
        ArchiveScope::Full => Ok(()),
        ArchiveScope::Account(_) => Err(Error::Invalid(format!(
            "`{}` holds one account; restore it with --account into a store",
            file.display()
        ))),
    };
    // Not durable batch by batch: made durable by the commit of the audit
    // events below.
    let now = store.now();
    let land_all = |a: u64, items: Vec<Item>| {
        let before = counts.records;
        store.write_with(redb::Durability::None, |w| {
            let landing = Landing {
                target: a,
                take_log: true,
                now,
            };
            land(w, &landing, &items, &mut counts)
        })?;
        progress.inc(counts.records - before);
        Ok(())
    };
    // Reading (decrypting, decompressing, hashing, splitting into items) runs
    // on its own thread a few chunks ahead of the landing, which reports the
    // progress: 1M records, 2.6 -> 2.2 s (median of five; more CPU, ~28 MiB
    // more memory for the chunks in flight).
    let (send, chunks) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
    let report = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            walk(plain, &NoProgress, full, |a, items, _| {
                send.send((a, items))
                    .map_err(|_| Error::Storage("the restore stopped landing".into()))
            })
        });
        // A landing error drops `chunks`, which stops the reader.
        let landed = land_chunks(chunks, land_all);
        let report = reader
            .join()
            .map_err(|_| Error::Storage("the archive reader failed".into()))?;
        landed.and(report)
    })?;
    if let Some(p) = report.problems.first() {
        return Err(Error::Corrupt(p.clone()));
    }
    let now = Timestamp::now();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    store.write(|w| {
        for &a in &report.accounts {
            let e = Entry {
                actor: None,
                action: crate::audit::AuditAction::BackupRestore,
                target: name.clone(),
                count: 0,
                detail: "whole store".into(),
            };
            audit::append(w, a, now, e)?;
        }
        Ok(())
    })?;
    drop(store);
    publish(&mut guard, to)?;
    progress.finish();
    Ok(counts)
}

/// Lands the chunks the reader sends, one account at a time and up to
/// [`LAND_BATCH`] items per call of `land_all` (one transaction each).
fn land_chunks(
    chunks: Receiver<(u64, Vec<Item>)>,
    mut land_all: impl FnMut(u64, Vec<Item>) -> Result<()>,
) -> Result<()> {
    let mut pending: (u64, Vec<Item>) = (0, Vec::new());
    for (a, items) in chunks {
        if pending.0 != a && !pending.1.is_empty() {
            land_all(pending.0, std::mem::take(&mut pending.1))?;
        }
        pending.0 = a;
        pending.1.extend(items);
        if pending.1.len() >= LAND_BATCH {
            land_all(a, std::mem::take(&mut pending.1))?;
        }
    }
    if pending.1.is_empty() {
        return Ok(());
    }
    land_all(pending.0, pending.1)
}

/// The trailer of a seekable archive, after checking its header.
fn trailer_of(rd: &mut Plain) -> Result<Trailer> {
    let mut head = ChunkReader::new(&mut *rd, 0);
    let Chunk::Items(first) = head.next()? else {
        return Err(bad("no header"));
    };
    header_of(&first)?;
    let end = rd
        .seek(SeekFrom::End(-(FOOTER_LEN as i64)))
        .map_err(super::crypto::read_error)?;
    let mut tail = [0u8; FOOTER_LEN as usize];
    rd.read_exact(&mut tail)
        .map_err(super::crypto::read_error)?;
    let at = footer_offset(&tail)?;
    if at >= end {
        return Err(bad("footer points past the end"));
    }
    rd.seek(SeekFrom::Start(at))
        .map_err(super::crypto::read_error)?;
    match ChunkReader::new(&mut *rd, at).next()? {
        Chunk::Items(items) => match items.into_iter().next() {
            Some(Item::Trailer(t)) => Ok(t),
            _ => Err(bad("footer does not point at the trailer")),
        },
        Chunk::Footer(_) => Err(bad("footer does not point at the trailer")),
    }
}

/// [`Store::restore_account`].
pub(crate) fn restore_account(
    store: &Engine,
    file: &Path,
    key: &Decryption,
    account: u64,
    as_new: Option<u64>,
) -> Result<Counts> {
    let mut rd = open(file, key)?;
    let trailer = trailer_of(&mut rd)?;
    let idx = trailer
        .accounts
        .iter()
        .find(|i| i.account == account)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "archive `{}` holds no account `{account}`",
                file.display()
            ))
        })?
        .clone();
    rd.seek(SeekFrom::Start(idx.start))
        .map_err(super::crypto::read_error)?;
    let target = as_new.unwrap_or(account);
    let now = store.now();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    store.write(|w| {
        let exists = w.version_of(target)?.is_some();
        if as_new.is_some() && exists {
            return Err(Error::Conflict(format!(
                "account `{target}` exists; --as-new needs a free account id"
            )));
        }
        if exists {
            w.clear_account(target)?;
        }
        let landing = Landing {
            target,
            take_log: as_new.is_some() || !exists,
            now,
        };
        let mut chunks = ChunkReader::new(&mut rd, idx.start);
        let mut counts = Counts::default();
        let mut pending = Vec::new();
        while chunks.pos < idx.end {
            let Chunk::Items(items) = chunks.next()? else {
                return Err(bad("account ends early"));
            };
            pending.extend(items);
            if pending.len() >= LAND_BATCH {
                land(w, &landing, &std::mem::take(&mut pending), &mut counts)?;
            }
        }
        land(w, &landing, &pending, &mut counts)?;
        let sha: [u8; 32] = chunks.hash.finalize().into();
        if chunks.pos != idx.end || sha != idx.sha256 {
            return Err(bad(format_args!(
                "account `{account}` does not match its hash"
            )));
        }
        if counts != idx.counts {
            return Err(bad(format_args!(
                "account `{account}` does not match its counts"
            )));
        }
        // The account's people may have changed: its live sessions end,
        // and every login its users name exists.
        if let Some(dir) = w.directory_of(target)? {
            crate::sessions::on_directory(w, None, &dir, now, now)?;
        }
        let detail = match as_new {
            Some(n) => format!("account {account} restored as new account {n}"),
            None => format!("account {account} replaced"),
        };
        audit::append(
            w,
            target,
            now,
            Entry {
                actor: None,
                action: crate::audit::AuditAction::BackupRestore,
                target: name.clone(),
                count: counts.records,
                detail,
            },
        )?;
        Ok(counts)
    })
}
