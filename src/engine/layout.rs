//! How long redb's own header says its file is: the one check a read-only
//! open lacks. A writable open refuses a file shorter than its stored layout
//! ("File truncated below stored layout"); a read-only one reads whatever
//! pages are still there, so a store truncated past its last used page
//! answered reads as if whole. Read from redb 4.6's header format
//! (`tree_store/page_store/header.rs`): page size, region geometry and the
//! region counts, all little-endian u32s in the first 32 bytes.

use std::io::Read;
use std::path::Path;

const MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// God-byte flag: the counts may be torn; redb rebuilds them from the file
/// length, so they say nothing then.
const RECOVERY_REQUIRED: u8 = 2;

fn u32_at(h: &[u8; 32], at: usize) -> u64 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&h[at..at + 4]);
    u64::from(u32::from_le_bytes(b))
}

/// The length redb's header gives its file, when it is a redb file whose
/// header can be trusted for that; `None` otherwise (redb itself then
/// decides).
pub(crate) fn stored_len(path: &Path) -> Option<u64> {
    let mut h = [0u8; 32];
    std::fs::File::open(path).ok()?.read_exact(&mut h).ok()?;
    if h[..9] != MAGIC || h[9] & RECOVERY_REQUIRED != 0 {
        return None;
    }
    let page = u32_at(&h, 12);
    let (header_pages, max_data_pages) = (u32_at(&h, 16), u32_at(&h, 20));
    let (full_regions, trailing_pages) = (u32_at(&h, 24), u32_at(&h, 28));
    let full = full_regions.checked_mul((header_pages + max_data_pages).checked_mul(page)?)?;
    let trailing = if trailing_pages > 0 {
        (header_pages + trailing_pages).checked_mul(page)?
    } else {
        0
    };
    page.checked_add(full)?.checked_add(trailing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::GenSpec;
    use crate::{NoProgress, Store};

    #[test]
    fn a_whole_store_is_as_long_as_its_header_says_and_a_cut_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        for records in [0, 10, 5_000] {
            {
                let store = Store::open(&path).unwrap();
                let spec = GenSpec {
                    account: 1,
                    records,
                    users: 3,
                    teams: 1,
                    seed: 1,
                };
                store.operator().generate(&spec, &NoProgress).unwrap();
            }
            let len = std::fs::metadata(&path).unwrap().len();
            assert_eq!(stored_len(&path), Some(len), "{records} records");
        }
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(stored_len(&path).unwrap() > (bytes.len() / 2) as u64);
        std::fs::write(&path, b"not redb at all, longer than a header is").unwrap();
        assert_eq!(stored_len(&path), None);
    }
}
