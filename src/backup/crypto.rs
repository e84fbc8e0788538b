//! Keys: age X25519 recipients (the server needs only public keys) or a
//! passphrase (age scrypt), identity files in the standard age format.

use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// Who can open an archive being written.
pub enum Encryption {
    /// One or more age X25519 public keys (`age1...`).
    Recipients(Vec<age::x25519::Recipient>),
    /// A passphrase (age scrypt).
    Passphrase(SecretString),
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encryption::Recipients(r) => write!(f, "Recipients({})", r.len()),
            Encryption::Passphrase(_) => write!(f, "Passphrase(..)"),
        }
    }
}

impl Encryption {
    /// Parses `age1...` public keys.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming a key that does not parse, or none given.
    pub fn recipients<S: AsRef<str>>(keys: &[S]) -> Result<Encryption> {
        if keys.is_empty() {
            return Err(Error::Invalid(
                "no recipient given (pass --recipient AGE1... or --passphrase-file)".into(),
            ));
        }
        keys.iter()
            .map(|k| {
                age::x25519::Recipient::from_str(k.as_ref().trim())
                    .map_err(|e| Error::Invalid(format!("recipient `{}`: {e}", k.as_ref())))
            })
            .collect::<Result<_>>()
            .map(Encryption::Recipients)
    }

    /// Reads a passphrase from the first line of a file.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the file cannot be read or the line is empty.
    pub fn passphrase_file(path: &Path) -> Result<Encryption> {
        read_passphrase(path).map(Encryption::Passphrase)
    }

    pub(crate) fn wrap<W: Write>(&self, out: W) -> Result<age::stream::StreamWriter<W>> {
        let enc = match self {
            Encryption::Recipients(rs) => {
                age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| Error::Invalid(format!("cannot encrypt: {e}")))?
            }
            Encryption::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
        };
        Ok(enc.wrap_output(out)?)
    }
}

fn read_passphrase(path: &Path) -> Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io_at("cannot read passphrase file", path, e))?;
    let line = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('\r');
    if line.is_empty() {
        return Err(Error::Invalid(format!(
            "passphrase file `{}` is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(line.to_string()))
}

/// What opens an archive.
pub enum Decryption {
    /// Identities from an age identity file.
    Identities(Vec<Box<dyn age::Identity + Send + Sync>>),
    Passphrase(SecretString),
}

impl std::fmt::Debug for Decryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decryption::Identities(i) => write!(f, "Identities({})", i.len()),
            Decryption::Passphrase(_) => write!(f, "Passphrase(..)"),
        }
    }
}

impl Decryption {
    /// Reads an age identity file (`AGE-SECRET-KEY-1...` lines).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; [`Error::Invalid`] when it holds
    /// no identity.
    pub fn identity_file(path: &Path) -> Result<Decryption> {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io_at("cannot read identity file", path, e))?;
        let ids = age::IdentityFile::from_buffer(BufReader::new(file))
            .map_err(|e| Error::Invalid(format!("identity file `{}`: {e}", path.display())))?
            .into_identities()
            .map_err(|e| Error::Invalid(format!("identity file `{}`: {e}", path.display())))?;
        if ids.is_empty() {
            return Err(Error::Invalid(format!(
                "identity file `{}` holds no identity",
                path.display()
            )));
        }
        Ok(Decryption::Identities(ids))
    }

    /// Reads a passphrase from the first line of a file.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the file cannot be read or the line is empty.
    pub fn passphrase_file(path: &Path) -> Result<Decryption> {
        read_passphrase(path).map(Decryption::Passphrase)
    }

    /// Opens an age stream over `inp` (seekable when `inp` is).
    pub(crate) fn open<R: Read + Seek>(&self, inp: R) -> Result<age::stream::StreamReader<R>> {
        let dec = age::Decryptor::new(inp).map_err(decrypt_error)?;
        let reader = match self {
            Decryption::Identities(ids) => {
                dec.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            }
            Decryption::Passphrase(p) => {
                let id = age::scrypt::Identity::new(p.clone());
                dec.decrypt(std::iter::once(&id as &dyn age::Identity))
            }
        };
        reader.map_err(decrypt_error)
    }
}

fn decrypt_error(e: age::DecryptError) -> Error {
    match e {
        age::DecryptError::NoMatchingKeys => {
            Error::Crypto("the archive is not encrypted to this key".into())
        }
        age::DecryptError::KeyDecryptionFailed => {
            Error::Crypto("wrong passphrase or key for this archive".into())
        }
        age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
            Error::Corrupt("not an age-encrypted crmstore archive".into())
        }
        age::DecryptError::Io(io) => read_error(io),
        other => Error::Crypto(format!("cannot decrypt the archive: {other}")),
    }
}

/// A read error from inside the age stream: damaged ciphertext shows up as
/// `InvalidData`, a cut-off file as `UnexpectedEof`.
pub(crate) fn read_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::InvalidData => {
            Error::Corrupt("archive: damaged (authentication failed)".into())
        }
        std::io::ErrorKind::UnexpectedEof => Error::Corrupt("archive: truncated".into()),
        _ => Error::Io(e),
    }
}

/// Writes a new age X25519 identity file (mode 0600 on Unix) and returns its
/// public key. Refuses to overwrite an existing file.
///
/// # Errors
/// [`Error::Conflict`] when the file exists; [`Error::Io`] when it cannot be written.
pub fn keygen(path: &Path) -> Result<String> {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Conflict(format!(
            "`{}` exists; not overwriting a key",
            path.display()
        )),
        _ => Error::Io(e),
    })?;
    let created = crate::model::Timestamp::now().to_rfc3339();
    writeln!(
        f,
        "# created: {created}\n# public key: {public}\n{}",
        id.to_string().expose_secret()
    )?;
    f.sync_all()?;
    Ok(public)
}
