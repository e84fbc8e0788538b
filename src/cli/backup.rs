//! `crmstore backup ...` and `crmstore serve`: the operator's commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use crmstore::backup::{self, BackupOptions, Decryption, Encryption, Keep, Kind};
use crmstore::schedule::{BackupScheduler, ScheduleConfig};
use crmstore::{Error, Timestamp};

use crate::{output, progress, Global, Outcome};

/// How to open an archive: an identity file or a passphrase file.
#[derive(Args)]
pub struct Key {
    /// An age identity file (from `backup keygen`).
    #[arg(long, conflicts_with = "passphrase_file")]
    identity: Option<PathBuf>,
    /// A file whose first line is the passphrase.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

impl Key {
    fn open(&self) -> crmstore::Result<Decryption> {
        match (&self.identity, &self.passphrase_file) {
            (Some(i), _) => Decryption::identity_file(i),
            (None, Some(p)) => Decryption::passphrase_file(p),
            (None, None) => Err(Error::Invalid(
                "no key given (pass --identity KEYFILE or --passphrase-file FILE)".into(),
            )),
        }
    }
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Write an age identity file; print its public key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write an encrypted archive of the store (or one account).
    Create {
        /// A folder, or object storage: s3://bucket/prefix, gs://..., az://...
        #[arg(long, value_parser = place)]
        to: PathBuf,
        /// age public keys (age1...); repeat for several.
        #[arg(long = "recipient", conflicts_with = "passphrase_file")]
        recipients: Vec<String>,
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        #[arg(long)]
        account: Option<u64>,
        #[arg(long, default_value = "manual", value_parser = ["manual", "weekly", "monthly"])]
        kind: String,
    },
    /// The archives in a folder, and whether each still matches its sidecar.
    List {
        #[arg(long, value_parser = place)]
        dir: PathBuf,
    },
    /// Decrypt and check everything; write nothing.
    Verify {
        #[arg(value_parser = place)]
        file: PathBuf,
        #[command(flatten)]
        key: Key,
    },
    /// Restore a full archive to a new store (--to), or one account into --db.
    Restore {
        #[arg(value_parser = place)]
        file: PathBuf,
        #[command(flatten)]
        key: Key,
        #[arg(long, conflicts_with_all = ["account", "as_new"])]
        to: Option<PathBuf>,
        #[arg(long)]
        account: Option<u64>,
        #[arg(long, requires = "account")]
        as_new: Option<u64>,
    },
    /// Keep the newest N weekly and M monthly archives; never manual ones.
    Prune {
        #[arg(long, value_parser = place)]
        dir: PathBuf,
        #[arg(long, default_value_t = 5)]
        keep_weekly: usize,
        #[arg(long, default_value_t = 12)]
        keep_monthly: usize,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// The TOML config ([backup] dir, recipients, weekly, monthly, keep_*; [trash] purge).
    #[arg(long)]
    config: PathBuf,
}

/// A folder or archive: a path, `file:///path`, or an object storage URL.
fn place(given: &str) -> Result<PathBuf, String> {
    backup::destination(given).map_err(|e| e.to_string())
}

fn name(p: &Path) -> String {
    p.display().to_string()
}

pub fn run(g: &Global, c: BackupCommand) -> Outcome {
    match c {
        BackupCommand::Keygen { out } => {
            let public = backup::keygen(&out)?;
            output::line(public)?;
        }
        BackupCommand::Create {
            to,
            recipients,
            passphrase_file,
            account,
            kind,
        } => {
            let encryption = match passphrase_file {
                Some(p) => Encryption::passphrase_file(&p)?,
                None => Encryption::recipients(&recipients)?,
            };
            let opts = BackupOptions {
                dir: to,
                encryption,
                account,
                kind: Kind::parse(&kind)?,
            };
            let bar = progress::Bar::new("backing up");
            let a = g.store()?.operator().backup(&opts, &bar)?;
            if g.json {
                output::line(
                    serde_json::json!({ "file": name(&a.file), "sha256": a.sha256, "size": a.size }),
                )?;
            } else {
                output::line(format!(
                    "wrote {} ({} bytes, sha256 {})",
                    name(&a.file),
                    a.size,
                    a.sha256
                ))?;
            }
        }
        BackupCommand::List { dir } => {
            let listed = backup::list(&dir)?;
            for f in backup::unlisted(&dir)? {
                crate::output::note(format!(
                    "note: {} has no sidecar that matches it, so it is not listed: \
                     `crmstore backup verify {} --identity KEY` checks it and rebuilds one",
                    name(&f),
                    f.display()
                ));
            }
            if g.json {
                for l in &listed {
                    output::line(serde_json::json!({
                        "file": name(&l.file), "created_at": l.created_at(), "scope": l.scope(),
                        "kind": l.kind(), "size": l.size(), "sha256": l.sha256(), "intact": l.intact,
                        "verified": l.verified,
                        "counts": l.counts(),
                    }))?;
                }
            } else {
                let rows: Vec<Vec<String>> = listed
                    .iter()
                    .map(|l| {
                        vec![
                            l.file
                                .file_name()
                                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                            l.created_at().to_string(),
                            l.scope().to_string(),
                            l.kind().name().into(),
                            l.counts().records.to_string(),
                            l.size().to_string(),
                            if l.intact { "yes" } else { "NO" }.into(),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "file",
                        "created_at",
                        "scope",
                        "kind",
                        "records",
                        "size",
                        "intact",
                    ],
                    &rows,
                )?;
            }
        }
        BackupCommand::Verify { file, key } => {
            let bar = progress::Bar::new("verifying");
            let rep = backup::verify(&file, &key.open()?, &bar)?;
            if !rep.is_intact() {
                for p in &rep.problems {
                    crate::output::note(format!("problem: {p}"));
                }
                return Err(Error::Corrupt(format!(
                    "`{}` is damaged: {} problem(s) found",
                    name(&file),
                    rep.problems.len()
                )));
            }
            // An archive whose sidecar was lost gets it back (derived data),
            // then the verification is recorded: what lets prune remove
            // older archives of this kind.
            let rebuilt = backup::rebuild_sidecar(&file, &rep)?;
            if rebuilt {
                crate::output::note(format!("note: rebuilt the sidecar of {}", name(&file)));
            }
            let recorded = backup::record_verified(&file, crmstore::Timestamp::now())?;
            if g.json {
                output::line(
                    serde_json::json!({ "file": name(&file), "intact": true, "scope": rep.scope.to_string(), "counts": rep.counts, "recorded": recorded }),
                )?;
            } else {
                output::line(format!(
                    "{} is intact: {} ({} records, {} audit events)",
                    name(&file),
                    rep.scope,
                    rep.counts.records,
                    rep.counts.audit
                ))?;
            }
        }
        BackupCommand::Restore {
            file,
            key,
            to,
            account,
            as_new,
        } => {
            let key = key.open()?;
            let counts = match (to, account) {
                (Some(to), _) => {
                    backup::restore_store(&file, &key, &to, &progress::Bar::new("restoring"))?
                }
                (None, Some(a)) => g
                    .store()?
                    .operator()
                    .restore_account(&file, &key, a, as_new)?,
                (None, None) => {
                    return Err(Error::Invalid(
                        "say where to restore: --to NEWDB, or --db P --account A".into(),
                    ))
                }
            };
            if g.json {
                output::line(serde_json::json!({ "restored": true, "counts": counts }))?;
            } else {
                output::line(format!(
                    "restored {} records, {} trash batches, {} audit events",
                    counts.records, counts.batches, counts.audit
                ))?;
            }
        }
        BackupCommand::Prune {
            dir,
            keep_weekly,
            keep_monthly,
        } => {
            let plan = backup::prune(
                &dir,
                Timestamp::now(),
                Keep {
                    weekly: keep_weekly,
                    monthly: keep_monthly,
                },
            )?;
            for d in &plan {
                if g.json {
                    output::line(
                        serde_json::json!({ "file": d.name, "keep": d.keep, "reason": d.reason }),
                    )?;
                } else {
                    output::line(format!(
                        "{} {}: {}",
                        if d.keep { "keep  " } else { "remove" },
                        d.name,
                        d.reason
                    ))?;
                }
            }
        }
    }
    Ok(())
}

pub fn serve(g: &Global, a: &ServeArgs) -> Outcome {
    let text = std::fs::read_to_string(&a.config)
        .map_err(|e| Error::io_at("cannot read config", &a.config, e))?;
    let cfg = ScheduleConfig::parse(&text)?;
    let store = Arc::new(g.store()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut sched = BackupScheduler::new(store, cfg)?.on_run(|e| match e.outcome {
            Ok(done) => crate::output::note(format!("crmstore serve: {}: {done}", e.what)),
            Err(err) => crate::output::note(format!(
                "error: crmstore serve: {} failed (exit {}): {err}",
                e.what,
                err.exit_code()
            )),
        });
        // Listening before anything runs: a SIGTERM during the catch-up
        // stops it cleanly too (the run in progress ends, nothing new starts).
        let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = stop_signal()?;
        let (stopped_tx, stopped) = tokio::sync::oneshot::channel();
        {
            let signalled = signalled.clone();
            tokio::spawn(async move {
                let r = stop.await;
                signalled.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = stopped_tx.send(r);
            });
        }
        let caught = tokio::task::block_in_place(|| {
            std::thread::scope(|s| {
                let run = s.spawn(|| sched.catch_up(Timestamp::now()));
                while !run.is_finished() {
                    if signalled.load(std::sync::atomic::Ordering::SeqCst) {
                        sched.request_stop();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                run.join()
                    .unwrap_or_else(|_| Err(Error::Storage("the catch-up failed".into())))
            })
        });
        // A failing catch-up is logged, as a failing scheduled run is, and
        // serving goes on: the next scheduled run may well succeed.
        match caught {
            Ok(ran) => {
                for k in ran {
                    crate::output::note(format!(
                        "crmstore serve: caught up a missed {} backup",
                        k.name()
                    ));
                }
            }
            Err(e) => crate::output::note(format!(
                "error: crmstore serve: catch-up failed (exit {}): {e}",
                e.exit_code()
            )),
        }
        if !signalled.load(std::sync::atomic::Ordering::SeqCst) {
            sched.start().await?;
            crate::output::note("crmstore serve: running (stop with Ctrl-C or SIGTERM)");
            stopped.await.map_err(|e| Error::Storage(e.to_string()))??;
        }
        crate::output::note("crmstore serve: stopping; waiting for the run in progress");
        sched.stop().await?;
        Ok(())
    })
}

/// A future that resolves at Ctrl-C or SIGTERM; the handlers are installed
/// before it is returned.
fn stop_signal() -> crmstore::Result<impl std::future::Future<Output = crmstore::Result<()>>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            r = ctrl_c => r?,
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        ctrl_c.await?;
        Ok(())
    })
}
