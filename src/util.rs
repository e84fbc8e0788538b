//! Small helpers with no better home.

/// A random 128-bit id (store ids).
pub(crate) fn random_id() -> u128 {
    let mut buf = [0u8; 16];
    // Without an OS random source, fall back to the clock: a store id only
    // tells archives of different stores apart, it guards nothing.
    if getrandom::fill(&mut buf).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return now ^ u128::from(std::process::id());
    }
    u128::from_le_bytes(buf)
}

/// Sorted, without repeats.
pub(crate) fn dedup(ids: &[u64]) -> Vec<u64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// `N` bytes from the OS random source: what tokens and salts are made of,
/// so there is no fallback.
pub(crate) fn random_bytes<const N: usize>() -> crate::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| crate::Error::Storage(format!("no random source: {e}")))?;
    Ok(buf)
}
