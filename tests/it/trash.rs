//! The trash: delete to batches, cascade, restore whole or partial, purge, retention.

use crmstore::{Cascade, Deleted, Error, NewRecord, Query, Update};

use crate::common::fixture;

#[test]
fn delete_moves_records_to_one_batch_and_restore_puts_them_back_exactly() {
    let f = fixture();
    let raj = f.ctx(3);
    let before = f.store.operator().dump_json(1).unwrap();
    let Deleted { batch, count } = f.store.delete(&raj, &[1], Cascade::Yes).unwrap();
    assert_eq!(count, 2, "the deal and its comment");
    assert!(matches!(f.store.get(&raj, 1), Err(Error::NotFound(_))));
    assert!(matches!(f.store.get(&raj, 5), Err(Error::NotFound(_))));
    assert_eq!(
        f.store
            .count(&f.ctx(1), &Query::module("comments"))
            .unwrap(),
        0
    );
    assert!(f.store.operator().check().unwrap().is_consistent());
    let listed = f.store.trash_list(&raj).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].deleted_by, 3);
    assert_eq!(
        listed[0].records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [1, 5]
    );
    assert_eq!(f.store.restore_batch(&raj, batch, None).unwrap(), 2);
    let after = f.store.operator().dump_json(1).unwrap();
    assert_eq!(
        after["records"], before["records"],
        "same ids, owners, fields, versions"
    );
    assert!(f.store.trash_list(&raj).unwrap().is_empty());
    assert!(f.store.operator().check().unwrap().is_consistent());
}

#[test]
fn live_children_need_cascade_and_rights_are_checked_first() {
    let f = fixture();
    let raj = f.ctx(3);
    assert!(matches!(
        f.store.delete(&raj, &[1], Cascade::No),
        Err(Error::LiveChildren { record: 1 })
    ));
    assert!(
        matches!(
            f.store.delete(&raj, &[1, 3], Cascade::Yes),
            Err(Error::NotFound(_))
        ),
        "3 is invisible to raj"
    );
    assert!(
        matches!(
            f.store.delete(&f.ctx(5), &[1], Cascade::Yes),
            Err(Error::Denied(_))
        ),
        "team viewer has delete none"
    );
    assert!(
        matches!(
            f.store.delete(&raj, &[6], Cascade::No),
            Err(Error::Denied(_))
        ),
        "leads are admin-only delete"
    );
    assert_eq!(f.ids(1, "deals"), [1, 2, 3, 4], "nothing changed");
    f.store.delete(&raj, &[1, 5], Cascade::No).unwrap();
}

#[test]
fn partial_restore_brings_ancestors_and_conflicts_without_parent() {
    let f = fixture();
    let raj = f.ctx(3);
    let Deleted { batch, count: _ } = f.store.delete(&raj, &[1], Cascade::Yes).unwrap();
    assert_eq!(
        f.store.restore_batch(&raj, batch, Some(&[5])).unwrap(),
        2,
        "the comment brings its deal"
    );
    assert!(f.store.trash_list(&raj).unwrap().is_empty());
    // Comment alone in a batch, its deal deleted in another: restore the
    // comment while its parent is in the trash is a conflict.
    let Deleted {
        batch: b1,
        count: _,
    } = f.store.delete(&raj, &[5], Cascade::No).unwrap();
    let Deleted {
        batch: b2,
        count: _,
    } = f.store.delete(&raj, &[1], Cascade::No).unwrap();
    assert!(matches!(
        f.store.restore_batch(&raj, b1, None),
        Err(Error::ParentGone {
            record: 5,
            parent: 1
        })
    ));
    f.store.restore_batch(&raj, b2, None).unwrap();
    f.store.restore_batch(&raj, b1, None).unwrap();
    assert!(
        matches!(
            f.store.restore_batch(&raj, b1, None),
            Err(Error::NotFound(_))
        ),
        "batch gone after restore"
    );
    assert!(matches!(
        f.store.restore_batch(&raj, 999, None),
        Err(Error::NotFound(_))
    ));
    assert!(f.store.operator().check().unwrap().is_consistent());
}

#[test]
fn who_sees_restores_and_purges_which_batch() {
    let f = fixture();
    let (raj, sue, max, ada) = (f.ctx(3), f.ctx(4), f.ctx(2), f.ctx(1));
    let Deleted { batch, count: _ } = f.store.delete(&raj, &[2], Cascade::No).unwrap();
    assert_eq!(
        f.store.trash_list(&max).unwrap().len(),
        1,
        "manager sees a subordinate's deletion"
    );
    assert!(f.store.trash_list(&sue).unwrap().is_empty());
    assert!(matches!(
        f.store.restore_batch(&sue, batch, None),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        f.store.purge(&sue, batch),
        Err(Error::NotFound(_))
    ));
    assert!(
        matches!(f.store.purge(&raj, batch), Err(Error::Denied(_))),
        "only admins purge"
    );
    assert_eq!(f.store.trash_list(&ada).unwrap().len(), 1);
    assert_eq!(f.store.purge(&ada, batch).unwrap(), 1);
    assert!(f.store.trash_list(&ada).unwrap().is_empty());
    let next = f.store.create(&raj, NewRecord::new("deals")).unwrap();
    assert!(next.id > 6, "purged ids are never reused");
}

#[test]
fn a_user_who_lost_the_delete_right_cannot_restore() {
    let f = fixture();
    let raj = f.ctx(3);
    let Deleted { batch, count: _ } = f.store.delete(&raj, &[2], Cascade::No).unwrap();
    f.store
        .operator()
        .update_directory(1, |d| {
            d.profiles[1].modules.get_mut("deals").unwrap().delete = crmstore::Scope::None;
        })
        .unwrap();
    assert!(matches!(
        f.store.restore_batch(&raj, batch, None),
        Err(Error::Denied(_))
    ));
    assert_eq!(
        f.store.trash_list(&raj).unwrap().len(),
        1,
        "still in the trash"
    );
    assert_eq!(
        f.store.restore_batch(&f.ctx(1), batch, None).unwrap(),
        1,
        "an admin still can"
    );
    let denied = f
        .store
        .operator()
        .audit_list(1, None, Some("access.denied"))
        .unwrap();
    assert_eq!(
        denied.last().map(|e| e.target.as_str()),
        Some("record.restore")
    );
}

#[test]
fn purge_expired_honours_retention() {
    let f = fixture();
    let raj = f.ctx(3);
    let Deleted { batch: b, count: _ } = f.store.delete(&raj, &[2], Cascade::No).unwrap();
    let batch = f.store.trash_list(&raj).unwrap().remove(0);
    assert_eq!(batch.id, b);
    let day = 86_400;
    assert_eq!(
        f.store
            .operator()
            .purge_expired(batch.deleted_at.plus_secs(29 * day))
            .unwrap(),
        0
    );
    assert_eq!(
        f.store
            .operator()
            .purge_expired(batch.deleted_at.plus_secs(30 * day))
            .unwrap(),
        1
    );
    assert!(f.store.trash_list(&raj).unwrap().is_empty());
    let purges = f
        .store
        .operator()
        .audit_list(1, None, Some("record.purge"))
        .unwrap();
    assert_eq!(purges.last().map(|e| e.count), Some(1));
}

#[test]
fn repeated_delete_and_restore_keeps_check_clean() {
    let f = fixture();
    let raj = f.ctx(3);
    for i in 0..20 {
        let Deleted { batch: b, count: _ } = f.store.delete(&raj, &[1], Cascade::Yes).unwrap();
        f.store
            .restore_batch(&raj, b, if i % 2 == 0 { None } else { Some(&[5]) })
            .unwrap();
        f.store.update(&raj, 1, Update::new().set("n", i)).unwrap();
    }
    assert!(f.store.operator().check().unwrap().is_consistent());
    assert_eq!(
        f.store
            .operator()
            .audit_list(1, None, Some("record.delete"))
            .unwrap()
            .len(),
        20
    );
}
