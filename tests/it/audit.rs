//! The audit log (chain, tampering), the activity monitor, and export.

use crmstore::{Cascade, Deleted, Error, ExportFormat, Filter, MonitorAction, MonitorRule, Query};
use redb::{ReadableTable, TableDefinition};

use crate::common::{fixture, raw, Fixture};

const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit_v1");

/// Exports `q` as JSON lines into nothing: what matters is the answer.
fn export_all(f: &Fixture, ctx: &crmstore::AccessContext, q: &Query) -> crmstore::Result<u64> {
    f.store.export(ctx, q, ExportFormat::Jsonl, std::io::sink())
}

fn actions(f: &crate::common::Fixture) -> Vec<String> {
    f.store
        .operator()
        .audit_list(1, None, None)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[test]
fn every_sensitive_action_is_one_event_in_a_whole_chain() {
    let f = fixture();
    let (raj, ada) = (f.ctx(3), f.ctx(1));
    f.store
        .share(
            &raj,
            &[1],
            crmstore::Principal::User(4),
            crmstore::Access::Read,
        )
        .unwrap();
    f.store
        .unshare(&raj, &[1], crmstore::Principal::User(4))
        .unwrap();
    f.store.assign(&ada, &[1], 4, None).unwrap();
    let Deleted { batch: b, count: _ } = f.store.delete(&ada, &[1], Cascade::Yes).unwrap();
    f.store.restore_batch(&ada, b, None).unwrap();
    let Deleted { batch: b, count: _ } = f.store.delete(&ada, &[4], Cascade::No).unwrap();
    f.store.purge(&ada, b).unwrap();
    export_all(&f, &ada, &Query::module("deals")).unwrap();
    f.store.set_blocked(&ada, 4, true).unwrap();
    f.store.set_blocked(&ada, 4, false).unwrap();
    f.store
        .operator()
        .update_directory(1, |d| d.teams[0].name = "North".into())
        .unwrap();
    assert!(f.store.purge(&raj, 1).is_err());
    assert_eq!(
        actions(&f),
        [
            "account.load",
            "record.share",
            "record.unshare",
            "record.assign",
            "record.delete",
            "record.restore",
            "record.delete",
            "record.purge",
            "record.export",
            "user.block",
            "user.unblock",
            "directory.change"
        ]
    );
    let events = f.store.operator().audit_list(1, None, None).unwrap();
    assert!(events
        .windows(2)
        .all(|w| w[1].seq == w[0].seq + 1 && w[1].prev == w[0].hash));
    assert_eq!(events[4].count, 2, "the cascade delete counts both records");
    assert!(f.store.operator().audit_verify(1).unwrap().broken.is_none());
    // Values never reach the log, even of hidden fields.
    let text =
        serde_json::to_string(&events.iter().map(|e| e.to_json()).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("DE1"));
}

#[test]
fn refused_actions_are_logged_as_access_denied() {
    let f = fixture();
    let tia = f.ctx(5);
    assert!(matches!(
        f.store.update(&tia, 4, crmstore::Update::new().set("x", 1)),
        Err(Error::Denied(_))
    ));
    let last = f
        .store
        .operator()
        .audit_list(1, None, Some("access.denied"))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.actor, last.target.as_str()),
        (Some(5), "record.update")
    );
    // Not an action any event has: asking for it is a mistake, said so.
    assert!(matches!(
        f.store.operator().audit_list(1, None, Some("record.update")),
        Err(Error::Invalid(m)) if m.contains("not an audit action")
    ));
}

fn tamper(edit: impl FnOnce(&mut redb::Table<(u64, u64), &[u8]>)) -> (u64, String) {
    let f = fixture();
    let ada = f.ctx(1);
    for id in [1, 2, 3] {
        f.store
            .share(
                &ada,
                &[id],
                crmstore::Principal::User(7),
                crmstore::Access::Read,
            )
            .unwrap();
    }
    assert!(f.store.operator().audit_verify(1).unwrap().broken.is_none());
    let path = f.path.clone();
    drop(f.store);
    raw(&path, |t| edit(&mut t.open_table(AUDIT).unwrap()));
    let store = crmstore::Store::open(&path).unwrap();
    store
        .operator()
        .audit_verify(1)
        .unwrap()
        .broken
        .expect("tampering must break the chain")
}

#[test]
fn changed_removed_or_reordered_events_break_the_chain() {
    let changed = tamper(|t| {
        let mut bytes = t.get((1, 2)).unwrap().unwrap().value().to_vec();
        let n = bytes.len();
        bytes[n - 70] ^= 1;
        t.insert((1, 2), bytes.as_slice()).unwrap();
    });
    assert_eq!(changed.0, 2);
    let removed = tamper(|t| {
        t.remove((1, 3)).unwrap();
    });
    assert_eq!(removed.0, 3);
    let last = tamper(|t| {
        t.remove((1, 4)).unwrap();
    });
    assert_eq!(last.0, 4, "removing the newest event is seen too");
    let reordered = tamper(|t| {
        let a = t.get((1, 2)).unwrap().unwrap().value().to_vec();
        let b = t.get((1, 3)).unwrap().unwrap().value().to_vec();
        t.insert((1, 2), b.as_slice()).unwrap();
        t.insert((1, 3), a.as_slice()).unwrap();
    });
    assert_eq!(reordered.0, 2);
}

fn with_monitor(f: &crate::common::Fixture, action: MonitorAction, max: u64, window: u64) {
    f.store
        .operator()
        .update_directory(1, |d| {
            d.account.monitor = vec![MonitorRule {
                action,
                max_records: max,
                window_secs: window,
            }]
        })
        .unwrap();
}

#[test]
fn the_monitor_blocks_at_max_plus_one_within_the_window() {
    let f = fixture();
    with_monitor(&f, MonitorAction::Delete, 2, 3600);
    let raj = f.ctx(3);
    f.store.delete(&raj, &[2], Cascade::No).unwrap();
    assert!(
        matches!(
            f.store.delete(&raj, &[4], Cascade::No),
            Err(Error::NotFound(_))
        ),
        "4 is the manager's"
    );
    let made = f
        .store
        .create(&raj, crmstore::NewRecord::new("deals"))
        .unwrap();
    f.store.delete(&raj, &[made.id], Cascade::No).unwrap(); // 2 of 2: allowed
    let other = f
        .store
        .create(&raj, crmstore::NewRecord::new("deals"))
        .unwrap();
    let e = f.store.delete(&raj, &[other.id], Cascade::No).unwrap_err();
    assert!(matches!(e, Error::Denied(_)), "{e}");
    assert!(
        f.store.get(&f.ctx(1), other.id).is_ok(),
        "the refused delete changed nothing"
    );
    assert!(
        matches!(f.store.operator().context(1, 3), Err(Error::Denied(_))),
        "raj is blocked"
    );
    assert!(
        matches!(f.store.get(&raj, 1), Err(Error::Denied(_))),
        "an old context is refused too"
    );
    let acts = actions(&f);
    assert_eq!(&acts[acts.len() - 2..], ["access.denied", "user.block"]);
    let ada = f.ctx(1);
    assert!(
        matches!(
            f.store.set_blocked(&f.ctx(2), 3, false),
            Err(Error::Denied(_))
        ),
        "only admins unblock"
    );
    f.store.set_blocked(&ada, 3, false).unwrap();
    assert!(f.store.operator().context(1, 3).is_ok());
}

#[test]
fn the_monitor_forgets_outside_the_window_and_spares_admins() {
    let f = fixture();
    with_monitor(&f, MonitorAction::Export, 1, 1);
    let raj = f.ctx(3);
    export_all(&f, &raj, &Query::module("deals")).unwrap_err();
    // raj may export 2 records: more than 1 → refused and blocked.
    assert!(f.store.operator().context(1, 3).is_err());
    let ada = f.ctx(1);
    f.store.set_blocked(&ada, 3, false).unwrap();
    let one = Query::module("deals").filter(Filter::field("id").eq(1));
    export_all(&f, &f.ctx(3), &one).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    export_all(&f, &f.ctx(3), &one).unwrap();
    for _ in 0..3 {
        export_all(&f, &ada, &Query::module("deals")).unwrap();
    }
}

#[test]
fn export_writes_only_what_may_be_exported_without_hidden_fields() {
    let f = fixture();
    let raj = f.ctx(3);
    let mut csv = Vec::new();
    assert_eq!(
        f.store
            .export(&raj, &Query::module("deals"), ExportFormat::Csv, &mut csv)
            .unwrap(),
        2
    );
    let text = String::from_utf8(csv).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "id,module,owner,team,stage,parent,version,created_at,updated_at,amount,discount,name"
    );
    assert!(!text.contains("iban") && !text.contains("DE1"));
    let mut jsonl = Vec::new();
    f.store
        .export(
            &raj,
            &Query::module("deals"),
            ExportFormat::Jsonl,
            &mut jsonl,
        )
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["fields"].get("iban").is_none()));
    // Shares never grant export: vic sees record 2 through a share but exports nothing.
    assert_eq!(
        export_all(&f, &f.ctx(7), &Query::module("deals")).unwrap(),
        0
    );
    assert!(
        matches!(
            f.store.export(
                &raj,
                &Query::module("leads"),
                ExportFormat::Csv,
                std::io::sink()
            ),
            Err(Error::Denied(_))
        ),
        "admin-only export"
    );
    assert!(
        matches!(
            f.store.export(
                &f.ctx(5),
                &Query::module("comments"),
                ExportFormat::Csv,
                std::io::sink()
            ),
            Err(Error::Denied(_))
        ),
        "export none"
    );
    let hidden = Query::module("deals").filter(Filter::field("iban").eq("x"));
    assert!(matches!(
        f.store
            .export(&raj, &hidden, ExportFormat::Csv, std::io::sink()),
        Err(Error::Denied(_))
    ));
    let denied = f
        .store
        .operator()
        .audit_list(1, None, Some("access.denied"))
        .unwrap();
    assert_eq!(
        denied
            .iter()
            .filter(|e| e.target == "record.export")
            .count(),
        3,
        "every refused export is logged"
    );
    let exports = f
        .store
        .operator()
        .audit_list(1, None, Some("record.export"))
        .unwrap();
    assert_eq!(
        exports.iter().map(|e| e.count).collect::<Vec<_>>(),
        [2, 2, 0]
    );
}
