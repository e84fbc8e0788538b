//! A resolved viewer: everything the access rules need to know about one user,
//! computed once from the directory and cached by directory version.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::{Access, Directory, ModulePerms, Principal};

/// Records owned by any of `owners` are shared with the viewer at `access`
/// (one sharing rule whose `share_with` matches the viewer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuleGrant {
    pub owners: BTreeSet<u64>,
    pub access: Access,
}

/// One user, resolved against one version of the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Viewer {
    pub user: u64,
    pub admin: bool,
    pub teams: BTreeSet<u64>,
    /// The viewer and their subordinates (only the viewer when
    /// `hierarchy_access` is off): `owns(V,R)` is `R.owner ∈ owners`.
    pub owners: BTreeSet<u64>,
    /// Every principal the viewer matches (user, teams, groups, role, roles-and-subordinates).
    pub principals: BTreeSet<Principal>,
    /// The viewer's profile, per module.
    pub modules: BTreeMap<String, ModulePerms>,
    /// Sharing rules that reach the viewer, per module.
    pub rules: BTreeMap<String, Vec<RuleGrant>>,
    pub admin_only_delete: BTreeSet<String>,
    pub admin_only_export: BTreeSet<String>,
}

impl Viewer {
    /// Resolves `user` in `dir`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user; [`Error::Denied`] for one who is
    /// inactive or blocked (they may do nothing).
    pub(crate) fn resolve(dir: &Directory, user: u64) -> Result<Viewer> {
        let account = dir.account.id;
        let u = dir
            .user(user)
            .ok_or_else(|| Error::NotFound(format!("no user `{user}` in account `{account}`")))?;
        if !u.active {
            return Err(Error::Denied(format!("user `{user}` is inactive")));
        }
        if u.blocked {
            return Err(Error::Denied(format!(
                "user `{user}` is blocked (an admin can unblock them)"
            )));
        }
        let mut owners = BTreeSet::from([user]);
        if dir.account.hierarchy_access {
            owners.extend(dir.users_below(u.role));
        }
        let principals = dir.principals_of(u);
        let mut rules: BTreeMap<String, Vec<RuleGrant>> = BTreeMap::new();
        let reaching: Vec<_> = dir
            .sharing_rules
            .iter()
            .filter(|r| principals.contains(&r.share_with))
            .collect();
        if !reaching.is_empty() {
            let everyone: Vec<(u64, BTreeSet<Principal>)> = dir
                .users
                .iter()
                .map(|o| (o.id, dir.principals_of(o)))
                .collect();
            for rule in reaching {
                let owners = everyone
                    .iter()
                    .filter(|(_, ps)| ps.contains(&rule.owned_by))
                    .map(|(id, _)| *id)
                    .collect();
                rules
                    .entry(rule.module.clone())
                    .or_default()
                    .push(RuleGrant {
                        owners,
                        access: rule.access,
                    });
            }
        }
        Ok(Viewer {
            user,
            admin: u.admin,
            teams: u.teams.iter().copied().collect(),
            owners,
            principals,
            modules: dir
                .profile(u.profile)
                .map(|p| p.modules.clone())
                .unwrap_or_default(),
            rules,
            admin_only_delete: dir.account.privacy.admin_only_delete.clone(),
            admin_only_export: dir.account.privacy.admin_only_export.clone(),
        })
    }

    /// The viewer's permissions in `module`; `None` when the profile lacks it.
    pub(crate) fn perms(&self, module: &str) -> Option<&ModulePerms> {
        self.modules.get(module)
    }
}
