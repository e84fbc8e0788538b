//! The access gate (issue 20): signing in, sessions per device, re-checked
//! on every call, ended at once; lockout; the authorization log. Time is
//! passed in (`now`), as a CRM's request handler would.

use std::net::IpAddr;

use crmstore::{AuthOutcome, AuthQuery, EndReason, Error, Revoke, SignIn, Store, Timestamp};

use crate::common::DOC;

const PW: &str = "correct horse battery";
const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));

fn t(secs: i64) -> Timestamp {
    Timestamp(1_800_000_000_000_000 + secs * 1_000_000)
}

/// The fixture account with logins linked: raj (3) `raj@acme.test`, ada (1,
/// admin) `ada@acme.test`, sue (4) `sue@acme.test`; passwords set for raj and ada.
fn gated() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("g.redb")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    for (i, login) in [
        (0, "Ada@Acme.test"),
        (2, "raj@acme.test"),
        (3, "sue@acme.test"),
    ] {
        doc["users"][i]["login"] = serde_json::json!(login);
    }
    let op = store.operator();
    op.load_json(&doc.to_string()).unwrap();
    op.login_passwd("ada@acme.test", PW, t(0)).unwrap();
    op.login_passwd("raj@acme.test", PW, t(0)).unwrap();
    (dir, store)
}

fn sign_in(login: &str) -> SignIn<'_> {
    SignIn {
        account: 1,
        login,
        ip: IP,
        device: "laptop",
    }
}

fn denied(r: crmstore::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(Error::Denied(m)) => m,
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[test]
fn a_session_signs_in_reads_and_logs_out() {
    let (_d, store) = gated();
    let s = store
        .session_open(&sign_in("RAJ@acme.test"), PW, t(0))
        .unwrap();
    assert_eq!((s.account, s.user), (1, 3));
    assert_eq!(s.token.len(), 64);
    assert_eq!(s.expires_at, t(12 * 3600));
    let ctx = store.authenticate(&s.token, IP, t(10)).unwrap();
    assert_eq!((ctx.user(), ctx.session()), (3, Some(s.session)));
    let seen = crate::common::ids(&store, &ctx, "deals");
    assert_eq!(seen, [1, 2]);
    store.session_close(&s.token, t(20)).unwrap();
    assert_eq!(
        denied(store.authenticate(&s.token, IP, t(21))),
        "not signed in: the session ended (logout)"
    );
    let log = store.operator().auth_log(1, AuthQuery::default()).unwrap();
    let events: Vec<&str> = log.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["session.open", "session.close"]);
    assert!(store.operator().auth_verify(1).unwrap().broken.is_none());
}

#[test]
fn an_unknown_login_and_a_wrong_password_read_the_same() {
    let (_d, store) = gated();
    let unknown = denied(store.session_open(&sign_in("nobody@acme.test"), PW, t(0)));
    let wrong = denied(store.session_open(&sign_in("raj@acme.test"), "not the password", t(0)));
    // A login with no password yet, and one not linked in this account.
    let unset = denied(store.session_open(&sign_in("sue@acme.test"), PW, t(0)));
    store.operator().login_add("out@side.test", PW).unwrap();
    let unlinked = denied(store.session_open(&sign_in("out@side.test"), PW, t(0)));
    for m in [&unknown, &wrong, &unset, &unlinked] {
        assert_eq!(m, "login failed");
    }
    // The log says which it was, for the admin; never the password.
    let log = store
        .operator()
        .auth_log(
            1,
            AuthQuery {
                outcome: Some(AuthOutcome::Refused),
                ..Default::default()
            },
        )
        .unwrap();
    let reasons: Vec<&str> = log.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        [
            "unknown login",
            "wrong password",
            "no password set",
            "unknown login"
        ]
    );
    let text = format!("{log:?}");
    assert!(!text.contains(PW) && !text.contains("not the password"));
}

#[test]
fn blocking_revoking_and_deactivating_bite_on_the_next_call() {
    let (_d, store) = gated();
    let ada = store.operator().context(1, 1).unwrap();
    let a = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    let b = store
        .session_open(&sign_in("raj@acme.test"), PW, t(1))
        .unwrap();
    // A context from a session is checked again when used after a block.
    let held = store.authenticate(&a.token, IP, t(2)).unwrap();
    store.set_blocked(&ada, 3, true).unwrap();
    assert!(matches!(
        store.query(&held, &crmstore::Query::module("deals")),
        Err(Error::Denied(_))
    ));
    assert_eq!(
        denied(store.authenticate(&a.token, IP, t(3))),
        "not signed in: the session ended (user.blocked)"
    );
    assert!(store.authenticate(&b.token, IP, t(3)).is_err());
    // Blocked users are told so only after the right password.
    assert_eq!(
        denied(store.session_open(&sign_in("raj@acme.test"), "wrong password!", t(4))),
        "login failed"
    );
    assert_eq!(
        denied(store.session_open(&sign_in("raj@acme.test"), PW, t(4))),
        "user blocked"
    );
    store.set_blocked(&ada, 3, false).unwrap();
    let c = store
        .session_open(&sign_in("raj@acme.test"), PW, t(5))
        .unwrap();
    let d = store
        .session_open(&sign_in("raj@acme.test"), PW, t(6))
        .unwrap();
    // "Log out all other devices".
    let raj = store.authenticate(&c.token, IP, t(7)).unwrap();
    let n = store
        .session_revoke(
            &raj,
            Revoke::User {
                user: 3,
                except: Some(c.session),
            },
            t(7),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(store.authenticate(&d.token, IP, t(8)).is_err());
    assert!(store.authenticate(&c.token, IP, t(8)).is_ok());
    // A context kept from a session stops working when the session ends.
    let kept = store.authenticate(&c.token, IP, t(8)).unwrap();
    let e = store
        .session_open(&sign_in("raj@acme.test"), PW, t(8))
        .unwrap();
    let mine = store.authenticate(&e.token, IP, t(8)).unwrap();
    store
        .session_revoke(&mine, Revoke::Sessions(&[c.session]), t(8))
        .unwrap();
    assert_eq!(
        denied(store.get(&kept, 1)),
        "not signed in: the session ended"
    );
    store.get(&mine, 1).unwrap();
    // Deactivated in a directory change.
    store
        .operator()
        .update_directory(1, |dir| {
            dir.users.iter_mut().find(|u| u.id == 3).unwrap().active = false;
        })
        .unwrap();
    assert_eq!(
        denied(store.authenticate(&e.token, IP, t(9))),
        "not signed in: the session ended (user.inactive)"
    );
    // An inactive user is told so only after the right password.
    let raj = sign_in("raj@acme.test");
    assert_eq!(
        denied(store.session_open(&raj, "wrong password!", t(9))),
        "login failed"
    );
    assert_eq!(denied(store.session_open(&raj, PW, t(9))), "user inactive");
    let all = store.session_list(&ada, Some(3), true, t(10)).unwrap();
    let reasons: Vec<Option<EndReason>> = all.iter().map(|s| s.end_reason).collect();
    assert_eq!(
        reasons,
        [
            Some(EndReason::UserBlocked),
            Some(EndReason::UserBlocked),
            Some(EndReason::Revoked),
            Some(EndReason::Revoked),
            Some(EndReason::UserInactive),
        ]
    );
    assert!(store
        .session_list(&ada, Some(3), false, t(10))
        .unwrap()
        .is_empty());
}

#[test]
fn sessions_lapse_at_their_lifetime_and_when_idle() {
    let (_d, store) = gated();
    let s = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    // Used every hour: never idle, but 12 hours is the end.
    for h in 1..12 {
        store.authenticate(&s.token, IP, t(h * 3600)).unwrap();
    }
    assert_eq!(
        denied(store.authenticate(&s.token, IP, t(12 * 3600))),
        "not signed in: the session ended (expired)"
    );
    let idle = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    store.authenticate(&idle.token, IP, t(119 * 60)).unwrap();
    assert!(store
        .authenticate(&idle.token, IP, t(119 * 60 + 120 * 60 - 1))
        .is_ok());
    assert_eq!(
        denied(store.authenticate(&idle.token, IP, t(119 * 60 + 2 * 120 * 60))),
        "not signed in: the session ended (idle)"
    );
}

#[test]
fn the_fifth_wrong_password_in_the_window_locks_the_login() {
    let (_d, store) = gated();
    let login = sign_in("raj@acme.test");
    for i in 0..4 {
        denied(store.session_open(&login, "wrong password!", t(i * 100)));
    }
    // The first failure left the 900 s window: four in it again, no lock.
    denied(store.session_open(&login, "wrong password!", t(901)));
    store.session_open(&login, PW, t(902)).unwrap();
    denied(store.session_open(&login, "wrong password!", t(903)));
    // Five within 900 s: locked for 900 s from the fifth, right password or not.
    assert!(denied(store.session_open(&login, PW, t(904))).starts_with("login locked until"));
    // Wrong ones while locked say nothing more and do not extend it.
    assert_eq!(
        denied(store.session_open(&login, "wrong password!", t(1500))),
        "login failed"
    );
    assert!(store.session_open(&login, PW, t(903 + 900)).is_ok());
    let locked = store
        .operator()
        .auth_log(1, AuthQuery::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "login.locked")
        .count();
    assert_eq!(locked, 1);
    // An admin unlocks.
    for i in 0..5 {
        denied(store.session_open(&login, "wrong password!", t(2000 + i)));
    }
    let ada = store.operator().context(1, 1).unwrap();
    let raj = store.operator().context(1, 3).unwrap();
    assert!(matches!(
        store.login_unlock(&raj, "raj@acme.test", t(2010)),
        Err(Error::Denied(_))
    ));
    store.login_unlock(&ada, "raj@acme.test", t(2010)).unwrap();
    store.session_open(&login, PW, t(2011)).unwrap();
}

#[test]
fn a_password_change_ends_every_session_of_the_login_in_every_account() {
    let (_d, store) = gated();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    doc["account"]["id"] = serde_json::json!(2);
    doc["users"][2]["login"] = serde_json::json!("raj@acme.test");
    store.operator().load_json(&doc.to_string()).unwrap();
    let one = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    // One sign-in, several accounts: switch without the password.
    let two = store.session_switch(&one.token, 2, IP, t(1)).unwrap();
    assert_eq!((two.account, two.user), (2, 3));
    let ctx = store.authenticate(&two.token, IP, t(2)).unwrap();
    assert_eq!(ctx.account(), 2);
    assert!(matches!(
        store.session_switch(&one.token, 9, IP, t(1)),
        Err(Error::NotFound(_))
    ));
    let n = store
        .operator()
        .login_passwd("raj@acme.test", "a new passphrase", t(3))
        .unwrap();
    assert_eq!(n, 2);
    for tok in [&one.token, &two.token] {
        assert_eq!(
            denied(store.authenticate(tok, IP, t(4))),
            "not signed in: the session ended (password.changed)"
        );
    }
    assert_eq!(
        denied(store.session_open(&sign_in("raj@acme.test"), PW, t(5))),
        "login failed"
    );
    store
        .session_open(&sign_in("raj@acme.test"), "a new passphrase", t(5))
        .unwrap();
}

#[test]
fn tokens_are_stored_only_as_their_hash() {
    let (d, store) = gated();
    let s = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    drop(store);
    let bytes = std::fs::read(d.path().join("g.redb")).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(s.token.as_bytes()), "the token is in the file");
    assert!(!has(PW.as_bytes()), "the password is in the file");
    let raw = (0..32)
        .map(|i| u8::from_str_radix(&s.token[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    assert!(!has(&raw), "the token's bytes are in the file");
    assert!(
        !format!("{s:?}").contains(&s.token),
        "Debug shows the token"
    );
}

#[test]
fn a_load_over_the_account_ends_its_sessions() {
    let (_d, store) = gated();
    let s = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    let doc = store.operator().dump_json(1).unwrap();
    store.operator().load_json(&doc.to_string()).unwrap();
    assert_eq!(
        denied(store.authenticate(&s.token, IP, t(1))),
        "not signed in: the session ended (account.load)"
    );
    // The dump names the logins, never a credential.
    let text = doc.to_string();
    assert!(text.contains("raj@acme.test") && !text.contains("argon2"));
}

#[test]
fn archives_carry_logins_sessions_and_the_log_and_a_restore_keeps_todays_password() {
    use crmstore::backup::{self, BackupOptions, Decryption, Encryption, Kind};
    use crmstore::NoProgress;
    let (d, store) = gated();
    let s = store
        .session_open(&sign_in("raj@acme.test"), PW, t(0))
        .unwrap();
    denied(store.session_open(&sign_in("raj@acme.test"), "wrong password!", t(1)));
    let keyfile = d.path().join("key.txt");
    let public = backup::keygen(&keyfile).unwrap();
    let key = Decryption::identity_file(&keyfile).unwrap();
    let backup = |account| {
        let opts = BackupOptions {
            dir: d.path().join("archives"),
            encryption: Encryption::recipients(&[&public]).unwrap(),
            account,
            kind: Kind::Manual,
        };
        store.operator().backup(&opts, &NoProgress).unwrap().file
    };
    let full = backup(None);
    let one = backup(Some(1));
    assert!(backup::verify(&full, &key, &NoProgress)
        .unwrap()
        .is_intact());
    // A full restore: the same people sign in with the same passwords; the
    // sessions are history (a token ended after the backup stays dead).
    let to = d.path().join("restored.redb");
    backup::restore_store(&full, &key, &to, &NoProgress).unwrap();
    let back = Store::open(&to).unwrap();
    let rep = back.operator().check().unwrap();
    assert!(rep.is_consistent(), "{:?}", rep.problems);
    assert_eq!(
        denied(back.authenticate(&s.token, IP, t(2))),
        "not signed in: unknown session"
    );
    back.session_open(&sign_in("raj@acme.test"), PW, t(3))
        .unwrap();
    let log = back.operator().auth_log(1, AuthQuery::default()).unwrap();
    assert_eq!(log[0].event, "session.open");
    assert!(back.operator().auth_verify(1).unwrap().broken.is_none());
    let ada = back.operator().context(1, 1).unwrap();
    let history = back.session_list(&ada, Some(3), true, t(4)).unwrap();
    assert_eq!(history[0].end_reason, Some(EndReason::Restored));
    drop(back);
    // One account into the live store, after raj changed his password: his
    // password today stays; his live sessions end (the account was replaced).
    store
        .operator()
        .login_passwd("raj@acme.test", "changed since then", t(5))
        .unwrap();
    let live = store
        .session_open(&sign_in("raj@acme.test"), "changed since then", t(6))
        .unwrap();
    store
        .operator()
        .restore_account(&one, &key, 1, None)
        .unwrap();
    assert_eq!(
        denied(store.authenticate(&live.token, IP, t(7))),
        "not signed in: the session ended (account.load)"
    );
    assert_eq!(
        denied(store.session_open(&sign_in("raj@acme.test"), PW, t(8))),
        "login failed"
    );
    store
        .session_open(&sign_in("raj@acme.test"), "changed since then", t(8))
        .unwrap();
    assert!(store.operator().check().unwrap().is_consistent());
    assert!(store.operator().auth_verify(1).unwrap().broken.is_none());
}

#[test]
fn the_authorization_log_is_purged_past_its_retention_and_still_verifies() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(t(0).0));
    let c = clock.clone();
    let store = Store::options()
        .clock(move || Timestamp(c.load(Ordering::SeqCst)))
        .open(dir.path().join("p.redb"))
        .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    doc["users"][2]["login"] = "raj@acme.test".into();
    doc["account"]["security"] = serde_json::json!({"auth_log_retention_days": 10});
    store.operator().load_json(&doc.to_string()).unwrap();
    store
        .operator()
        .login_passwd("raj@acme.test", PW, t(0))
        .unwrap();
    let day = 86_400;
    for d in 0..20 {
        clock.store(t(d * day).0, Ordering::SeqCst);
        store
            .session_open(&sign_in("raj@acme.test"), PW, t(d * day))
            .unwrap();
    }
    let op = store.operator();
    assert_eq!(
        op.purge_auth_logs(t(20 * day)).unwrap(),
        10,
        "days 0..10 are past 10 days"
    );
    let kept = op.auth_log(1, AuthQuery::default()).unwrap();
    assert_eq!(kept.len(), 10);
    assert_eq!(kept[0].seq, 11);
    let rep = op.auth_verify(1).unwrap();
    assert!(rep.broken.is_none(), "{rep:?}");
    assert_eq!(rep.events, 10);
    // The chain goes on from where it was cut.
    store
        .session_open(&sign_in("raj@acme.test"), PW, t(20 * day))
        .unwrap();
    assert!(op.auth_verify(1).unwrap().broken.is_none());
    assert_eq!(op.purge_auth_logs(t(20 * day)).unwrap(), 0);
}

#[test]
fn an_ip_allowlist_admits_only_its_networks_at_sign_in_and_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("ip.redb")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    doc["users"][2]["login"] = "raj@acme.test".into();
    doc["users"][0]["login"] = "ada@acme.test".into();
    doc["account"]["security"] =
        serde_json::json!({"ip_allowlist": ["203.0.113.0/24", "2001:db8::/32"]});
    // Profile 2 (raj's) narrows it to the first 16 addresses of the office.
    doc["profiles"][1]["ip_allowlist"] = serde_json::json!(["::ffff:203.0.113.0/124"]);
    store.operator().load_json(&doc.to_string()).unwrap();
    let dumped = store.operator().dump_json(1).unwrap();
    assert_eq!(dumped["profiles"][1]["ip_allowlist"][0], "203.0.113.0/28");
    for l in ["raj@acme.test", "ada@acme.test"] {
        store.operator().login_passwd(l, PW, t(0)).unwrap();
    }
    let from = |login, ip: &str| SignIn {
        account: 1,
        login,
        ip: ip.parse().unwrap(),
        device: "d",
    };
    let s = store
        .session_open(&from("raj@acme.test", "203.0.113.7"), PW, t(0))
        .unwrap();
    store
        .session_open(&from("raj@acme.test", "::ffff:203.0.113.9"), PW, t(0))
        .unwrap();
    assert_eq!(
        denied(store.session_open(&from("raj@acme.test", "203.0.113.100"), PW, t(0))),
        "address `203.0.113.100` is not allowed"
    );
    assert_eq!(
        denied(store.session_open(&from("raj@acme.test", "198.51.100.1"), PW, t(0))),
        "address `198.51.100.1` is not allowed"
    );
    // Said only after the right password.
    assert_eq!(
        denied(store.session_open(
            &from("raj@acme.test", "198.51.100.1"),
            "wrong password!",
            t(0)
        )),
        "login failed"
    );
    // The admin's profile does not narrow: the account's networks, v6 too.
    store
        .session_open(&from("ada@acme.test", "2001:db8:5::1"), PW, t(0))
        .unwrap();
    store
        .session_open(&from("ada@acme.test", "203.0.113.100"), PW, t(0))
        .unwrap();
    // A session's request from outside is refused there, and works again inside.
    let home: IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(
        denied(store.authenticate(&s.token, home, t(1))),
        "not signed in: address `198.51.100.1` is not allowed"
    );
    store
        .authenticate(&s.token, "203.0.113.7".parse().unwrap(), t(2))
        .unwrap();
    // A bad network is refused whole, naming it.
    doc["account"]["security"]["ip_allowlist"] = serde_json::json!(["203.0.113.0/33"]);
    let e = store.operator().load_json(&doc.to_string()).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.contains("203.0.113.0/33")),
        "{e}"
    );
}

#[test]
fn shifts_limit_when_users_sign_in_and_when_their_sessions_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.redb")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    doc["shifts"] = serde_json::json!([{"id": 1, "name": "Berlin office", "tz": "Europe/Berlin",
        "weekly": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-07"]}]);
    doc["users"][2]["login"] = "raj@acme.test".into();
    doc["users"][2]["shift"] = 1.into();
    doc["users"][0]["login"] = "ada@acme.test".into();
    doc["users"][0]["shift"] = 1.into();
    store.operator().load_json(&doc.to_string()).unwrap();
    assert_eq!(
        store.operator().dump_json(1).unwrap()["shifts"][0]["tz"],
        "Europe/Berlin"
    );
    for l in ["raj@acme.test", "ada@acme.test"] {
        store.operator().login_passwd(l, PW, t(0)).unwrap();
    }
    let at = |s: &str| Timestamp::parse(s).unwrap();
    let raj = sign_in("raj@acme.test");
    // Monday 2026-11-30, 07:00 local: refused after the password, naming the next start.
    assert_eq!(
        denied(store.session_open(&raj, "wrong password!", at("2026-11-30T06:00:00Z"))),
        "login failed"
    );
    assert_eq!(
        denied(store.session_open(&raj, PW, at("2026-11-30T06:00:00Z"))),
        "outside working hours (next from 2026-11-30T08:00:00Z)"
    );
    // Within the shift it opens; past its end the session stops working.
    let s = store
        .session_open(&raj, PW, at("2026-11-30T15:30:00Z"))
        .unwrap();
    store
        .authenticate(&s.token, IP, at("2026-11-30T15:59:59Z"))
        .unwrap();
    assert_eq!(
        denied(store.authenticate(&s.token, IP, at("2026-11-30T16:00:00Z"))),
        "not signed in: outside working hours (next from 2026-12-14T08:00:00Z)"
    );
    // Admins are exempt unless the account says otherwise.
    let ada = sign_in("ada@acme.test");
    store
        .session_open(&ada, PW, at("2026-11-30T22:00:00Z"))
        .unwrap();
    store
        .operator()
        .update_directory(1, |d| d.account.security.shifts_apply_to_admins = true)
        .unwrap();
    assert!(
        denied(store.session_open(&ada, PW, at("2026-11-30T22:00:00Z")))
            .starts_with("outside working hours")
    );
    // Bad shifts are refused whole, naming what is wrong.
    doc["shifts"][0]["tz"] = "Europe/Atlantis".into();
    let e = store.operator().load_json(&doc.to_string()).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.contains("Europe/Atlantis")),
        "{e}"
    );
    doc["shifts"][0]["tz"] = "Europe/Berlin".into();
    doc["users"][2]["shift"] = 9.into();
    let e = store.operator().load_json(&doc.to_string()).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.contains("unknown shift `9`")),
        "{e}"
    );
}

#[test]
fn an_admin_cannot_lock_their_own_session_out_with_a_directory_change() {
    let (_d, store) = gated();
    let office: IpAddr = "203.0.113.7".parse().unwrap();
    let s = store
        .session_open(
            &SignIn {
                account: 1,
                login: "ada@acme.test",
                ip: office,
                device: "d",
            },
            PW,
            t(0),
        )
        .unwrap();
    let ada = store.authenticate(&s.token, office, t(1)).unwrap();
    let e = store
        .update_directory(&ada, |d| {
            d.account.security.ip_allowlist = vec!["198.51.100.0/24".into()]
        })
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("would lock you out")),
        "{e}"
    );
    // Including the admin's own network is fine, and audited as hers.
    store
        .update_directory(&ada, |d| {
            d.account.security.ip_allowlist =
                vec!["198.51.100.0/24".into(), "203.0.113.0/24".into()]
        })
        .unwrap();
    let last = store
        .operator()
        .audit_list(1, None, Some("directory.change"))
        .unwrap();
    assert_eq!(last.last().unwrap().actor, Some(1));
    // A non-admin may not change the directory at all.
    let raj = store.operator().context(1, 3).unwrap();
    assert!(matches!(
        store.update_directory(&raj, |_| {}),
        Err(Error::Denied(_))
    ));
}

#[test]
fn the_gate_keys_of_the_account_document_load_dump_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("r.redb")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    doc["account"]["security"] = serde_json::json!({
        "session_hours": 8, "idle_minutes": 30, "require_2fa": true,
        "ip_allowlist": ["203.0.113.0/24", "2001:db8::/32"], "shifts_apply_to_admins": true,
        "lockout": {"max_failures": 3, "window_secs": 600, "lock_secs": 1200},
        "auth_log_retention_days": 90});
    doc["profiles"][1]["ip_allowlist"] = serde_json::json!(["198.51.100.0/24"]);
    doc["profiles"][1]["require_2fa"] = true.into();
    doc["shifts"] = serde_json::json!([{"id": 1, "name": "Berlin office", "tz": "Europe/Berlin",
        "weekly": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["22:00", "06:00"]]},
        "holidays": ["2026-12-25"]}]);
    doc["users"][2]["login"] = "Raj@Acme.test".into();
    doc["users"][2]["shift"] = 1.into();
    store.operator().load_json(&doc.to_string()).unwrap();
    let first = store.operator().dump_json(1).unwrap();
    assert_eq!(first["account"]["security"]["lockout"]["max_failures"], 3);
    assert_eq!(first["users"][2]["login"], "raj@acme.test");
    assert_eq!(first["shifts"][0]["weekly"]["sat"][0][1], "06:00");
    assert_eq!(first["profiles"][1]["require_2fa"], true);
    // The dump loads back to the same dump: a fixed point.
    store.operator().load_json(&first.to_string()).unwrap();
    assert_eq!(store.operator().dump_json(1).unwrap(), first);
    // Never a credential in a dump.
    store
        .operator()
        .login_passwd("raj@acme.test", PW, t(0))
        .unwrap();
    let text = store.operator().dump_json(1).unwrap().to_string();
    assert!(!text.contains("argon2") && !text.contains("phc"));
}
