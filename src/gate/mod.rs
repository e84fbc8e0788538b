//! The access gate (DESIGN.md "The access gate"): signing in, a session per
//! device, re-checking it on every request, ending it. What it keeps is in
//! `crate::sessions`; every refusal and ending is in the authorization log.
//!
//! Refusals do not tell an attacker which part was wrong: an unknown login,
//! a login not linked in the account and a wrong password all answer
//! `Denied("login failed")` after one argon2 verification each; anything
//! else (locked, blocked, inactive) is said only after the password was right.

mod manage;
mod policy;

use std::net::IpAddr;

use crate::access::AccessContext;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Directory, Timestamp, User};
use crate::sessions::log::{self, AuthOutcome, Entry};
use crate::sessions::session::{self, AuthMethod, Session};
use crate::sessions::{lockout, login, EndReason};
use crate::txn::{Tx, Writer};

pub use manage::Revoke;
pub(crate) use manage::{
    auth_log, auth_verify, list, login_add, login_passwd, purge_logs, revoke, unlock,
};

/// Who signs in, where from, on what.
#[derive(Clone, Copy, Debug)]
pub struct SignIn<'a> {
    pub account: u64,
    /// The login (an email address; any case).
    pub login: &'a str,
    pub ip: IpAddr,
    /// Free text naming the device ("Firefox on a laptop").
    pub device: &'a str,
}

/// A session just opened: its token is shown this once and never again.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    pub session: u64,
    pub token: String,
    pub account: u64,
    pub user: u64,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for Opened {
    // The token is a secret: never in a log line made of a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("session", &self.session)
            .field("account", &self.account)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// The JSON `session open --json` prints (CLI.md), the token included.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "session": self.session, "token": self.token, "account": self.account,
            "user": self.user, "expires_at": self.expires_at.to_rfc3339(),
        })
    }
}

/// An address as it is compared and logged: `::ffff:10.0.0.1` is `10.0.0.1`.
pub(crate) fn canonical(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// A device text as stored: one line, at most 200 characters.
fn device_text(device: &str) -> String {
    device
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

fn failed() -> Error {
    Error::Denied("login failed".into())
}

/// The user of `dir` linked to `login`.
fn linked<'d>(dir: &'d Directory, login: &str) -> Option<&'d User> {
    dir.users.iter().find(|u| u.login.as_deref() == Some(login))
}

/// Opens a session with a password (`Store::session_open`).
pub(crate) fn open_password(
    e: &Engine,
    s: &SignIn<'_>,
    password: &str,
    now: Timestamp,
) -> Result<Opened> {
    let Ok(name) = login::normalize(s.login) else {
        login::verify(None, password);
        return Err(failed());
    };
    // The slow part outside any write transaction: writers keep going.
    let phc = e.read(|r| {
        let dir = match r.version_of(s.account)? {
            Some(v) => e.directory_in(r, s.account, v)?,
            None => return Ok(None),
        };
        if linked(&dir, &name).is_none() {
            return Ok(None);
        }
        Ok(crate::sessions::login::get_in(r, &name)?.and_then(|l| l.phc))
    })?;
    let right = login::verify(phc.as_deref(), password);
    let decided = e.write(|w| {
        let Some(dir) = directory(e, w, s.account)? else {
            return Ok(Err(failed()));
        };
        let at = e.now();
        let ip = canonical(s.ip);
        let device = device_text(s.device);
        let user = linked(&dir, &name).cloned();
        let mut entry = Entry {
            login: &name,
            user: user.as_ref().map(|u| u.id),
            ip: &ip,
            device: &device,
            event: "session.refused",
            outcome: AuthOutcome::Refused,
            reason: None,
            session: None,
        };
        // The hash must still be the one verified (a password change in
        // between makes this attempt a wrong one).
        let stored = crate::sessions::login::get(w, &name)?.and_then(|l| l.phc);
        let right = right && user.is_some() && stored == phc;
        let locked = lockout::locked_until(w, s.account, &name, now)?;
        if !right {
            entry.reason = Some(
                match (&user, &stored, locked) {
                    (None, _, _) => "unknown login",
                    (Some(_), None, _) => "no password set",
                    (Some(_), Some(_), Some(_)) => "wrong password while locked",
                    (Some(_), Some(_), None) => "wrong password",
                }
                .into(),
            );
            let count = user.is_some() && stored.is_some() && locked.is_none();
            log::append(w, s.account, at, now, entry.clone())?;
            let policy = dir.account.security.lockout;
            if count && lockout::fail(w, s.account, &name, now, &policy)? {
                entry.event = "login.locked";
                entry.reason = Some(format!(
                    "{} wrong passwords within {} s",
                    policy.max_failures, policy.window_secs
                ));
                log::append(w, s.account, at, now, entry)?;
            }
            return Ok(Err(failed()));
        }
        let Some(user) = user else {
            return Ok(Err(failed()));
        };
        if let Some(until) = locked {
            return refuse(
                w,
                s.account,
                at,
                now,
                entry,
                format!(
                    "login locked until {} (an admin can unlock it)",
                    until.to_rfc3339()
                ),
            );
        }
        open_checked(
            w,
            s.account,
            &dir,
            &user,
            s.ip,
            AuthMethod::Password,
            entry,
            at,
            now,
        )
    })?;
    decided
}

/// Opens a session for a person a CRM's own identity provider signed in
/// (`Operator::session_open_external`): no password, the same policy.
pub(crate) fn open_external(
    e: &Engine,
    s: &SignIn<'_>,
    method: &str,
    mfa: bool,
    now: Timestamp,
) -> Result<Opened> {
    let name = login::normalize(s.login)?;
    let decided = e.write(|w| {
        let Some(dir) = directory(e, w, s.account)? else {
            return Ok(Err(Error::NotFound(format!("no account `{}`", s.account))));
        };
        let Some(user) = linked(&dir, &name).cloned() else {
            return Ok(Err(Error::NotFound(format!(
                "no user of account `{}` has the login `{name}`",
                s.account
            ))));
        };
        let (at, ip, device) = (e.now(), canonical(s.ip), device_text(s.device));
        let device = format!("{device} ({})", method.chars().take(40).collect::<String>());
        let entry = Entry {
            login: &name,
            user: Some(user.id),
            ip: &ip,
            device: &device,
            event: "session.refused",
            outcome: AuthOutcome::Refused,
            reason: None,
            session: None,
        };
        let how = if mfa {
            AuthMethod::ExternalMfa
        } else {
            AuthMethod::External
        };
        open_checked(w, s.account, &dir, &user, s.ip, how, entry, at, now)
    })?;
    decided
}

/// The account's directory as of `w`, `None` for an unknown account.
fn directory(
    e: &Engine,
    w: &Writer<'_>,
    account: u64,
) -> Result<Option<std::sync::Arc<Directory>>> {
    match w.version_of(account)? {
        Some(v) => e.directory_in(w, account, v).map(Some),
        None => Ok(None),
    }
}

/// Logs `entry` refused for `why` and answers `Denied(why)`; the log
/// commits with the transaction.
fn refuse(
    w: &mut Writer<'_>,
    account: u64,
    at: Timestamp,
    now: Timestamp,
    mut entry: Entry<'_>,
    why: String,
) -> Result<Result<Opened>> {
    entry.reason = Some(why.clone());
    log::append(w, account, at, now, entry)?;
    Ok(Err(Error::Denied(why)))
}

/// After the credential was right: the user's own state, then the session.
#[allow(clippy::too_many_arguments)]
fn open_checked(
    w: &mut Writer<'_>,
    account: u64,
    dir: &Directory,
    user: &User,
    ip: IpAddr,
    how: AuthMethod,
    mut entry: Entry<'_>,
    at: Timestamp,
    now: Timestamp,
) -> Result<Result<Opened>> {
    if let Some(why) = policy::refusal(dir, user, ip) {
        return refuse(w, account, at, now, entry, why);
    }
    let mut st = log::state(w, account)?;
    let id = st.next_session.max(1);
    st.next_session = id
        .checked_add(1)
        .ok_or_else(|| Error::Conflict(format!("account `{account}` has no session ids left")))?;
    log::put_state(w, account, &st)?;
    let (token, hash) = session::new_token()?;
    let s = Session {
        id,
        login: entry.login.to_string(),
        user: user.id,
        token_sha256: hash,
        ip: entry.ip.to_string(),
        device: entry.device.to_string(),
        auth: how,
        created_at: now,
        last_seen: now,
        ended_at: None,
        end_reason: None,
    };
    session::insert(w, account, &s)?;
    entry.event = if entry.event == "session.switch" {
        "session.switch"
    } else {
        "session.open"
    };
    entry.outcome = AuthOutcome::Ok;
    entry.reason = Some(how.name().into());
    entry.session = Some(id);
    log::append(w, account, at, now, entry)?;
    Ok(Ok(Opened {
        session: id,
        token,
        account,
        user: user.id,
        expires_at: s.expires_at(&dir.account.security),
    }))
}

/// The context of the session `token` names, checked live at `now`
/// (`Store::authenticate`). A read, but for `last_seen`, written at most
/// once a minute.
pub(crate) fn authenticate(
    e: &Engine,
    token: &str,
    ip: IpAddr,
    now: Timestamp,
) -> Result<AccessContext> {
    let (ctx, stale) = e.read(|r| {
        let Some(s) = session::by_token(r, token)? else {
            return Err(session::unusable(None));
        };
        let version = r
            .version_of(s.account)?
            .ok_or_else(|| session::unusable(Some(EndReason::AccountLoad)))?;
        let dir = e.directory_in(r, s.account, version)?;
        if let Some(why) = s.stopped(&dir.account.security, now) {
            return Err(session::unusable(Some(why)));
        }
        // The user's state and address, live: a session whose requests
        // move outside the allowlist stops working there.
        let user = dir
            .user(s.user)
            .ok_or_else(|| session::unusable(Some(EndReason::AccountLoad)))?;
        if let Some(why) = policy::refusal(&dir, user, ip) {
            return Err(Error::Denied(format!("not signed in: {why}")));
        }
        let ctx = e.context_at(r, s.account, version, s.user, Some(s.session))?;
        Ok((ctx, now >= s.last_seen.plus_secs(60)))
    })?;
    if stale {
        let (account, id) = (ctx.account, ctx.session.unwrap_or_default());
        e.write(|w| {
            if let Some(mut s) = session::get(w, account, id)? {
                if s.end_reason.is_none() && s.last_seen < now {
                    s.last_seen = now;
                    session::put(w, account, &s)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(ctx)
}

/// Ends the session `token` names: "log out this device". Works whatever
/// the policy says now (hours, addresses): leaving is always allowed.
pub(crate) fn close(e: &Engine, token: &str, now: Timestamp) -> Result<()> {
    let (account, s) = e
        .read(|r| session::session_of_token(r, token))?
        .ok_or_else(|| session::unusable(None))?;
    if let Some(why) = s.end_reason {
        return Err(session::unusable(Some(why)));
    }
    let at = e.now();
    e.write(|w| {
        crate::sessions::end_logged(w, account, s.id, EndReason::Logout, at, now).map(|_| ())
    })
}

/// Opens a session in `account` for the login of the session `token` names,
/// without the password, if that account's own policy lets it in.
pub(crate) fn switch(
    e: &Engine,
    token: &str,
    account: u64,
    ip: IpAddr,
    now: Timestamp,
) -> Result<Opened> {
    let from = authenticate(e, token, ip, now)?;
    let (login, how) = e.read(|r| {
        let s = session::get_in(r, from.account, from.session.unwrap_or_default())?
            .ok_or_else(|| session::unusable(None))?;
        Ok((s.login, s.auth))
    })?;
    let decided = e.write(|w| {
        let Some(dir) = directory(e, w, account)? else {
            return Ok(Err(Error::NotFound(format!("no account `{account}`"))));
        };
        let Some(user) = linked(&dir, &login).cloned() else {
            return Ok(Err(Error::NotFound(format!(
                "the login `{login}` has no user in account `{account}`"
            ))));
        };
        let (at, ip_text) = (e.now(), canonical(ip));
        let device = format!("switched from account {}", from.account);
        let entry = Entry {
            login: &login,
            user: Some(user.id),
            ip: &ip_text,
            device: &device,
            event: "session.switch",
            outcome: AuthOutcome::Refused,
            reason: None,
            session: None,
        };
        open_checked(w, account, &dir, &user, ip, how, entry, at, now)
    })?;
    decided
}
