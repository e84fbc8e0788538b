//! Logins: store-wide, one per person, compared case-insensitively; the
//! password kept only as an argon2id PHC string.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use redb::ReadableTable;

use crate::codec;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::txn::{Reader, Writer};

/// A password is at least this many bytes...
pub const MIN_PASSWORD: usize = 8;
/// ... and at most this many (argon2 reads every byte).
pub const MAX_PASSWORD: usize = 1024;
/// A login (an email address) is at most this many bytes.
pub const MAX_LOGIN: usize = 254;

/// One login's credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Login {
    /// The argon2id PHC string; `None` until a password is set (a login a
    /// document named: external sign-in only).
    pub phc: Option<String>,
    pub created_at: Timestamp,
    pub changed_at: Timestamp,
    /// The second factor, once enrolled (`totp enroll`).
    pub totp: Option<super::totp::TotpState>,
}

impl codec::Stored for Login {}

pub(crate) fn get(w: &Writer<'_>, name: &str) -> Result<Option<Login>> {
    decode(w.logins.get(name)?.map(|g| g.value().to_vec()), name)
}

pub(crate) fn get_in(r: &Reader, name: &str) -> Result<Option<Login>> {
    decode(r.logins()?.get(name)?.map(|g| g.value().to_vec()), name)
}

fn decode(bytes: Option<Vec<u8>>, name: &str) -> Result<Option<Login>> {
    bytes
        .map(|b| codec::decode(&b, || format!("logins key `{name}`")))
        .transpose()
}

pub(crate) fn put(w: &mut Writer<'_>, name: &str, l: &Login) -> Result<()> {
    w.logins.insert(name, codec::encode(l)?.as_slice())?;
    Ok(())
}

/// `text` as a login is stored and compared: trimmed, lowercase, checked.
///
/// # Errors
/// `Invalid` for an empty or overlong login, or one without an `@`.
pub(crate) fn normalize(text: &str) -> Result<String> {
    let login = text.trim().to_lowercase();
    let ok = !login.is_empty()
        && login.len() <= MAX_LOGIN
        && login.contains('@')
        && !login.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(Error::Invalid(format!(
            "`{}` is not a login (an email address of at most {MAX_LOGIN} bytes)",
            text.chars().take(80).collect::<String>()
        )));
    }
    Ok(login)
}

/// Checks a new password's length (the only rule; what else makes a good
/// password is the CRM's policy).
pub(crate) fn check_password(password: &str) -> Result<()> {
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&password.len()) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "a password is {MIN_PASSWORD} to {MAX_PASSWORD} bytes long"
        )))
    }
}

/// The PHC string of `password` with a fresh random salt.
pub(crate) fn hash(password: &str) -> Result<String> {
    check_password(password)?;
    let salt = SaltString::encode_b64(&crate::util::random_bytes::<16>()?)
        .map_err(|e| Error::Storage(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Storage(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches `phc`. With no `phc` (unknown login, or one
/// without a password) a dummy hash is checked instead, so the answer takes
/// the same time either way and says nothing about which it was.
pub(crate) fn verify(phc: Option<&str>, password: &str) -> bool {
    let known = phc.and_then(|p| PasswordHash::new(p).ok());
    let dummy = dummy_hash();
    let target = match (&known, dummy) {
        (Some(h), _) => h,
        (None, Some(d)) => d,
        (None, None) => return false,
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), target)
        .is_ok();
    matches && known.is_some()
}

/// A hash of a random password, made once per process.
fn dummy_hash() -> Option<&'static PasswordHash<'static>> {
    static PHC: OnceLock<Option<String>> = OnceLock::new();
    static PARSED: OnceLock<Option<PasswordHash<'static>>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            PHC.get_or_init(|| {
                let password = crate::util::random_bytes::<16>().ok()?;
                hash(&hex::encode(password)).ok()
            })
            .as_deref()
            .and_then(|p| PasswordHash::new(p).ok())
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(Some(&phc), "correct horse"));
        assert!(!verify(Some(&phc), "correct horsE"));
        assert!(!verify(None, "correct horse"));
        assert!(!verify(Some("not a phc"), "correct horse"));
    }

    #[test]
    fn logins_are_compared_lowercase_and_passwords_held_to_their_length() {
        assert_eq!(normalize("  Ana@Acme.TEST ").unwrap(), "ana@acme.test");
        assert!(normalize("ana").is_err());
        assert!(normalize(&format!("{}@x", "a".repeat(300))).is_err());
        assert!(check_password("1234567").is_err());
        assert!(check_password(&"x".repeat(1025)).is_err());
        assert!(check_password("12345678").is_ok());
    }
}
