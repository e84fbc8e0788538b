//! Decisions that are not about one record: creating in a module, exporting
//! a module, restoring or purging a trash batch, blocking a user. Each answers
//! a [`Decision`] with the reason a refusal gives; the actions that run them
//! refuse with exactly that reason, so `Store::decide` and the action agree.

use super::decide::may_create;
use super::viewer::Viewer;
use crate::model::Scope;

/// What a viewer asks about, beyond one record's [`Action`](super::Action)s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Create records in a module.
    Create { module: &'a str },
    /// Export a module (what may be exported of it: `Action::Export` per record).
    Export { module: &'a str },
    /// Restore a trash batch (each record restored needs the delete right too).
    RestoreBatch { batch: u64 },
    /// Purge a trash batch for good.
    PurgeBatch { batch: u64 },
    /// Block or unblock a user.
    Block { user: u64 },
}

/// An answer: allowed, or refused and why (the text a refusal's `Denied` carries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Option<String>,
}

impl Decision {
    pub(crate) fn yes() -> Decision {
        Decision {
            allowed: true,
            reason: None,
        }
    }

    pub(crate) fn no(reason: String) -> Decision {
        Decision {
            allowed: false,
            reason: Some(reason),
        }
    }

    /// `Ok` when allowed, else `Denied` with the reason.
    pub(crate) fn or_denied(self) -> crate::Result<()> {
        match self.reason {
            Some(why) if !self.allowed => Err(crate::Error::Denied(why)),
            _ => Ok(()),
        }
    }
}

/// The decision for `request`, as DESIGN.md "Access rules" and "Trash" say.
/// A batch must already be one the viewer sees (`trash::batch::visible_part`:
/// one they cannot see does not exist for them); this decides what they may
/// do to it.
pub(crate) fn decide_request(v: &Viewer, request: Request<'_>) -> Decision {
    match request {
        Request::Create { module } if !may_create(v, module) => Decision::no(format!(
            "user `{}` may not create records in `{module}`",
            v.user
        )),
        Request::Export { module } => {
            let scope = if v.admin {
                Scope::All
            } else {
                v.perms(module).map_or(Scope::None, |p| p.export)
            };
            if scope == Scope::None {
                Decision::no(format!("user `{}` may not export `{module}`", v.user))
            } else if !v.admin && v.admin_only_export.contains(module) {
                Decision::no(format!("only an admin may export `{module}`"))
            } else {
                Decision::yes()
            }
        }
        // The trash is the admins' safety net.
        Request::PurgeBatch { .. } if !v.admin => Decision::no(format!(
            "only an admin may purge the trash (user `{}` is not)",
            v.user
        )),
        Request::Block { .. } if !v.admin => Decision::no(format!(
            "only an admin may block or unblock users (user `{}` is not)",
            v.user
        )),
        Request::Create { .. }
        | Request::RestoreBatch { .. }
        | Request::PurgeBatch { .. }
        | Request::Block { .. } => Decision::yes(),
    }
}
