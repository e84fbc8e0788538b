//! The backup scheduler behind `crmstore serve`, for apps embedding crmstore
//! too: weekly and monthly archives (cron expressions, UTC, with seconds),
//! prune after each, a daily trash purge, a missed run caught up once at
//! start. tokio-cron-scheduler fires the jobs; what it does not do, this
//! wrapper does: runs never overlap (a slow run delays the next and a tick
//! arriving while one is already waiting is dropped), a stop waits for the
//! run in progress, and temporary files of a killed run are removed at start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::backup::{self, Archive, BackupOptions, Decryption, Encryption, Keep, Kind};
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::progress::NoProgress;
use crate::store::Store;
use config::{cron, missed};

mod config;
pub use config::ScheduleConfig;

struct Shared {
    store: Arc<Store>,
    cfg: ScheduleConfig,
    encryption: Encryption,
    /// What each new archive is verified with (`None`: not verified).
    decryption: Option<Decryption>,
    /// Held for the whole of a run: runs never overlap.
    gate: Mutex<()>,
    /// A run of that kind is already waiting for the gate.
    queued: [AtomicBool; 3],
    /// A stop was asked for: no run starts any more (one in progress ends).
    stopping: AtomicBool,
}

/// Weekly and monthly backups and the daily trash purge of one store.
pub struct BackupScheduler {
    shared: Arc<Shared>,
    jobs: Option<JobScheduler>,
    hook: RunHook,
}

fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Manual => 0,
        Kind::Weekly => 1,
        Kind::Monthly => 2,
    }
}

impl Shared {
    /// One scheduled backup and the prune after it, never beside another run.
    fn backup(&self, kind: Kind) -> Result<Option<Archive>> {
        let queued = &self.queued[slot(kind)];
        if queued.swap(true, Ordering::SeqCst) {
            return Ok(None);
        }
        let _gate = self
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queued.store(false, Ordering::SeqCst);
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let opts = BackupOptions {
            dir: self.cfg.backup.dir.clone(),
            encryption: self.encryption_clone()?,
            account: None,
            kind,
        };
        let made = self
            .store
            .operator()
            .backup(&opts, &NoProgress)
            .and_then(|archive| self.check(archive));
        let archive = match made {
            Ok(a) => a,
            Err(e) => {
                // An alert, not a prune: the archives there stay as they are.
                self.alert(kind, &e);
                return Err(e);
            }
        };
        let keep = Keep {
            weekly: self.cfg.backup.keep_weekly,
            monthly: self.cfg.backup.keep_monthly,
        };
        backup::prune(&self.cfg.backup.dir, self.store.engine.now(), keep)?;
        Ok(Some(archive))
    }

    /// The restore drill after each scheduled backup: decrypt, every hash,
    /// every value decoded as a restore would; recorded in the sidecar, so
    /// prune may count it. An archive that fails is left for the operator
    /// to look at, and the run fails.
    fn check(&self, archive: Archive) -> Result<Archive> {
        let Some(key) = &self.decryption else {
            return Ok(archive);
        };
        let rep = backup::verify(&archive.file, key, &NoProgress)?;
        if let Some(p) = rep.problems.first() {
            return Err(Error::Corrupt(format!(
                "the new archive `{}` failed its check: {p}",
                archive.file.display()
            )));
        }
        backup::record_verified(&archive.file, self.store.engine.now())?;
        Ok(archive)
    }

    /// Appends `backup.failed` to every account's audit log, as far as the
    /// store lets it (a damaged store may refuse this too: the run's error
    /// is still returned and logged).
    fn alert(&self, kind: Kind, e: &Error) {
        let _ = backup::write::audit_backup_failed(&self.store.engine, kind.name(), &e.to_string());
    }

    fn encryption_clone(&self) -> Result<Encryption> {
        Ok(match &self.encryption {
            Encryption::Recipients(r) => Encryption::Recipients(r.clone()),
            Encryption::Passphrase(p) => Encryption::Passphrase(p.clone()),
        })
    }

    fn purge(&self) -> Result<u64> {
        let _gate = self
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(0);
        }
        // The daily purge: the trash past its retention, and the
        // authorization log past its own (with a checkpoint, so it still
        // verifies). How many trashed records went.
        let now = self.store.engine.now();
        let op = self.store.operator();
        let purged = op.purge_expired(now)?;
        op.purge_auth_logs(now)?;
        Ok(purged)
    }
}

/// What a scheduled run did, for whoever watches (`serve` prints it; the
/// library never prints).
#[derive(Debug)]
pub struct RunEvent {
    /// `weekly backup`, `monthly backup` or `trash purge-expired` (which
    /// also purges the authorization log past its retention).
    pub what: String,
    /// What it did (`Debug` of its result), or why it failed.
    pub outcome: std::result::Result<String, Error>,
}

/// Receives every scheduled run's [`RunEvent`].
pub type RunHook = Arc<dyn Fn(RunEvent) + Send + Sync>;

fn report<T: std::fmt::Debug>(hook: &RunHook, what: &str, r: Result<T>) {
    hook(RunEvent {
        what: what.to_string(),
        outcome: r.map(|v| format!("{v:?}")),
    });
}

impl BackupScheduler {
    /// Checks the config (cron expressions, keys) for `store`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming a bad expression or key.
    pub fn new(store: Arc<Store>, cfg: ScheduleConfig) -> Result<BackupScheduler> {
        for expr in [&cfg.backup.weekly, &cfg.backup.monthly, &cfg.trash.purge] {
            cron(expr)?;
        }
        let encryption = cfg.encryption()?;
        let decryption = cfg.decryption()?;
        let shared = Shared {
            store,
            cfg,
            encryption,
            decryption,
            gate: Mutex::new(()),
            queued: Default::default(),
            stopping: AtomicBool::new(false),
        };
        Ok(BackupScheduler {
            shared: Arc::new(shared),
            jobs: None,
            hook: Arc::new(|_| {}),
        })
    }

    /// Hands every scheduled run's outcome to `hook` (by default nobody
    /// hears of them; `crmstore serve` prints them).
    #[must_use]
    pub fn on_run(mut self, hook: impl Fn(RunEvent) + Send + Sync + 'static) -> Self {
        self.hook = Arc::new(hook);
        self
    }

    /// Runs one backup of `kind` now (and prunes), waiting for any run in progress.
    ///
    /// # Errors
    /// As [`crate::Operator::backup`].
    pub fn run_now(&self, kind: Kind) -> Result<Option<Archive>> {
        self.shared.backup(kind)
    }

    /// Removes temporary files a killed run left, then runs once each
    /// scheduled kind whose last due time at `now` is newer than its newest
    /// archive. Returns the kinds it ran.
    ///
    /// # Errors
    /// As [`crate::Operator::backup`].
    pub fn catch_up(&self, now: Timestamp) -> Result<Vec<Kind>> {
        let dir = &self.shared.cfg.backup.dir;
        backup::clean_temporary(dir)?;
        let listed = if dir.exists() || backup::remote::is_remote(dir) {
            backup::list(dir)?
        } else {
            Vec::new()
        };
        let mut ran = Vec::new();
        for (kind, expr) in [
            (Kind::Weekly, &self.shared.cfg.backup.weekly),
            (Kind::Monthly, &self.shared.cfg.backup.monthly),
        ] {
            let newest = listed
                .iter()
                .filter(|l| l.sidecar.kind == kind && l.sidecar.scope == "full")
                .filter_map(|l| l.sidecar.created().ok())
                .max();
            if missed(expr, newest, now)? && self.shared.backup(kind)?.is_some() {
                ran.push(kind);
            }
        }
        Ok(ran)
    }

    /// Starts the cron jobs (UTC).
    ///
    /// # Errors
    /// [`Error::Invalid`] when the scheduler cannot start.
    pub async fn start(&mut self) -> Result<()> {
        let err =
            |e: tokio_cron_scheduler::JobSchedulerError| Error::Invalid(format!("scheduler: {e}"));
        let sched = JobScheduler::new().await.map_err(err)?;
        for (kind, expr) in [
            (Kind::Weekly, self.shared.cfg.backup.weekly.clone()),
            (Kind::Monthly, self.shared.cfg.backup.monthly.clone()),
        ] {
            let shared = self.shared.clone();
            let hook = self.hook.clone();
            let job = Job::new_async(expr.as_str(), move |_, _| {
                let (shared, hook) = (shared.clone(), hook.clone());
                Box::pin(async move {
                    let r = tokio::task::spawn_blocking(move || shared.backup(kind)).await;
                    report(
                        &hook,
                        &format!("{} backup", kind.name()),
                        r.unwrap_or_else(|e| Err(Error::Invalid(e.to_string()))),
                    );
                })
            })
            .map_err(err)?;
            sched.add(job).await.map_err(err)?;
        }
        let shared = self.shared.clone();
        let hook = self.hook.clone();
        let job = Job::new_async(self.shared.cfg.trash.purge.as_str(), move |_, _| {
            let (shared, hook) = (shared.clone(), hook.clone());
            Box::pin(async move {
                let r = tokio::task::spawn_blocking(move || shared.purge()).await;
                report(
                    &hook,
                    "trash purge-expired",
                    r.unwrap_or_else(|e| Err(Error::Invalid(e.to_string()))),
                );
            })
        })
        .map_err(err)?;
        sched.add(job).await.map_err(err)?;
        sched.start().await.map_err(err)?;
        self.jobs = Some(sched);
        Ok(())
    }

    /// Asks every run not yet started not to start (a catch-up in progress
    /// ends after its current run); `stop` does this first.
    pub fn request_stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// Stops firing jobs and waits for the run in progress to finish; runs
    /// queued behind it do not start.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the scheduler cannot shut down.
    pub async fn stop(&mut self) -> Result<()> {
        self.request_stop();
        if let Some(mut s) = self.jobs.take() {
            s.shutdown()
                .await
                .map_err(|e| Error::Invalid(format!("scheduler: {e}")))?;
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            drop(
                shared
                    .gate
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        })
        .await
        .map_err(|e| Error::Invalid(e.to_string()))
    }
}
