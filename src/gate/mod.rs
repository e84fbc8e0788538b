//! The access gate (DESIGN.md "The access gate"): signing in, a session per
//! device, re-checking it on every request, ending it. What it keeps is in
//! `crate::sessions`; every refusal and ending is in the authorization log.
//!
//! Refusals do not tell an attacker which part was wrong: an unknown login,
//! a login not linked in the account and a wrong password all answer
//! `Denied("login failed")` after one argon2 verification each; anything
//! else (locked, blocked, inactive) is said only after the password was right.

mod manage;
mod open;
mod policy;
mod second;
mod totp;

use std::net::IpAddr;

use crate::access::AccessContext;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Directory, Timestamp, User};

use crate::sessions::session;
use crate::sessions::EndReason;
use crate::txn::Tx;

pub use manage::Revoke;
pub(crate) use manage::{
    auth_log, auth_verify, list, login_add, login_passwd, purge_logs, revoke, unlock,
    update_directory,
};
pub(crate) use open::{open_external, open_password, switch};
pub use second::SecondFactor;
pub use totp::Enrolled;
pub(crate) use totp::{confirm as totp_confirm, enroll as totp_enroll, reset as totp_reset};

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
        let nets = e.gate_policy_in(r, s.account, version)?;
        if let Some(why) = policy::refusal(&dir, &nets, user, ip, now) {
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
