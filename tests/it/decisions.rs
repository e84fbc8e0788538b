//! `Store::can` (issue 19): every action answered before it runs, with the
//! very reason the action gives when refused.

use crmstore::{Action, Cascade, Error, NewRecord, Principal, Update};

use crate::common::fixture;

#[test]
fn each_request_is_answered_as_its_action_would_be() {
    let f = fixture();
    let (ada, raj, max, sue, vic) = (f.ctx(1), f.ctx(3), f.ctx(2), f.ctx(4), f.ctx(7));
    let ask = |ctx, r| f.store.can(ctx, r).unwrap();
    // Create: by the profile's create scope.
    assert!(ask(&raj, Action::Create { module: "deals" }).allowed);
    let no = ask(&vic, Action::Create { module: "deals" });
    assert_eq!(
        no.reason.as_deref(),
        Some("user `7` may not create records in `deals`")
    );
    let e = f.store.create(&vic, NewRecord::new("deals")).unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
    // Export: scope, and admin-only modules.
    assert!(ask(&raj, Action::ExportModule { module: "deals" }).allowed);
    let no = ask(&raj, Action::ExportModule { module: "leads" });
    assert_eq!(
        no.reason.as_deref(),
        Some("only an admin may export `leads`")
    );
    assert!(ask(&ada, Action::ExportModule { module: "leads" }).allowed);
    // Block: admins only.
    assert!(ask(&ada, Action::Block { user: 4 }).allowed);
    let no = ask(&raj, Action::Block { user: 4 });
    let e = f.store.set_blocked(&raj, 4, true).unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
    // Batches: raj's own, his manager's view of it, an admin's, and sue's (none).
    let gone = f.store.delete(&raj, &[1], Cascade::Yes).unwrap();
    let (restore, purge) = (
        Action::RestoreBatch(gone.batch),
        Action::PurgeBatch(gone.batch),
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
        f.store.can(&sue, restore),
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
    let e = f.store.restore_batch(&raj, gone.batch, None).unwrap_err();
    assert!(
        matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
        "{e}"
    );
}

#[test]
fn record_actions_are_refused_as_the_action_refuses() {
    let f = fixture();
    // tia sees raj's deal (team East) but may only edit and delete her own.
    let (raj, tia) = (f.ctx(3), f.ctx(5));
    let deal = f.store.create(&raj, NewRecord::new("deals")).unwrap();
    let ask = |ctx, a| f.store.can(ctx, a).unwrap();
    for action in [
        Action::View(deal.id),
        Action::Edit(deal.id),
        Action::Share(deal.id),
        Action::Assign(deal.id),
    ] {
        assert!(ask(&raj, action).allowed, "{action:?}");
    }
    // A record the viewer cannot see does not exist for them, whatever the action.
    let sue = f.ctx(4);
    for action in [
        Action::View(deal.id),
        Action::Edit(deal.id),
        Action::Share(deal.id),
    ] {
        assert!(matches!(f.store.can(&sue, action), Err(Error::NotFound(_))));
    }
    // Each refusal carries the text the action's `Denied` carries.
    let refusals: [(Action<'_>, Box<dyn Fn() -> Error>); 3] = [
        (
            Action::Edit(deal.id),
            Box::new(|| {
                f.store
                    .update(&tia, deal.id, Update::new().set("x", 1))
                    .unwrap_err()
            }),
        ),
        (
            Action::Share(deal.id),
            Box::new(|| {
                let to = Principal::User(4);
                f.store
                    .share(&tia, &[deal.id], to, crmstore::Access::Read)
                    .unwrap_err()
            }),
        ),
        (
            Action::Delete(deal.id),
            Box::new(|| f.store.delete(&tia, &[deal.id], Cascade::No).unwrap_err()),
        ),
    ];
    for (action, run) in refusals {
        let no = ask(&tia, action);
        assert!(!no.allowed, "{action:?}");
        let e = run();
        assert!(
            matches!(&e, Error::Denied(m) if Some(m.as_str()) == no.reason.as_deref()),
            "{action:?}: {e} vs {no:?}"
        );
    }
}
