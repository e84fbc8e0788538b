//! What the access gate keeps (`crate::gate` decides with it): logins,
//! sessions and their tokens, lockouts and the authorization log, each read
//! and written inside the caller's transaction.

pub(crate) mod lockout;
pub(crate) mod log;
pub(crate) mod login;
pub(crate) mod session;
pub(crate) mod totp;

use std::collections::BTreeSet;

use crate::error::Result;
use crate::model::Timestamp;
use crate::txn::Writer;
pub use log::{AuthEvent, AuthOutcome, AuthQuery};
pub use session::{AuthMethod, EndReason, SessionInfo};

/// Ends session `id` of `account` for `why` and logs it (`session.close`
/// for a logout, `session.revoke` for anything else). `at` is the store's
/// clock, `now` the acting time. Whether it was live.
pub(crate) fn end_logged(
    w: &mut Writer<'_>,
    account: u64,
    id: u64,
    why: EndReason,
    at: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let Some(s) = session::end(w, account, id, why, now)? else {
        return Ok(false);
    };
    let event = if why == EndReason::Logout {
        "session.close"
    } else {
        "session.revoke"
    };
    let e = log::Entry {
        login: &s.login,
        user: Some(s.user),
        ip: &s.ip,
        device: &s.device,
        event,
        outcome: log::AuthOutcome::Ok,
        reason: Some(why.name().to_string()),
        session: Some(id),
    };
    log::append(w, account, at, now, e)?;
    Ok(true)
}

/// Ends every live session of `user` in `account` for `why`, logged.
/// How many.
pub(crate) fn end_user(
    w: &mut Writer<'_>,
    account: u64,
    user: u64,
    why: EndReason,
    at: Timestamp,
    now: Timestamp,
) -> Result<u64> {
    let mut n = 0;
    for id in session::live_of_user(w, account, user)? {
        n += u64::from(end_logged(w, account, id, why, at, now)?);
    }
    Ok(n)
}

/// What a directory change means for the gate, in its transaction: every
/// login a user names exists (a new one without credentials: external
/// sign-in only until `login passwd`), and the sessions of a user who is now
/// blocked or inactive, or whose login changed, end. With no `old` (a load
/// over the account, or a restore) every session of the account ends.
pub(crate) fn on_directory(
    w: &mut Writer<'_>,
    old: Option<&crate::model::Directory>,
    new: &crate::model::Directory,
    at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let a = new.account.id;
    for u in &new.users {
        if let Some(name) = &u.login {
            if login::get(w, name)?.is_none() {
                let l = login::Login {
                    phc: None,
                    created_at: at,
                    changed_at: at,
                    totp: None,
                };
                login::put(w, name, &l)?;
            }
        }
    }
    let Some(old) = old else {
        for id in session::live_of_account(w, a)? {
            end_logged(w, a, id, EndReason::AccountLoad, at, now)?;
        }
        return Ok(());
    };
    for u in &new.users {
        let why = if u.blocked {
            Some(EndReason::UserBlocked)
        } else if !u.active {
            Some(EndReason::UserInactive)
        } else if old.user(u.id).is_some_and(|o| o.login != u.login) {
            Some(EndReason::Revoked)
        } else {
            None
        };
        if let Some(why) = why {
            end_user(w, a, u.id, why, at, now)?;
        }
    }
    Ok(())
}

/// INVARIANT (sessions): a session not ended has its entries in
/// `USER_SESSIONS` and `LOGIN_SESSIONS` and its token hash in `TOKENS`; an
/// ended one has none of the first two (a restored one no token entry
/// either: its token never works again), and no entry names anything else.
/// Each disagreement goes to `problem`.
pub(crate) fn check(r: &crate::txn::Reader, problem: &mut dyn FnMut(String)) -> Result<()> {
    if !r.has_gate()? {
        return Ok(());
    }
    let (mut by_user_live, mut by_login_live) = (BTreeSet::new(), BTreeSet::new());
    // Each session's token hash, from the one decode of the walk below.
    let mut hashes = std::collections::HashMap::new();
    for e in r.sessions()?.range::<(u64, u64)>(..)? {
        let (k, v) = e?;
        let (a, id) = k.value();
        let s: session::Session =
            match crate::codec::decode(v.value(), || format!("sessions key ({a}, {id})")) {
                Ok(s) => s,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
        let named = r
            .tokens()?
            .get(s.token_sha256.as_slice())?
            .map(|g| g.value());
        let ended = s.end_reason.is_some();
        hashes.insert((a, id), s.token_sha256);
        let entry = session::TokenEntry::of(a, &s).value();
        if named.is_some_and(|n| n != entry) || (named.is_none() && !ended) {
            problem(format!(
                "session `{id}` of account `{a}` has no token entry, or one that says otherwise"
            ));
        }
        let by_user = r.user_sessions()?.get((a, s.user, id))?.is_some();
        let by_login = r
            .login_sessions()?
            .get((s.login.as_str(), a, id))?
            .is_some();
        if by_user == ended || by_login == ended {
            problem(format!(
                "session `{id}` of account `{a}` is {} but its index entries say otherwise",
                if ended { "ended" } else { "live" }
            ));
        }
        if !ended {
            by_user_live.insert((a, s.user, id));
            by_login_live.insert((s.login.clone(), a, id));
        }
    }
    for e in r.tokens()?.range::<&[u8]>(..)? {
        let (k, v) = e?;
        let (a, id, ..) = v.value();
        if hashes.get(&(a, id)).map(<[u8; 32]>::as_slice) != Some(k.value()) {
            problem(format!(
                "a token entry names session `{id}` of account `{a}`, not its"
            ));
        }
    }
    for e in r.user_sessions()?.range::<(u64, u64, u64)>(..)? {
        let (a, user, id) = e?.0.value();
        if !by_user_live.contains(&(a, user, id)) {
            problem(format!(
                "user_sessions names session `{id}` of account `{a}`, not live"
            ));
        }
    }
    for e in r.login_sessions()?.range::<(&str, u64, u64)>(..)? {
        let k = e?.0;
        let (login, a, id) = k.value();
        if !by_login_live.contains(&(login.to_string(), a, id)) {
            problem(format!(
                "login_sessions names session `{id}` of account `{a}`, not live"
            ));
        }
    }
    Ok(())
}
