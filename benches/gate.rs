//! The access gate's costs: `authenticate` (on every request of a CRM)
//! against `Operator::context` (target: within 2x), `session_open`
//! (argon2id by design), and an unknown login against a wrong password
//! (must take the same time: no user enumeration). `cargo bench --bench gate`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion};
use crmstore::synth::GenSpec;
use crmstore::{NoProgress, SignIn, Store, Timestamp};

const PW: &str = "correct horse battery";
const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn gate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("g.redb")).unwrap();
    let op = store.operator();
    let spec = GenSpec {
        account: 1,
        records: 10_000,
        users: 50,
        teams: 5,
        seed: 1,
    };
    op.generate(&spec, &NoProgress).unwrap();
    op.update_directory(1, |d| {
        for u in &mut d.users {
            u.login = Some(format!("user{}@acme.test", u.id));
        }
    })
    .unwrap();
    for id in 7..48 {
        op.login_passwd(&format!("user{id}@acme.test"), PW, Timestamp::now())
            .unwrap();
    }
    let now = Timestamp::now();
    let sign_in = |login| SignIn {
        account: 1,
        login,
        ip: IP,
        device: "bench",
    };
    let opened = store
        .session_open(&sign_in("user7@acme.test"), PW, now)
        .unwrap();
    let mut g = c.benchmark_group("gate");
    g.bench_function("Operator::context (user 7)", |b| {
        b.iter(|| op.context(1, 7).unwrap())
    });
    g.bench_function("authenticate (user 7's session)", |b| {
        b.iter(|| store.authenticate(&opened.token, IP, now).unwrap())
    });
    // Issue 21: with a 50-entry allowlist (the address matching the last)
    // and the user in a shift, both checked on every request.
    op.update_directory(1, |d| {
        let mut nets: Vec<String> = (0..49).map(|i| format!("10.{i}.0.0/16")).collect();
        nets.push("127.0.0.0/8".into());
        d.account.security.ip_allowlist = nets;
        let day = vec![
            ("00:00".to_string(), "12:00".to_string()),
            ("12:00".into(), "00:00".into()),
        ];
        d.shifts = vec![crmstore::Shift {
            id: 1,
            name: "always".into(),
            tz: "Europe/Berlin".into(),
            weekly: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .map(|w| ((*w).to_string(), day.clone()))
                .collect(),
            holidays: vec![],
        }];
        if let Some(u) = d.users.iter_mut().find(|u| u.id == 7) {
            u.shift = Some(1);
        }
    })
    .unwrap();
    let policed = store
        .session_open(&sign_in("user7@acme.test"), PW, now)
        .unwrap();
    g.bench_function("authenticate (50-entry allowlist, a shift)", |b| {
        b.iter(|| store.authenticate(&policed.token, IP, now).unwrap())
    });
    // The floor under authenticate: decode and hash a token, one lookup.
    let unknown = "00".repeat(32);
    g.bench_function("authenticate: unknown token (hash + one lookup)", |b| {
        b.iter(|| store.authenticate(&unknown, IP, now).unwrap_err())
    });
    g.sample_size(20);
    g.bench_function("session_open (argon2id)", |b| {
        b.iter(|| {
            store
                .session_open(&sign_in("user7@acme.test"), PW, Timestamp::now())
                .unwrap()
        })
    });
    // A wrong password is logged and counted toward a lockout: spread over
    // logins so none locks (the lockout's write is part of the cost).
    let mut n = 0u64;
    g.bench_function("refused: wrong password", |b| {
        b.iter(|| {
            n += 1;
            let login = format!("user{}@acme.test", 8 + n % 40);
            let who = SignIn {
                account: 1,
                login: &login,
                ip: IP,
                device: "bench",
            };
            store
                .session_open(&who, "wrong password", Timestamp::now())
                .unwrap_err()
        })
    });
    g.bench_function("refused: unknown login", |b| {
        b.iter(|| {
            store
                .session_open(&sign_in("nobody@acme.test"), PW, Timestamp::now())
                .unwrap_err()
        })
    });
    g.finish();
}

criterion_group!(benches, gate);
criterion_main!(benches);
