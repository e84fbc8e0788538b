//! The `crmstore` command line: parses, dispatches to one file per command
//! group, and maps every error to its exit code in one place (CLI.md).

mod admin;
mod backup;
mod demo;
mod gate;
mod output;
mod progress;
mod records;
mod totp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crmstore::{Error, Store};

#[derive(Parser)]
#[command(
    name = "crmstore",
    version,
    about = "An embedded record store for CRMs: the operator's and admin's tool"
)]
pub(crate) struct Cli {
    /// The store file (created if missing).
    #[arg(long, global = true, env = "CRMSTORE_DB")]
    db: Option<PathBuf>,
    /// Print JSON (one object per line for lists) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Limit redb's page cache (MiB); memory of long scans stays under it.
    #[arg(long, global = true, default_value_t = 1024)]
    cache_mib: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a demo store and show what each user sees, the trash, export and audit.
    Demo(demo::Args),
    /// Create or replace one account from an account document.
    Load {
        file: PathBuf,
    },
    /// Print an account as an account document.
    Dump {
        #[arg(long)]
        account: u64,
    },
    Get(records::GetArgs),
    Query(records::QueryArgs),
    Create(records::CreateArgs),
    Update(records::UpdateArgs),
    Share(records::ShareArgs),
    Unshare(records::UnshareArgs),
    Assign(records::AssignArgs),
    /// Move records to the trash (prints the batch id).
    Delete(records::DeleteArgs),
    /// List, restore and purge deletion batches.
    #[command(subcommand)]
    Trash(admin::TrashCommand),
    /// Block or unblock a user (admins only).
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Export the records the user may export.
    Export(records::ExportArgs),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
    /// Verify every index against the records; exit 0 only if consistent.
    Check,
    /// Generate a realistic synthetic account.
    Gen(admin::GenArgs),
    /// Encrypted backups: keygen, create, list, verify, restore, prune.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Run scheduled backups and trash purges until stopped.
    Serve(backup::ServeArgs),
    /// Store-wide logins: add, set a password, unlock.
    #[command(subcommand)]
    Login(gate::LoginCommand),
    /// Sign in and out, sessions per device.
    #[command(subcommand)]
    Session(gate::SessionCommand),
    /// Two-factor sign-in: enrol, confirm, reset.
    #[command(subcommand)]
    Totp(totp::TotpCommand),
    /// The authorization log.
    #[command(subcommand)]
    Auth(gate::AuthCommand),
}

/// Global options every command sees.
pub(crate) struct Global {
    pub db: Option<PathBuf>,
    pub json: bool,
    pub cache_mib: usize,
}

impl Global {
    /// The store, shared with other processes (`serve`, other commands).
    pub fn store(&self) -> crmstore::Result<Store> {
        self.open(Store::options().shared())
    }

    /// The store for a command that only reads: the file is left byte for
    /// byte as it was, and a path with no store is "not found", not created.
    pub fn reader(&self) -> crmstore::Result<Store> {
        self.open(Store::options().shared().read_only())
    }

    fn open(&self, options: crmstore::OpenOptions) -> crmstore::Result<Store> {
        let Some(path) = self.db.as_ref() else {
            usage("no store given (pass --db PATH or set CRMSTORE_DB)")
        };
        options
            .cache_bytes(self.cache_mib.saturating_mul(1 << 20))
            .open(path)
    }
}

fn hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::LiveChildren { .. } => Some("pass --cascade to delete the records below too"),
        Error::StaleVersion { .. } => Some("get the record again and retry with its version"),
        Error::ParentGone { .. } => {
            Some("restore the trash batch that holds the parent first, or the whole batch")
        }
        _ => None,
    }
}

/// Bad usage found after parsing (a missing `--db`): exit 2, as clap's own.
pub(crate) fn usage(message: &str) -> ! {
    crate::output::note(format!("error: {}", one_line(message)));
    std::process::exit(2)
}

/// `text` on one line: CLI.md promises one `error:` line, and clap's, TOML's
/// and serde's messages can span several.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: printed as clap prints them, exit 0.
            let _ = e.print();
            std::process::exit(0)
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            usage(&format!("{first} (see --help)"))
        }
    }
}

fn main() -> ExitCode {
    let cli = parse();
    let g = Global {
        db: cli.db,
        json: cli.json,
        cache_mib: cli.cache_mib,
    };
    // The store answers `Corrupt` for a panic of the storage engine; one it
    // could not catch (while an export streams, say) still ends in one
    // `error:` line and exit 5, not a backtrace and 101.
    std::panic::set_hook(Box::new(|_| {}));
    let db = g.db.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&g, cli.command)))
        .unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let file = db
                .map(|d| format!(" on `{}`", d.display()))
                .unwrap_or_default();
            Err(Error::Corrupt(format!(
                "internal error{file} ({why}); if the store is damaged, run `crmstore check`"
            )))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `crmstore export ... | head`: the reader left; that is not a failure.
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            crate::output::note(format!("error: {}", one_line(&e.to_string())));
            if let Some(h) = hint(&e) {
                crate::output::note(format!("hint: {h}"));
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(g: &Global, command: Command) -> Outcome {
    match command {
        Command::Demo(a) => demo::run(&a),
        Command::Load { file } => admin::load(g, &file),
        Command::Dump { account } => admin::dump(g, account),
        Command::Get(a) => records::get(g, &a),
        Command::Query(a) => records::query(g, &a),
        Command::Create(a) => records::create(g, &a),
        Command::Update(a) => records::update(g, &a),
        Command::Share(a) => records::share(g, &a),
        Command::Unshare(a) => records::unshare(g, &a),
        Command::Assign(a) => records::assign(g, &a),
        Command::Delete(a) => records::delete(g, &a),
        Command::Trash(c) => admin::trash(g, c),
        Command::User(c) => admin::user(g, c),
        Command::Export(a) => records::export(g, &a),
        Command::Audit(c) => admin::audit(g, c),
        Command::Check => admin::check(g),
        Command::Gen(a) => admin::gen(g, &a),
        Command::Backup(c) => backup::run(g, c),
        Command::Serve(a) => backup::serve(g, &a),
        Command::Login(c) => gate::login(g, c),
        Command::Session(c) => gate::session(g, c),
        Command::Totp(c) => totp::run(g, c),
        Command::Auth(c) => gate::auth(g, c),
    }
}

/// What a command returns: done, or the error whose `exit_code` the process
/// exits with (the one mapping).
pub(crate) type Outcome = crmstore::Result<()>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_as_clap_defines_it() {
        // Catches two arguments sharing one id (`user block` once could not
        // parse at all), conflicting short flags and the like.
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn an_error_of_many_lines_prints_as_one() {
        assert_eq!(
            one_line("bad toml\n  |\n1 | x = \n  | ^\n"),
            "bad toml; |; 1 | x =; | ^"
        );
        assert_eq!(one_line("plain"), "plain");
    }
}
