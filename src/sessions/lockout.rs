//! Lockout: the `max_failures`-th wrong password within `window_secs` locks
//! a login in one account for `lock_secs`, counted from that failure. Only
//! wrong passwords count; attempts while locked neither count nor extend it.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::Result;
use crate::model::{Lockout, Timestamp};
use crate::txn::Writer;

/// A login's recent wrong passwords in one account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lock {
    pub failures: Vec<Timestamp>,
    pub locked_until: Option<Timestamp>,
}

impl codec::Stored for Lock {}

fn get(w: &Writer<'_>, account: u64, login: &str) -> Result<Lock> {
    w.lockouts
        .get((account, login))?
        .map(|g| codec::decode(g.value(), || format!("lockouts key ({account}, {login})")))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Until when `login` is locked in `account` at `now`, if it is.
pub(crate) fn locked_until(
    w: &Writer<'_>,
    account: u64,
    login: &str,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    Ok(get(w, account, login)?.locked_until.filter(|t| *t > now))
}

/// Counts a wrong password at `now`; whether it locked the login.
pub(crate) fn fail(
    w: &mut Writer<'_>,
    account: u64,
    login: &str,
    now: Timestamp,
    policy: &Lockout,
) -> Result<bool> {
    let mut lock = get(w, account, login)?;
    let window = i64::try_from(policy.window_secs).unwrap_or(i64::MAX);
    lock.failures.retain(|t| t.plus_secs(window) > now);
    lock.failures.push(now);
    let max = usize::try_from(policy.max_failures.max(1)).unwrap_or(usize::MAX);
    let locked = lock.failures.len() >= max;
    if locked {
        let secs = i64::try_from(policy.lock_secs).unwrap_or(i64::MAX);
        lock.locked_until = Some(now.plus_secs(secs));
        lock.failures.clear();
    }
    w.lockouts
        .insert((account, login), codec::encode(&lock)?.as_slice())?;
    Ok(locked)
}

/// Clears `login`'s lockout and failures in `account` (an admin's unlock).
/// Whether there was anything to clear.
pub(crate) fn clear(w: &mut Writer<'_>, account: u64, login: &str) -> Result<bool> {
    Ok(w.lockouts.remove((account, login))?.is_some())
}
