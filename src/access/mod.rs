//! Who may see and do what: the resolved viewer ([`AccessContext`]), the
//! decision rules and field-level security.

pub(crate) mod action;
pub(crate) mod decide;
pub(crate) mod viewer;

use std::sync::Arc;

pub use action::{Action, Decision};
pub(crate) use viewer::Viewer;

/// A user of an account, resolved against the account's directory: the
/// handle every read and write on behalf of that user takes.
///
/// Made by [`crate::Operator::context`]. It stays valid across directory changes:
/// each operation checks the directory version in its own transaction and
/// re-resolves the user when it moved, so a change (a user blocked, a team
/// moved, a profile edited) takes effect on the next call.
#[derive(Clone, Debug)]
pub struct AccessContext {
    pub(crate) account: u64,
    pub(crate) version: u64,
    pub(crate) viewer: Arc<Viewer>,
    /// The access gate's session this context came from (`authenticate`);
    /// `None` for trusted code's (`Operator::context`).
    pub(crate) session: Option<u64>,
}

impl AccessContext {
    /// The account acted in.
    pub fn account(&self) -> u64 {
        self.account
    }

    /// The user acted for.
    pub fn user(&self) -> u64 {
        self.viewer.user
    }

    /// The session this context was authenticated through, if any.
    pub fn session(&self) -> Option<u64> {
        self.session
    }

    /// Whether the user was an admin when resolved.
    pub fn is_admin(&self) -> bool {
        self.viewer.admin
    }
}
