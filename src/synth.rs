//! A realistic synthetic account for benchmarks and trying things: a 4-level
//! role tree, teams, groups, profiles with own/team/all scopes, stage limits
//! and hidden fields, sharing rules, ~5% of records shared, comments under
//! deals, and skewed ownership. The same spec and seed give the same data.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{
    Access, AccountSettings, Directory, FieldRule, Group, ModulePerms, Principal, Privacy, Profile,
    Record, Role, Scope, Share, SharingRule, Team, Timestamp, User, Value,
};
use crate::progress::Progress;
use crate::{audit, codec, index};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSpec {
    pub account: u64,
    pub records: u64,
    pub users: u64,
    pub teams: u64,
    pub seed: u64,
}

/// The profile ids a generated account uses, so benchmarks can pick users.
pub mod profiles {
    pub const ADMIN: u64 = 1;
    /// view/edit own (with hierarchy), a hidden `iban`.
    pub const REP: u64 = 2;
    /// view team.
    pub const TEAM: u64 = 3;
    /// view all, stages limited to the open pipeline.
    pub const ANALYST: u64 = 4;
    /// view own, but owns nothing: sees only what is shared.
    pub const SHARE_ONLY: u64 = 5;
}

/// SplitMix64: small, fast, and stable across releases (same seed, same data).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub const STAGES: [&str; 5] = ["new", "qualified", "negotiation", "won", "lost"];

fn perms(view: Scope, stages: Option<&[&str]>, hidden: &[&str]) -> ModulePerms {
    ModulePerms {
        view,
        create: if view == Scope::None {
            Scope::None
        } else {
            Scope::Own
        },
        edit: view.min(Scope::Own).max(if view == Scope::All {
            Scope::Own
        } else {
            Scope::None
        }),
        delete: view.min(Scope::Own),
        export: view.min(Scope::Own),
        stages: stages.map(|s| s.iter().map(|x| x.to_string()).collect()),
        fields: hidden
            .iter()
            .map(|f| (f.to_string(), FieldRule::Hidden))
            .collect(),
    }
}

fn profile(id: u64, name: &str, view: Scope, stages: Option<&[&str]>, hidden: &[&str]) -> Profile {
    let modules = ["deals", "leads", "comments"]
        .iter()
        .map(|m| {
            (
                m.to_string(),
                perms(view, stages, if *m == "deals" { hidden } else { &[] }),
            )
        })
        .collect();
    Profile {
        id,
        name: name.into(),
        modules,
        ip_allowlist: Vec::new(),
        require_2fa: false,
    }
}

/// The directory of a generated account.
pub fn directory(spec: &GenSpec) -> Result<Directory> {
    if spec.users < 2 || spec.teams < 1 {
        return Err(Error::Invalid(
            "gen needs at least 2 users and 1 team".into(),
        ));
    }
    let mut rng = Rng::new(spec.seed);
    // 4 levels: CEO → 2 VPs → 4 managers → 8 rep roles.
    let roles: Vec<Role> = (1..=15u64)
        .map(|id| {
            let (name, parent) = match id {
                1 => ("CEO".to_string(), None),
                2..=3 => (format!("VP {id}"), Some(1)),
                4..=7 => (format!("Manager {id}"), Some(2 + (id - 4) / 2)),
                _ => (format!("Rep {id}"), Some(4 + (id - 8) / 2)),
            };
            Role { id, name, parent }
        })
        .collect();
    let teams: Vec<Team> = (1..=spec.teams)
        .map(|id| Team {
            id,
            name: format!("Team {id}"),
        })
        .collect();
    let open: &[&str] = &["new", "qualified", "negotiation"];
    let profiles = vec![
        profile(profiles::ADMIN, "Admin", Scope::All, None, &[]),
        profile(profiles::REP, "Rep", Scope::Own, None, &["iban"]),
        profile(profiles::TEAM, "Team seller", Scope::Team, None, &["iban"]),
        profile(
            profiles::ANALYST,
            "Analyst",
            Scope::All,
            Some(open),
            &["iban"],
        ),
        profile(profiles::SHARE_ONLY, "Partner", Scope::Own, None, &["iban"]),
    ];
    let users: Vec<User> = (1..=spec.users)
        .map(|id| {
            let (role, profile, admin) = match id {
                1 => (1, profiles::ADMIN, true),
                2..=3 => (id, profiles::REP, false),
                4..=7 => (id, profiles::REP, false),
                _ => {
                    let p = match id % 10 {
                        0 => profiles::TEAM,
                        1 => profiles::ANALYST,
                        2 => profiles::SHARE_ONLY,
                        _ => profiles::REP,
                    };
                    (8 + rng.below(8), p, false)
                }
            };
            let team = 1 + (id - 1) % spec.teams;
            User {
                id,
                name: format!("user{id}"),
                role,
                teams: vec![team],
                profile,
                admin,
                active: true,
                blocked: false,
                login: None,
                shift: None,
            }
        })
        .collect();
    let groups: Vec<Group> = (1..=10u64)
        .map(|id| Group {
            id,
            name: format!("Group {id}"),
            users: (0..5)
                .map(|_| 1 + rng.below(spec.users))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            roles: if id % 3 == 0 {
                vec![8 + rng.below(8)]
            } else {
                vec![]
            },
            roles_and_subordinates: if id % 4 == 0 {
                vec![4 + rng.below(4)]
            } else {
                vec![]
            },
            teams: if id % 5 == 0 {
                vec![1 + rng.below(spec.teams)]
            } else {
                vec![]
            },
        })
        .collect();
    let sharing_rules = (0..5u64)
        .map(|i| SharingRule {
            module: if i % 2 == 0 { "deals" } else { "leads" }.into(),
            owned_by: Principal::Role(8 + rng.below(8)),
            share_with: Principal::Group(1 + rng.below(10)),
            access: Access::Read,
        })
        .collect();
    Ok(Directory {
        shifts: Vec::new(),
        account: AccountSettings {
            id: spec.account,
            name: format!("Synthetic {}", spec.account),
            hierarchy_access: true,
            trash_retention_days: 30,
            privacy: Privacy::default(),
            monitor: vec![],
            security: Default::default(),
        },
        roles,
        teams,
        profiles,
        users,
        groups,
        sharing_rules,
    })
}

/// Record `id` of a generated account (deterministic in spec and id).
/// Ownership is skewed: a few users own most records. Every 7th record is a
/// comment under an earlier deal.
pub fn record(spec: &GenSpec, dir: &Directory, id: u64) -> Record {
    // Deterministic times: a minute apart from 2026-01-01, so the same seed gives the same data.
    let at = Timestamp(
        1_767_225_600_000_000
            + i64::try_from(id)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(60_000_000),
    );
    let mut rng = Rng::new(spec.seed.wrapping_mul(0x1000_0000_01B3) ^ id);
    let u = spec.users;
    // Square of a uniform draw: low user ids own far more than high ones.
    let x = rng.below(1 << 16);
    let owner = 1 + ((x * x * u) >> 32).min(u - 1);
    let team = dir.user(owner).and_then(|o| o.teams.first().copied());
    let (module, parent, stage) = match id % 7 {
        0 if id > 7 => ("comments", Some(id - 6), None),
        1..=4 => (
            "deals",
            None,
            Some(STAGES[usize::try_from(rng.below(5)).unwrap_or(0)].to_string()),
        ),
        _ => (
            "leads",
            None,
            Some(STAGES[usize::try_from(rng.below(3)).unwrap_or(0)].to_string()),
        ),
    };
    let mut fields = BTreeMap::new();
    fields.insert("name".to_string(), Value::Text(format!("{module} {id}")));
    fields.insert(
        "amount".to_string(),
        Value::Int(i64::try_from(rng.below(100_000)).unwrap_or(0)),
    );
    if module == "deals" {
        fields.insert(
            "iban".to_string(),
            Value::Text(format!("DE{:020}", rng.next() % 10u64.pow(18))),
        );
    }
    let mut shares = Vec::new();
    if rng.below(20) == 0 {
        let to = match rng.below(3) {
            0 => Principal::User(1 + rng.below(u)),
            1 => Principal::Team(1 + rng.below(spec.teams)),
            _ => Principal::Group(1 + rng.below(10)),
        };
        shares.push(Share {
            to,
            access: if rng.below(2) == 0 {
                Access::Read
            } else {
                Access::ReadWrite
            },
        });
    }
    Record {
        id,
        module: module.into(),
        owner,
        team,
        stage,
        parent,
        fields,
        shares,
        version: 1,
        created_at: at,
        created_by: owner,
        updated_at: at,
        updated_by: owner,
    }
}

/// Creates (or replaces) account `spec.account` with generated data, in
/// one transaction, as `load` does: a killed or failing `gen` leaves the
/// account as it was, never half of it with an event claiming all of it.
/// Records are encoded and landed 20,000 at a time within it.
///
/// # Errors
/// `Invalid` for a spec with fewer than 2 users or no team.
pub(crate) fn generate(store: &Engine, spec: &GenSpec, progress: &dyn Progress) -> Result<()> {
    let dir = directory(spec)?;
    let a = spec.account;
    progress.set_len(spec.records);
    let now = store.now();
    store.write(|w| {
        w.clear_account(a)?;
        w.put_directory(&dir)?;
        let mut next = 1;
        while next <= spec.records {
            let end = (next + 20_000).min(spec.records + 1);
            let batch = (next..end)
                .map(|id| Ok((id, codec::encode(&record(spec, &dir, id))?)))
                .collect::<Result<Vec<_>>>()?;
            index::save_all(w, a, &batch)?;
            progress.inc(end - next);
            next = end;
        }
        let mut state = w.state(a)?;
        state.next_record = state.next_record.max(next);
        w.put_state(a, &state)?;
        let e = audit::Entry {
            actor: None,
            action: crate::audit::AuditAction::AccountLoad,
            target: format!("account {a}"),
            count: spec.records,
            detail: format!("generated, seed {}", spec.seed),
        };
        audit::append(w, a, now, e)
    })?;
    progress.finish();
    Ok(())
}
