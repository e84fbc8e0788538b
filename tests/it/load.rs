//! Account documents: round trip, and every refusal changes nothing.

use crmstore::{Error, Store};
use serde_json::{json, Value};

use crate::common::{fixture, DOC};

#[test]
fn load_then_dump_is_a_fixed_point() {
    let f = fixture();
    let first = f.store.operator().dump_json(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = Store::open(dir.path().join("o.redb")).unwrap();
    other.operator().load_json(&first.to_string()).unwrap();
    assert_eq!(other.operator().dump_json(1).unwrap(), first);
    // And loading the dump over the same account changes nothing either.
    f.store.operator().load_json(&first.to_string()).unwrap();
    assert_eq!(f.store.operator().dump_json(1).unwrap(), first);
    assert_eq!(first["records"].as_array().unwrap().len(), 6);
    assert_eq!(first["users"][0]["name"], "ada");
}

/// Applies `edit` to the fixture document and returns the load error.
fn refused(edit: impl FnOnce(&mut Value)) -> String {
    let f = fixture();
    let before = f.store.operator().dump_json(1).unwrap();
    let mut doc: Value = serde_json::from_str(DOC).unwrap();
    edit(&mut doc);
    let e = f.store.operator().load_json(&doc.to_string()).unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
    assert_eq!(
        f.store.operator().dump_json(1).unwrap(),
        before,
        "a refused load changed the account"
    );
    // Into a fresh store: the account does not appear.
    let dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(dir.path().join("f.redb")).unwrap();
    assert!(fresh.operator().load_json(&doc.to_string()).is_err());
    assert!(matches!(
        fresh.operator().dump_json(1),
        Err(Error::NotFound(_))
    ));
    e.to_string()
}

#[test]
fn every_bad_reference_is_refused_with_its_name() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "unknown role `42`",
            Box::new(|d| d["users"][0]["role"] = json!(42)),
        ),
        (
            "unknown team `42`",
            Box::new(|d| d["users"][1]["teams"] = json!([42])),
        ),
        (
            "unknown profile `42`",
            Box::new(|d| d["users"][1]["profile"] = json!(42)),
        ),
        (
            "unknown parent role `42`",
            Box::new(|d| d["roles"][1]["parent"] = json!(42)),
        ),
        (
            "duplicate user id `2`",
            Box::new(|d| d["users"][2]["id"] = json!(2)),
        ),
        (
            "duplicate record id `1`",
            Box::new(|d| d["records"][1]["id"] = json!(1)),
        ),
        ("cycle", Box::new(|d| d["roles"][0]["parent"] = json!(3))),
        (
            "unknown owner `42`",
            Box::new(|d| d["records"][0]["owner"] = json!(42)),
        ),
        (
            "unknown parent `42`",
            Box::new(|d| d["records"][4]["parent"] = json!(42)),
        ),
        ("cycle", Box::new(|d| d["records"][0]["parent"] = json!(5))),
        (
            "shared twice",
            Box::new(
                |d| d["records"][1]["shares"] = json!([{"to": {"user": 2}, "access": "read"}, {"to": {"user": 2}, "access": "full"}]),
            ),
        ),
        (
            "unknown principal `group:9`",
            Box::new(|d| {
                d["records"][1]["shares"] = json!([{"to": {"group": 9}, "access": "read"}])
            }),
        ),
        (
            "unknown variant `everything`",
            Box::new(|d| d["profiles"][1]["modules"]["deals"]["view"] = json!("everything")),
        ),
        (
            "unknown field `rol`",
            Box::new(|d| d["users"][0]["rol"] = json!(1)),
        ),
        (
            "unknown user `42`",
            Box::new(|d| d["groups"][0]["users"] = json!([42])),
        ),
        (
            "unknown principal `role:42`",
            Box::new(
                |d| d["sharing_rules"] = json!([{"module": "deals", "owned_by": {"role": 42}, "share_with": {"user": 1}, "access": "read"}]),
            ),
        ),
        (
            "built-in",
            Box::new(|d| d["records"][0]["fields"]["owner"] = json!(1)),
        ),
        (
            "number `18446744073709551615` is out of range",
            Box::new(|d| d["records"][5]["id"] = json!(u64::MAX)),
        ),
        // What a read refuses, a load refuses first (issue 17).
        (
            "record `1` has unknown created_by `42`",
            Box::new(|d| d["records"][0]["created_by"] = json!(42)),
        ),
        (
            "record `1` has unknown updated_by `42`",
            Box::new(|d| d["records"][0]["updated_by"] = json!(42)),
        ),
        (
            "module name `mmmm",
            Box::new(|d| d["records"][0]["module"] = json!("m".repeat(100_000))),
        ),
        (
            "stage name",
            Box::new(|d| d["records"][0]["stage"] = json!("")),
        ),
        (
            "profile `2`: `owner` is a built-in",
            Box::new(|d| d["profiles"][1]["modules"]["deals"]["fields"]["owner"] = json!("hidden")),
        ),
        (
            "profile `2`: module name",
            Box::new(|d| d["profiles"][1]["modules"][&"m".repeat(65)] = json!({})),
        ),
        (
            "module name ``",
            Box::new(|d| d["account"]["privacy"]["admin_only_export"] = json!([""])),
        ),
        (
            "field `x`: lists nest deeper than 64 levels",
            Box::new(|d| {
                let deep: serde_json::Value =
                    serde_json::from_str(&format!("{}{}", "[".repeat(65), "]".repeat(65))).unwrap();
                d["records"][0]["fields"]["x"] = deep;
            }),
        ),
        (
            "field `x`: a text is longer than 1048576 bytes",
            Box::new(|d| d["records"][0]["fields"]["x"] = json!("a".repeat((1 << 20) + 1))),
        ),
        (
            "number `18446744073709551615` is out of range",
            Box::new(|d| d["next_record_id"] = json!(u64::MAX)),
        ),
        (
            "number `9223372036854775808` is out of range",
            Box::new(|d| d["next_record_id"] = json!(1u64 << 63)),
        ),
        (
            "user id `0` is out of range",
            Box::new(|d| d["users"][0]["id"] = json!(0)),
        ),
    ];
    for (want, edit) in cases {
        let msg = refused(edit);
        assert!(msg.contains(want), "wanted `{want}` in `{msg}`");
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path().join("x.redb")).unwrap();
    assert!(matches!(
        s.operator().load_json("{not json"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        s.operator().load_json("[]"),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn replacing_keeps_the_audit_log_and_never_reuses_ids() {
    let f = fixture();
    let raj = f.ctx(3);
    let made = f
        .store
        .create(&raj, crmstore::NewRecord::new("deals"))
        .unwrap();
    f.store.operator().load_json(DOC).unwrap();
    let ctx = f.ctx(3);
    let next = f
        .store
        .create(&ctx, crmstore::NewRecord::new("deals"))
        .unwrap();
    assert!(next.id > made.id, "ids are never reused across a replace");
    let loads = f
        .store
        .operator()
        .audit_list(1, None, Some("account.load"))
        .unwrap();
    assert_eq!(loads.len(), 2);
    assert!(f.store.operator().audit_verify(1).unwrap().broken.is_none());
}
