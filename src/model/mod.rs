//! The data model: ids, values, records and the directory of an account.

pub(crate) mod directory;
mod directory_v1;
pub(crate) mod json;
pub(crate) mod limits;
mod mask;
pub(crate) mod network;
pub(crate) mod record;
mod security;
pub(crate) mod shift;
pub(crate) mod value;
pub(crate) mod view;

pub use directory::{
    Access, AccountSettings, Directory, FieldRule, Group, ModulePerms, MonitorAction, MonitorRule,
    Principal, Privacy, Profile, Role, Scope, SharingRule, Team, User,
};
pub(crate) use mask::FieldMask;
pub use record::{NewRecord, Record, Share};
pub use security::{Lockout, Security};
pub use shift::Shift;
pub use value::{Timestamp, Value, ValueRef};
pub use view::{RecordView, Shares};
