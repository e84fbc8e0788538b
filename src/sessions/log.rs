//! The authorization log: per account, one hash chain (shared with the
//! audit log: `chain`) of every session opened or refused, ended, revoked,
//! switched, every lockout and unlock. Never a password, code or token.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::chain::{self, ChainReport, Link};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::txn::{Reader, Writer};

/// Per account: the next session id and the authorization log's ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GateState {
    pub next_session: u64,
    pub next_seq: u64,
    pub head: [u8; 32],
    /// The first seq kept, and the hash before it (zeros before seq 1):
    /// where a purge cut the log, so verification starts there.
    pub first_seq: u64,
    pub first_prev: [u8; 32],
}

impl codec::Stored for GateState {}

pub(crate) fn state(w: &Writer<'_>, account: u64) -> Result<GateState> {
    decode_state(w.gate.get(account)?.map(|g| g.value().to_vec()), account)
}

fn state_in(r: &Reader, account: u64) -> Result<GateState> {
    decode_state(r.gate()?.get(account)?.map(|g| g.value().to_vec()), account)
}

fn decode_state(bytes: Option<Vec<u8>>, account: u64) -> Result<GateState> {
    bytes
        .map(|b| codec::decode(&b, || format!("gate key {account}")))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub(crate) fn put_state(w: &mut Writer<'_>, account: u64, s: &GateState) -> Result<()> {
    w.gate.insert(account, codec::encode(s)?.as_slice())?;
    Ok(())
}

/// Whether an event records a success or a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthOutcome {
    Ok,
    Refused,
}

impl AuthOutcome {
    pub fn name(self) -> &'static str {
        match self {
            AuthOutcome::Ok => "ok",
            AuthOutcome::Refused => "refused",
        }
    }

    /// Parses `ok` or `refused`.
    ///
    /// # Errors
    /// `Invalid` for anything else.
    pub fn parse(text: &str) -> Result<AuthOutcome> {
        match text {
            "ok" => Ok(AuthOutcome::Ok),
            "refused" => Ok(AuthOutcome::Refused),
            _ => Err(Error::Invalid(format!(
                "`{text}` is not an outcome (ok, refused)"
            ))),
        }
    }
}

/// One event of the authorization log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthEvent {
    pub seq: u64,
    /// When it was written (the store's clock).
    pub at: Timestamp,
    /// The time the action was decided at, when a caller gave another one
    /// (`--now`): logs stay in time order, decisions use this.
    pub acting_at: Option<Timestamp>,
    pub login: String,
    pub user: Option<u64>,
    pub ip: String,
    pub device: String,
    /// `session.open`, `session.refused`, `session.close`, `session.revoke`,
    /// `session.switch`, `login.locked`, `login.unlock`.
    pub event: String,
    pub outcome: AuthOutcome,
    pub reason: Option<String>,
    pub session: Option<u64>,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

impl codec::Stored for AuthEvent {}

chain::linked!(AuthEvent {
    seq,
    at,
    acting_at,
    login,
    user,
    ip,
    device,
    event,
    outcome,
    reason,
    session,
    prev
});

impl AuthEvent {
    /// The JSON line `auth log --json` prints (CLI.md).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "seq": self.seq, "at": self.at.to_rfc3339(), "login": self.login, "user": self.user,
            "ip": self.ip, "device": self.device, "event": self.event,
            "outcome": self.outcome.name(), "reason": self.reason, "session": self.session,
            "hash": hex::encode(self.hash),
        });
        if let Some(t) = self.acting_at {
            v["acting_at"] = serde_json::json!(t.to_rfc3339());
        }
        v
    }
}

/// What to log: everything but the seq, times and hashes.
#[derive(Clone, Debug)]
pub(crate) struct Entry<'a> {
    pub login: &'a str,
    pub user: Option<u64>,
    pub ip: &'a str,
    pub device: &'a str,
    pub event: &'static str,
    pub outcome: AuthOutcome,
    pub reason: Option<String>,
    pub session: Option<u64>,
}

/// Appends `e` to `account`'s log in the caller's transaction, written at
/// `at` (the store's clock) for an action decided at `acting`.
pub(crate) fn append(
    w: &mut Writer<'_>,
    account: u64,
    at: Timestamp,
    acting: Timestamp,
    e: Entry<'_>,
) -> Result<()> {
    let mut st = state(w, account)?;
    let seq = st.next_seq.max(1);
    if st.first_seq == 0 {
        st.first_seq = 1;
    }
    let mut ev = AuthEvent {
        seq,
        at,
        acting_at: (acting.0.abs_diff(at.0) >= 1_000_000).then_some(acting),
        login: e.login.to_string(),
        user: e.user,
        ip: e.ip.to_string(),
        device: e.device.to_string(),
        event: e.event.to_string(),
        outcome: e.outcome,
        reason: e.reason,
        session: e.session,
        prev: st.head,
        hash: [0; 32],
    };
    ev.hash = ev.digest();
    w.auth_log
        .insert((account, seq), codec::encode(&ev)?.as_slice())?;
    st.next_seq = chain::next_seq(
        seq,
        &format!("the authorization log of account `{account}`"),
    )?;
    st.head = ev.hash;
    put_state(w, account, &st)
}

fn events(r: &Reader, account: u64) -> Result<impl Iterator<Item = Result<AuthEvent>> + '_> {
    Ok(r.auth_log()?
        .range((account, 0)..=(account, u64::MAX))?
        .map(move |e| {
            let (k, v) = e?;
            let seq = k.value().1;
            codec::decode(v.value(), || format!("auth log key ({account}, {seq})"))
        }))
}

/// Which events `auth log` shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthQuery {
    pub user: Option<u64>,
    pub since: Option<Timestamp>,
    pub outcome: Option<AuthOutcome>,
}

pub(crate) fn list(r: &Reader, account: u64, q: AuthQuery) -> Result<Vec<AuthEvent>> {
    let mut out = Vec::new();
    for ev in events(r, account)? {
        let ev = ev?;
        if q.user.is_none_or(|u| ev.user == Some(u))
            && q.since.is_none_or(|s| ev.at >= s)
            && q.outcome.is_none_or(|o| ev.outcome == o)
        {
            out.push(ev);
        }
    }
    Ok(out)
}

/// Walks `account`'s log from where the last purge cut it to the head.
pub(crate) fn verify(r: &Reader, account: u64) -> Result<ChainReport> {
    let st = state_in(r, account)?;
    let ends = chain::Ends {
        first_seq: st.first_seq.max(1),
        prev: st.first_prev,
        next_seq: st.next_seq,
        head: st.head,
    };
    chain::verify(events(r, account)?, ends)
}

/// Removes `account`'s events written before `cutoff`, keeping the hash the
/// first kept one chains to. Returns how many went.
pub(crate) fn purge(w: &mut Writer<'_>, account: u64, cutoff: Timestamp) -> Result<u64> {
    let mut st = state(w, account)?;
    let mut gone = Vec::new();
    let mut last_hash = None;
    for e in w.auth_log.range((account, 0)..=(account, u64::MAX))? {
        let (k, v) = e?;
        let seq = k.value().1;
        let ev: AuthEvent =
            codec::decode(v.value(), || format!("auth log key ({account}, {seq})"))?;
        if ev.at >= cutoff {
            break;
        }
        gone.push(seq);
        last_hash = Some(ev.hash);
    }
    let (Some(&last), Some(hash)) = (gone.last(), last_hash) else {
        return Ok(0);
    };
    for seq in &gone {
        w.auth_log.remove((account, *seq))?;
    }
    st.first_seq = last + 1;
    st.first_prev = hash;
    put_state(w, account, &st)?;
    Ok(gone.len() as u64)
}
