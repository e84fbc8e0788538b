//! What an account's policy says of a user signing in or making a request,
//! once who they are is settled: active, not blocked, from an allowed
//! address. Each refusal is said only after the credential was right.

use std::net::IpAddr;

use crate::model::network;
use crate::model::{Directory, User};

/// Why `user` may not act from `ip` now, if they may not.
pub(crate) fn refusal(dir: &Directory, user: &User, ip: IpAddr) -> Option<String> {
    if !user.active {
        return Some("user inactive".into());
    }
    if user.blocked {
        return Some("user blocked".into());
    }
    let profile = dir.profile(user.profile).map(|p| p.ip_allowlist.as_slice());
    let allowed = network::allows(&dir.account.security.ip_allowlist, ip)
        && network::allows(profile.unwrap_or_default(), ip);
    if !allowed {
        return Some(format!("address `{}` is not allowed", ip.to_canonical()));
    }
    None
}
