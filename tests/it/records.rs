//! Records through the public API: visibility of own/team/all/shares/admin,
//! hidden fields, filters, writes, pagination, durability, corruption.

use crmstore::{Access, Cascade, Error, Filter, NewRecord, Principal, Query, Store, Update, Value};
use redb::{ReadableTable, TableDefinition};

use crate::common::{fixture, raw};

#[test]
fn each_scope_sees_exactly_its_records() {
    let f = fixture();
    assert_eq!(f.ids(1, "deals"), [1, 2, 3, 4], "admin sees all");
    assert_eq!(f.ids(3, "deals"), [1, 2], "rep sees own");
    assert_eq!(f.ids(4, "deals"), [3], "rep sees own");
    assert_eq!(
        f.ids(2, "deals"),
        [1, 2, 3, 4],
        "manager owns subordinates' records"
    );
    assert_eq!(f.ids(5, "deals"), [1, 2, 4], "team scope: team East");
    assert_eq!(
        f.ids(6, "deals"),
        [1, 3, 4],
        "all scope limited to stages new/won"
    );
    assert_eq!(f.ids(7, "deals"), [2], "share to a group the viewer is in");
    assert_eq!(
        f.ids(5, "comments"),
        Vec::<u64>::new(),
        "module not in profile: nothing"
    );
}

#[test]
fn an_invisible_record_is_exactly_a_missing_one() {
    let f = fixture();
    let sue = f.ctx(4);
    let hidden = f.store.get(&sue, 1).unwrap_err();
    let missing = f.store.get(&sue, 999).unwrap_err();
    assert!(matches!(hidden, Error::NotFound(_)));
    assert_eq!(
        hidden.to_string().replace('1', "N"),
        missing.to_string().replace("999", "N")
    );
    // Updating or sharing it is NotFound too, never Denied.
    assert!(matches!(
        f.store.update(&sue, 1, Update::new().set("x", 1)),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        f.store.share(&sue, &[1], Principal::User(4), Access::Read),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn hidden_fields_never_appear_and_cannot_be_filtered_on() {
    let f = fixture();
    let raj = f.ctx(3);
    let r = f.store.get(&raj, 1).unwrap();
    assert!(!r.fields.contains_key("iban"));
    assert_eq!(
        r.fields.get("discount"),
        Some(&Value::Int(5)),
        "read-only is visible"
    );
    assert!(
        f.store
            .get(&f.ctx(1), 1)
            .unwrap()
            .fields
            .contains_key("iban"),
        "admin sees it"
    );
    for text in [
        "iban = \"DE1\"",
        "not iban = null",
        "amount > 0 or iban ~ \"D\"",
        "(name = \"a\" and (iban in [1]))",
    ] {
        let q = Query::module("deals").filter(Filter::parse(text).unwrap());
        assert!(
            matches!(f.store.query(&raj, &q), Err(Error::Denied(_))),
            "{text}"
        );
        assert!(
            matches!(f.store.count(&raj, &q), Err(Error::Denied(_))),
            "{text}"
        );
    }
    // Denied before any type check: a type error on a hidden field is still Denied.
    let q = Query::module("deals").filter(
        Filter::field("iban")
            .contains("x")
            .and(Filter::field("owner").eq("x")),
    );
    assert!(matches!(f.store.query(&raj, &q), Err(Error::Denied(_))));
    assert!(matches!(
        f.store.update(&raj, 1, Update::new().set("iban", "x")),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        f.store.update(&raj, 1, Update::new().set("discount", 9)),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        f.store
            .create(&raj, NewRecord::new("deals").field("iban", "x")),
        Err(Error::Denied(_))
    ));
}

#[test]
fn counts_and_filters_see_only_visible_records() {
    let f = fixture();
    let sue = f.ctx(4);
    let all = Query::module("deals").filter(Filter::parse("amount >= 0").unwrap());
    assert_eq!(f.store.count(&sue, &all).unwrap(), 1);
    assert_eq!(f.store.count(&sue, &Query::module("deals")).unwrap(), 1);
    let q = Query::module("deals").filter(Filter::field("owner").eq(3));
    assert_eq!(f.store.count(&sue, &q).unwrap(), 0);
    assert_eq!(
        f.store.count(&f.ctx(1), &q).unwrap(),
        2,
        "admin: indexed owner filter"
    );
    let q = Query::module("deals")
        .filter(Filter::parse(r#"stage in ["won", "lost"] and amount > 2500"#).unwrap());
    assert_eq!(f.store.query(&f.ctx(1), &q).unwrap().records.len(), 1);
    assert_eq!(
        f.store.count(&f.ctx(6), &Query::module("deals")).unwrap(),
        3,
        "stage limits apply to counts"
    );
    assert_eq!(
        f.store
            .count(&f.ctx(5), &Query::module("comments"))
            .unwrap(),
        0
    );
}

#[test]
fn filters_on_times_and_fields_mixed_match_record_by_record() {
    let f = fixture();
    let admin = f.ctx(1);
    for amount in [10, 20, 30, 40] {
        f.store
            .create(&admin, NewRecord::new("deals").field("amount", amount))
            .unwrap();
    }
    let all = f
        .store
        .query(&admin, &Query::module("deals"))
        .unwrap()
        .records;
    let mid = all[all.len() / 2].created_at;
    let t = mid.to_rfc3339();
    let amount = |r: &crmstore::Record| match r.fields.get("amount") {
        Some(Value::Int(i)) => *i,
        _ => i64::MIN,
    };
    type Expect = fn(&crmstore::Record, crmstore::Timestamp, i64) -> bool;
    let cases: [(Filter, Expect); 4] = [
        (Filter::field("created_at").ge(t.as_str()), |r, m, _| {
            r.created_at >= m
        }),
        (
            Filter::field("amount")
                .ge(30)
                .or(Filter::field("updated_at").lt(t.as_str())),
            |r, m, a| a >= 30 || r.updated_at < m,
        ),
        (
            Filter::field("created_at")
                .ge(t.as_str())
                .and(Filter::field("amount").lt(40))
                .not(),
            |r, m, a| !(r.created_at >= m && a < 40),
        ),
        (Filter::field("amount").ge(20), |_, _, a| a >= 20),
    ];
    for (filter, expect) in cases {
        let want: Vec<u64> = all
            .iter()
            .filter(|r| expect(r, mid, amount(r)))
            .map(|r| r.id)
            .collect();
        let q = Query::module("deals").filter(filter.clone());
        let got: Vec<u64> = f
            .store
            .query(&admin, &q)
            .unwrap()
            .records
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(got, want, "{filter:?}");
        assert_eq!(f.store.count(&admin, &q).unwrap(), want.len() as u64);
    }
}

#[test]
fn a_store_opened_read_only_reads_and_refuses_every_change() {
    let f = fixture();
    drop(f.store);
    let store = Store::options().read_only().open(&f.path).unwrap();
    let raj = store.operator().context(1, 3).unwrap();
    let before = store.operator().dump_json(1).unwrap();
    assert!(store.get(&raj, 1).is_ok());
    let refused = [
        store
            .create(&raj, NewRecord::new("deals").field("n", 1))
            .map(|_| ()),
        store.update(&raj, 1, Update::new().set("n", 2)).map(|_| ()),
        store.delete(&raj, &[1], Cascade::Yes).map(|_| ()),
    ];
    for r in refused {
        assert!(matches!(r, Err(Error::Denied(m)) if m.contains("read-only")));
    }
    assert_eq!(store.operator().dump_json(1).unwrap(), before);
}

#[test]
fn bad_filters_and_modules_are_invalid() {
    let f = fixture();
    let raj = f.ctx(3);
    let bad = |q: Query| matches!(f.store.query(&raj, &q), Err(Error::Invalid(_)));
    assert!(bad(
        Query::module("deals").filter(Filter::field("owner").eq("bob"))
    ));
    assert!(bad(
        Query::module("deals").filter(Filter::field("created_at").gt("yesterday"))
    ));
    assert!(bad(Query::module("nope")));
    assert!(Filter::parse("amount >").is_err());
}

#[test]
fn inactive_and_blocked_users_cannot_act() {
    let f = fixture();
    assert!(matches!(
        f.store.operator().context(1, 8),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        f.store.operator().context(1, 9),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        f.store.operator().context(1, 99),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        f.store.operator().context(2, 1),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn create_sets_owner_by_the_rules() {
    let f = fixture();
    let raj = f.ctx(3);
    let r = f
        .store
        .create(
            &raj,
            NewRecord::new("deals").field("name", "n").stage("new"),
        )
        .unwrap();
    assert_eq!(
        (r.owner, r.team, r.version),
        (3, Some(1), 1),
        "owner is the creator, team theirs"
    );
    assert!(matches!(
        f.store.create(&raj, NewRecord::new("deals").owner(4)),
        Err(Error::Denied(_))
    ));
    let ali = f.ctx(6);
    let r = f
        .store
        .create(&ali, NewRecord::new("deals").owner(4).stage("won"))
        .unwrap();
    assert_eq!(r.owner, 4, "edit scope all may set the owner");
    assert!(
        matches!(
            f.store.create(&ali, NewRecord::new("deals").stage("lost")),
            Err(Error::Denied(_))
        ),
        "stage outside limits"
    );
    assert!(
        matches!(
            f.store.create(&f.ctx(7), NewRecord::new("deals")),
            Err(Error::Denied(_))
        ),
        "create none"
    );
    assert!(matches!(
        f.store.create(&f.ctx(1), NewRecord::new("deals").owner(77)),
        Err(Error::Invalid(_))
    ));
    assert!(
        matches!(
            f.store.create(&raj, NewRecord::new("comments").parent(3)),
            Err(Error::Invalid(_))
        ),
        "invisible parent"
    );
    assert!(matches!(
        f.store
            .create(&raj, NewRecord::new("deals").field("owner", 1)),
        Err(Error::Invalid(_))
    ));
    let ids: Vec<u64> = (0..3)
        .map(|_| f.store.create(&raj, NewRecord::new("deals")).unwrap().id)
        .collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn update_versions_and_conflicts() {
    let f = fixture();
    let raj = f.ctx(3);
    let r = f
        .store
        .update(
            &raj,
            1,
            Update::new()
                .set("amount", 7)
                .set("name", Value::Null)
                .stage(Some("won")),
        )
        .unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(r.fields.get("amount"), Some(&Value::Int(7)));
    assert!(!r.fields.contains_key("name"), "null removes the field");
    let e = f
        .store
        .update(&raj, 1, Update::new().set("amount", 8).expect_version(1))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::StaleVersion {
            record: 1,
            version: 2,
            expected: 1
        }
    ));
    assert_eq!(
        f.store.get(&raj, 1).unwrap().fields.get("amount"),
        Some(&Value::Int(7)),
        "conflict changed nothing"
    );
    f.store
        .update(
            &raj,
            1,
            Update::new().set("amount", "text now").expect_version(2),
        )
        .unwrap();
    // Team-scope viewer sees but may not edit others' records.
    assert!(matches!(
        f.store.update(&f.ctx(5), 4, Update::new().set("x", 1)),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        Update::from_json(r#"{"owner": 3}"#),
        Err(Error::Invalid(_))
    ));
    assert!(
        matches!(
            f.store.update(&raj, 1, Update::new().parent(Some(5))),
            Err(Error::Invalid(_))
        ),
        "cycle"
    );
}

#[test]
fn share_unshare_assign_are_all_or_nothing() {
    let f = fixture();
    let raj = f.ctx(3);
    let sue = f.ctx(4);
    f.store
        .share(&raj, &[1], Principal::User(4), Access::Read)
        .unwrap();
    assert_eq!(f.ids(4, "deals"), [1, 3]);
    f.store
        .share(&raj, &[1], Principal::User(4), Access::ReadWrite)
        .unwrap();
    assert_eq!(
        f.store.get(&raj, 1).unwrap().shares.len(),
        1,
        "re-share replaces the level"
    );
    f.store
        .update(&sue, 1, Update::new().set("amount", 1))
        .unwrap();
    // sue can edit record 1 via share but does not own it: may not share it on.
    assert!(matches!(
        f.store.share(&sue, &[1], Principal::User(7), Access::Read),
        Err(Error::Denied(_))
    ));
    // One forbidden record refuses the whole batch.
    assert!(matches!(
        f.store
            .share(&sue, &[3, 1], Principal::User(7), Access::Read),
        Err(Error::Denied(_))
    ));
    assert_eq!(f.ids(7, "deals"), [2]);
    f.store.unshare(&raj, &[1], Principal::User(4)).unwrap();
    assert_eq!(f.ids(4, "deals"), [3]);
    assert!(matches!(
        f.store.share(&raj, &[1], Principal::Team(9), Access::Read),
        Err(Error::Invalid(_))
    ));
    f.store.assign(&f.ctx(2), &[1, 2], 4, Some(2)).unwrap();
    assert_eq!(f.ids(4, "deals"), [1, 2, 3]);
    assert_eq!(f.ids(3, "deals"), Vec::<u64>::new());
    assert!(f.store.operator().check().unwrap().is_consistent());
}

#[test]
fn hierarchy_and_directory_changes_apply_at_once() {
    let f = fixture();
    let max = f.ctx(2);
    assert_eq!(
        f.store
            .query(&max, &Query::module("deals"))
            .unwrap()
            .records
            .len(),
        4
    );
    let mut doc: serde_json::Value = f.store.operator().dump_json(1).unwrap();
    doc["account"]["hierarchy_access"] = false.into();
    f.store.operator().load_json(&doc.to_string()).unwrap();
    // The same context, made before the change, sees the change.
    let ids: Vec<u64> = f
        .store
        .query(&max, &Query::module("deals"))
        .unwrap()
        .records
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [4]);
}

#[test]
fn rows_read_in_place_hold_what_the_viewer_may_see_and_nothing_else() {
    let f = fixture();
    let raj = f.ctx(3);
    let q = Query::module("deals");
    let rows = f.store.query_rows(&raj, &q).unwrap();
    let page = f.store.query(&raj, &q).unwrap();
    assert_eq!(rows.len(), page.records.len());
    assert!(!rows.is_empty());
    assert_eq!(rows.iter().len(), page.records.len());
    let mut ids = Vec::new();
    for view in &rows {
        ids.push(view.id);
    }
    assert_eq!(ids, page.records.iter().map(|r| r.id).collect::<Vec<_>>());
    for (view, record) in rows.iter().zip(&page.records) {
        assert_eq!(view.to_record(), *record);
        assert_eq!(view.field("iban"), None, "hidden from raj");
        assert!(view.fields().all(|(name, _)| name != "iban"));
        assert_eq!(
            view.field("discount").map(|v| v.to_value()),
            record.fields.get("discount").cloned()
        );
    }
    let admin = f.store.query_rows(&f.ctx(1), &q).unwrap();
    assert!(
        admin.iter().any(|v| v.field("iban").is_some()),
        "admin sees it"
    );
    assert!(matches!(
        f.store
            .query_rows(&raj, &q.clone().filter(Filter::field("iban").eq("x"))),
        Err(Error::Denied(_))
    ));
    let first = f.store.query_rows(&raj, &q.clone().limit(1)).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first.next_after, first.get(0).map(|v| v.id));
    assert_eq!(first.get(1), None);
}

#[test]
fn a_read_that_starts_after_a_write_returned_sees_it_on_any_thread() {
    // Reads between two commits share one snapshot; every commit must retire it.
    let f = fixture();
    let ada = f.ctx(1);
    let before = f.store.count(&ada, &Query::module("deals")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..200 {
                let new = NewRecord::new("deals").field("name", format!("d{i}"));
                let id = f.store.create(&ada, new).unwrap().id;
                tx.send(id).unwrap();
            }
            drop(tx);
        });
        for (created, id) in (1..).zip(rx) {
            assert_eq!(f.store.get(&ada, id).unwrap().id, id);
            let now = f.store.count(&ada, &Query::module("deals")).unwrap();
            assert!(
                now >= before + created,
                "count {now} after {created} creates"
            );
            f.store
                .update(&ada, id, Update::new().set("name", "x"))
                .unwrap();
            assert_eq!(f.store.get(&ada, id).unwrap().version, 2, "record {id}");
        }
    });
}

#[test]
fn pages_walk_in_id_order() {
    let f = fixture();
    let ada = f.ctx(1);
    let mut seen = Vec::new();
    let mut q = Query::module("deals").limit(3);
    loop {
        let page = f.store.query(&ada, &q).unwrap();
        seen.extend(page.records.iter().map(|r| r.id));
        match page.next_after {
            Some(a) => q = Query::module("deals").limit(3).after(a),
            None => break,
        }
    }
    assert_eq!(seen, [1, 2, 3, 4]);
    assert!(f
        .store
        .query(&ada, &Query::module("deals").limit(0))
        .unwrap()
        .records
        .is_empty());
    assert!(f
        .store
        .query(&ada, &Query::module("deals").after(u64::MAX))
        .unwrap()
        .records
        .is_empty());
}

#[test]
fn a_viewer_who_sees_50_of_100000_examines_about_50() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("big.redb")).unwrap();
    let spec = crmstore::synth::GenSpec {
        account: 1,
        records: 100_000,
        users: 50,
        teams: 5,
        seed: 7,
    };
    store
        .operator()
        .generate(&spec, &crmstore::NoProgress)
        .unwrap();
    // A newcomer with the share-only profile, in no team or group, owning nothing.
    store
        .operator()
        .update_directory(1, |d| {
            d.roles.push(crmstore::Role {
                id: 99,
                name: "Guest".into(),
                parent: None,
            });
            d.users.push(crmstore::User {
                id: 999,
                name: "guest".into(),
                role: 99,
                teams: vec![],
                profile: crmstore::synth::profiles::SHARE_ONLY,
                admin: false,
                active: true,
                blocked: false,
                login: None,
                shift: None,
            });
        })
        .unwrap();
    let admin = store.operator().context(1, 1).unwrap();
    let shared: Vec<u64> = (0..50)
        .map(|i| 1 + i * 1_999)
        .filter(|id| id % 7 != 0 && id % 7 <= 4)
        .collect();
    store
        .share(&admin, &shared, Principal::User(999), Access::Read)
        .unwrap();
    let guest = store.operator().context(1, 999).unwrap();
    let page = store
        .query(&guest, &Query::module("deals").limit(100))
        .unwrap();
    assert_eq!(
        page.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        shared
    );
    assert!(
        page.examined <= shared.len() as u64 + 1,
        "examined {} to find {}",
        page.examined,
        shared.len()
    );
    assert_eq!(
        store.count(&guest, &Query::module("deals")).unwrap(),
        shared.len() as u64
    );
    // An all-scope viewer filtering on an indexed built-in uses that index.
    let owner_page = store
        .query(
            &admin,
            &Query::module("deals").filter(Filter::field("owner").eq(50)),
        )
        .unwrap();
    assert!(owner_page.examined <= owner_page.records.len() as u64 + 1);
}

#[test]
fn reopen_keeps_everything() {
    let f = fixture();
    let raj = f.ctx(3);
    let r = f
        .store
        .create(&raj, NewRecord::new("deals").field("name", "kept"))
        .unwrap();
    let dump = f.store.operator().dump_json(1).unwrap();
    let path = f.path.clone();
    drop(f.store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.operator().dump_json(1).unwrap(), dump);
    let again = store
        .create(
            &store.operator().context(1, 3).unwrap(),
            NewRecord::new("deals"),
        )
        .unwrap();
    assert_eq!(again.id, r.id + 1, "ids continue after reopen");
}

const RECORDS: TableDefinition<u128, &[u8]> = TableDefinition::new("records_v2");
const BY_OWNER: TableDefinition<(u64, u32, u64, u64), ()> = TableDefinition::new("by_owner_v1");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");

#[test]
fn a_corrupt_value_is_corrupt_not_a_panic() {
    let f = fixture();
    let path = f.path.clone();
    drop(f.store);
    raw(&path, |t| {
        t.open_table(RECORDS)
            .unwrap()
            .insert((1u128 << 64) | 3, [1u8, 0xff, 0xff].as_slice())
            .unwrap();
    });
    let store = Store::open(&path).unwrap();
    let e = store
        .get(&store.operator().context(1, 1).unwrap(), 3)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt(m) if m.contains("records key (1, 3)")),
        "{e}"
    );
    assert!(!store.operator().check().unwrap().is_consistent());
}

#[test]
fn check_finds_an_index_entry_removed_behind_its_back() {
    let f = fixture();
    assert!(f.store.operator().check().unwrap().is_consistent());
    let path = f.path.clone();
    drop(f.store);
    raw(&path, |t| {
        let mut owners = t.open_table(BY_OWNER).unwrap();
        let key = owners.iter().unwrap().next().unwrap().unwrap().0.value();
        owners.remove(key).unwrap();
    });
    let rep = Store::open(&path).unwrap().operator().check().unwrap();
    assert!(!rep.is_consistent());
    assert!(rep.problems[0].contains("owner"), "{:?}", rep.problems);
}

#[test]
fn a_newer_format_is_refused() {
    let f = fixture();
    let path = f.path.clone();
    drop(f.store);
    raw(&path, |t| {
        t.open_table(META)
            .unwrap()
            .insert("format", 99u32.to_le_bytes().as_slice())
            .unwrap();
    });
    let e = Store::open(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Incompatible(m) if m.contains("99")),
        "{e}"
    );
    std::fs::write(
        &path,
        b"not a database at all, just some bytes to refuse properly",
    )
    .unwrap();
    assert!(Store::open(&path).is_err());
}

#[test]
fn team_role_and_group_changes_apply_to_the_next_query() {
    let f = fixture();
    let (tia, vic) = (f.ctx(5), f.ctx(7));
    assert_eq!(crate::common::ids(&f.store, &tia, "deals"), [1, 2, 4]);
    assert_eq!(crate::common::ids(&f.store, &vic, "deals"), [2]);
    f.store
        .operator()
        .update_directory(1, |d| {
            d.users.iter_mut().find(|u| u.id == 5).unwrap().teams = vec![2]; // tia moves to West
            d.groups[0].users.clear(); // vic leaves the group record 2 is shared with
            d.users.iter_mut().find(|u| u.id == 4).unwrap().role = 2; // sue becomes a manager
        })
        .unwrap();
    assert_eq!(
        crate::common::ids(&f.store, &tia, "deals"),
        [3],
        "same context, new team"
    );
    assert_eq!(
        crate::common::ids(&f.store, &vic, "deals"),
        Vec::<u64>::new()
    );
    assert_eq!(
        f.ids(4, "deals"),
        [1, 2, 3],
        "sue, now a manager, owns raj's records by hierarchy"
    );
    let log = f
        .store
        .operator()
        .audit_list(1, None, Some("directory.change"))
        .unwrap();
    assert_eq!(log.len(), 1);
}
