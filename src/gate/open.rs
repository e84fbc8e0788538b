//! Opening a session: with a password (and a second factor), for a CRM's
//! own identity provider, or by switching account. Every attempt, refused
//! or not, is in the account's authorization log, committed with it.

use std::net::IpAddr;
use std::sync::Arc;

use super::second::SecondFactor;
use super::second::{self, Proof};
use super::{authenticate, canonical, device_text, failed, linked, policy, Opened, SignIn};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::network::GatePolicy;
use crate::model::{Directory, Timestamp, User};
use crate::sessions::log::{self, AuthOutcome, Entry};
use crate::sessions::session::{self, Session};
use crate::sessions::{lockout, login};
use crate::txn::{Tx, Writer};

/// Opens a session with a password (`Store::session_open`).
pub(crate) fn open_password(
    e: &Engine,
    s: &SignIn<'_>,
    password: &str,
    second: Option<SecondFactor<'_>>,
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
        let Some((dir, policy)) = directory(e, w, s.account)? else {
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
            if count {
                count_failure(w, s.account, &dir, entry, at, now)?;
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
        let proof = Proof::Password(second);
        open_checked(
            w, s.account, &dir, &policy, &user, s.ip, proof, entry, at, now,
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
        let Some((dir, policy)) = directory(e, w, s.account)? else {
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
        let proof = Proof::External { mfa };
        open_checked(
            w, s.account, &dir, &policy, &user, s.ip, proof, entry, at, now,
        )
    })?;
    decided
}

/// The account's directory as of `w` and its gate policy (both cached per
/// directory version), `None` for an unknown account.
fn directory(
    e: &Engine,
    w: &Writer<'_>,
    account: u64,
) -> Result<Option<(Arc<Directory>, Arc<GatePolicy>)>> {
    match w.version_of(account)? {
        Some(v) => Ok(Some((
            e.directory_in(w, account, v)?,
            e.gate_policy_in(w, account, v)?,
        ))),
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

/// Counts a wrong password or code toward the login's lockout in `account`,
/// logging `login.locked` when this one locks it.
fn count_failure(
    w: &mut Writer<'_>,
    account: u64,
    dir: &Directory,
    mut entry: Entry<'_>,
    at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let policy = dir.account.security.lockout;
    if lockout::fail(w, account, entry.login, now, &policy)? {
        entry.event = "login.locked";
        entry.reason = Some(format!(
            "{} wrong passwords or codes within {} s",
            policy.max_failures, policy.window_secs
        ));
        log::append(w, account, at, now, entry)?;
    }
    Ok(())
}

/// After the credential was right: the user's own state, then the session.
#[allow(clippy::too_many_arguments)]
fn open_checked(
    w: &mut Writer<'_>,
    account: u64,
    dir: &Directory,
    policy: &GatePolicy,
    user: &User,
    ip: IpAddr,
    proof: Proof<'_>,
    mut entry: Entry<'_>,
    at: Timestamp,
    now: Timestamp,
) -> Result<Result<Opened>> {
    if let Some(why) = policy::refusal(dir, policy, user, ip, now) {
        return refuse(w, account, at, now, entry, why);
    }
    let how = match second::decide(w, dir, user, entry.login, proof, now)? {
        Ok(how) => how,
        Err(r) => {
            if r.counts {
                count_failure(w, account, dir, entry.clone(), at, now)?;
            }
            return refuse(w, account, at, now, entry, r.why);
        }
    };
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
        let Some((dir, policy)) = directory(e, w, account)? else {
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
        open_checked(
            w,
            account,
            &dir,
            &policy,
            &user,
            ip,
            Proof::Switch(how),
            entry,
            at,
            now,
        )
    })?;
    decided
}
