//! [`Engine`], the store's plumbing: opening the database, one read or write
//! transaction per action, a person's action with its refusal audited, and
//! resolving viewers (cached by directory version). The modules that own a
//! concept (`records`, `trash`, ...) work on it; `Store` (`store/mod.rs`) is
//! the public face that hands off to them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redb::Database;

use crate::access::{AccessContext, Viewer};
use crate::audit::monitor::{self, BlockRequest};
use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::model::network::GatePolicy;
use crate::model::{Directory, Timestamp};
use crate::snapshot::Snapshots;
use crate::txn::{Reader, Tx, Writer};
use open::Db;

mod format;
pub(crate) mod layout;
mod open;

pub use format::FORMAT_VERSION;

/// Where a store reads the time: every action reads it once and acts, stamps
/// and audits at that one time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// An open store file and what every action shares: the database, the kept
/// read snapshot, the viewer cache and the clock. `Store` is its public face.
pub(crate) struct Engine {
    /// Present when this process is the file's only writer (see `snapshot`).
    /// Declared first so a kept snapshot is dropped before the database.
    snapshots: Option<Snapshots>,
    db: open::Db,
    pub(crate) path: PathBuf,
    cache: Mutex<Cache>,
    /// What every action reads its one time from (`OpenOptions::clock`).
    pub(crate) clock: Clock,
}

/// What a write action on behalf of a user works with.
pub(crate) struct Acting<'a> {
    pub v: &'a Viewer,
    pub dir: &'a Directory,
    pub now: Timestamp,
    /// Set by the activity monitor when the refusal must block the user.
    pub block: Option<BlockRequest>,
}

/// Resolved directories and viewers, each tagged with the directory version
/// it was made from; an entry for an older version is never used.
#[derive(Default)]
struct Cache {
    dirs: HashMap<u64, (u64, Arc<Directory>)>,
    gate_policies: HashMap<u64, (u64, Arc<GatePolicy>)>,
    viewers: HashMap<(u64, u64), (u64, Arc<Viewer>)>,
}

impl Engine {
    /// A new store in `file`, an empty file the caller just created (a
    /// restore building a new store under a temporary name, `path`): no
    /// other process opens it, so commits may skip fsync until the last.
    /// `cache_bytes` bounds redb's page cache.
    pub(crate) fn open_private(
        file: std::fs::File,
        path: &Path,
        cache_bytes: usize,
    ) -> Result<Engine> {
        let db = redb::backends::FileBackend::new(file).and_then(|backend| {
            Database::builder()
                .set_cache_size(cache_bytes)
                .create_with_backend(backend)
                .map(Db::Write)
        });
        Engine::with_db(db, path.to_path_buf(), true)
    }

    /// `sole_writer`: no other process can write the file while it is open.
    pub(crate) fn with_db(
        db: std::result::Result<Db, redb::DatabaseError>,
        path: PathBuf,
        sole_writer: bool,
    ) -> Result<Engine> {
        let db = db.map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Conflict(format!(
                "`{}` is open in another process (only stores opened shared, as the \
                 `crmstore` CLI opens them, can be used by two processes at once)",
                path.display()
            )),
            redb::DatabaseError::Storage(redb::StorageError::Io(e))
                if e.kind() == std::io::ErrorKind::NotFound =>
            {
                Error::NotFound(format!("no store at `{}`", path.display()))
            }
            redb::DatabaseError::Storage(redb::StorageError::Corrupted(m))
                if m.contains("truncated") =>
            {
                Error::Corrupt(format!(
                    "`{}` is truncated ({m}): restore it from a backup (docs/operations.md)",
                    path.display()
                ))
            }
            redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
                Error::Incompatible(format!("`{}` is not a crmstore store: {m}", path.display()))
            }
            redb::DatabaseError::Storage(redb::StorageError::Io(e))
                if e.kind() == std::io::ErrorKind::InvalidData =>
            {
                Error::Incompatible(format!("`{}` is not a crmstore store: {e}", path.display()))
            }
            other => Error::from(other),
        })?;
        let store = Engine {
            db,
            path,
            cache: Mutex::new(Cache::default()),
            snapshots: sole_writer.then(Snapshots::default),
            clock: std::sync::Arc::new(Timestamp::now),
        };
        store.guarded(|| store.init())?;
        Ok(store)
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    /// The time now, as this store's clock says: read once per action.
    pub(crate) fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Reader) -> Result<T>) -> Result<T> {
        self.guarded(|| {
            let snapshot = self.reader()?;
            f(&snapshot)
        })
    }

    /// Runs `f`, answering `Corrupt` naming the file if the storage engine
    /// panics inside it: redb 4.6 does on some damaged pages (`btree.rs:1110`
    /// "unreachable", `tests/it/faults.rs` reproduces it), and no input, a
    /// damaged file included, may make a call panic.
    pub(crate) fn guarded<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|p| Err(damaged(&self.path, p.as_ref())))
            .map_err(|e| match e {
                // redb's errors never say which file.
                Error::Storage(m) => Error::Storage(format!("`{}`: {m}", self.path.display())),
                other => other,
            })
    }

    /// The newest snapshot's tables, opened as they are used.
    pub(crate) fn reader(&self) -> Result<Arc<Reader>> {
        let begin = || Ok(Reader::new(self.db.begin_read()?));
        match &self.snapshots {
            Some(s) => s.current(begin),
            None => begin().map(Arc::new),
        }
    }

    /// Runs `f` in one write transaction, committed only if `f` succeeds:
    /// INVARIANT (one transaction per action).
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        self.write_with(redb::Durability::Immediate, f)
    }

    /// [`Store::write`] for bulk work (generation, restore into a new file):
    /// with `Durability::None` the commit skips fsync and is made durable by
    /// the next immediate commit, which the caller must make.
    pub(crate) fn write_with<T>(
        &self,
        durability: redb::Durability,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        self.guarded(|| self.write_unguarded(durability, f))
    }

    fn write_unguarded<T>(
        &self,
        durability: redb::Durability,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut txn = self.db.begin_write()?;
        // A shared file refuses non-durable commits (other processes could
        // not see them); bulk work then simply commits durably.
        match txn.set_durability(durability) {
            Ok(()) | Err(redb::SetDurabilityError::NonDurableCommitUnsupported) => {}
            Err(e) => return Err(Error::Storage(e.to_string())),
        }
        let out = {
            let mut w = Writer::open(&txn)?;
            f(&mut w)
        };
        match out {
            Ok(v) => {
                let committed = txn.commit();
                if let Some(s) = &self.snapshots {
                    s.retire();
                }
                committed?;
                Ok(v)
            }
            Err(e) => {
                txn.abort()?;
                Err(e)
            }
        }
    }

    /// Runs a user's write action `name` in one transaction with the viewer
    /// and directory resolved in it. A refusal (`Denied`) changes nothing of
    /// the action; it is then audited as `access.denied` naming the action,
    /// and if the activity monitor asked for it the user is blocked, both in
    /// one transaction of their own.
    pub(crate) fn act<T>(
        &self,
        ctx: &AccessContext,
        name: &'static str,
        now: Timestamp,
        f: impl FnOnce(&mut Writer<'_>, &mut Acting<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut block = None;
        let result = self.write(|w| {
            let v = self.viewer_in(w, ctx)?;
            let version = w.version_of(ctx.account)?.unwrap_or(0);
            let dir = self.directory_in(w, ctx.account, version)?;
            let mut acting = Acting {
                v: &v,
                dir: &dir,
                now,
                block: None,
            };
            let out = f(w, &mut acting);
            block = acting.block;
            out
        });
        let Err(Error::Denied(msg)) = result else {
            return result;
        };
        let (a, user) = (ctx.account, ctx.user());
        self.write(|w| {
            let e = Entry {
                actor: Some(user),
                action: crate::audit::AuditAction::AccessDenied,
                target: name.to_string(),
                count: 0,
                detail: msg.clone(),
            };
            audit::append(w, a, now, e)?;
            if let Some(b) = &block {
                monitor::set_blocked(w, a, None, user, true, &b.reason, now)?;
            }
            Ok(())
        })?;
        Err(Error::Denied(msg))
    }

    /// Resolves `user` of `account` into the context every read and write on
    /// their behalf takes.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown account or user; [`Error::Denied`]
    /// when the user is inactive or blocked.
    pub(crate) fn context(&self, account: u64, user: u64) -> Result<AccessContext> {
        self.read(|r| self.context_in(r, account, user, None))
    }

    /// [`Engine::context`] in the transaction `t`, for the session `session`
    /// (the access gate's) or none (trusted code's).
    pub(crate) fn context_in(
        &self,
        t: &impl Tx,
        account: u64,
        user: u64,
        session: Option<u64>,
    ) -> Result<AccessContext> {
        let version = t
            .version_of(account)?
            .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?;
        self.context_at(t, account, version, user, session)
    }

    /// [`Engine::context_in`] when the caller read the directory version.
    pub(crate) fn context_at(
        &self,
        t: &impl Tx,
        account: u64,
        version: u64,
        user: u64,
        session: Option<u64>,
    ) -> Result<AccessContext> {
        let viewer = self.viewer(t, account, user, version)?;
        Ok(AccessContext {
            account,
            version,
            viewer,
            session,
        })
    }

    /// The viewer of `ctx` as of the transaction `t`: the context's own when
    /// the directory has not changed since, else resolved anew; refused
    /// when `ctx` came from a session that has ended.
    pub(crate) fn viewer_in(&self, t: &impl Tx, ctx: &AccessContext) -> Result<Arc<Viewer>> {
        let version = t
            .version_of(ctx.account)?
            .ok_or_else(|| Error::NotFound(format!("no account `{}`", ctx.account)))?;
        // A context from the gate works only while its session does: an
        // ending bites even on a context a caller kept.
        if let Some(s) = ctx.session {
            if !t.session_live(ctx.account, ctx.viewer.user, s)? {
                return Err(Error::Denied("not signed in: the session ended".into()));
            }
        }
        if version == ctx.version {
            return Ok(ctx.viewer.clone());
        }
        self.viewer(t, ctx.account, ctx.viewer.user, version)
    }

    fn viewer(&self, t: &impl Tx, account: u64, user: u64, version: u64) -> Result<Arc<Viewer>> {
        if let Some((v, viewer)) = self.cache_lock().viewers.get(&(account, user)) {
            if *v == version {
                return Ok(viewer.clone());
            }
        }
        let dir = self.directory_in(t, account, version)?;
        let viewer = Arc::new(Viewer::resolve(&dir, user)?);
        self.cache_lock()
            .viewers
            .insert((account, user), (version, viewer.clone()));
        Ok(viewer)
    }

    /// The directory of `account` at `version` (from the cache when it has it).
    pub(crate) fn directory_in(
        &self,
        t: &impl Tx,
        account: u64,
        version: u64,
    ) -> Result<Arc<Directory>> {
        if let Some((v, dir)) = self.cache_lock().dirs.get(&account) {
            if *v == version {
                return Ok(dir.clone());
            }
        }
        let dir = Arc::new(
            t.directory_of(account)?
                .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?,
        );
        self.cache_lock()
            .dirs
            .insert(account, (version, dir.clone()));
        Ok(dir)
    }

    /// The account's gate policy (allowlists, shifts) at `version`, parsed once per version.
    pub(crate) fn gate_policy_in(
        &self,
        t: &impl Tx,
        account: u64,
        version: u64,
    ) -> Result<Arc<GatePolicy>> {
        if let Some((v, a)) = self.cache_lock().gate_policies.get(&account) {
            if *v == version {
                return Ok(a.clone());
            }
        }
        let lists = Arc::new(GatePolicy::of(&*self.directory_in(t, account, version)?));
        self.cache_lock()
            .gate_policies
            .insert(account, (version, lists.clone()));
        Ok(lists)
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the cache inconsistent
        // (entries are replaced whole), so a poisoned lock is still usable.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a panic inside the storage engine means for the caller.
pub(crate) fn damaged(path: &Path, panic: &(dyn std::any::Any + Send)) -> Error {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Error::Corrupt(format!(
        "`{}` is damaged: the storage engine failed reading it ({why}); run `crmstore check`, \
         and restore it from a backup if that fails (docs/operations.md)",
        path.display()
    ))
}
