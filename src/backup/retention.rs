//! Retention: a pure function of `(now, archives)` deciding which archives to
//! keep and why. Per scope (the whole store, or one account), the newest
//! `weekly` weekly and `monthly` monthly archives are kept; manual archives
//! are never pruned.

use std::collections::BTreeMap;

use super::format::Kind;
use crate::model::Timestamp;

/// How many scheduled archives to keep per scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    pub weekly: usize,
    pub monthly: usize,
}

impl Default for Keep {
    fn default() -> Self {
        Keep {
            weekly: 5,
            monthly: 12,
        }
    }
}

/// What retention needs to know of one archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveFacts {
    pub name: String,
    pub scope: String,
    pub kind: Kind,
    pub created_at: Timestamp,
    /// Found whole by a verification whose file is still this one.
    pub verified: bool,
}

/// The decision for one archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub name: String,
    pub keep: bool,
    pub reason: String,
}

/// Decides, for each archive, keep or remove, with the reason.
pub fn plan(now: Timestamp, archives: &[ArchiveFacts], keep: Keep) -> Vec<Decision> {
    let mut groups: BTreeMap<(&str, &'static str), Vec<&ArchiveFacts>> = BTreeMap::new();
    let mut out = Vec::with_capacity(archives.len());
    for a in archives {
        match a.kind {
            Kind::Manual => out.push(Decision {
                name: a.name.clone(),
                keep: true,
                reason: "manual archives are never pruned".into(),
            }),
            _ if a.created_at > now => out.push(Decision {
                name: a.name.clone(),
                keep: true,
                reason: "dated in the future: kept until the clock agrees".into(),
            }),
            k => groups
                .entry((a.scope.as_str(), k.name()))
                .or_default()
                .push(a),
        }
    }
    for ((scope, kind), mut list) in groups {
        list.sort_by(|x, y| {
            y.created_at
                .cmp(&x.created_at)
                .then_with(|| y.name.cmp(&x.name))
        });
        let n = if kind == "weekly" {
            keep.weekly
        } else {
            keep.monthly
        };
        // An archive goes only once a newer one of its kind and scope has
        // been verified: a run of unrestorable backups never costs the last
        // good one.
        let mut newer_verified = false;
        for (i, a) in list.into_iter().enumerate() {
            let keep = i < n || !newer_verified;
            let reason = if i < n {
                format!("{} newest of {n} {kind} ({scope})", ordinal(i + 1))
            } else if keep {
                format!("beyond the newest {n} {kind} ({scope}), but no newer one is verified")
            } else {
                format!("beyond the newest {n} {kind} ({scope})")
            };
            newer_verified |= a.verified;
            out.push(Decision {
                name: a.name.clone(),
                keep,
                reason,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(name: &str, kind: Kind, day: i64) -> ArchiveFacts {
        ArchiveFacts {
            name: name.into(),
            scope: "full".into(),
            kind,
            created_at: Timestamp(day * 86_400_000_000),
            verified: true,
        }
    }

    #[test]
    fn keeps_the_newest_n_of_each_kind_and_every_manual() {
        let mut all: Vec<ArchiveFacts> = (0..8)
            .map(|d| facts(&format!("w{d}"), Kind::Weekly, d * 7))
            .collect();
        all.extend((0..3).map(|m| facts(&format!("m{m}"), Kind::Monthly, m * 30)));
        all.push(facts("manual", Kind::Manual, 0));
        all.push(facts("future", Kind::Weekly, 10_000));
        let plan = plan(
            Timestamp(100 * 86_400_000_000),
            &all,
            Keep {
                weekly: 5,
                monthly: 2,
            },
        );
        let kept: Vec<&str> = plan
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(
            kept,
            ["future", "m1", "m2", "manual", "w3", "w4", "w5", "w6", "w7"]
        );
        let w0 = plan.iter().find(|d| d.name == "w0").unwrap();
        assert!(!w0.keep && w0.reason.contains("beyond the newest 5 weekly"));
    }

    #[test]
    fn scopes_are_kept_apart() {
        let mut a = facts("a", Kind::Weekly, 1);
        a.scope = "account:1".into();
        let b = facts("b", Kind::Weekly, 2);
        let plan = plan(
            Timestamp(i64::MAX),
            &[a, b],
            Keep {
                weekly: 1,
                monthly: 1,
            },
        );
        assert!(plan.iter().all(|d| d.keep));
    }

    #[test]
    fn nothing_goes_until_a_newer_archive_of_its_kind_is_verified() {
        let weekly = |d: i64, verified| ArchiveFacts {
            verified,
            ..facts(&format!("w{d:02}"), Kind::Weekly, d * 7)
        };
        let keep = Keep {
            weekly: 2,
            monthly: 1,
        };
        let now = Timestamp(100 * 86_400_000_000);
        // None verified: everything stays, however many.
        let none: Vec<_> = (0..6).map(|d| weekly(d, false)).collect();
        assert!(plan(now, &none, keep).iter().all(|d| d.keep));
        // Only w02 verified: what is older than it may go, w03..w05 stay.
        let some: Vec<_> = (0..6).map(|d| weekly(d, d == 2)).collect();
        let kept: Vec<_> = plan(now, &some, keep)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.name)
            .collect();
        assert_eq!(kept, ["w02", "w03", "w04", "w05"]);
    }
}
