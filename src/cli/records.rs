//! Commands acting on records for a user: get, query, create, update, share,
//! unshare, assign, delete, export.

use clap::Args;

use crmstore::{
    Access, AccessContext, Cascade, Deleted, Error, ExportFormat, Filter, NewRecord, Principal,
    Query, Store, Update,
};

use crate::{output, Global, Outcome};

/// Who acts: `--account A --as U`.
#[derive(Args, Clone, Debug)]
pub struct Actor {
    #[arg(long)]
    pub account: u64,
    /// The user acted for.
    #[arg(long = "as", value_name = "USER")]
    pub user: u64,
}

impl Actor {
    pub fn open(&self, g: &Global) -> crmstore::Result<(Store, AccessContext)> {
        self.context_in(g.store()?)
    }

    /// For a command that only reads.
    pub fn open_read(&self, g: &Global) -> crmstore::Result<(Store, AccessContext)> {
        self.context_in(g.reader()?)
    }

    fn context_in(&self, store: Store) -> crmstore::Result<(Store, AccessContext)> {
        let ctx = store.operator().context(self.account, self.user)?;
        Ok((store, ctx))
    }
}

#[derive(Args)]
pub struct GetArgs {
    #[command(flatten)]
    actor: Actor,
    id: u64,
}

#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    module: String,
    /// Filter text, e.g. `stage = "won" and amount >= 1000`.
    #[arg(long)]
    filter: Option<String>,
    /// At most N records (no upper bound; all when absent).
    #[arg(long)]
    limit: Option<usize>,
    /// Only records with an id above this one.
    #[arg(long)]
    after: Option<u64>,
    /// Print `{"count":N}` instead of the records.
    #[arg(long)]
    count: bool,
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    module: String,
    /// `{"fields":{..},"team":1,"stage":"new","parent":null,"owner":3}`
    #[arg(long)]
    json_record: String,
}

#[derive(Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    actor: Actor,
    id: u64,
    /// `{"field":value,...}`; `stage` and `parent` change the built-ins; null removes a field.
    #[arg(long)]
    set: String,
    #[arg(long)]
    expect_version: Option<u64>,
}

#[derive(Args)]
pub struct ShareArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(required = true)]
    ids: Vec<u64>,
    /// user:ID, team:ID, group:ID, role:ID or role_and_subordinates:ID
    #[arg(long)]
    to: String,
    #[arg(long, value_parser = ["read", "read_write", "full"])]
    access: String,
}

#[derive(Args)]
pub struct UnshareArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(required = true)]
    ids: Vec<u64>,
    #[arg(long)]
    from: String,
}

#[derive(Args)]
pub struct AssignArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(required = true)]
    ids: Vec<u64>,
    #[arg(long)]
    owner: u64,
    #[arg(long)]
    team: Option<u64>,
}

#[derive(Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(required = true)]
    ids: Vec<u64>,
    /// Also delete every record below them (by parent).
    #[arg(long)]
    cascade: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    module: String,
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
    format: String,
    #[arg(long)]
    filter: Option<String>,
}

fn query_of(module: &str, filter: Option<&str>) -> crmstore::Result<Query> {
    let mut q = Query::module(module);
    if let Some(f) = filter {
        q = q.filter(Filter::parse(f)?);
    }
    Ok(q)
}

pub fn get(g: &Global, a: &GetArgs) -> Outcome {
    let (store, ctx) = a.actor.open_read(g)?;
    let r = store.get(&ctx, a.id)?;
    output::records(g.json, &[r])?;
    Ok(())
}

pub fn query(g: &Global, a: &QueryArgs) -> Outcome {
    let (store, ctx) = a.actor.open_read(g)?;
    let mut q = query_of(&a.module, a.filter.as_deref())?;
    if a.count {
        let n = store.count(&ctx, &q)?;
        if g.json {
            output::line(serde_json::json!({ "count": n }))?;
        } else {
            output::line(n)?;
        }
        return Ok(());
    }
    if let Some(after) = a.after {
        q = q.after(after);
    }
    if let Some(limit) = a.limit {
        q = q.limit(limit);
    }
    let page = store.query(&ctx, &q)?;
    output::records(g.json, &page.records)?;
    Ok(())
}

pub fn create(g: &Global, a: &CreateArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let r = store.create(&ctx, NewRecord::from_json(&a.module, &a.json_record)?)?;
    if g.json {
        output::line(r.to_json())?;
    } else {
        output::line(format!("created record {} (version {})", r.id, r.version))?;
    }
    Ok(())
}

pub fn update(g: &Global, a: &UpdateArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let mut up = Update::from_json(&a.set)?;
    up.expect_version = a.expect_version;
    let r = store.update(&ctx, a.id, up)?;
    if g.json {
        output::line(r.to_json())?;
    } else {
        output::line(format!(
            "updated record {} (now version {})",
            r.id, r.version
        ))?;
    }
    Ok(())
}

fn access_of(text: &str) -> crmstore::Result<Access> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        Error::Invalid(format!(
            "`{text}` is not an access level (read, read_write, full)"
        ))
    })
}

fn changed(g: &Global, what: &str, n: u64) -> Outcome {
    if g.json {
        output::line(serde_json::json!({ what: n }))?;
    } else {
        output::line(format!("{what} {n} record(s)"))?;
    }
    Ok(())
}

pub fn share(g: &Global, a: &ShareArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let n = store.share(
        &ctx,
        &a.ids,
        Principal::parse(&a.to)?,
        access_of(&a.access)?,
    )?;
    changed(g, "shared", n)
}

pub fn unshare(g: &Global, a: &UnshareArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let n = store.unshare(&ctx, &a.ids, Principal::parse(&a.from)?)?;
    changed(g, "unshared", n)
}

pub fn assign(g: &Global, a: &AssignArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let n = store.assign(&ctx, &a.ids, a.owner, a.team)?;
    changed(g, "assigned", n)
}

pub fn delete(g: &Global, a: &DeleteArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let Deleted { batch, count } = store.delete(
        &ctx,
        &a.ids,
        if a.cascade { Cascade::Yes } else { Cascade::No },
    )?;
    if g.json {
        output::line(serde_json::json!({ "batch": batch, "count": count }))?;
    } else {
        output::line(batch)?;
    }
    Ok(())
}

pub fn export(g: &Global, a: &ExportArgs) -> Outcome {
    let (store, ctx) = a.actor.open(g)?;
    let q = query_of(&a.module, a.filter.as_deref())?;
    let format = if a.format == "csv" {
        ExportFormat::Csv
    } else {
        ExportFormat::Jsonl
    };
    store.export(&ctx, &q, format, std::io::stdout().lock())?;
    Ok(())
}
