//! Sessions: what one sign-in on one device holds, how it ends, and the
//! token that names it (shown once; only its SHA-256 is stored).

use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::codec;
use crate::error::{Error, Result};
use crate::model::{Security, Timestamp};
use crate::txn::{Reader, Writer};

/// How a session's user proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    Password,
    /// A CRM's own identity provider vouched (`Operator::session_open_external`).
    External,
    /// ... and said the person passed a second factor.
    ExternalMfa,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::External => "external",
            AuthMethod::ExternalMfa => "external+mfa",
        }
    }
}

/// Why a session stopped working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// Closed by its own holder ("log out this device").
    Logout,
    Revoked,
    /// Past its absolute lifetime (`session_hours`).
    Expired,
    /// Unused past `idle_minutes`.
    Idle,
    UserBlocked,
    UserInactive,
    PasswordChanged,
    /// The account was replaced by `load` (or a restore).
    AccountLoad,
    /// Restored from an archive: sessions come back as history only, so a
    /// token ended after the backup never works again.
    Restored,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Revoked => "revoked",
            EndReason::Expired => "expired",
            EndReason::Idle => "idle",
            EndReason::UserBlocked => "user.blocked",
            EndReason::UserInactive => "user.inactive",
            EndReason::PasswordChanged => "password.changed",
            EndReason::AccountLoad => "account.load",
            EndReason::Restored => "restore",
        }
    }
}

/// One session as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub id: u64,
    pub login: String,
    pub user: u64,
    pub token_sha256: [u8; 32],
    pub ip: String,
    pub device: String,
    pub auth: AuthMethod,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<EndReason>,
}

impl codec::Stored for Session {}

impl Session {
    /// Why the session does not work at `now`, if it does not: ended (a
    /// state, never a comparison of times), or past a limit of `sec`.
    pub(crate) fn stopped(&self, sec: &Security, now: Timestamp) -> Option<EndReason> {
        if let Some(r) = self.end_reason {
            return Some(r);
        }
        let hours = i64::from(sec.session_hours) * 3600;
        if now >= self.created_at.plus_secs(hours) {
            return Some(EndReason::Expired);
        }
        let idle = i64::from(sec.idle_minutes) * 60;
        if now >= self.last_seen.plus_secs(idle) {
            return Some(EndReason::Idle);
        }
        None
    }

    pub(crate) fn expires_at(&self, sec: &Security) -> Timestamp {
        self.created_at
            .plus_secs(i64::from(sec.session_hours) * 3600)
    }

    pub(crate) fn info(&self, sec: &Security, now: Timestamp) -> SessionInfo {
        let stopped = self.stopped(sec, now);
        SessionInfo {
            session: self.id,
            user: self.user,
            login: self.login.clone(),
            ip: self.ip.clone(),
            device: self.device.clone(),
            auth: self.auth,
            created_at: self.created_at,
            last_seen: self.last_seen,
            ended_at: self.ended_at,
            end_reason: stopped,
        }
    }
}

/// A session as `session list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub session: u64,
    pub user: u64,
    pub login: String,
    pub ip: String,
    pub device: String,
    pub auth: AuthMethod,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// When it was ended (logout, revoke, ...); `None` for one that is live
    /// or only ran out (expired, idle: `end_reason` says which).
    pub ended_at: Option<Timestamp>,
    /// Why it no longer works; `None` while it is current.
    pub end_reason: Option<EndReason>,
}

impl SessionInfo {
    /// The JSON line `session list --json` prints (CLI.md).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "session": self.session, "user": self.user, "login": self.login, "ip": self.ip,
            "device": self.device, "auth": self.auth.name(),
            "created_at": self.created_at.to_rfc3339(), "last_seen": self.last_seen.to_rfc3339(),
            "ended_at": self.ended_at.map(Timestamp::to_rfc3339),
            "end_reason": self.end_reason.map(EndReason::name),
        })
    }
}

/// A new token: 256 random bits as 64 hex digits, and its SHA-256.
pub(crate) fn new_token() -> Result<(String, [u8; 32])> {
    let raw = crate::util::random_bytes::<32>()?;
    let text = hex::encode(raw);
    let hash = token_hash(&text);
    Ok((text, hash))
}

pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// The session a token names, if any: looked up by its hash, and the
/// stored hash compared in constant time before it is believed.
pub(crate) fn by_token(r: &Reader, token: &str) -> Result<Option<(u64, Session)>> {
    let hash = token_hash(token);
    let Some((account, id)) = r.tokens()?.get(hash.as_slice())?.map(|g| g.value()) else {
        return Ok(None);
    };
    let Some(s) = read(
        r.sessions()?
            .get((account, id))?
            .map(|g| g.value().to_vec()),
        account,
        id,
    )?
    else {
        return Ok(None);
    };
    let same: bool = s.token_sha256.ct_eq(&hash).into();
    Ok(same.then_some((account, s)))
}

fn read(bytes: Option<Vec<u8>>, account: u64, id: u64) -> Result<Option<Session>> {
    bytes
        .map(|b| codec::decode(&b, || format!("sessions key ({account}, {id})")))
        .transpose()
}

pub(crate) fn get(w: &Writer<'_>, account: u64, id: u64) -> Result<Option<Session>> {
    read(
        w.sessions.get((account, id))?.map(|g| g.value().to_vec()),
        account,
        id,
    )
}

pub(crate) fn get_in(r: &Reader, account: u64, id: u64) -> Result<Option<Session>> {
    read(
        r.sessions()?
            .get((account, id))?
            .map(|g| g.value().to_vec()),
        account,
        id,
    )
}

/// Stores a new session and its token hash and live-index entries.
pub(crate) fn insert(w: &mut Writer<'_>, account: u64, s: &Session) -> Result<()> {
    w.sessions
        .insert((account, s.id), codec::encode(s)?.as_slice())?;
    w.tokens
        .insert(s.token_sha256.as_slice(), (account, s.id))?;
    w.user_sessions.insert((account, s.user, s.id), ())?;
    w.login_sessions
        .insert((s.login.as_str(), account, s.id), ())?;
    Ok(())
}

/// Writes back a session's `last_seen`.
pub(crate) fn put(w: &mut Writer<'_>, account: u64, s: &Session) -> Result<()> {
    w.sessions
        .insert((account, s.id), codec::encode(s)?.as_slice())?;
    Ok(())
}

/// Ends a live session: its state changes now, and it leaves the live
/// indexes. Returns it as it was (`None` when already ended or unknown).
pub(crate) fn end(
    w: &mut Writer<'_>,
    account: u64,
    id: u64,
    why: EndReason,
    now: Timestamp,
) -> Result<Option<Session>> {
    let Some(mut s) = get(w, account, id)? else {
        return Ok(None);
    };
    if s.end_reason.is_some() {
        return Ok(None);
    }
    let was = s.clone();
    s.ended_at = Some(now);
    s.end_reason = Some(why);
    put(w, account, &s)?;
    w.user_sessions.remove((account, s.user, id))?;
    w.login_sessions.remove((s.login.as_str(), account, id))?;
    Ok(Some(was))
}

/// The ids of `user`'s sessions not ended.
pub(crate) fn live_of_user(w: &Writer<'_>, account: u64, user: u64) -> Result<Vec<u64>> {
    w.user_sessions
        .range((account, user, 0)..=(account, user, u64::MAX))?
        .map(|e| Ok(e?.0.value().2))
        .collect()
}

/// Every (account, session) of `login` not ended, in every account.
pub(crate) fn live_of_login(w: &Writer<'_>, login: &str) -> Result<Vec<(u64, u64)>> {
    w.login_sessions
        .range((login, 0, 0)..=(login, u64::MAX, u64::MAX))?
        .map(|e| {
            let k = e?.0;
            let (_, a, s) = k.value();
            Ok((a, s))
        })
        .collect()
}

/// The ids of every session of `account` not ended.
pub(crate) fn live_of_account(w: &Writer<'_>, account: u64) -> Result<Vec<u64>> {
    w.user_sessions
        .range((account, 0, 0)..=(account, u64::MAX, u64::MAX))?
        .map(|e| Ok(e?.0.value().2))
        .collect()
}

/// Every session of `account` (of `user` only, when given), live and ended.
pub(crate) fn all_in(r: &Reader, account: u64, user: Option<u64>) -> Result<Vec<Session>> {
    let mut out = Vec::new();
    for e in r.sessions()?.range((account, 0)..=(account, u64::MAX))? {
        let (k, v) = e?;
        let id = k.value().1;
        let s: Session = codec::decode(v.value(), || format!("sessions key ({account}, {id})"))?;
        if user.is_none_or(|u| s.user == u) {
            out.push(s);
        }
    }
    Ok(out)
}

/// A refusal of a token that names no working session.
pub(crate) fn unusable(why: Option<EndReason>) -> Error {
    match why {
        None => Error::Denied("not signed in: unknown session".into()),
        Some(r) => Error::Denied(format!("not signed in: the session ended ({})", r.name())),
    }
}
