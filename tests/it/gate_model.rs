//! The access gate against a model (issue 20): random runs of sign-ins
//! (right and wrong passwords), logouts, revocations, blocks and password
//! changes; after each step every token authenticates exactly when the
//! model says its session is live, and lockouts fall where the model puts them.

use std::net::IpAddr;

use crmstore::{Error, Revoke, SignIn, Store, Timestamp};
use proptest::prelude::*;

const LOGINS: [&str; 2] = ["max@acme.test", "raj@acme.test"];
const USERS: [u64; 2] = [2, 3];
const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[derive(Clone, Debug)]
enum Op {
    Open { who: usize, right: bool },
    Close { pick: usize },
    Revoke { pick: usize },
    Block { who: usize, on: bool },
    Passwd { who: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, any::<bool>()).prop_map(|(who, right)| Op::Open { who, right }),
        1 => any::<usize>().prop_map(|pick| Op::Close { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Revoke { pick }),
        1 => (0..2usize, any::<bool>()).prop_map(|(who, on)| Op::Block { who, on }),
        1 => (0..2usize).prop_map(|who| Op::Passwd { who }),
    ]
}

#[derive(Default)]
struct Model {
    /// Each login's password generation.
    pw: [u32; 2],
    blocked: [bool; 2],
    /// (who, session id, token, live).
    sessions: Vec<(usize, u64, String, bool)>,
    failures: [Vec<i64>; 2],
    locked_until: [Option<i64>; 2],
}

fn password(generation: u32) -> String {
    format!("password number {generation}")
}

fn t(s: i64) -> Timestamp {
    Timestamp(1_800_000_000_000_000 + s * 1_000_000)
}

fn run(ops: &[Op]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.redb")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(crate::common::DOC).unwrap();
    doc["users"][1]["login"] = LOGINS[0].into();
    doc["users"][2]["login"] = LOGINS[1].into();
    let op = store.operator();
    op.load_json(&doc.to_string()).unwrap();
    for l in LOGINS {
        op.login_passwd(l, &password(0), t(0)).unwrap();
    }
    let admin = op.context(1, 1).unwrap();
    let mut m = Model::default();
    for (step, o) in ops.iter().enumerate() {
        let now = 1 + step as i64 * 40;
        match *o {
            Op::Open { who, right } => {
                let pw = if right {
                    password(m.pw[who])
                } else {
                    "wrong password".into()
                };
                let sign_in = SignIn {
                    account: 1,
                    login: LOGINS[who],
                    ip: IP,
                    device: "d",
                };
                let got = store.session_open(&sign_in, &pw, t(now));
                let locked = m.locked_until[who].is_some_and(|u| u > now);
                let want_ok = right && !locked && !m.blocked[who];
                match (&got, want_ok) {
                    (Ok(s), true) => m.sessions.push((who, s.session, s.token.clone(), true)),
                    (Err(Error::Denied(_)), false) => {}
                    _ => return Err(format!("step {step} {o:?}: {got:?}, model ok={want_ok}")),
                }
                if !right && !locked {
                    let f = &mut m.failures[who];
                    f.retain(|x| x + 900 > now);
                    f.push(now);
                    if f.len() >= 5 {
                        m.locked_until[who] = Some(now + 900);
                        f.clear();
                    }
                }
            }
            Op::Close { pick } if !m.sessions.is_empty() => {
                let i = pick % m.sessions.len();
                let got = store.session_close(&m.sessions[i].2, t(now));
                match (&got, m.sessions[i].3) {
                    (Ok(()), true) => m.sessions[i].3 = false,
                    (Err(Error::Denied(_)), false) => {}
                    _ => return Err(format!("step {step} close {i}: {got:?}")),
                }
            }
            Op::Revoke { pick } if !m.sessions.is_empty() => {
                let i = pick % m.sessions.len();
                let n = store
                    .session_revoke(&admin, Revoke::Sessions(&[m.sessions[i].1]), t(now))
                    .map_err(|e| format!("step {step} revoke: {e}"))?;
                if n != u64::from(m.sessions[i].3) {
                    return Err(format!("step {step} revoke {i}: {n}"));
                }
                m.sessions[i].3 = false;
            }
            Op::Block { who, on } => {
                store
                    .set_blocked(&admin, USERS[who], on)
                    .map_err(|e| e.to_string())?;
                m.blocked[who] = on;
                if on {
                    m.sessions
                        .iter_mut()
                        .filter(|s| s.0 == who)
                        .for_each(|s| s.3 = false);
                }
            }
            Op::Passwd { who } => {
                m.pw[who] += 1;
                op.login_passwd(LOGINS[who], &password(m.pw[who]), t(now))
                    .map_err(|e| e.to_string())?;
                m.sessions
                    .iter_mut()
                    .filter(|s| s.0 == who)
                    .for_each(|s| s.3 = false);
            }
            Op::Close { .. } | Op::Revoke { .. } => {}
        }
        for (who, id, token, live) in &m.sessions {
            let got = store.authenticate(token, IP, t(now));
            match (&got, live) {
                (Ok(ctx), true) if ctx.session() == Some(*id) && ctx.user() == USERS[*who] => {}
                (Err(Error::Denied(_)), false) => {}
                _ => {
                    return Err(format!(
                        "after step {step}: session {id} {got:?}, model live={live}"
                    ))
                }
            }
        }
    }
    let rep = op.check().unwrap();
    if !rep.is_consistent() {
        return Err(format!("check: {:?}", rep.problems));
    }
    if op.auth_verify(1).unwrap().broken.is_some() {
        return Err("the authorization log does not verify".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::common::proptest_cases(16), ..ProptestConfig::default() })]

    #[test]
    fn the_gate_agrees_with_the_model(ops in prop::collection::vec(op(), 1..40)) {
        if let Err(why) = run(&ops) {
            prop_assert!(false, "{why}\n{ops:?}");
        }
    }
}
