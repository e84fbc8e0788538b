//! The directory of an account: its settings, users, roles, teams, groups,
//! profiles and sharing rules. Stored as one value per account (see
//! `tables::DIRECTORY`); the same types are the JSON of the account document.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::security::Security;

/// How far a profile lets a user act in a module: `none < own < team < all`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    None,
    Own,
    Team,
    All,
}

/// A share's (or sharing rule's) level: `read < read_write < full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    ReadWrite,
    Full,
}

impl Access {
    pub(crate) fn code(self) -> u8 {
        match self {
            Access::Read => 1,
            Access::ReadWrite => 2,
            Access::Full => 3,
        }
    }
}

/// Who a share or rule names. JSON: `{"user":3}`, `{"role_and_subordinates":4}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    User(u64),
    Team(u64),
    Group(u64),
    Role(u64),
    RoleAndSubordinates(u64),
}

impl Principal {
    /// The kind byte used in `tables::BY_SHARE` keys.
    pub(crate) fn kind_code(self) -> u8 {
        match self {
            Principal::User(_) => 1,
            Principal::Team(_) => 2,
            Principal::Group(_) => 3,
            Principal::Role(_) => 4,
            Principal::RoleAndSubordinates(_) => 5,
        }
    }

    pub(crate) fn id(self) -> u64 {
        match self {
            Principal::User(i)
            | Principal::Team(i)
            | Principal::Group(i)
            | Principal::Role(i)
            | Principal::RoleAndSubordinates(i) => i,
        }
    }

    /// Parses the command-line form `user:3`, `role_and_subordinates:4`.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming the text.
    pub fn parse(text: &str) -> crate::Result<Principal> {
        let bad = || {
            crate::Error::Invalid(format!(
                "`{text}` is not a principal (write user:ID, team:ID, group:ID, role:ID or role_and_subordinates:ID)"
            ))
        };
        let (kind, id) = text.split_once(':').ok_or_else(bad)?;
        let id: u64 = id.parse().map_err(|_| bad())?;
        Ok(match kind {
            "user" => Principal::User(id),
            "team" => Principal::Team(id),
            "group" => Principal::Group(id),
            "role" => Principal::Role(id),
            "role_and_subordinates" => Principal::RoleAndSubordinates(id),
            _ => return Err(bad()),
        })
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Principal::User(_) => "user",
            Principal::Team(_) => "team",
            Principal::Group(_) => "group",
            Principal::Role(_) => "role",
            Principal::RoleAndSubordinates(_) => "role_and_subordinates",
        };
        write!(f, "{kind}:{}", self.id())
    }
}

/// A field's rule in a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRule {
    Hidden,
    ReadOnly,
}

/// What a profile allows in one module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModulePerms {
    #[serde(default)]
    pub view: Scope,
    #[serde(default)]
    pub create: Scope,
    #[serde(default)]
    pub edit: Scope,
    #[serde(default)]
    pub delete: Scope,
    #[serde(default)]
    pub export: Scope,
    /// The only pipeline stages visible; `None` = all.
    #[serde(default)]
    pub stages: Option<BTreeSet<String>>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRule>,
}

/// A permission set. A module missing here means `none` for every action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub modules: BTreeMap<String, ModulePerms>,
    /// Narrows the account's `ip_allowlist` for users of this profile
    /// (empty: no narrowing).
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Users of this profile need a confirmed second factor.
    #[serde(default)]
    pub require_2fa: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub role: u64,
    #[serde(default)]
    pub teams: Vec<u64>,
    pub profile: u64,
    #[serde(default)]
    pub admin: bool,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub blocked: bool,
    /// The store-wide login this user signs in with (lowercase; the access
    /// gate). `None`: no sign-in, only trusted code's contexts.
    // No `skip_serializing_if`: the directory is stored with postcard, which
    // needs every field in place.
    #[serde(default)]
    pub login: Option<String>,
    /// The shift whose hours the user may work in (none: any time).
    #[serde(default)]
    pub shift: Option<u64>,
}

/// A node of the role tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub parent: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: u64,
    pub name: String,
}

/// A group reaches its users, users of its roles, users of its roles and the
/// roles below them, and members of its teams.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub users: Vec<u64>,
    #[serde(default)]
    pub roles: Vec<u64>,
    #[serde(default)]
    pub roles_and_subordinates: Vec<u64>,
    #[serde(default)]
    pub teams: Vec<u64>,
}

/// Records of `module` owned by anyone matching `owned_by` are shared with
/// everyone matching `share_with` at `access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingRule {
    pub module: String,
    pub owned_by: Principal,
    pub share_with: Principal,
    pub access: Access,
}

/// Modules where only admins may delete or export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    #[serde(default)]
    pub admin_only_delete: BTreeSet<String>,
    #[serde(default)]
    pub admin_only_export: BTreeSet<String>,
}

/// What the activity monitor counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorAction {
    Delete,
    Export,
}

/// Refuse, and block the user, when `action` would touch more than
/// `max_records` records within `window_secs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorRule {
    pub action: MonitorAction,
    pub max_records: u64,
    pub window_secs: u64,
}

/// An account's own settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    pub id: u64,
    pub name: String,
    #[serde(default = "yes")]
    pub hierarchy_access: bool,
    #[serde(default = "thirty")]
    pub trash_retention_days: u32,
    #[serde(default)]
    pub privacy: Privacy,
    #[serde(default)]
    pub monitor: Vec<MonitorRule>,
    #[serde(default)]
    pub security: Security,
}

fn yes() -> bool {
    true
}
fn thirty() -> u32 {
    30
}

/// Everything about an account except its records, trash and audit log.
/// Lists are kept sorted by id (the loader sorts them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    pub account: AccountSettings,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub sharing_rules: Vec<SharingRule>,
    #[serde(default)]
    pub shifts: Vec<super::Shift>,
}

fn find<T>(items: &[T], id: u64, key: impl Fn(&T) -> u64) -> Option<&T> {
    items
        .binary_search_by_key(&id, key)
        .ok()
        .and_then(|i| items.get(i))
}

impl Directory {
    pub fn user(&self, id: u64) -> Option<&User> {
        find(&self.users, id, |u| u.id)
    }
    pub fn role(&self, id: u64) -> Option<&Role> {
        find(&self.roles, id, |r| r.id)
    }
    pub fn team(&self, id: u64) -> Option<&Team> {
        find(&self.teams, id, |t| t.id)
    }
    pub fn group(&self, id: u64) -> Option<&Group> {
        find(&self.groups, id, |g| g.id)
    }
    pub fn profile(&self, id: u64) -> Option<&Profile> {
        find(&self.profiles, id, |p| p.id)
    }

    /// Whether the principal names something that exists.
    pub fn principal_exists(&self, p: Principal) -> bool {
        match p {
            Principal::User(i) => self.user(i).is_some(),
            Principal::Team(i) => self.team(i).is_some(),
            Principal::Group(i) => self.group(i).is_some(),
            Principal::Role(i) | Principal::RoleAndSubordinates(i) => self.role(i).is_some(),
        }
    }

    /// `role` and every role above it, nearest first. Stops at a cycle (the
    /// loader refuses cycles; this only keeps a corrupt value from looping).
    pub(crate) fn role_and_ancestors(&self, role: u64) -> Vec<u64> {
        let mut out = vec![role];
        let mut cur = self.role(role).and_then(|r| r.parent);
        while let Some(r) = cur {
            if out.contains(&r) {
                break;
            }
            out.push(r);
            cur = self.role(r).and_then(|x| x.parent);
        }
        out
    }

    /// Every principal `user` matches: itself, its teams, its role, every
    /// `role_and_subordinates` at or above its role, and every group reaching it.
    pub(crate) fn principals_of(&self, user: &User) -> BTreeSet<Principal> {
        let mut out = BTreeSet::from([Principal::User(user.id), Principal::Role(user.role)]);
        let above = self.role_and_ancestors(user.role);
        out.extend(user.teams.iter().map(|&t| Principal::Team(t)));
        out.extend(above.iter().map(|&r| Principal::RoleAndSubordinates(r)));
        for g in &self.groups {
            let reaches = g.users.contains(&user.id)
                || g.roles.contains(&user.role)
                || g.teams.iter().any(|t| user.teams.contains(t))
                || g.roles_and_subordinates.iter().any(|r| above.contains(r));
            if reaches {
                out.insert(Principal::Group(g.id));
            }
        }
        out
    }

    /// Users whose role is a strict descendant of `role`.
    pub(crate) fn users_below(&self, role: u64) -> BTreeSet<u64> {
        self.users
            .iter()
            .filter(|u| u.role != role && self.role_and_ancestors(u.role).contains(&role))
            .map(|u| u.id)
            .collect()
    }

    /// Every module name the directory mentions.
    pub(crate) fn mentions_module(&self, module: &str) -> bool {
        self.profiles.iter().any(|p| p.modules.contains_key(module))
            || self.sharing_rules.iter().any(|r| r.module == module)
            || self.account.privacy.admin_only_delete.contains(module)
            || self.account.privacy.admin_only_export.contains(module)
    }
}

impl crate::codec::Stored for Directory {
    const VERSION: u8 = 2;

    fn read_older(version: u8, body: &[u8]) -> Option<postcard::Result<Self>> {
        (version == 1).then(|| super::directory_v1::read(body))
    }
}
