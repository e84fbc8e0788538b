//! Writing an archive: one read transaction (a consistent point in time while
//! writers keep going), streamed through zstd and age to a temporary file,
//! fsynced, renamed, then its sidecar.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use redb::ReadableTable;
use sha2::{Digest, Sha256};

use super::atomic::{publish, tmp_name};
use super::chunks::ChunkWriter;
use super::crypto::Encryption;
use super::format::{
    AccountIndex, ArchiveScope, Counts, Header, ItemRef, Kind, Trailer, ARCHIVE_FORMAT, MAGIC,
};
use super::read::valid;
use super::sidecar::Sidecar;
use crate::audit::{self, Entry};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Directory, Record, Timestamp};
use crate::progress::Progress;
use crate::trash::Batch;
use crate::txn::AccountState;
use crate::txn::{Reader, Tx};

/// What to back up, where, and to whom.
#[derive(Debug)]
pub struct BackupOptions {
    /// The folder the archive and its sidecar go to (created if missing).
    pub dir: PathBuf,
    pub encryption: Encryption,
    /// One account, or the whole store.
    pub account: Option<u64>,
    pub kind: Kind,
}

/// A finished archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    pub file: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub sidecar: Sidecar,
}

/// Counts and hashes the encrypted bytes on their way to the file.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_account<W: Write + Send + 'static>(
    r: &Reader,
    a: u64,
    w: &mut ChunkWriter<W>,
    progress: &dyn Progress,
) -> Result<AccountIndex> {
    // Every value is checked as `verify` and a restore will check it: a
    // damaged store fails its backup, naming what is damaged, rather than
    // writing an archive no restore accepts (issue 18).
    let damaged = |e: Error| {
        Error::Corrupt(format!(
            "backup stopped, the store is damaged: {e}; run `crmstore check` (docs/operations.md)"
        ))
    };
    let start = w.mark()?.pos;
    let mut counts = Counts::default();
    w.push(&ItemRef::Account(a))?;
    let dir = r
        .directory()?
        .get(a)?
        .ok_or_else(|| Error::NotFound(format!("no account `{a}`")))?;
    valid::<Directory>(dir.value()).map_err(damaged)?;
    w.push(&ItemRef::Directory(dir.value()))?;
    if let Some(s) = r.accounts()?.get(a)? {
        valid::<AccountState>(s.value()).map_err(damaged)?;
        w.push(&ItemRef::State(s.value()))?;
    }
    for e in r.records()?.range(Some(a))? {
        let ((_, id), v) = e?;
        crate::index::check_stored(a, id, v.value()).map_err(damaged)?;
        w.push(&ItemRef::Record(id, v.value()))?;
        counts.records += 1;
        if counts.records % 4096 == 0 {
            progress.inc(4096);
        }
    }
    progress.inc(counts.records % 4096);
    for e in r.trash()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        valid::<Batch>(v.value()).map_err(damaged)?;
        w.push(&ItemRef::Batch(k.value().1, v.value()))?;
        counts.batches += 1;
    }
    for e in r.trashed()?.range((a, 0, 0)..=(a, u64::MAX, u64::MAX))? {
        let (k, v) = e?;
        let (_, b, id) = k.value();
        valid::<Record>(v.value()).map_err(damaged)?;
        w.push(&ItemRef::Trashed(b, id, v.value()))?;
        counts.trashed += 1;
    }
    for e in r.audit()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        valid::<audit::Event>(v.value()).map_err(damaged)?;
        w.push(&ItemRef::Audit(k.value().1, v.value()))?;
        counts.audit += 1;
    }
    write_gate(r, a, &dir_logins(dir.value())?, w).map_err(damaged)?;
    let end = w.mark()?;
    let (end, sha256) = (end.pos, end.region);
    Ok(AccountIndex {
        account: a,
        start,
        end,
        counts,
        sha256,
    })
}

/// The logins the users of a directory (stored bytes) link to.
fn dir_logins(dir: &[u8]) -> Result<Vec<String>> {
    let dir: Directory = crate::codec::decode(dir, || "directory".into())?;
    let mut logins: Vec<String> = dir.users.into_iter().filter_map(|u| u.login).collect();
    logins.sort_unstable();
    logins.dedup();
    Ok(logins)
}

/// The access gate's part of account `a`: its state, sessions, log and
/// lockouts, and the credentials of the logins its users link to.
fn write_gate<W: Write + Send + 'static>(
    r: &Reader,
    a: u64,
    logins: &[String],
    w: &mut ChunkWriter<W>,
) -> Result<()> {
    use crate::sessions::{lockout::Lock, log::GateState, login::Login, session::Session};
    if !r.has_gate()? {
        return Ok(());
    }
    if let Some(g) = r.gate()?.get(a)? {
        valid::<GateState>(g.value())?;
        w.push(&ItemRef::Gate(g.value()))?;
    }
    for e in r.sessions()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        valid::<Session>(v.value())?;
        w.push(&ItemRef::Session(k.value().1, v.value()))?;
    }
    for e in r.auth_log()?.range((a, 0)..=(a, u64::MAX))? {
        let (k, v) = e?;
        valid::<crate::sessions::AuthEvent>(v.value())?;
        w.push(&ItemRef::AuthEvent(k.value().1, v.value()))?;
    }
    for e in r.lockouts()?.range((a, "")..)? {
        let (k, v) = e?;
        let (acc, login) = k.value();
        if acc != a {
            break;
        }
        valid::<Lock>(v.value())?;
        w.push(&ItemRef::Lockout(login, v.value()))?;
    }
    for name in logins {
        if let Some(l) = r.logins()?.get(name.as_str())? {
            valid::<Login>(l.value())?;
            w.push(&ItemRef::Login(name, l.value()))?;
        }
    }
    Ok(())
}

/// Writes an encrypted archive of the whole store (or one account) from
/// one read transaction, then its sidecar, and audits `backup.create` in
/// every account it holds. To a folder: a temporary file, fsynced and
/// renamed; to object storage: a multipart upload under a claimed name
/// (`remote::folder::claim`), aborted on any failure. Either way the sidecar
/// comes last, and makes the archive listed.
///
/// # Errors
/// `NotFound` for an unknown account; `Io` when the folder or bucket cannot
/// be written (no partial file is left behind, no partial object listed).
pub(crate) fn backup(
    store: &Engine,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<Archive> {
    if super::remote::is_remote(&opts.dir) {
        return backup_remote(store, opts, progress);
    }
    std::fs::create_dir_all(&opts.dir)
        .map_err(|e| Error::io_at("cannot create folder", &opts.dir, e))?;
    // What killed runs left; a failure to clean must not stop a backup.
    let _ = super::clean_temporary(&opts.dir);
    let now = store.now();
    let scope = opts
        .account
        .map_or(ArchiveScope::Full, ArchiveScope::Account);
    let (path, file, mut guard) = super::name::create_in(&opts.dir, scope, opts.kind, now)?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let w = write_archive(store, opts, out, now, progress)
        .map_err(|e| e.at("cannot write", &tmp_name(&path)))?;
    let sidecar = w.sidecar(&path, now, opts.kind);
    let written = |e| Error::io_at("cannot write", &tmp_name(&path), e);
    let file = w.out.into_inner().map_err(|e| written(e.into_error()))?;
    file.sync_all().map_err(written)?;
    drop(file);
    publish(&mut guard, &path)?;
    sidecar.write(&path)?;
    progress.finish();
    audit_created(store, &w.index, &path, opts.kind, scope, now)?;
    Ok(Archive {
        file: path,
        sha256: w.sha256,
        size: w.size,
        sidecar,
    })
}

/// [`backup`] to object storage.
fn backup_remote(store: &Engine, opts: &BackupOptions, progress: &dyn Progress) -> Result<Archive> {
    use super::remote::{folder, Remote};
    let remote = Remote::open(&opts.dir.to_string_lossy())?;
    // What killed runs left; a failure to clean must not stop a backup.
    let _ = super::clean_temporary(&opts.dir);
    let now = store.now();
    let scope = opts
        .account
        .map_or(ArchiveScope::Full, ArchiveScope::Account);
    let name = folder::claim(&remote, scope, opts.kind, now)?;
    let url = PathBuf::from(remote.url_of(&name));
    let uploaded: Result<_> = (|| {
        // Dropping the upload unfinished (any error below) aborts it.
        let upload = remote.upload(&name)?;
        let w = write_archive(store, opts, upload, now, progress)?;
        let mut sidecar = w.sidecar(Path::new(&name), now, opts.kind);
        sidecar.etag = w.out.finish()?.e_tag;
        remote.put(&format!("{name}.json"), sidecar.to_json()?, true)?;
        Ok((sidecar, w.index, w.sha256, w.size))
    })();
    // The claim kept the name only while the archive was unlisted; a claim
    // left behind is cleaned a day later (`folder::clean`).
    let _ = folder::release(&remote, &name);
    let (sidecar, index, sha256, size) = uploaded?;
    progress.finish();
    audit_created(store, &index, &url, opts.kind, scope, now)?;
    Ok(Archive {
        file: url,
        sha256,
        size,
        sidecar,
    })
}

/// An archive written to `out`, with what its sidecar says of it.
struct Written<W> {
    out: W,
    index: Vec<AccountIndex>,
    totals: Counts,
    scope: ArchiveScope,
    sha256: String,
    size: u64,
    store_id: [u8; 16],
}

impl<W> Written<W> {
    fn sidecar(&self, file: &Path, now: Timestamp, kind: Kind) -> Sidecar {
        Sidecar::new(
            file,
            now,
            self.scope,
            kind,
            self.totals,
            &self.index,
            self.size,
            &self.sha256,
            self.store_id,
        )
    }
}

/// Streams the archive `opts` asks for, from one read transaction, through
/// zstd and age into `out`, hashing what is written.
fn write_archive<W: Write + Send + 'static>(
    store: &Engine,
    opts: &BackupOptions,
    out: W,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Written<W>> {
    let scope = opts
        .account
        .map_or(ArchiveScope::Full, ArchiveScope::Account);
    let hashing = Hashing {
        inner: out,
        hash: Sha256::new(),
        size: 0,
    };
    let store_id = store.store_id()?;
    let (index, totals, hashing) = store.read(|r| {
        let accounts: Vec<u64> = match opts.account {
            Some(a) => {
                r.version_of(a)?
                    .ok_or_else(|| Error::NotFound(format!("no account `{a}`")))?;
                vec![a]
            }
            None => r
                .directory()?
                .range::<u64>(..)?
                .map(|e| Ok(e?.0.value()))
                .collect::<Result<_>>()?,
        };
        progress.set_len(match opts.account {
            Some(a) => crate::account::record_count(r, a)?,
            None => r.records()?.len()?,
        });
        let mut w = ChunkWriter::new(opts.encryption.wrap(hashing)?);
        w.push(&ItemRef::Header(&Header {
            magic: MAGIC,
            format: ARCHIVE_FORMAT,
            created_at: now,
            scope,
            kind: opts.kind,
            store_id,
        }))?;
        let mut index = Vec::with_capacity(accounts.len());
        let mut totals = Counts::default();
        for a in accounts {
            let i = write_account(r, a, &mut w, progress)?;
            totals.add(&i.counts);
            index.push(i);
        }
        let digest = w.mark()?.total;
        let trailer = Trailer {
            accounts: index,
            totals,
            digest,
        };
        let age = w.finish(&trailer)?;
        let index = trailer.accounts;
        Ok((index, totals, age.finish()?))
    })?;
    let Hashing { inner, hash, size } = hashing;
    Ok(Written {
        out: inner,
        index,
        totals,
        scope,
        sha256: hex::encode(hash.finalize()),
        size,
        store_id,
    })
}

/// Audits `backup.create` of `file` in every account the archive holds.
fn audit_created(
    store: &Engine,
    index: &[AccountIndex],
    file: &Path,
    kind: Kind,
    scope: ArchiveScope,
    now: Timestamp,
) -> Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    store.write(|w| {
        for i in index {
            let e = Entry {
                actor: None,
                action: crate::audit::AuditAction::BackupCreate,
                target: name.clone(),
                count: i.counts.records,
                detail: format!("{} {}", kind.name(), scope),
            };
            audit::append(w, i.account, now, e)?;
        }
        Ok(())
    })
}

/// Appends `backup.failed` (naming the kind and why) to every account's
/// audit log: the alert a failed scheduled backup leaves for admins.
///
/// # Errors
/// Storage errors (a damaged store may refuse this too).
pub(crate) fn audit_backup_failed(store: &Engine, kind: &str, why: &str) -> Result<()> {
    let now = store.now();
    store.write(|w| {
        let accounts: Vec<u64> = w
            .directory
            .range::<u64>(..)?
            .map(|e| Ok(e?.0.value()))
            .collect::<Result<_>>()?;
        for a in accounts {
            let e = Entry {
                actor: None,
                action: crate::audit::AuditAction::BackupFailed,
                target: kind.to_string(),
                count: 0,
                detail: why.to_string(),
            };
            audit::append(w, a, now, e)?;
        }
        Ok(())
    })
}
