//! Enrolling, confirming and resetting a login's second factor (TOTP).
//! Enrolment and confirmation are trusted code's (the CRM's settings page
//! calls them for a signed-in person); a reset is an admin's, and ends
//! every session of the login.

use crate::access::AccessContext;
use crate::audit::{self, AuditAction};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::sessions::log::{self, AuthOutcome, Entry};
use crate::sessions::totp::{self, TotpState};
use crate::sessions::{end_logged, login, session, EndReason};
use crate::txn::{Tx, Writer};

/// A secret just made: shown to the person once, as text and as the
/// `otpauth://` URI an authenticator app scans.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The secret in base32.
    pub secret: String,
    pub uri: String,
}

impl std::fmt::Debug for Enrolled {
    // A secret never lands in a log line made of a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolled { .. }")
    }
}

/// Logs `event` for `name` in every account one of whose users it names.
fn log_everywhere(
    e: &Engine,
    w: &mut Writer<'_>,
    name: &str,
    event: &'static str,
    reason: Option<String>,
    now: Timestamp,
) -> Result<()> {
    let at = e.now();
    for a in w.accounts()? {
        let Some(v) = w.version_of(a)? else { continue };
        let dir = e.directory_in(w, a, v)?;
        let Some(user) = dir.users.iter().find(|u| u.login.as_deref() == Some(name)) else {
            continue;
        };
        let entry = Entry {
            login: name,
            user: Some(user.id),
            ip: "",
            device: "",
            event,
            outcome: AuthOutcome::Ok,
            reason: reason.clone(),
            session: None,
        };
        log::append(w, a, at, now, entry)?;
    }
    Ok(())
}

/// A new secret for `name`, replacing one not yet confirmed.
pub(crate) fn enroll(e: &Engine, name: &str, now: Timestamp) -> Result<Enrolled> {
    let name = login::normalize(name)?;
    let (raw, secret, uri) = totp::new_secret(&name)?;
    e.write(|w| {
        let mut l =
            login::get(w, &name)?.ok_or_else(|| Error::NotFound(format!("no login `{name}`")))?;
        if l.totp.as_ref().is_some_and(|t| t.confirmed) {
            return Err(Error::Conflict(format!(
                "the login `{name}` has two-factor sign-in; an admin resets it first"
            )));
        }
        l.totp = Some(TotpState {
            secret: raw.clone(),
            ..TotpState::default()
        });
        login::put(w, &name, &l)?;
        log_everywhere(e, w, &name, "totp.enroll", None, now)
    })?;
    Ok(Enrolled { secret, uri })
}

/// Confirms `name`'s new secret with a first code; returns the recovery
/// codes, shown this once.
pub(crate) fn confirm(e: &Engine, name: &str, code: &str, now: Timestamp) -> Result<Vec<String>> {
    let name = login::normalize(name)?;
    let (codes, hashes) = totp::recovery_codes()?;
    e.write(|w| {
        let mut l =
            login::get(w, &name)?.ok_or_else(|| Error::NotFound(format!("no login `{name}`")))?;
        let Some(state) = l.totp.as_mut().filter(|t| !t.confirmed) else {
            return Err(Error::Conflict(format!(
                "the login `{name}` has no enrolment to confirm (`totp enroll` first)"
            )));
        };
        let step = totp::check_code(&state.secret, totp::DIGITS, code, totp::unix_secs(now))
            .ok_or_else(|| Error::Denied("2FA code wrong".into()))?;
        state.confirmed = true;
        state.last_step = step;
        state.recovery = hashes;
        login::put(w, &name, &l)?;
        log_everywhere(e, w, &name, "totp.confirm", None, now)
    })?;
    Ok(codes)
}

/// Removes the second factor of `user`'s login (admins only) and ends every
/// session of the login, in every account. How many sessions ended.
pub(crate) fn reset(e: &Engine, ctx: &AccessContext, user: u64, now: Timestamp) -> Result<u64> {
    let at = e.now();
    e.act(ctx, AuditAction::TotpReset.name(), at, |w, act| {
        if !act.v.admin {
            return Err(Error::Denied(format!(
                "only an admin may reset two-factor sign-in (user `{}` is not)",
                act.v.user
            )));
        }
        let target = act.dir.user(user).ok_or_else(|| {
            Error::NotFound(format!("no user `{user}` in account `{}`", ctx.account))
        })?;
        let name = target
            .login
            .clone()
            .ok_or_else(|| Error::NotFound(format!("user `{user}` has no login")))?;
        let mut l =
            login::get(w, &name)?.ok_or_else(|| Error::NotFound(format!("no login `{name}`")))?;
        l.totp = None;
        login::put(w, &name, &l)?;
        let mut n = 0;
        for (a, id) in session::live_of_login(w, &name)? {
            n += u64::from(end_logged(w, a, id, EndReason::TwoFactorReset, at, now)?);
        }
        let entry = Entry {
            login: &name,
            user: Some(user),
            ip: "",
            device: "",
            event: "totp.reset",
            outcome: AuthOutcome::Ok,
            reason: Some(format!("by user {}", act.v.user)),
            session: None,
        };
        log::append(w, ctx.account, at, now, entry)?;
        let entry = audit::Entry {
            actor: Some(act.v.user),
            action: AuditAction::TotpReset,
            target: format!("user {user}"),
            count: n,
            detail: String::new(),
        };
        audit::append(w, ctx.account, at, entry)?;
        Ok(n)
    })
}
