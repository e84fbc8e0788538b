//! `Store::decide` (issue 19): decisions beyond one record's, answered
//! before the action, with the very reason the action gives when refused.

use crmstore::{Cascade, Error, Request};

use crate::common::fixture;

#[test]
fn each_request_is_answered_as_its_action_would_be() {
    let f = fixture();
    let (ada, raj, max, sue, vic) = (f.ctx(1), f.ctx(3), f.ctx(2), f.ctx(4), f.ctx(7));
    let ask = |ctx, r| f.store.decide(ctx, r).unwrap();
    // Create: by the profile's create scope.
    assert!(ask(&raj, Request::Create { module: "deals" }).allowed);
    let no = ask(&vic, Request::Create { module: "deals" });
    assert_eq!(
        no.reason.as_deref(),
        Some("user `7` may not create records in `deals`")
    );
    let e = f
        .store
        .create(&vic, crmstore::NewRecord::new("deals"))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
    // Export: scope, and admin-only modules.
    assert!(ask(&raj, Request::Export { module: "deals" }).allowed);
    let no = ask(&raj, Request::Export { module: "leads" });
    assert_eq!(
        no.reason.as_deref(),
        Some("only an admin may export `leads`")
    );
    assert!(ask(&ada, Request::Export { module: "leads" }).allowed);
    // Block: admins only.
    assert!(ask(&ada, Request::Block { user: 4 }).allowed);
    let no = ask(&raj, Request::Block { user: 4 });
    let e = f.store.set_blocked(&raj, 4, true).unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
    // Batches: raj's own, his manager's view of it, an admin's, and sue's (none).
    let gone = f.store.delete(&raj, &[1], Cascade::Yes).unwrap();
    let (restore, purge) = (
        Request::RestoreBatch { batch: gone.batch },
        Request::PurgeBatch { batch: gone.batch },
    );
    assert!(ask(&raj, restore).allowed);
    assert!(ask(&max, restore).allowed);
    let no = ask(&max, purge);
    let e = f.store.purge(&max, gone.batch).unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
    assert!(ask(&ada, purge).allowed);
    assert!(matches!(
        f.store.decide(&sue, restore),
        Err(Error::NotFound(_))
    ));
    // A record raj may no longer delete: the restore is refused, said the same way.
    f.store
        .operator()
        .update_directory(1, |d| {
            let p = d.profiles.iter_mut().find(|p| p.id == 2).unwrap();
            p.modules.get_mut("deals").unwrap().delete = crmstore::Scope::None;
        })
        .unwrap();
    let no = ask(&raj, restore);
    assert!(!no.allowed);
    let e = f.store.restore(&raj, gone.batch, None).unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
}
