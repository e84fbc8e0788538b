//! Commands of admins and operators: load, dump, trash, user, audit, check, gen.

use std::path::Path;

use clap::{Args, Subcommand};

use crmstore::synth::GenSpec;
use crmstore::{Error, Loaded, Timestamp};

use crate::records::Actor;
use crate::{output, progress, Global, Outcome};

#[derive(Subcommand)]
pub enum TrashCommand {
    /// The batches the user may see.
    List(Actor),
    /// Put back a batch, or only some of its records (with their ancestors).
    Restore {
        #[command(flatten)]
        actor: Actor,
        batch: u64,
        #[arg(long, num_args = 1..)]
        only: Option<Vec<u64>>,
    },
    /// Remove a batch for good (admins only).
    Purge {
        #[command(flatten)]
        actor: Actor,
        batch: u64,
    },
    /// Purge every account's batches past their retention (what `serve` runs daily).
    PurgeExpired {
        /// The time to judge expiry by (RFC 3339; default now).
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    Block {
        #[command(flatten)]
        actor: Actor,
        /// The user to block. (Its own clap id: `--as` is `user` already.)
        #[arg(id = "target", value_name = "U2")]
        user: u64,
    },
    Unblock {
        #[command(flatten)]
        actor: Actor,
        /// The user to unblock.
        #[arg(id = "target", value_name = "U2")]
        user: u64,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Events in ascending seq.
    List {
        #[arg(long)]
        account: u64,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        action: Option<String>,
    },
    /// Exit 0 when the hash chain is whole; 5 naming the first broken seq.
    Verify {
        #[arg(long)]
        account: u64,
    },
}

#[derive(Args)]
pub struct GenArgs {
    #[arg(long, default_value_t = 1)]
    account: u64,
    #[arg(long)]
    records: u64,
    #[arg(long)]
    users: u64,
    #[arg(long)]
    teams: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn load(g: &Global, file: &Path) -> Outcome {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io_at("cannot read", file, e))?;
    let Loaded {
        account,
        records: count,
    } = g.store()?.operator().load_json(&text)?;
    if g.json {
        output::line(serde_json::json!({ "account": account, "records": count }))?;
    } else {
        output::line(format!("loaded account {account} with {count} records"))?;
    }
    Ok(())
}

pub fn dump(g: &Global, account: u64) -> Outcome {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    g.reader()?.operator().dump(account, &mut out)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

pub fn trash(g: &Global, c: TrashCommand) -> Outcome {
    match c {
        TrashCommand::List(actor) => {
            let (store, ctx) = actor.open_read(g)?;
            let batches = store.trash_list(&ctx)?;
            output::listing(
                g.json,
                &batches,
                |b| b.to_json(),
                &[
                    "batch",
                    "deleted_by",
                    "deleted_at",
                    "expires_at",
                    "count",
                    "records",
                ],
                |b| {
                    let ids: Vec<String> = b
                        .records
                        .iter()
                        .map(|r| format!("{}:{}", r.module, r.id))
                        .collect();
                    vec![
                        b.id.to_string(),
                        b.deleted_by.to_string(),
                        b.deleted_at.to_rfc3339(),
                        b.expires_at.to_rfc3339(),
                        b.records.len().to_string(),
                        ids.join(" "),
                    ]
                },
            )?;
        }
        TrashCommand::Restore { actor, batch, only } => {
            let (store, ctx) = actor.open(g)?;
            let n = store.restore_batch(&ctx, batch, only.as_deref())?;
            report(g, "restored", batch, n)?;
        }
        TrashCommand::Purge { actor, batch } => {
            let (store, ctx) = actor.open(g)?;
            let n = store.purge(&ctx, batch)?;
            report(g, "purged", batch, n)?;
        }
        TrashCommand::PurgeExpired { now } => {
            let now = now
                .as_deref()
                .map(Timestamp::parse)
                .transpose()?
                .unwrap_or_else(Timestamp::now);
            // What `serve` runs daily: the trash, and the authorization log
            // past its retention.
            let store = g.store()?;
            let n = store.operator().purge_expired(now)?;
            let events = store.operator().purge_auth_logs(now)?;
            if g.json {
                output::line(serde_json::json!({ "purged": n, "auth_events_purged": events }))?;
            } else {
                output::line(format!(
                    "purged {n} expired record(s), {events} old authorization event(s)"
                ))?;
            }
        }
    }
    Ok(())
}

fn report(g: &Global, what: &str, batch: u64, n: u64) -> crmstore::Result<()> {
    if g.json {
        output::line(serde_json::json!({ "batch": batch, what: n }))
    } else {
        output::line(format!("{what} {n} record(s) of batch {batch}"))
    }
}

pub fn user(g: &Global, c: UserCommand) -> Outcome {
    let (actor, user, blocked) = match c {
        UserCommand::Block { actor, user } => (actor, user, true),
        UserCommand::Unblock { actor, user } => (actor, user, false),
    };
    let (store, ctx) = actor.open(g)?;
    store.set_blocked(&ctx, user, blocked)?;
    let word = if blocked { "blocked" } else { "unblocked" };
    if g.json {
        output::line(serde_json::json!({ "user": user, word: true }))?;
    } else {
        output::line(format!("user {user} {word}"))?;
    }
    Ok(())
}

pub fn audit(g: &Global, c: AuditCommand) -> Outcome {
    match c {
        AuditCommand::List {
            account,
            since,
            action,
        } => {
            let since = since.as_deref().map(Timestamp::parse).transpose()?;
            let events = g
                .reader()?
                .operator()
                .audit_list(account, since, action.as_deref())?;
            output::listing(
                g.json,
                &events,
                |e| e.to_json(),
                &["seq", "at", "actor", "action", "target", "count", "detail"],
                |e| {
                    vec![
                        e.seq.to_string(),
                        e.at.to_rfc3339(),
                        e.actor.map_or_else(|| "operator".into(), |a| a.to_string()),
                        e.action.clone(),
                        e.target.clone(),
                        e.count.to_string(),
                        e.detail.clone(),
                    ]
                },
            )?;
            Ok(())
        }
        AuditCommand::Verify { account } => {
            let rep = g.reader()?.operator().audit_verify(account)?;
            match rep.broken {
                None => {
                    if g.json {
                        output::line(serde_json::json!({ "intact": true, "events": rep.events }))?;
                    } else {
                        output::line(format!(
                            "audit chain of account {account} is whole ({} events)",
                            rep.events
                        ))?;
                    }
                    Ok(())
                }
                Some((seq, why)) => Err(Error::Corrupt(format!(
                    "audit chain of account `{account}` is broken at seq `{seq}`: {why}"
                ))),
            }
        }
    }
}

pub fn check(g: &Global) -> Outcome {
    let rep = g.reader()?.operator().check()?;
    if g.json {
        output::line(serde_json::json!({
            "consistent": rep.is_consistent(), "records": rep.records,
            "index_entries": rep.index_entries, "problems": rep.problems,
        }))?;
    } else if rep.is_consistent() {
        output::line(format!(
            "consistent: {} records, {} index entries",
            rep.records, rep.index_entries
        ))?;
    }
    if rep.is_consistent() {
        return Ok(());
    }
    if !g.json {
        for p in &rep.problems {
            crate::output::note(format!("problem: {p}"));
        }
    }
    Err(Error::Inconsistent {
        problems: rep.problem_count,
    })
}

pub fn gen(g: &Global, a: &GenArgs) -> Outcome {
    let spec = GenSpec {
        account: a.account,
        records: a.records,
        users: a.users,
        teams: a.teams,
        seed: a.seed,
    };
    let store = g.store()?;
    let bar = progress::Bar::new("generating");
    store.operator().generate(&spec, &bar)?;
    if g.json {
        output::line(serde_json::json!({ "account": a.account, "records": a.records }))?;
    } else {
        output::line(format!(
            "generated account {} with {} records",
            a.account, a.records
        ))?;
    }
    Ok(())
}
