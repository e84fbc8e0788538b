//! A state machine over create / update / delete (with and without cascade)
//! / restore (whole and partial) / purge, against a model of live records
//! and batches; after every step the visible sets of several users, the
//! trash listing and `check` agree with the model.

use std::collections::BTreeMap;

use crmstore::{Action, Cascade, Deleted, Error, NewRecord, Query, Store, Update};
use proptest::prelude::*;

/// Admin 1; reps 2 and 3 (own scope) under manager 4.
const DOC: &str = r#"{
  "account": {"id": 1, "name": "t"},
  "roles": [{"id": 1, "name": "m", "parent": null}, {"id": 2, "name": "r", "parent": 1}],
  "teams": [{"id": 1, "name": "t"}],
  "profiles": [{"id": 1, "name": "a", "modules": {}},
               {"id": 2, "name": "own", "modules": {"deals": {"view": "own", "create": "own", "edit": "own", "delete": "own", "export": "own"}}}],
  "users": [{"id": 1, "name": "a", "role": 1, "profile": 1, "admin": true},
            {"id": 2, "name": "b", "role": 2, "profile": 2}, {"id": 3, "name": "c", "role": 2, "profile": 2},
            {"id": 4, "name": "d", "role": 1, "profile": 2}]
}"#;

#[derive(Clone, Debug)]
enum Op {
    Create {
        user: u64,
        parent: Option<usize>,
    },
    Update {
        user: u64,
        pick: usize,
    },
    Delete {
        user: u64,
        pick: usize,
        cascade: bool,
    },
    Restore {
        user: u64,
        pick: usize,
        partial: Option<usize>,
    },
    Purge {
        user: u64,
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 1u64..=4;
    prop_oneof![
        3 => (user.clone(), proptest::option::of(0usize..64)).prop_map(|(user, parent)| Op::Create { user, parent }),
        1 => (user.clone(), 0usize..64).prop_map(|(user, pick)| Op::Update { user, pick }),
        2 => (user.clone(), 0usize..64, any::<bool>()).prop_map(|(user, pick, cascade)| Op::Delete { user, pick, cascade }),
        2 => (user.clone(), 0usize..64, proptest::option::of(0usize..64)).prop_map(|(user, pick, partial)| Op::Restore { user, pick, partial }),
        1 => (user, 0usize..64).prop_map(|(user, pick)| Op::Purge { user, pick }),
    ]
}

/// id → (owner, parent)
type Items = BTreeMap<u64, (u64, Option<u64>)>;

#[derive(Clone, Debug, Default)]
struct Model {
    /// id → (owner, parent)
    live: BTreeMap<u64, (u64, Option<u64>)>,
    /// batch → (deleted_by, id → (owner, parent))
    batches: BTreeMap<u64, (u64, Items)>,
}

impl Model {
    fn sees(&self, user: u64, owner: u64) -> bool {
        user == 1 || owner == user || (user == 4 && owner != 1)
    }
    fn visible(&self, user: u64) -> Vec<u64> {
        self.live
            .iter()
            .filter(|(_, (o, _))| self.sees(user, *o))
            .map(|(id, _)| *id)
            .collect()
    }
    fn pick_live(&self, user: u64, pick: usize) -> Option<u64> {
        let v = self.visible(user);
        (!v.is_empty()).then(|| v[pick % v.len()])
    }
    /// What of a batch `user` sees: the records they may view of one they
    /// or a subordinate deleted (an admin: all of every batch).
    fn part(&self, user: u64, b: u64) -> Items {
        let (by, items) = &self.batches[&b];
        if !self.sees(user, *by) {
            return Items::new();
        }
        items
            .iter()
            .filter(|(_, (owner, _))| self.sees(user, *owner))
            .map(|(id, item)| (*id, *item))
            .collect()
    }
    /// The batches `user` lists: those of which they see something.
    fn listed(&self, user: u64) -> Vec<u64> {
        self.batches
            .keys()
            .copied()
            .filter(|b| !self.part(user, *b).is_empty())
            .collect()
    }
    fn pick_batch(&self, user: u64, pick: usize) -> Option<u64> {
        let v = self.listed(user);
        (!v.is_empty()).then(|| v[pick % v.len()])
    }
}

fn step(store: &Store, m: &mut Model, op: &Op) -> Result<(), String> {
    let ctx = |u| store.operator().context(1, u).unwrap();
    match *op {
        Op::Create { user, parent } => {
            let parent = parent.and_then(|p| m.pick_live(user, p));
            let mut new = NewRecord::new("deals");
            if let Some(p) = parent {
                new = new.parent(p);
            }
            let r = store
                .create(&ctx(user), new)
                .map_err(|e| format!("create: {e}"))?;
            m.live.insert(r.id, (r.owner, parent));
        }
        Op::Update { user, pick } => {
            if let Some(id) = m.pick_live(user, pick) {
                store
                    .update(&ctx(user), id, Update::new().set("n", pick as i64))
                    .map_err(|e| format!("update: {e}"))?;
            }
        }
        Op::Delete {
            user,
            pick,
            cascade,
        } => {
            let Some(id) = m.pick_live(user, pick) else {
                return Ok(());
            };
            // Children the user cannot see neither block nor go along.
            let mut doomed = vec![id];
            let mut i = 0;
            while i < doomed.len() {
                let p = doomed[i];
                doomed.extend(
                    m.live
                        .iter()
                        .filter(|(_, (o, par))| *par == Some(p) && m.sees(user, *o))
                        .map(|(c, _)| *c),
                );
                i += 1;
            }
            let has_children = doomed.len() > 1;
            let all_mine = doomed.iter().all(|d| m.sees(user, m.live[d].0));
            let how = if cascade { Cascade::Yes } else { Cascade::No };
            let got = store.delete(&ctx(user), &[id], how);
            match got {
                Ok(Deleted { batch, count: n }) if (cascade || !has_children) && all_mine => {
                    if n != doomed.len() as u64 {
                        return Err(format!("delete moved {n}, model {}", doomed.len()));
                    }
                    let moved = doomed
                        .iter()
                        .map(|d| (*d, m.live.remove(d).unwrap()))
                        .collect();
                    m.batches.insert(batch, (user, moved));
                }
                Err(Error::LiveChildren { .. }) if !cascade && has_children => {}
                Err(Error::Denied(_)) if cascade && !all_mine => {}
                other => return Err(format!("delete {id} cascade={cascade}: {other:?}")),
            }
        }
        Op::Restore {
            user,
            pick,
            partial,
        } => {
            let Some(b) = m.pick_batch(user, pick) else {
                return Ok(());
            };
            let items = m.part(user, b);
            let only = partial.map(|p| *items.keys().nth(p % items.len()).unwrap());
            let mut chosen: Vec<u64> = match only {
                None => items.keys().copied().collect(),
                Some(id) => {
                    let mut v = vec![];
                    let mut cur = Some(id);
                    while let Some(c) = cur.filter(|c| items.contains_key(c)) {
                        v.push(c);
                        cur = items[&c].1;
                    }
                    v
                }
            };
            chosen.sort_unstable();
            let orphan = chosen.iter().any(|c| {
                items[c]
                    .1
                    .is_some_and(|p| !chosen.contains(&p) && !m.live.contains_key(&p))
            });
            let allowed = chosen.iter().all(|c| m.sees(user, items[c].0));
            // Asked first, for the whole part they see: the same answer.
            let whole = items.values().all(|(owner, _)| m.sees(user, *owner));
            let asked = store.can(&ctx(user), Action::RestoreBatch(b));
            if !matches!(&asked, Ok(d) if d.allowed == whole) {
                return Err(format!(
                    "can restore batch {b} by {user}: {asked:?}, model {whole}"
                ));
            }
            let got = store.restore_batch(&ctx(user), b, only.map(|o| vec![o]).as_deref());
            match got {
                Ok(n) if !orphan && allowed => {
                    if n != chosen.len() as u64 {
                        return Err(format!("restore {n}, model {}", chosen.len()));
                    }
                    let entry = m.batches.get_mut(&b).unwrap();
                    for c in &chosen {
                        m.live.insert(*c, entry.1.remove(c).unwrap());
                    }
                    if entry.1.is_empty() {
                        m.batches.remove(&b);
                    }
                }
                Err(Error::ParentGone { .. }) if orphan => {}
                Err(Error::Denied(_)) if !allowed => {}
                other => return Err(format!("restore batch {b} only {only:?}: {other:?}")),
            }
        }
        Op::Purge { user, pick } => {
            let Some(b) = m.pick_batch(user, pick) else {
                return Ok(());
            };
            let asked = store.can(&ctx(user), Action::PurgeBatch(b));
            if !matches!(&asked, Ok(d) if d.allowed == (user == 1)) {
                return Err(format!("can purge batch {b} by {user}: {asked:?}"));
            }
            match store.purge(&ctx(user), b) {
                Ok(_) if user == 1 => {
                    m.batches.remove(&b);
                }
                Err(Error::Denied(_)) if user != 1 => {}
                other => return Err(format!("purge {b} by {user}: {other:?}")),
            }
        }
    }
    Ok(())
}

fn agree(store: &Store, m: &Model) -> Result<(), String> {
    for user in 1..=4 {
        let ctx = store.operator().context(1, user).unwrap();
        let got: Vec<u64> = store
            .query(&ctx, &Query::module("deals"))
            .unwrap()
            .records
            .iter()
            .map(|r| r.id)
            .collect();
        if got != m.visible(user) {
            return Err(format!(
                "user {user} sees {got:?}, model {:?}",
                m.visible(user)
            ));
        }
        let batches: Vec<u64> = store
            .trash_list(&ctx)
            .unwrap()
            .iter()
            .map(|b| b.id)
            .collect();
        let want = m.listed(user);
        if batches != want {
            return Err(format!("user {user} trash {batches:?}, model {want:?}"));
        }
    }
    let rep = store.operator().check().unwrap();
    if !rep.is_consistent() {
        return Err(format!("check: {:?}", rep.problems));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::common::proptest_cases(24), ..ProptestConfig::default() })]

    #[test]
    fn trash_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.redb")).unwrap();
        store.operator().load_json(DOC).unwrap();
        let mut m = Model::default();
        for (i, op) in ops.iter().enumerate() {
            let r = step(&store, &mut m, op).and_then(|()| agree(&store, &m));
            prop_assert!(r.is_ok(), "step {i} {op:?}: {}", r.unwrap_err());
        }
    }
}
