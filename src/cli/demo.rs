//! `crmstore demo`: a small sales team in a fresh store, what each user sees,
//! a delete to the trash and its restore, an export and the audit trail.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use crmstore::backup::{self, BackupOptions, Decryption, Encryption, Kind};
use crmstore::{
    Access, Cascade, Deleted, ExportFormat, Filter, Loaded, NewRecord, NoProgress, Principal,
    Query, Store,
};

use crate::{output, Outcome};

#[derive(ClapArgs)]
pub struct Args {
    /// Where to build the demo store (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The demo account: admin Alice, manager Mia over reps Raj (East) and Sue
/// (West), and Vic, a partner who sees only what is shared with him.
pub const DOCUMENT: &str = r#"{
  "account": {"id": 1, "name": "Acme", "privacy": {"admin_only_delete": [], "admin_only_export": []}},
  "roles": [{"id": 1, "name": "CEO", "parent": null}, {"id": 2, "name": "Sales manager", "parent": 1},
            {"id": 3, "name": "Rep", "parent": 2}, {"id": 4, "name": "Partner", "parent": 1}],
  "teams": [{"id": 1, "name": "East"}, {"id": 2, "name": "West"}],
  "profiles": [
    {"id": 1, "name": "Admin", "modules": {}},
    {"id": 2, "name": "Sales", "modules": {
      "deals": {"view": "own", "create": "own", "edit": "own", "delete": "own", "export": "own",
                "fields": {"iban": "hidden", "discount": "read_only"}},
      "comments": {"view": "own", "create": "own", "edit": "own", "delete": "own", "export": "none"}}},
    {"id": 3, "name": "Partner", "modules": {
      "deals": {"view": "own", "create": "none", "edit": "none", "delete": "none", "export": "none",
                "stages": ["negotiation", "won"], "fields": {"iban": "hidden", "discount": "hidden"}}}}],
  "users": [
    {"id": 1, "name": "alice", "role": 1, "teams": [1, 2], "profile": 1, "admin": true},
    {"id": 2, "name": "mia", "role": 2, "teams": [1, 2], "profile": 2},
    {"id": 3, "name": "raj", "role": 3, "teams": [1], "profile": 2, "login": "raj@acme.test"},
    {"id": 4, "name": "sue", "role": 3, "teams": [2], "profile": 2},
    {"id": 5, "name": "vic", "role": 4, "teams": [], "profile": 3}],
  "groups": [{"id": 1, "name": "Partners", "users": [5]}],
  "sharing_rules": [{"module": "deals", "owned_by": {"user": 4}, "share_with": {"group": 1}, "access": "read"}],
  "records": [
    {"id": 1, "module": "deals", "owner": 3, "team": 1, "stage": "new",
     "fields": {"name": "Boston Dynamics renewal", "amount": 12000, "iban": "DE89370400440532013000", "discount": 5}},
    {"id": 2, "module": "deals", "owner": 3, "team": 1, "stage": "negotiation",
     "fields": {"name": "Harbor freight fleet", "amount": 48000, "iban": "DE02120300000000202051"},
     "shares": [{"to": {"user": 5}, "access": "read"}]},
    {"id": 3, "module": "deals", "owner": 4, "team": 2, "stage": "won",
     "fields": {"name": "Pacific dental chain", "amount": 30500}},
    {"id": 4, "module": "deals", "owner": 4, "team": 2, "stage": "new",
     "fields": {"name": "Sierra schools", "amount": 7000}},
    {"id": 5, "module": "comments", "owner": 3, "team": 1, "parent": 1,
     "fields": {"text": "Champion moved to procurement"}}]
}"#;

fn names(records: &[crmstore::Record]) -> String {
    let v: Vec<String> = records
        .iter()
        .map(|r| {
            let name = r
                .fields
                .get("name")
                .map(|n| n.to_cell())
                .unwrap_or_default();
            let iban = if r.fields.contains_key("iban") {
                " [iban visible]"
            } else {
                ""
            };
            format!("#{} {name}{iban}", r.id)
        })
        .collect();
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

fn show_everyone(store: &Store, title: &str) -> crmstore::Result<()> {
    output::line(format!("\n== {title}"))?;
    for (id, who) in [
        (1, "alice (admin)"),
        (2, "mia (manager of raj and sue)"),
        (3, "raj (rep, East)"),
        (4, "sue (rep, West)"),
        (5, "vic (partner)"),
    ] {
        let ctx = store.operator().context(1, id)?;
        let page = store.query(&ctx, &Query::module("deals"))?;
        output::line(format!("{who:<30} sees {}", names(&page.records)))?;
    }
    Ok(())
}

pub fn run(a: &Args) -> Outcome {
    let tmp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let path = dir.join("demo.redb");
    if path.exists() {
        std::fs::remove_file(&path)?;
    }
    let old_backups = dir.join("backups");
    if old_backups.exists() {
        std::fs::remove_dir_all(&old_backups)?;
    }
    let store = Store::open(&path)?;
    let Loaded {
        account,
        records: n,
    } = store.operator().load_json(DOCUMENT)?;
    output::line(format!(
        "demo store {} — account {account} \"Acme\" loaded with {n} records",
        path.display()
    ))?;
    show_everyone(
        &store,
        "deals each user sees (vic: shares + sharing rule, limited to negotiation/won stages)",
    )?;

    let raj = store.operator().context(1, 3)?;
    let big = Query::module("deals").filter(Filter::parse("amount >= 10000")?);
    output::line(format!(
        "\nraj filters `amount >= 10000`: {}",
        names(&store.query(&raj, &big)?.records)
    ))?;
    let hidden = Query::module("deals").filter(Filter::parse("iban ~ \"DE\"")?);
    if let Err(e) = store.query(&raj, &hidden) {
        output::line(format!("raj filters on the hidden `iban`: refused ({e})"))?;
    }
    let created = store.create(
        &raj,
        NewRecord::new("deals")
            .field("name", "Lakeside clinic")
            .field("amount", 15000)
            .stage("new"),
    )?;
    output::line(format!(
        "raj creates deal #{} (owner raj, team East)",
        created.id
    ))?;
    store.share(&raj, &[created.id], Principal::Team(2), Access::Read)?;
    output::line(format!(
        "raj shares #{} with team West: sue now sees {}",
        created.id,
        names(
            &store
                .query(&store.operator().context(1, 4)?, &Query::module("deals"))?
                .records
        )
    ))?;

    access_gate(&store)?;

    output::line("\n== trash")?;
    let Deleted { batch, count } = store.delete(&raj, &[1], Cascade::Yes)?;
    output::line(format!(
        "raj deletes deal #1 with its comment: batch {batch} holds {count} records"
    ))?;
    show_everyone(&store, "after the delete")?;
    let alice = store.operator().context(1, 1)?;
    for b in store.trash_list(&alice)? {
        let ids: Vec<String> = b
            .records
            .iter()
            .map(|r| format!("{} #{}", r.module, r.id))
            .collect();
        output::line(format!(
            "alice's trash: batch {} deleted by user {} at {}, expires {}: {}",
            b.id,
            b.deleted_by,
            b.deleted_at.to_rfc3339(),
            b.expires_at.to_rfc3339(),
            ids.join(", ")
        ))?;
    }
    let restored = store.restore_batch(&alice, batch, None)?;
    output::line(format!(
        "alice restores batch {batch}: {restored} records back, same ids and versions"
    ))?;
    show_everyone(&store, "after the restore")?;

    output::line("\n== export (mia, CSV: hidden iban left out, read-only discount shown)")?;
    let mia = store.operator().context(1, 2)?;
    let mut csv = Vec::new();
    store.export(&mia, &Query::module("deals"), ExportFormat::Csv, &mut csv)?;
    output::line(String::from_utf8_lossy(&csv).trim_end())?;

    output::line("\n== audit trail")?;
    for e in store.operator().audit_list(1, None, None)? {
        let actor = e
            .actor
            .map_or_else(|| "operator".into(), |u| format!("user {u}"));
        output::line(format!(
            "#{:<2} {:<16} {:<9} {} ({} records) {}",
            e.seq, e.action, actor, e.target, e.count, e.detail
        ))?;
    }
    let chain = store.operator().audit_verify(1)?;
    output::line(format!(
        "audit chain verified: {} events, {}",
        chain.events,
        if chain.broken.is_none() {
            "whole"
        } else {
            "BROKEN"
        }
    ))?;
    output::line(format!(
        "check: {}",
        if store.operator().check()?.is_consistent() {
            "every index agrees with the records"
        } else {
            "INCONSISTENT"
        }
    ))?;
    backup_and_restore(&store, &dir)?;
    Ok(())
}

/// Raj signs in on two devices, a wrong password is refused, he logs out
/// every other device, and the authorization log shows all of it.
fn access_gate(store: &Store) -> crmstore::Result<()> {
    use crmstore::{AuthQuery, Revoke, SignIn, Timestamp};
    output::line("\n== the access gate (sign-in, sessions per device, the authorization log)")?;
    let now = Timestamp::now();
    let pw = "a demo passphrase";
    store.operator().login_passwd("raj@acme.test", pw, now)?;
    let ip = std::net::IpAddr::from([203, 0, 113, 7]);
    let on = |device| SignIn {
        account: 1,
        login: "raj@acme.test",
        ip,
        device,
    };
    let laptop = store.session_open(&on("laptop"), pw, now)?;
    output::line(format!(
        "raj signs in on his laptop: session {} (token {}…, shown once, stored only hashed)",
        laptop.session,
        &laptop.token[..8]
    ))?;
    if let Err(e) = store.session_open(&on("laptop"), "a guess", now) {
        output::line(format!(
            "a wrong password: refused ({e}); an unknown login reads the same"
        ))?;
    }
    let phone = store.session_open(&on("phone"), pw, now)?;
    output::line(format!(
        "raj signs in on his phone: session {}",
        phone.session
    ))?;
    let ctx = store.authenticate(&laptop.token, ip, now)?;
    output::line(format!(
        "each request authenticates its token: the laptop's sees {}",
        names(&store.query(&ctx, &Query::module("deals"))?.records)
    ))?;
    let others = Revoke::User {
        user: 3,
        except: Some(laptop.session),
    };
    let n = store.session_revoke(&ctx, others, now)?;
    output::line(format!("raj logs out all other devices: {n} session ended"))?;
    if let Err(e) = store.authenticate(&phone.token, ip, now) {
        output::line(format!("the phone's next request: refused ({e})"))?;
    }
    policy(store, pw)?;
    output::line("authorization log of account 1:")?;
    for e in store.operator().auth_log(1, AuthQuery::default())? {
        output::line(format!(
            "  #{:<2} {:<15} {:<7} {} {} {} {}",
            e.seq,
            e.event,
            e.outcome.name(),
            e.login,
            e.ip,
            e.device,
            e.reason.unwrap_or_default()
        ))?;
    }
    Ok(())
}

/// The account becomes office-only with office hours, and raj turns on
/// two-factor sign-in: a home address and a night sign-in are refused, a
/// sign-in with a code from the app works.
fn policy(store: &Store, pw: &str) -> crmstore::Result<()> {
    use crmstore::{SecondFactor, SignIn, Timestamp};
    let op = store.operator();
    op.update_directory(1, |d| {
        d.account.security.ip_allowlist = vec!["203.0.113.0/24".into()];
        d.shifts = vec![crmstore::Shift {
            id: 1,
            name: "Berlin office".into(),
            tz: "Europe/Berlin".into(),
            weekly: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|day| ((*day).to_string(), vec![("08:00".into(), "18:00".into())]))
                .collect(),
            holidays: vec!["2026-12-25".into()],
        }];
        if let Some(raj) = d.users.iter_mut().find(|u| u.id == 3) {
            raj.shift = Some(1);
        }
    })?;
    output::line(
        "the account becomes office-only (203.0.113.0/24), raj works Mon-Fri 08:00-18:00 Berlin",
    )?;
    let at = |ip: [u8; 4], device| SignIn {
        account: 1,
        login: "raj@acme.test",
        ip: std::net::IpAddr::from(ip),
        device,
    };
    // A Wednesday at 10:00 and at 23:00 in Berlin.
    let day = Timestamp::parse("2027-01-06T09:00:00Z")?;
    let night = Timestamp::parse("2027-01-06T22:00:00Z")?;
    if let Err(e) = store.session_open(&at([198, 51, 100, 23], "home"), pw, day) {
        output::line(format!("raj from home: refused ({e})"))?;
    }
    if let Err(e) = store.session_open(&at([203, 0, 113, 7], "laptop"), pw, night) {
        output::line(format!("raj at the office at 23:00: refused ({e})"))?;
    }
    let enrolled = op.totp_enroll("raj@acme.test", day)?;
    let code = |t: Timestamp| -> crmstore::Result<String> {
        // What raj's authenticator app shows (the demo computes it).
        let raw = totp_rs::Secret::try_from_base32(&enrolled.secret)
            .map_err(|e| crmstore::Error::Invalid(e.to_string()))?;
        let totp = totp_rs::Builder::new()
            .with_secret(raw)
            .build()
            .map_err(|e| crmstore::Error::Invalid(e.to_string()))?;
        Ok(totp
            .generate(u64::try_from(t.0 / 1_000_000).unwrap_or(0))
            .to_string())
    };
    let recovery = op.totp_confirm("raj@acme.test", &code(day)?, day)?;
    output::line(format!(
        "raj turns on two-factor sign-in: {} recovery codes shown once",
        recovery.len()
    ))?;
    let later = day.plus_secs(60);
    if let Err(e) = store.session_open(&at([203, 0, 113, 7], "laptop"), pw, later) {
        output::line(format!("raj with only his password: refused ({e})"))?;
    }
    let second = Some(SecondFactor::Totp(&code(later)?));
    let s = store.session_open_with(&at([203, 0, 113, 7], "laptop"), pw, second, later)?;
    output::line(format!(
        "raj with his password and the app's code: session {}",
        s.session
    ))?;
    op.update_directory(1, |d| {
        d.account.security.ip_allowlist.clear();
        d.shifts.clear();
        d.users.iter_mut().for_each(|u| u.shift = None);
    })
}

/// A backup of the account, a damaging delete and purge, a restore from the archive.
fn backup_and_restore(store: &Store, dir: &std::path::Path) -> crmstore::Result<()> {
    output::line("\n== backup and restore")?;
    let key = dir.join("demo-key.txt");
    if key.exists() {
        std::fs::remove_file(&key)?;
    }
    let public = backup::keygen(&key)?;
    let opts = BackupOptions {
        dir: dir.join("backups"),
        encryption: Encryption::recipients(&[&public])?,
        account: Some(1),
        kind: Kind::Manual,
    };
    let archive = store.operator().backup(&opts, &NoProgress)?;
    output::line(format!(
        "backed up account 1 to {} ({} bytes, age-encrypted to {public})",
        archive.file.display(),
        archive.size
    ))?;
    let alice = store.operator().context(1, 1)?;
    let all: Vec<u64> = store
        .query(&alice, &Query::module("deals"))?
        .records
        .iter()
        .map(|r| r.id)
        .collect();
    let Deleted { batch, count: n } = store.delete(&alice, &all, Cascade::Yes)?;
    store.purge(&alice, batch)?;
    output::line(format!(
        "damage: alice deletes all {n} deals and comments, and purges the trash"
    ))?;
    show_everyone(store, "after the damage")?;
    let counts = store.operator().restore_account(
        &archive.file,
        &Decryption::identity_file(&key)?,
        1,
        None,
    )?;
    output::line(format!(
        "operator restores account 1 from the archive: {} records back, live audit log kept",
        counts.records
    ))?;
    show_everyone(store, "after the restore from backup")?;
    let last = store
        .operator()
        .audit_list(1, None, None)?
        .pop()
        .map(|e| e.action)
        .unwrap_or_default();
    let whole = store.operator().audit_verify(1)?.broken.is_none();
    output::line(format!(
        "last audit event: {last}; chain {}",
        if whole { "whole" } else { "BROKEN" }
    ))
}
