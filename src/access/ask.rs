//! [`Store::decide`]: every decision beyond one record's, answered before
//! the action runs (for showing a Restore or Export button).

use super::decide::{decide, Action};
use super::request::{decide_request, Decision, Request};
use super::AccessContext;
use crate::error::Result;
use crate::store::Store;

impl Store {
    /// Whether the viewer may make `request` now, and if not, why: the same
    /// reason the action gives when refused. (Every action decides again
    /// when it runs.) For one record's actions, [`Store::can`].
    ///
    /// # Errors
    /// `NotFound` for a batch the viewer may not see (it does not exist for
    /// them); storage errors.
    pub fn decide(&self, ctx: &AccessContext, request: Request<'_>) -> Result<Decision> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            if let Request::RestoreBatch { batch } | Request::PurgeBatch { batch } = request {
                let seen = crate::trash::seen_in(r, &v, ctx.account, batch)?;
                // Restoring needs the delete right on every record restored.
                let kept = seen.iter().find(|rec| !decide(&v, *rec, Action::Delete));
                if let (Request::RestoreBatch { .. }, Some(rec)) = (request, kept) {
                    return Ok(Decision::no(format!(
                        "user `{}` may no longer delete record `{}`, so may not restore it",
                        v.user, rec.id
                    )));
                }
            }
            Ok(decide_request(&v, request))
        })
    }
}
