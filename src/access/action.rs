//! [`Action`]: everything a viewer may ask to do, and [`decide_action`], the
//! one function that answers it as DESIGN.md "Access rules" and "Trash" say.
//! The actions refuse with exactly the reason it gives, so [`crate::Store::can`]
//! and the action itself never disagree.

use super::decide::{decide, may_create, RecordAction};
use super::viewer::Viewer;
use crate::model::{Record, Scope};

/// What a viewer asks to do, and to what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Read a record.
    View(u64),
    /// Change a record's fields, stage, team or parent.
    Edit(u64),
    /// Move a record (and what hangs below it) to the trash.
    Delete(u64),
    /// Include a record in an export.
    Export(u64),
    /// Share a record with a principal, or take a share away.
    Share(u64),
    /// Give a record to another owner (and team).
    Assign(u64),
    /// Create records in a module.
    Create { module: &'a str },
    /// Export a module (which of its records: [`Action::Export`] each).
    ExportModule { module: &'a str },
    /// Restore a trash batch.
    RestoreBatch(u64),
    /// Purge a trash batch for good.
    PurgeBatch(u64),
    /// Block or unblock a user.
    Block { user: u64 },
}

/// What an action is decided against, read by the caller in its transaction.
pub(crate) enum Target<'r> {
    /// The record acted on, one the viewer can see (one they cannot does not
    /// exist for them: `NotFound` before any decision).
    Record(&'r Record),
    /// The records of a trash batch the viewer sees (`trash::batch`).
    Batch(&'r [Record]),
    /// Nothing beyond the action itself (a module, a user).
    Account,
}

/// An answer: allowed, or refused and why (the text a refusal's `Denied` carries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Option<String>,
}

impl Decision {
    fn yes() -> Decision {
        Decision {
            allowed: true,
            reason: None,
        }
    }

    fn no(reason: String) -> Decision {
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

/// Whether V may do `action` to `target`, and if not, why.
pub(crate) fn decide_action(v: &Viewer, action: Action<'_>, target: Target<'_>) -> Decision {
    let u = v.user;
    let on_record = |kind: RecordAction, refusal: String| match target {
        Target::Record(r) if decide(v, r, kind) => Decision::yes(),
        _ => Decision::no(refusal),
    };
    match action {
        Action::View(id) => on_record(RecordAction::View, format!("no record `{id}`")),
        Action::Edit(id) => on_record(
            RecordAction::Edit,
            format!("user `{u}` may not edit record `{id}`"),
        ),
        Action::Delete(id) => on_record(
            RecordAction::Delete,
            format!("user `{u}` may not delete record `{id}`"),
        ),
        Action::Export(id) => on_record(
            RecordAction::Export,
            format!("user `{u}` may not export record `{id}`"),
        ),
        Action::Share(id) | Action::Assign(id) => on_record(
            RecordAction::Share,
            format!(
                "user `{u}` may not share or reassign record `{id}` (needs to own it and edit it)"
            ),
        ),
        Action::Create { module } if !may_create(v, module) => {
            Decision::no(format!("user `{u}` may not create records in `{module}`"))
        }
        Action::ExportModule { module } => {
            let scope = if v.admin {
                Scope::All
            } else {
                v.perms(module).map_or(Scope::None, |p| p.export)
            };
            if scope == Scope::None {
                Decision::no(format!("user `{u}` may not export `{module}`"))
            } else if !v.admin && v.admin_only_export.contains(module) {
                Decision::no(format!("only an admin may export `{module}`"))
            } else {
                Decision::yes()
            }
        }
        // Restoring needs the delete right on every record restored: what a
        // user may no longer delete they may not bring back either.
        Action::RestoreBatch(_) => {
            let seen = match target {
                Target::Batch(seen) => seen,
                _ => &[],
            };
            match seen.iter().find(|r| !decide(v, *r, RecordAction::Delete)) {
                Some(r) => Decision::no(format!(
                    "user `{u}` may no longer delete record `{}`, so may not restore it",
                    r.id
                )),
                None => Decision::yes(),
            }
        }
        // The trash is the admins' safety net.
        Action::PurgeBatch(_) if !v.admin => Decision::no(format!(
            "only an admin may purge the trash (user `{u}` is not)"
        )),
        Action::Block { .. } if !v.admin => Decision::no(format!(
            "only an admin may block or unblock users (user `{u}` is not)"
        )),
        Action::Create { .. } | Action::PurgeBatch(_) | Action::Block { .. } => Decision::yes(),
    }
}
