//! The injectable clock (issue 19): every action reads the store's clock
//! once, and stamps, acts and audits at that one time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crmstore::{Access, NewRecord, Principal, Store, Timestamp, Update};

#[test]
fn an_action_reads_the_clock_once_and_everything_it_writes_carries_that_time() {
    let dir = tempfile::tempdir().unwrap();
    // A clock that moves a second every time it is read.
    let ticks = Arc::new(AtomicI64::new(0));
    let clock = ticks.clone();
    let store = Store::options()
        .clock(move || Timestamp(1_000_000 * clock.fetch_add(1, Ordering::SeqCst)))
        .open(dir.path().join("c.redb"))
        .unwrap();
    store.operator().load_json(crate::common::DOC).unwrap();
    let raj = store.operator().context(1, 3).unwrap();
    let before = ticks.load(Ordering::SeqCst);
    let r = store
        .create(&raj, NewRecord::new("deals").field("a", 1))
        .unwrap();
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        before + 1,
        "one read for a create"
    );
    assert_eq!(r.created_at, r.updated_at);
    let u = store.update(&raj, r.id, Update::new().set("a", 2)).unwrap();
    assert!(u.updated_at > r.updated_at);
    store
        .share(&raj, &[r.id], Principal::User(4), Access::Read)
        .unwrap();
    let shared = store.get(&raj, r.id).unwrap();
    let event = store
        .operator()
        .audit_list(1, None, Some("record.share"))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        event.at, shared.updated_at,
        "the event and the change share one time"
    );
    // A delete and its batch, too.
    let gone = store.delete(&raj, &[r.id], crmstore::Cascade::No).unwrap();
    let batch = store
        .trash_list(&raj)
        .unwrap()
        .into_iter()
        .find(|b| b.id == gone.batch)
        .unwrap();
    let event = store
        .operator()
        .audit_list(1, None, Some("record.delete"))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(event.at, batch.deleted_at);
}
