//! Two-factor sign-in (issue 21): enrol, confirm, codes at sign-in with no
//! replay and one step of drift, recovery codes used once, `require_2fa`,
//! an admin's reset, and switching into an account that requires it.

use std::net::IpAddr;

use crmstore::{AuthMethod, EndReason, Error, SecondFactor, SignIn, Store, Timestamp};

use crate::common::DOC;

const PW: &str = "correct horse battery";
const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
/// A time on a 30 s step boundary.
const T0: i64 = 1_800_000_010;

fn t(secs: i64) -> Timestamp {
    Timestamp((T0 + secs) * 1_000_000)
}

/// The code an authenticator app shows for `secret` (base32) at `t(secs)`.
fn code(secret: &str, secs: i64) -> String {
    let raw = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new()
        .with_secret(raw)
        .with_digits(6)
        .with_step_duration(30)
        .build()
        .unwrap();
    totp.generate(u64::try_from(T0 + secs).unwrap()).to_string()
}

fn denied(r: crmstore::Result<crmstore::Opened>) -> String {
    match r {
        Err(Error::Denied(m)) => m,
        other => panic!("expected Denied, got {other:?}"),
    }
}

fn store_with(require: bool) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("t.redb")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    doc["users"][2]["login"] = "raj@acme.test".into();
    doc["users"][3]["login"] = "sue@acme.test".into();
    doc["account"]["security"] = serde_json::json!({"require_2fa": require});
    store.operator().load_json(&doc.to_string()).unwrap();
    for l in ["raj@acme.test", "sue@acme.test"] {
        store.operator().login_passwd(l, PW, t(0)).unwrap();
    }
    (dir, store)
}

fn who(login: &str) -> SignIn<'_> {
    SignIn {
        account: 1,
        login,
        ip: IP,
        device: "d",
    }
}

#[test]
fn a_confirmed_second_factor_is_asked_for_checked_once_per_step_and_recoverable() {
    let (_d, store) = store_with(false);
    let op = store.operator();
    let enrolled = op.totp_enroll("raj@acme.test", t(0)).unwrap();
    assert!(
        enrolled.uri.starts_with("otpauth://totp/"),
        "{}",
        enrolled.uri
    );
    assert!(!format!("{enrolled:?}").contains(&enrolled.secret));
    // Not confirmed yet: the password alone still signs in.
    store.session_open(&who("raj@acme.test"), PW, t(1)).unwrap();
    assert!(matches!(
        op.totp_confirm("raj@acme.test", "000000", t(2)),
        Err(Error::Denied(_))
    ));
    let recovery = op
        .totp_confirm("raj@acme.test", &code(&enrolled.secret, 2), t(2))
        .unwrap();
    assert_eq!(recovery.len(), 10);
    let raj = who("raj@acme.test");
    assert_eq!(
        denied(store.session_open(&raj, PW, t(40))),
        "2FA code required"
    );
    fn totp(c: &str) -> Option<SecondFactor<'_>> {
        Some(SecondFactor::Totp(c))
    }
    assert_eq!(
        denied(store.session_open_with(&raj, PW, totp("123456"), t(40))),
        "2FA code wrong"
    );
    // A wrong password with a right code is still just a failed login.
    let c40 = code(&enrolled.secret, 40);
    assert_eq!(
        denied(store.session_open_with(&raj, "nope nope", totp(&c40), t(40))),
        "login failed"
    );
    let s = store
        .session_open_with(&raj, PW, totp(&c40), t(40))
        .unwrap();
    let ctx = store.authenticate(&s.token, IP, t(41)).unwrap();
    let listed = store.session_list(&ctx, None, false, t(41)).unwrap();
    assert_eq!(listed.last().unwrap().auth, AuthMethod::PasswordTotp);
    // The same code again, even within its step: a replay.
    assert_eq!(
        denied(store.session_open_with(&raj, PW, totp(&c40), t(45))),
        "2FA code wrong"
    );
    // One step of drift either way; the confirm's step is burned too.
    let next = code(&enrolled.secret, 100);
    store
        .session_open_with(&raj, PW, totp(&next), t(70))
        .unwrap();
    let far = code(&enrolled.secret, 200);
    assert_eq!(
        denied(store.session_open_with(&raj, PW, totp(&far), t(140))),
        "2FA code wrong"
    );
    // Wrong codes count toward the lockout as wrong passwords do: five now.
    let ada = op.context(1, 1).unwrap();
    denied(store.session_open_with(&raj, PW, totp(&far), t(290)));
    let rec = Some(SecondFactor::Recovery(&recovery[3]));
    assert!(denied(store.session_open_with(&raj, PW, rec, t(291))).starts_with("login locked"));
    store.login_unlock(&ada, "raj@acme.test", t(299)).unwrap();
    // A recovery code works once, in any case.
    let rec = Some(SecondFactor::Recovery(&recovery[3]));
    store.session_open_with(&raj, PW, rec, t(300)).unwrap();
    let again = Some(SecondFactor::Recovery(&recovery[3]));
    assert_eq!(
        denied(store.session_open_with(&raj, PW, again, t(301))),
        "recovery code wrong"
    );
    let upper = recovery[4].to_uppercase();
    store
        .session_open_with(&raj, PW, Some(SecondFactor::Recovery(&upper)), t(302))
        .unwrap();
    // Enrolling again needs a reset first; the reset ends the sessions.
    assert!(matches!(
        op.totp_enroll("raj@acme.test", t(303)),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.totp_reset(&ctx, 3, t(304)),
        Err(Error::Denied(_))
    ));
    assert!(store.totp_reset(&ada, 3, t(304)).unwrap() >= 4);
    assert!(store
        .authenticate(&s.token, IP, t(305))
        .unwrap_err()
        .to_string()
        .contains("2fa.reset"));
    store.session_open(&raj, PW, t(306)).unwrap();
    let events: Vec<String> = op
        .auth_log(1, Default::default())
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    for ev in ["totp.enroll", "totp.confirm", "totp.reset"] {
        assert!(events.iter().any(|e| e == ev), "{ev} in {events:?}");
    }
    let sessions = store.session_list(&ada, Some(3), true, t(307)).unwrap();
    assert!(sessions
        .iter()
        .any(|s| s.end_reason == Some(EndReason::TwoFactorReset)));
}

#[test]
fn require_2fa_refuses_the_unenrolled_after_the_password_and_guards_switching() {
    let (_d, store) = store_with(true);
    let op = store.operator();
    let sue = who("sue@acme.test");
    assert_eq!(
        denied(store.session_open(&sue, "wrong one!", t(0))),
        "login failed"
    );
    assert_eq!(
        denied(store.session_open(&sue, PW, t(0))),
        "2FA enrolment required"
    );
    // An external sign-in needs the identity provider's MFA.
    assert_eq!(
        denied(op.session_open_external(&sue, "okta", false, t(0))),
        "2FA required"
    );
    op.session_open_external(&sue, "okta", true, t(0)).unwrap();
    // Account 2 requires nothing; switching from it into account 1 needs a
    // session that had a second factor.
    let mut doc = op.dump_json(1).unwrap();
    doc["account"]["id"] = 2.into();
    doc["account"]["security"]["require_2fa"] = false.into();
    op.load_json(&doc.to_string()).unwrap();
    let in_two = SignIn { account: 2, ..sue };
    let plain = store.session_open(&in_two, PW, t(1)).unwrap();
    assert!(denied(store.session_switch(&plain.token, 1, IP, t(2))).starts_with("2FA required"));
    let enrolled = op.totp_enroll("sue@acme.test", t(3)).unwrap();
    op.totp_confirm("sue@acme.test", &code(&enrolled.secret, 3), t(3))
        .unwrap();
    let strong = store
        .session_open_with(
            &in_two,
            PW,
            Some(SecondFactor::Totp(&code(&enrolled.secret, 60))),
            t(60),
        )
        .unwrap();
    let switched = store.session_switch(&strong.token, 1, IP, t(61)).unwrap();
    assert_eq!(switched.account, 1);
}
