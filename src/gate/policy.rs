//! What an account's policy says of a user signing in or making a request,
//! once who they are is settled: active, not blocked, from an allowed
//! address, within their shift (admins exempt unless
//! `shifts_apply_to_admins`). Each refusal is said only after the credential was right.

use std::net::IpAddr;

use crate::model::network::GatePolicy;
use crate::model::{Directory, Timestamp, User};

/// Why `user` may not act from `ip` at `now`, if they may not. `nets` are
/// `dir`'s allowlists, parsed (`Engine::gate_policy_in`).
pub(crate) fn refusal(
    dir: &Directory,
    nets: &GatePolicy,
    user: &User,
    ip: IpAddr,
    now: Timestamp,
) -> Option<String> {
    if !user.active {
        return Some("user inactive".into());
    }
    if user.blocked {
        return Some("user blocked".into());
    }
    if !nets.allow(user.profile, ip) {
        return Some(format!("address `{}` is not allowed", ip.to_canonical()));
    }
    let sec = &dir.account.security;
    let shift = user
        .shift
        .filter(|_| !user.admin || sec.shifts_apply_to_admins)
        .map(|id| nets.hours.get(&id));
    // A user naming a shift that does not read is refused: when unsure, deny.
    let at = match shift {
        None => Ok(()),
        Some(None) => Err(None),
        Some(Some(h)) => h.at(now),
    };
    if let Err(next) = at {
        return Some(match next {
            Some(t) => format!("outside working hours (next from {})", t.to_rfc3339()),
            None => "outside working hours (none ahead)".into(),
        });
    }
    None
}
