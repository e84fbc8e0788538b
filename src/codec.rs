//! Stored values: one version byte, then postcard.
//!
//! The version byte lets a later release change a stored type and still read
//! what an older one wrote; a value whose byte is unknown or whose body does not
//! decode is [`Error::Corrupt`] naming where it was found, never a panic.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// The encoding version written in front of every stored value.
pub(crate) const VALUE_VERSION: u8 = 1;

/// Encodes `value` with its version byte.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![VALUE_VERSION];
    postcard::to_io(value, &mut out)
        .map_err(|e| Error::Invalid(format!("cannot encode value: {e}")))?;
    Ok(out)
}

/// Decodes a value stored at `place` (a table and key, for the error message).
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    place: impl FnOnce() -> String,
) -> Result<T> {
    parse(bytes, postcard::from_bytes, place)
}

/// Reads a value stored at `place` with `read`, given the bytes after the
/// version byte (a record read in place borrows from them).
pub(crate) fn parse<'a, T>(
    bytes: &'a [u8],
    read: impl FnOnce(&'a [u8]) -> postcard::Result<T>,
    place: impl FnOnce() -> String,
) -> Result<T> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => {
            read(body).map_err(|e| Error::Corrupt(format!("corrupt value in {}: {e}", place())))
        }
        Some((v, _)) => Err(Error::Corrupt(format!(
            "corrupt value in {}: unknown encoding version `{v}`",
            place()
        ))),
        None => Err(Error::Corrupt(format!(
            "corrupt value in {}: empty",
            place()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let bytes = encode(&(7u64, "x".to_string())).unwrap();
        let back: (u64, String) = decode(&bytes, || "t".into()).unwrap();
        assert_eq!(back, (7, "x".to_string()));
        let e = decode::<(u64, String)>(&bytes[..2], || "records key 9".into()).unwrap_err();
        assert!(matches!(e, Error::Corrupt(m) if m.contains("records key 9")));
        assert!(decode::<u64>(&[], || "t".into()).is_err());
        assert!(decode::<u64>(&[9, 1], || "t".into()).is_err());
    }
}
