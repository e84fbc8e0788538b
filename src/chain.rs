//! A hash chain of events, what the audit log and the authorization log
//! share: each event's `prev` is the hash of the event before it (zeros
//! before the first, or the hash a purge cut at), its `hash` is SHA-256 over
//! its content and `prev`, and seqs run on without a gap.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// An event of a chain.
pub(crate) trait Link {
    fn seq(&self) -> u64;
    fn prev(&self) -> [u8; 32];
    fn hash(&self) -> [u8; 32];
    /// SHA-256 of the content and `prev` (what `hash` must be).
    fn digest(&self) -> [u8; 32];
}

/// Implements [`Link`] for an event type with `seq`, `prev` and `hash`
/// fields, its digest taken over the fields listed (content, then `prev`).
macro_rules! linked {
    ($t:ty { $($field:ident),* }) => {
        impl $crate::chain::Link for $t {
            fn seq(&self) -> u64 {
                self.seq
            }
            fn prev(&self) -> [u8; 32] {
                self.prev
            }
            fn hash(&self) -> [u8; 32] {
                self.hash
            }
            fn digest(&self) -> [u8; 32] {
                $crate::chain::digest(&($(&self.$field,)*))
            }
        }
    };
}
pub(crate) use linked;

/// SHA-256 of `body` (content and `prev`) encoded with postcard.
pub(crate) fn digest(body: &impl Serialize) -> [u8; 32] {
    let mut h = Sha256::new();
    // postcard of plain tuples cannot fail; an empty body would still chain.
    h.update(postcard::to_allocvec(body).unwrap_or_default());
    h.finalize().into()
}

/// Where a chain's stored events start (seq 1 after zeros, or where a purge
/// cut it: the first kept seq and the hash before it), and where it ends as
/// the account's state says (the next seq and the last hash).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ends {
    pub first_seq: u64,
    pub prev: [u8; 32],
    pub next_seq: u64,
    pub head: [u8; 32],
}

/// What verifying a chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub events: u64,
    /// The first seq where the chain breaks, and why; `None` when whole.
    pub broken: Option<(u64, String)>,
}

/// Walks `links` (in seq order) from `ends.first_seq` to the head.
pub(crate) fn verify<L: Link>(
    links: impl Iterator<Item = Result<L>>,
    ends: Ends,
) -> Result<ChainReport> {
    let first = ends.first_seq.max(1);
    let mut prev = ends.prev;
    let mut expect = first;
    let broken = |seq: u64, why: &str, expect: u64| ChainReport {
        events: expect - first,
        broken: Some((seq, why.to_string())),
    };
    for link in links {
        let link = match link {
            Ok(l) => l,
            Err(Error::Corrupt(m)) => return Ok(broken(expect, &m, expect)),
            Err(e) => return Err(e),
        };
        if link.seq() != expect {
            return Ok(broken(expect, "event missing or out of order", expect));
        }
        if link.prev() != prev {
            return Ok(broken(
                link.seq(),
                "does not chain to the event before it",
                expect,
            ));
        }
        if link.digest() != link.hash() {
            return Ok(broken(
                link.seq(),
                "content does not match its hash",
                expect,
            ));
        }
        prev = link.hash();
        expect += 1;
    }
    if ends.next_seq.max(1) != expect || ends.head != prev {
        return Ok(broken(expect, "events after this one were removed", expect));
    }
    Ok(ChainReport {
        events: expect - first,
        broken: None,
    })
}

/// The seq after `seq`, refusing to wrap.
pub(crate) fn next_seq(seq: u64, what: &str) -> Result<u64> {
    seq.checked_add(1)
        .ok_or_else(|| Error::Conflict(format!("{what} is full")))
}
