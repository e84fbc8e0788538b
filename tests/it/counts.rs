//! An unfiltered count answers from maintained per-(module, owner, team)
//! counts and the share index (tables.rs, RANGE_COUNTS): after every kind of
//! write each user's count still equals the records they page through, and
//! `check` finds the counts whole.

use crmstore::synth::{profiles, GenSpec};
use crmstore::{Access, Cascade, Filter, NoProgress, Principal, Query, Store, Update};

const SPEC: GenSpec = GenSpec {
    account: 1,
    records: 400,
    users: 16,
    teams: 3,
    seed: 11,
};

/// Every user's unfiltered count against what they page through and what
/// the record-by-record scan counts (a filter every record passes).
fn assert_counts(store: &Store, step: &str) {
    let report = store.operator().check().unwrap();
    assert!(report.is_consistent(), "{step}: {:?}", report.problems);
    let everyone = Filter::parse(r#"name != "zzz""#).unwrap();
    for user in 1..=SPEC.users {
        let ctx = store.operator().context(1, user).unwrap();
        for m in ["deals", "leads", "comments"] {
            let seen = crate::common::ids(store, &ctx, m).len() as u64;
            let count = store.count(&ctx, &Query::module(m)).unwrap();
            let scanned = store
                .count(&ctx, &Query::module(m).filter(everyone.clone()))
                .unwrap();
            assert_eq!(
                (count, scanned),
                (seen, seen),
                "{step}: user {user} module {m}"
            );
        }
    }
}

#[test]
fn counts_follow_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("c.redb")).unwrap();
    store.operator().generate(&SPEC, &NoProgress).unwrap();
    let dir_ = store.operator().directory(1).unwrap();
    assert!(
        dir_.users.iter().any(|u| u.profile == profiles::TEAM)
            && dir_.users.iter().any(|u| u.profile == profiles::SHARE_ONLY),
        "the account has team-scope and share-only viewers"
    );
    assert_counts(&store, "generated");
    let admin = store.operator().context(1, 1).unwrap();
    let deals: Vec<u64> = crate::common::ids(&store, &admin, "deals");

    // New records, one by one and many at once.
    let rep = store.operator().context(1, 5).unwrap();
    store
        .create(&rep, crmstore::NewRecord::new("deals").field("name", "a"))
        .unwrap();
    store
        .create_many(
            &admin,
            (0..5)
                .map(|i| crmstore::NewRecord::new("leads").field("name", format!("l{i}")))
                .collect(),
        )
        .unwrap();
    assert_counts(&store, "created");

    // Owner and team move: the counts of both pairs change; a share entry
    // names its record's new owner.
    store.assign(&admin, &deals[..20], 7, Some(2)).unwrap();
    store.assign(&admin, &deals[20..30], 3, None).unwrap();
    assert_counts(&store, "assigned");

    store
        .share(&admin, &deals[..40], Principal::Team(1), Access::Read)
        .unwrap();
    store
        .share(&admin, &deals[10..50], Principal::User(9), Access::Read)
        .unwrap();
    store
        .unshare(&admin, &deals[..5], Principal::Team(1))
        .unwrap();
    assert_counts(&store, "shared");

    store
        .update(&admin, deals[60], Update::new().set("name", "renamed"))
        .unwrap();
    let gone = store.delete(&admin, &deals[30..45], Cascade::Yes).unwrap();
    assert_counts(&store, "deleted");
    store.restore_batch(&admin, gone.batch, None).unwrap();
    assert_counts(&store, "restored");
    let gone = store.delete(&admin, &deals[45..50], Cascade::Yes).unwrap();
    store.purge(&admin, gone.batch).unwrap();
    assert_counts(&store, "purged");

    // An account restored from its own dump lands through the bulk path.
    let doc = store.operator().dump_json(1).unwrap();
    store.operator().load_json(&doc.to_string()).unwrap();
    assert_counts(&store, "reloaded");
}
