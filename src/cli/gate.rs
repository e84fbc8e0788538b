//! The access gate's commands (CLI.md "The access gate"): logins, sessions,
//! the authorization log. `--now` sets the time a command acts at; the
//! store's logs keep the real time beside it.

use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crmstore::{AuthOutcome, AuthQuery, Error, Revoke, SecondFactor, SignIn, Timestamp};

use crate::records::Actor;
use crate::{output, Global, Outcome};

/// The time a command acts at: `--now`, else the clock.
#[derive(Args, Clone, Debug)]
pub struct Now {
    /// Act as at this time (RFC 3339), for scripts, tests and drills.
    #[arg(long)]
    now: Option<String>,
}

impl Now {
    pub fn get(&self) -> crmstore::Result<Timestamp> {
        Ok(self
            .now
            .as_deref()
            .map(Timestamp::parse)
            .transpose()?
            .unwrap_or_else(Timestamp::now))
    }
}

/// A session token: `--token`, or `CRMSTORE_TOKEN` (a token on a command
/// line shows in `ps`).
#[derive(Args, Clone, Debug)]
pub struct Token {
    #[arg(long, env = "CRMSTORE_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
pub enum LoginCommand {
    /// A store-wide login with a password.
    Add {
        email: String,
        /// A file holding the password, or `-` for stdin.
        #[arg(long)]
        password_file: PathBuf,
    },
    /// A new password; ends every session of the login.
    Passwd {
        email: String,
        #[arg(long)]
        password_file: PathBuf,
        #[command(flatten)]
        now: Now,
    },
    /// Clear a lockout (admins only).
    Unlock {
        #[command(flatten)]
        actor: Actor,
        email: String,
        #[command(flatten)]
        now: Now,
    },
}

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Sign in: prints the session and its token (shown once).
    Open {
        #[arg(long)]
        account: u64,
        #[arg(long)]
        login: String,
        #[arg(long)]
        password_file: PathBuf,
        #[arg(long)]
        ip: IpAddr,
        #[arg(long, default_value = "")]
        device: String,
        /// The code the authenticator app shows (once TOTP is confirmed).
        #[arg(long, conflicts_with = "recovery")]
        totp: Option<String>,
        /// A recovery code instead (each works once).
        #[arg(long)]
        recovery: Option<String>,
        #[command(flatten)]
        now: Now,
    },
    /// Whether a token names a working session, and whose.
    Check {
        #[command(flatten)]
        token: Token,
        #[arg(long)]
        ip: IpAddr,
        #[command(flatten)]
        now: Now,
    },
    /// A session in another account of the same login, without the password.
    Switch {
        #[command(flatten)]
        token: Token,
        #[arg(long)]
        account: u64,
        #[arg(long)]
        ip: IpAddr,
        #[command(flatten)]
        now: Now,
    },
    /// Log out this device.
    Close {
        #[command(flatten)]
        token: Token,
        #[command(flatten)]
        now: Now,
    },
    /// The user's sessions (an admin: `--user`'s); `--all` adds ended ones.
    List {
        #[command(flatten)]
        actor: Actor,
        #[arg(long = "user", value_name = "U2")]
        of: Option<u64>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        now: Now,
    },
    /// End sessions: by id, or every one of `--user` but `--except`.
    Revoke {
        #[command(flatten)]
        actor: Actor,
        #[arg(
            value_name = "SESSION",
            required_unless_present = "of",
            conflicts_with = "of"
        )]
        sessions: Vec<u64>,
        #[arg(long = "user", value_name = "U2")]
        of: Option<u64>,
        #[arg(long, requires = "of")]
        except: Option<u64>,
        #[command(flatten)]
        now: Now,
    },
}

#[derive(Subcommand)]
pub enum AuthCommand {
    /// The authorization log, ascending.
    Log {
        #[arg(long)]
        account: u64,
        #[arg(long)]
        user: Option<u64>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        outcome: Option<String>,
    },
    /// Verify the authorization log's hash chain.
    Verify {
        #[arg(long)]
        account: u64,
    },
}

/// A password from a file or stdin, without its line ending.
fn password(file: &PathBuf) -> crmstore::Result<String> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file)
            .map_err(|e| Error::io_at("cannot read the password file", file, e))?;
    }
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

pub fn login(g: &Global, c: LoginCommand) -> Outcome {
    match c {
        LoginCommand::Add {
            email,
            password_file,
        } => {
            g.store()?
                .operator()
                .login_add(&email, &password(&password_file)?)?;
            done(
                g,
                serde_json::json!({ "login": email.trim().to_lowercase() }),
                "login added",
            )
        }
        LoginCommand::Passwd {
            email,
            password_file,
            now,
        } => {
            let pw = password(&password_file)?;
            let n = g
                .store()?
                .operator()
                .login_passwd(&email, &pw, now.get()?)?;
            done(
                g,
                serde_json::json!({ "sessions_ended": n }),
                &format!("password set; {n} session(s) ended"),
            )
        }
        LoginCommand::Unlock { actor, email, now } => {
            let (store, ctx) = actor.open(g)?;
            store.login_unlock(&ctx, &email, now.get()?)?;
            done(
                g,
                serde_json::json!({ "unlocked": email.trim().to_lowercase() }),
                "unlocked",
            )
        }
    }
}

pub(crate) fn done(g: &Global, json: serde_json::Value, text: &str) -> Outcome {
    if g.json {
        output::line(json)?;
    } else {
        output::line(text)?;
    }
    Ok(())
}

pub fn session(g: &Global, c: SessionCommand) -> Outcome {
    match c {
        SessionCommand::Open {
            account,
            login,
            password_file,
            ip,
            device,
            totp,
            recovery,
            now,
        } => {
            let sign_in = SignIn {
                account,
                login: &login,
                ip,
                device: &device,
            };
            let pw = password(&password_file)?;
            let second = match (&totp, &recovery) {
                (Some(c), _) => Some(SecondFactor::Totp(c)),
                (None, Some(c)) => Some(SecondFactor::Recovery(c)),
                (None, None) => None,
            };
            let opened = g
                .store()?
                .session_open_with(&sign_in, &pw, second, now.get()?)?;
            opened_out(g, &opened)
        }
        SessionCommand::Check { token, ip, now } => {
            let ctx = g.store()?.authenticate(&token.token, ip, now.get()?)?;
            let json = serde_json::json!({
                "session": ctx.session(), "account": ctx.account(), "user": ctx.user(),
            });
            let text = format!(
                "session {} of user {} in account {}",
                ctx.session().unwrap_or_default(),
                ctx.user(),
                ctx.account()
            );
            done(g, json, &text)
        }
        SessionCommand::Switch {
            token,
            account,
            ip,
            now,
        } => {
            let opened = g
                .store()?
                .session_switch(&token.token, account, ip, now.get()?)?;
            opened_out(g, &opened)
        }
        SessionCommand::Close { token, now } => {
            g.store()?.session_close(&token.token, now.get()?)?;
            done(g, serde_json::json!({ "closed": true }), "logged out")
        }
        SessionCommand::List {
            actor,
            of,
            all,
            now,
        } => {
            let (store, ctx) = actor.open(g)?;
            let list = store.session_list(&ctx, of, all, now.get()?)?;
            output::listing(
                g.json,
                &list,
                |s| s.to_json(),
                &[
                    "session",
                    "user",
                    "ip",
                    "device",
                    "auth",
                    "last seen",
                    "state",
                ],
                |s| {
                    vec![
                        s.session.to_string(),
                        s.user.to_string(),
                        s.ip.clone(),
                        s.device.clone(),
                        s.auth.name().into(),
                        s.last_seen.to_rfc3339(),
                        s.end_reason.map_or("current", |r| r.name()).into(),
                    ]
                },
            )
        }
        SessionCommand::Revoke {
            actor,
            sessions,
            of,
            except,
            now,
        } => {
            let (store, ctx) = actor.open(g)?;
            let which = match of {
                Some(user) => Revoke::User { user, except },
                None => Revoke::Sessions(&sessions),
            };
            let n = store.session_revoke(&ctx, which, now.get()?)?;
            done(
                g,
                serde_json::json!({ "revoked": n }),
                &format!("{n} session(s) ended"),
            )
        }
    }
}

fn opened_out(g: &Global, o: &crmstore::Opened) -> Outcome {
    let text = format!(
        "session {} of user {} in account {} until {}\ntoken {}",
        o.session,
        o.user,
        o.account,
        o.expires_at.to_rfc3339(),
        o.token
    );
    done(g, o.to_json(), &text)
}

pub fn auth(g: &Global, c: AuthCommand) -> Outcome {
    match c {
        AuthCommand::Log {
            account,
            user,
            since,
            outcome,
        } => {
            let q = AuthQuery {
                user,
                since: since.as_deref().map(Timestamp::parse).transpose()?,
                outcome: outcome.as_deref().map(AuthOutcome::parse).transpose()?,
            };
            let events = g.reader()?.operator().auth_log(account, q)?;
            output::listing(
                g.json,
                &events,
                |e| e.to_json(),
                &["seq", "at", "login", "ip", "event", "outcome", "reason"],
                |e| {
                    vec![
                        e.seq.to_string(),
                        e.at.to_rfc3339(),
                        e.login.clone(),
                        e.ip.clone(),
                        e.event.clone(),
                        e.outcome.name().into(),
                        e.reason.clone().unwrap_or_default(),
                    ]
                },
            )
        }
        AuthCommand::Verify { account } => {
            let rep = g.reader()?.operator().auth_verify(account)?;
            match rep.broken {
                None => done(
                    g,
                    serde_json::json!({ "intact": true, "events": rep.events }),
                    &format!(
                        "authorization log of account {account} is whole ({} events)",
                        rep.events
                    ),
                ),
                Some((seq, why)) => Err(Error::Corrupt(format!(
                    "authorization log of account `{account}` is broken at seq `{seq}`: {why}"
                ))),
            }
        }
    }
}
