//! The directory as stored at layout 1 (before the access gate): read as
//! layout 2 with no logins and the default security settings.

use crate::model::{AccountSettings, Directory, Profile, Security, User};

/// Decodes a layout-1 directory body.
pub(super) fn read(body: &[u8]) -> postcard::Result<Directory> {
    postcard::from_bytes::<v1::Directory>(body).map(Directory::from)
}

/// The directory as layout 1 stored it.
mod v1 {
    use serde::Deserialize;

    use std::collections::BTreeMap;

    use crate::model::{Group, ModulePerms, MonitorRule, Privacy, Role, SharingRule, Team};

    #[derive(Deserialize)]
    pub(super) struct Profile {
        pub id: u64,
        pub name: String,
        pub modules: BTreeMap<String, ModulePerms>,
    }

    #[derive(Deserialize)]
    pub(super) struct Directory {
        pub account: AccountSettings,
        pub roles: Vec<Role>,
        pub teams: Vec<Team>,
        pub profiles: Vec<Profile>,
        pub users: Vec<User>,
        pub groups: Vec<Group>,
        pub sharing_rules: Vec<SharingRule>,
    }

    #[derive(Deserialize)]
    pub(super) struct AccountSettings {
        pub id: u64,
        pub name: String,
        pub hierarchy_access: bool,
        pub trash_retention_days: u32,
        pub privacy: Privacy,
        pub monitor: Vec<MonitorRule>,
    }

    #[derive(Deserialize)]
    pub(super) struct User {
        pub id: u64,
        pub name: String,
        pub role: u64,
        pub teams: Vec<u64>,
        pub profile: u64,
        pub admin: bool,
        pub active: bool,
        pub blocked: bool,
    }
}

impl From<v1::Directory> for Directory {
    fn from(d: v1::Directory) -> Directory {
        let a = d.account;
        Directory {
            account: AccountSettings {
                id: a.id,
                name: a.name,
                hierarchy_access: a.hierarchy_access,
                trash_retention_days: a.trash_retention_days,
                privacy: a.privacy,
                monitor: a.monitor,
                security: Security::default(),
            },
            roles: d.roles,
            teams: d.teams,
            profiles: d
                .profiles
                .into_iter()
                .map(|p| Profile {
                    id: p.id,
                    name: p.name,
                    modules: p.modules,
                    ip_allowlist: Vec::new(),
                    require_2fa: false,
                })
                .collect(),
            users: d
                .users
                .into_iter()
                .map(|u| User {
                    id: u.id,
                    name: u.name,
                    role: u.role,
                    teams: u.teams,
                    profile: u.profile,
                    admin: u.admin,
                    active: u.active,
                    blocked: u.blocked,
                    login: None,
                    shift: None,
                })
                .collect(),
            groups: d.groups,
            sharing_rules: d.sharing_rules,
            shifts: Vec::new(),
        }
    }
}
