//! Two-factor sign-in with TOTP (RFC 6238): SHA-1, 6 digits, 30 s steps,
//! one step of drift either way. `totp-rs` computes and checks codes; one
//! use per step is ours: a code whose step is not newer than the last one
//! accepted for the login is refused, and the step is stored in the same
//! transaction that opens the session. Recovery codes are random, shown
//! once, kept as SHA-256, each usable once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret};

use crate::error::{Error, Result};

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds a code lasts.
pub const STEP: u64 = 30;
/// How many recovery codes a confirmation gives.
pub const RECOVERY_CODES: usize = 10;

/// A login's second factor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TotpState {
    /// 20 random bytes (160 bits, as RFC 4226 recommends).
    pub secret: Vec<u8>,
    /// Enrolled codes count only after a first code confirmed the secret.
    pub confirmed: bool,
    /// The last time step accepted: no code of it or before is accepted.
    pub last_step: u64,
    /// SHA-256 of each unused recovery code.
    pub recovery: Vec<[u8; 32]>,
}

/// The matched step of `code` for `secret` at `unix_secs`, with `digits`
/// digits, one step of drift either way (RFC 6238's algorithm, `totp-rs`).
pub(crate) fn check_code(secret: &[u8], digits: u8, code: &str, unix_secs: u64) -> Option<u64> {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(secret.to_vec())
        .build()
        .ok()?;
    totp.check(code.trim(), unix_secs)
}

/// A new secret: its base32 text and the `otpauth://` URI an authenticator
/// app reads (as a QR code).
pub(crate) fn new_secret(login: &str) -> Result<(Vec<u8>, String, String)> {
    let raw = crate::util::random_bytes::<20>()?.to_vec();
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(raw.clone())
        .with_issuer(Some("crmstore"))
        .with_account_name(login)
        .build()
        .map_err(|e| Error::Invalid(format!("cannot make a TOTP secret for `{login}`: {e}")))?;
    let uri = totp
        .to_url()
        .map_err(|e| Error::Invalid(format!("cannot make a TOTP URI for `{login}`: {e}")))?;
    Ok((raw.clone(), Secret::from(raw).to_base32(), uri))
}

/// Ten fresh recovery codes and their hashes.
pub(crate) fn recovery_codes() -> Result<(Vec<String>, Vec<[u8; 32]>)> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let raw = crate::util::random_bytes::<8>()?;
        let text = hex::encode(raw);
        let code = format!("{}-{}", &text[..8], &text[8..]);
        hashes.push(recovery_hash(&code));
        codes.push(code);
    }
    Ok((codes, hashes))
}

pub(crate) fn recovery_hash(code: &str) -> [u8; 32] {
    Sha256::digest(code.trim().to_lowercase().as_bytes()).into()
}

/// Unix seconds of a timestamp (0 before the epoch).
pub(crate) fn unix_secs(t: crate::model::Timestamp) -> u64 {
    u64::try_from(t.0.div_euclid(1_000_000)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (8 digits, the RFC's 20-byte seed),
    /// through the same check the sign-in uses.
    #[test]
    fn rfc_6238_appendix_b_vectors_verify() {
        let seed = b"12345678901234567890";
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(check_code(seed, 8, code, time), Some(time / STEP), "{time}");
            // One step of drift either way, not two.
            assert!(check_code(seed, 8, code, time + STEP).is_some());
            assert!(check_code(seed, 8, code, time + 2 * STEP + 1).is_none());
        }
        assert!(check_code(seed, 8, "00000000", 59).is_none());
        assert!(check_code(seed, 8, "not a code", 59).is_none());
    }

    #[test]
    fn recovery_codes_are_distinct_and_hashed() {
        let (codes, hashes) = recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert_eq!(hashes[0], recovery_hash(&codes[0].to_uppercase()));
    }
}
