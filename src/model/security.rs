//! An account's access-gate settings (`account.security` of the document).

use serde::{Deserialize, Serialize};

/// The access gate's settings of an account (DESIGN.md "The access gate").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// A session's absolute lifetime.
    #[serde(default = "twelve")]
    pub session_hours: u32,
    /// A session unused this long stops working.
    #[serde(default = "hundred_twenty")]
    pub idle_minutes: u32,
    #[serde(default)]
    pub lockout: Lockout,
    /// How long the authorization log keeps an event (`serve` purges).
    #[serde(default = "hundred_eighty")]
    pub auth_log_retention_days: u32,
    /// The networks sign-ins and requests may come from (CIDRs, IPv4 and
    /// IPv6, canonical text); empty: any.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Every user needs a confirmed second factor (TOTP) to sign in.
    #[serde(default)]
    pub require_2fa: bool,
    /// Shifts limit admins too (by default they are exempt).
    #[serde(default)]
    pub shifts_apply_to_admins: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            session_hours: twelve(),
            idle_minutes: hundred_twenty(),
            lockout: Lockout::default(),
            auth_log_retention_days: hundred_eighty(),
            ip_allowlist: Vec::new(),
            require_2fa: false,
            shifts_apply_to_admins: false,
        }
    }
}

/// The `max_failures`-th wrong password within `window_secs` locks the
/// login in this account for `lock_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub max_failures: u32,
    pub window_secs: u64,
    pub lock_secs: u64,
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            max_failures: 5,
            window_secs: 900,
            lock_secs: 900,
        }
    }
}

fn twelve() -> u32 {
    12
}
fn hundred_twenty() -> u32 {
    120
}
fn hundred_eighty() -> u32 {
    180
}
