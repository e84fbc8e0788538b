//! The second factor: what it takes beyond the password, decided after
//! everything else passed (DESIGN.md "Two-factor"). A login with a
//! confirmed TOTP needs a code (or a recovery code) at every password
//! sign-in; an account or profile with `require_2fa` refuses a user who has
//! not enrolled, an external sign-in without MFA, and a switch from a
//! session that had no second factor.

use super::failed;
use crate::error::{Error, Result};
use crate::model::{Directory, Timestamp, User};
use crate::sessions::login;
use crate::sessions::session::AuthMethod;
use crate::sessions::totp;
use crate::txn::Writer;

/// A second factor given at sign-in.
#[derive(Clone, Copy, Debug)]
pub enum SecondFactor<'a> {
    /// A 6-digit code from the authenticator app.
    Totp(&'a str),
    /// One of the recovery codes shown at enrolment (each works once).
    Recovery(&'a str),
}

/// How the person proved who they are, before the second factor.
pub(crate) enum Proof<'a> {
    Password(Option<SecondFactor<'a>>),
    External {
        mfa: bool,
    },
    /// Switching from a session opened with this.
    Switch(AuthMethod),
}

/// Why the second factor refused, and whether it counts toward a lockout
/// (a wrong code does, as a wrong password does).
pub(crate) struct Refusal {
    pub why: String,
    pub counts: bool,
}

fn required(dir: &Directory, user: &User) -> bool {
    dir.account.security.require_2fa || dir.profile(user.profile).is_some_and(|p| p.require_2fa)
}

/// The session's method if the second factor passes; a code or recovery
/// code used is burned in `w` (the transaction that opens the session).
pub(crate) fn decide(
    w: &mut Writer<'_>,
    dir: &Directory,
    user: &User,
    name: &str,
    proof: Proof<'_>,
    now: Timestamp,
) -> Result<std::result::Result<AuthMethod, Refusal>> {
    let refuse = |why: &str, counts| {
        Ok(Err(Refusal {
            why: why.into(),
            counts,
        }))
    };
    let needed = required(dir, user);
    let second = match proof {
        Proof::External { mfa } if needed && !mfa => return refuse("2FA required", false),
        Proof::External { mfa } => {
            return Ok(Ok(if mfa {
                AuthMethod::ExternalMfa
            } else {
                AuthMethod::External
            }))
        }
        Proof::Switch(how) => {
            let had = matches!(how, AuthMethod::PasswordTotp | AuthMethod::ExternalMfa);
            return if needed && !had {
                refuse("2FA required (sign in with a second factor first)", false)
            } else {
                Ok(Ok(how))
            };
        }
        Proof::Password(second) => second,
    };
    let mut l = login::get(w, name)?.ok_or_else(failed)?;
    let Some(state) = l.totp.as_mut().filter(|t| t.confirmed) else {
        return if needed {
            refuse("2FA enrolment required", false)
        } else {
            Ok(Ok(AuthMethod::Password))
        };
    };
    match second {
        None => return refuse("2FA code required", false),
        Some(SecondFactor::Totp(code)) => {
            let step = totp::check_code(&state.secret, totp::DIGITS, code, totp::unix_secs(now));
            match step {
                // Not newer than the last accepted: a replay.
                Some(s) if s > state.last_step => state.last_step = s,
                _ => return refuse("2FA code wrong", true),
            }
        }
        Some(SecondFactor::Recovery(code)) => {
            let h = totp::recovery_hash(code);
            let Some(i) = state.recovery.iter().position(|r| *r == h) else {
                return refuse("recovery code wrong", true);
            };
            state.recovery.remove(i);
        }
    }
    login::put(w, name, &l)?;
    Ok(Ok(AuthMethod::PasswordTotp))
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        Error::Denied(r.why)
    }
}
