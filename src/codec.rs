//! Stored values: one version byte, then postcard.
//!
//! The version byte lets a later release change a stored type and still read
//! what an older one wrote; a value whose byte is unknown or whose body does not
//! decode is [`Error::Corrupt`] naming where it was found, never a panic.

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed};
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
    decode_seed(bytes, PhantomData, place)
}

/// [`decode`] through a seed (a record as a viewer reads it).
pub(crate) fn decode_seed<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
    place: impl FnOnce() -> String,
) -> Result<S::Value> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, body)) => seed
            .deserialize(&mut postcard::Deserializer::from_bytes(body))
            .map_err(|e| Error::Corrupt(format!("corrupt value in {}: {e}", place()))),
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
