//! Managing sessions and logins: listing and ending sessions (one's own, or
//! an admin's for any user of the account), unlocking, setting passwords,
//! and the authorization log for trusted code.

use crate::access::AccessContext;
use crate::audit::{self, AuditAction};
use crate::chain::ChainReport;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::network::GatePolicy;
use crate::model::Timestamp;
use crate::sessions::log::{self, AuthEvent, AuthOutcome, AuthQuery, Entry};
use crate::sessions::session::{self, SessionInfo};
use crate::sessions::{end_logged, lockout, login, EndReason};
use crate::txn::Tx;

/// Whose sessions to end.
#[derive(Clone, Copy, Debug)]
pub enum Revoke<'a> {
    /// These sessions (the acting user's own, or any of the account's for an admin).
    Sessions(&'a [u64]),
    /// Every session of `user` but `except` ("log out all other devices").
    User { user: u64, except: Option<u64> },
}

/// Refuses acting on `user`'s sessions unless it is the viewer or an admin.
fn may_manage(ctx: &AccessContext, user: u64) -> Result<()> {
    if user == ctx.user() || ctx.is_admin() {
        Ok(())
    } else {
        Err(Error::Denied(format!(
            "only an admin may manage another user's sessions (user `{}` is not)",
            ctx.user()
        )))
    }
}

/// The sessions of `user` (the viewer's own by default): the current ones,
/// and with `all` the ended and lapsed ones too.
pub(crate) fn list(
    e: &Engine,
    ctx: &AccessContext,
    user: Option<u64>,
    all: bool,
    now: Timestamp,
) -> Result<Vec<SessionInfo>> {
    let user = user.unwrap_or(ctx.user());
    e.read(|r| {
        let v = e.viewer_in(r, ctx)?;
        if user != v.user && !v.admin {
            may_manage(ctx, user)?;
        }
        let version = r.version_of(ctx.account)?.unwrap_or_default();
        let sec = e
            .directory_in(r, ctx.account, version)?
            .account
            .security
            .clone();
        Ok(session::all_in(r, ctx.account, Some(user))?
            .iter()
            .map(|s| s.info(&sec, now))
            .filter(|i| all || i.end_reason.is_none())
            .collect())
    })
}

/// Ends sessions as `which` says; how many were live. An admin ending
/// another user's sessions is in the audit log too.
pub(crate) fn revoke(
    e: &Engine,
    ctx: &AccessContext,
    which: Revoke<'_>,
    now: Timestamp,
) -> Result<u64> {
    let at = e.now();
    e.act(ctx, "session.revoke", at, |w, act| {
        let a = ctx.account;
        let ids: Vec<(u64, u64)> = match which {
            Revoke::Sessions(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                for &id in ids {
                    // Another user's session is not there for a non-admin.
                    let s = session::get(w, a, id)?
                        .filter(|s| s.user == act.v.user || act.v.admin)
                        .ok_or_else(|| Error::NotFound(format!("no session `{id}`")))?;
                    out.push((s.user, id));
                }
                out
            }
            Revoke::User { user, except } => {
                if user != act.v.user && !act.v.admin {
                    may_manage(ctx, user)?;
                }
                session::live_of_user(w, a, user)?
                    .into_iter()
                    .filter(|id| Some(*id) != except)
                    .map(|id| (user, id))
                    .collect()
            }
        };
        let mut n = 0;
        for (user, id) in ids {
            if !end_logged(w, a, id, EndReason::Revoked, at, now)? {
                continue;
            }
            n += 1;
            if user != act.v.user {
                let entry = audit::Entry {
                    actor: Some(act.v.user),
                    action: AuditAction::SessionRevoke,
                    target: format!("session {id} of user {user}"),
                    count: 0,
                    detail: String::new(),
                };
                audit::append(w, a, at, entry)?;
            }
        }
        Ok(n)
    })
}

/// Clears `login`'s lockout in the account (admins only).
pub(crate) fn unlock(e: &Engine, ctx: &AccessContext, name: &str, now: Timestamp) -> Result<()> {
    let name = login::normalize(name)?;
    let at = e.now();
    e.act(ctx, AuditAction::LoginUnlock.name(), at, |w, act| {
        if !act.v.admin {
            return Err(Error::Denied(format!(
                "only an admin may unlock a login (user `{}` is not)",
                act.v.user
            )));
        }
        if !lockout::clear(w, ctx.account, &name)? {
            return Err(Error::NotFound(format!(
                "the login `{name}` is not locked in account `{}`",
                ctx.account
            )));
        }
        let e = Entry {
            login: &name,
            user: None,
            ip: "",
            device: "",
            event: "login.unlock",
            outcome: AuthOutcome::Ok,
            reason: Some(format!("by user {}", act.v.user)),
            session: None,
        };
        log::append(w, ctx.account, at, now, e)?;
        let entry = audit::Entry {
            actor: Some(act.v.user),
            action: AuditAction::LoginUnlock,
            target: name.clone(),
            count: 0,
            detail: String::new(),
        };
        audit::append(w, ctx.account, at, entry)
    })
}

/// Creates a store-wide login with a password (trusted code).
pub(crate) fn login_add(e: &Engine, name: &str, password: &str) -> Result<()> {
    let name = login::normalize(name)?;
    let phc = login::hash(password)?;
    let now = e.now();
    e.write(|w| {
        if login::get(w, &name)?.is_some() {
            return Err(Error::Conflict(format!(
                "the login `{name}` exists (set its password with `login passwd`)"
            )));
        }
        let l = login::Login {
            phc: Some(phc),
            created_at: now,
            changed_at: now,
            totp: None,
        };
        login::put(w, &name, &l)
    })
}

/// Sets `name`'s password and ends every session of the login, in every
/// account (trusted code). How many sessions ended.
pub(crate) fn login_passwd(e: &Engine, name: &str, password: &str, now: Timestamp) -> Result<u64> {
    let name = login::normalize(name)?;
    let phc = login::hash(password)?;
    let at = e.now();
    e.write(|w| {
        let mut l =
            login::get(w, &name)?.ok_or_else(|| Error::NotFound(format!("no login `{name}`")))?;
        l.phc = Some(phc);
        l.changed_at = at;
        login::put(w, &name, &l)?;
        let mut n = 0;
        for (a, id) in session::live_of_login(w, &name)? {
            n += u64::from(end_logged(w, a, id, EndReason::PasswordChanged, at, now)?);
        }
        Ok(n)
    })
}

/// `account`'s authorization log, filtered (trusted code).
pub(crate) fn auth_log(e: &Engine, account: u64, q: AuthQuery) -> Result<Vec<AuthEvent>> {
    e.read(|r| {
        known(r, account)?;
        log::list(r, account, q)
    })
}

/// Verifies `account`'s authorization log (trusted code).
pub(crate) fn auth_verify(e: &Engine, account: u64) -> Result<ChainReport> {
    e.read(|r| {
        known(r, account)?;
        log::verify(r, account)
    })
}

fn known(r: &impl Tx, account: u64) -> Result<()> {
    r.version_of(account)?
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))
}

/// In every account, drops the authorization log's events older than the
/// account's `auth_log_retention_days` before `now`. How many went.
pub(crate) fn purge_logs(e: &Engine, now: Timestamp) -> Result<u64> {
    e.write(|w| {
        let mut n = 0;
        for a in w.accounts()? {
            let Some(v) = w.version_of(a)? else { continue };
            let days = e
                .directory_in(w, a, v)?
                .account
                .security
                .auth_log_retention_days;
            let cutoff = now.plus_secs(-i64::from(days) * 86_400);
            n += log::purge(w, a, cutoff)?;
        }
        Ok(n)
    })
}

/// An admin's change to their account's directory (`Store::update_directory`),
/// audited with them as the actor. Made through a session, it may not lock
/// its own maker out: a change after which the admin's session address or
/// shift would be refused is a `Conflict`.
pub(crate) fn update_directory(
    e: &Engine,
    ctx: &AccessContext,
    edit: impl FnOnce(&mut crate::model::Directory),
) -> Result<()> {
    let now = e.now();
    e.act(ctx, AuditAction::DirectoryChange.name(), now, |w, act| {
        if !act.v.admin {
            return Err(Error::Denied(format!(
                "only an admin may change the directory (user `{}` is not)",
                act.v.user
            )));
        }
        let me = act.v.user;
        let own_session = match ctx.session {
            Some(id) => session::get(w, ctx.account, id)?,
            None => None,
        };
        let accept = |dir: &crate::model::Directory| -> Result<()> {
            let (Some(s), Some(user)) = (&own_session, dir.user(me)) else {
                return Ok(());
            };
            let Ok(ip) = s.ip.parse::<std::net::IpAddr>() else {
                return Ok(());
            };
            match super::policy::refusal(dir, &GatePolicy::of(dir), user, ip, now) {
                Some(why) => Err(Error::Conflict(format!(
                    "this change would lock you out: {why} for your own session"
                ))),
                None => Ok(()),
            }
        };
        crate::account::change_directory(w, ctx.account, Some(me), edit, accept, now)
    })
}
