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
    /// A password and a TOTP or recovery code.
    PasswordTotp,
    /// A CRM's own identity provider vouched (`Operator::session_open_external`).
    External,
    /// ... and said the person passed a second factor.
    ExternalMfa,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::PasswordTotp => "password+totp",
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
    /// An admin reset the login's second factor.
    TwoFactorReset,
}

impl EndReason {
    const ALL: [EndReason; 10] = [
        EndReason::Logout,
        EndReason::Revoked,
        EndReason::Expired,
        EndReason::Idle,
        EndReason::UserBlocked,
        EndReason::UserInactive,
        EndReason::PasswordChanged,
        EndReason::AccountLoad,
        EndReason::Restored,
        EndReason::TwoFactorReset,
    ];

    /// The code `tokens_v1` keeps (0 is "live").
    fn code(self) -> u8 {
        EndReason::ALL
            .iter()
            .position(|r| *r == self)
            .map_or(u8::MAX, |i| i as u8 + 1)
    }

    fn of_code(code: u8) -> Option<EndReason> {
        EndReason::ALL
            .get(usize::from(code.checked_sub(1)?))
            .copied()
    }

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
            EndReason::TwoFactorReset => "2fa.reset",
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

/// Why a session does not work at `now`, if it does not: ended (a state,
/// never a comparison of times), or past a limit of `sec`.
fn stopped(
    end: Option<EndReason>,
    created_at: Timestamp,
    last_seen: Timestamp,
    sec: &Security,
    now: Timestamp,
) -> Option<EndReason> {
    if end.is_some() {
        return end;
    }
    if now >= created_at.plus_secs(i64::from(sec.session_hours) * 3600) {
        return Some(EndReason::Expired);
    }
    if now >= last_seen.plus_secs(i64::from(sec.idle_minutes) * 60) {
        return Some(EndReason::Idle);
    }
    None
}

/// What `tokens_v1` keeps of a session: what `authenticate` decides with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenEntry {
    pub account: u64,
    pub session: u64,
    pub user: u64,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    pub end: Option<EndReason>,
}

use crate::tables::TokenValue;

impl TokenEntry {
    pub(crate) fn of(account: u64, s: &Session) -> TokenEntry {
        TokenEntry {
            account,
            session: s.id,
            user: s.user,
            created_at: s.created_at,
            last_seen: s.last_seen,
            end: s.end_reason,
        }
    }

    pub(crate) fn value(&self) -> TokenValue {
        let end = self.end.map_or(0, EndReason::code);
        (
            self.account,
            self.session,
            self.user,
            self.created_at.0,
            self.last_seen.0,
            end,
        )
    }

    fn from_value(v: TokenValue) -> TokenEntry {
        TokenEntry {
            account: v.0,
            session: v.1,
            user: v.2,
            created_at: Timestamp(v.3),
            last_seen: Timestamp(v.4),
            // An unknown code reads as revoked: when unsure, deny.
            end: (v.5 != 0).then(|| EndReason::of_code(v.5).unwrap_or(EndReason::Revoked)),
        }
    }

    pub(crate) fn stopped(&self, sec: &Security, now: Timestamp) -> Option<EndReason> {
        stopped(self.end, self.created_at, self.last_seen, sec, now)
    }
}

impl Session {
    pub(crate) fn stopped(&self, sec: &Security, now: Timestamp) -> Option<EndReason> {
        stopped(self.end_reason, self.created_at, self.last_seen, sec, now)
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

/// A new token: 256 random bits as 64 hex digits, and the SHA-256 of the
/// 32 bytes.
pub(crate) fn new_token() -> Result<(String, [u8; 32])> {
    let raw = crate::util::random_bytes::<32>()?;
    Ok((hex::encode(raw), Sha256::digest(raw).into()))
}

/// The SHA-256 a token's entry is keyed by; `None` for text that is not a
/// token (64 hex digits).
fn token_hash(token: &str) -> Option<[u8; 32]> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(token.trim(), &mut raw).ok()?;
    Some(Sha256::digest(raw).into())
}

/// What the token's entry says of its session, if it names one. The entry
/// is found by the SHA-256 of the token: a lookup's key comparisons can
/// only ever reveal bits of a hash of 256 random bits, never of the token.
pub(crate) fn by_token(r: &Reader, token: &str) -> Result<Option<TokenEntry>> {
    let Some(hash) = token_hash(token) else {
        return Ok(None);
    };
    Ok(r.tokens()?
        .get(hash.as_slice())?
        .map(|g| TokenEntry::from_value(g.value())))
}

/// The session itself behind a token, its stored hash compared with the
/// token's in constant time before it is believed.
pub(crate) fn session_of_token(r: &Reader, token: &str) -> Result<Option<(u64, Session)>> {
    let (Some(hash), Some(e)) = (token_hash(token), by_token(r, token)?) else {
        return Ok(None);
    };
    let Some(s) = get_in(r, e.account, e.session)? else {
        return Ok(None);
    };
    let same: bool = s.token_sha256.ct_eq(&hash).into();
    Ok(same.then_some((e.account, s)))
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
    w.tokens.insert(
        s.token_sha256.as_slice(),
        TokenEntry::of(account, s).value(),
    )?;
    w.user_sessions.insert((account, s.user, s.id), ())?;
    w.login_sessions
        .insert((s.login.as_str(), account, s.id), ())?;
    Ok(())
}

/// Writes back a session (its `last_seen`, or its end), and its token
/// entry when it has one.
pub(crate) fn put(w: &mut Writer<'_>, account: u64, s: &Session) -> Result<()> {
    w.sessions
        .insert((account, s.id), codec::encode(s)?.as_slice())?;
    let hash = s.token_sha256.as_slice();
    if w.tokens.get(hash)?.is_some() {
        w.tokens.insert(hash, TokenEntry::of(account, s).value())?;
    }
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
