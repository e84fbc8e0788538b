//! Stored values: one layout-version byte, then postcard.
//!
//! Each stored type names the layout it writes ([`Stored::VERSION`]) and reads
//! the layouts older releases wrote ([`Stored::read_older`]), so a release can
//! change a stored type without rewriting a store. A value whose byte is
//! unknown or whose body does not decode is [`Error::Corrupt`] naming where it
//! was found, never a panic.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// A type stored through this module.
pub(crate) trait Stored: Serialize + DeserializeOwned {
    /// The layout written in front of this type's values.
    const VERSION: u8 = 1;

    /// Reads a body an older release wrote with layout `version`; `None` for
    /// a version this type never had.
    fn read_older(_version: u8, _body: &[u8]) -> Option<postcard::Result<Self>> {
        None
    }
}

// Each stored type implements `Stored` beside its definition: `Directory`,
// `AccountState` (txn), `Event` (audit) and `Batch` (trash) at layout 1;
// `Record` at layout 2 (its field map moved last), reading layout 1.

/// Encodes `value` with its layout byte.
pub(crate) fn encode<T: Stored>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![T::VERSION];
    postcard::to_io(value, &mut out)
        .map_err(|e| Error::Invalid(format!("cannot encode value: {e}")))?;
    Ok(out)
}

/// Decodes a value stored at `place` (a table and key, for the error message).
pub(crate) fn decode<T: Stored>(bytes: &[u8], place: impl FnOnce() -> String) -> Result<T> {
    parse(
        bytes,
        |version, body| match version {
            v if v == T::VERSION => Some(postcard::from_bytes(body)),
            v => T::read_older(v, body),
        },
        place,
    )
}

/// Reads a value stored at `place` with `read`, given its layout byte and the
/// bytes after it (a record read in place borrows from them); `read` answers
/// `None` for a layout it does not know.
pub(crate) fn parse<'a, T>(
    bytes: &'a [u8],
    read: impl FnOnce(u8, &'a [u8]) -> Option<postcard::Result<T>>,
    place: impl FnOnce() -> String,
) -> Result<T> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err(Error::Corrupt(format!(
            "corrupt value in {}: empty",
            place()
        )));
    };
    match read(version, body) {
        Some(read) => {
            read.map_err(|e| Error::Corrupt(format!("corrupt value in {}: {e}", place())))
        }
        None => Err(Error::Corrupt(format!(
            "corrupt value in {}: unknown encoding version `{version}`",
            place()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair(u64, String);
    impl Stored for Pair {
        const VERSION: u8 = 2;
        fn read_older(version: u8, body: &[u8]) -> Option<postcard::Result<Self>> {
            (version == 1).then(|| postcard::from_bytes(body).map(|n| Pair(n, String::new())))
        }
    }

    #[test]
    fn round_trip_older_layouts_and_refusals() {
        let bytes = encode(&Pair(7, "x".into())).unwrap();
        assert_eq!(bytes[0], 2);
        assert_eq!(
            decode::<Pair>(&bytes, || "t".into()).unwrap(),
            Pair(7, "x".into())
        );
        let e = decode::<Pair>(&bytes[..2], || "records key 9".into()).unwrap_err();
        assert!(matches!(e, Error::Corrupt(m) if m.contains("records key 9")));
        // Layout 1 was a bare number.
        assert_eq!(
            decode::<Pair>(&[1, 5], || "t".into()).unwrap(),
            Pair(5, String::new())
        );
        assert!(decode::<Pair>(&[], || "t".into()).is_err());
        let e = decode::<Pair>(&[9, 1], || "t".into()).unwrap_err();
        assert!(matches!(e, Error::Corrupt(m) if m.contains("unknown encoding version `9`")));
    }
}
