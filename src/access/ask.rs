//! [`Store::can`]: any [`Action`] answered before it runs (for showing a
//! Share, Restore or Export button).

use super::action::{decide_action, Action, Decision, Target};
use super::AccessContext;
use crate::error::Result;
use crate::store::Store;

impl Store {
    /// Whether the viewer may do `action` now, and if not, why: the same
    /// reason the action gives when refused. (Every action decides again
    /// when it runs.)
    ///
    /// # Errors
    /// `NotFound` for a record or trash batch the viewer may not see (it does
    /// not exist for them); storage errors.
    pub fn can(&self, ctx: &AccessContext, action: Action<'_>) -> Result<Decision> {
        self.read(|r| {
            let v = self.viewer_in(r, ctx)?;
            match action {
                Action::View(id)
                | Action::Edit(id)
                | Action::Delete(id)
                | Action::Export(id)
                | Action::Share(id)
                | Action::Assign(id) => {
                    let rec = crate::records::visible(r, &v, ctx.account, id)?;
                    Ok(decide_action(&v, action, Target::Record(&rec)))
                }
                Action::RestoreBatch(batch) | Action::PurgeBatch(batch) => {
                    let seen = crate::trash::seen_in(r, &v, ctx.account, batch)?;
                    Ok(decide_action(&v, action, Target::Batch(&seen)))
                }
                Action::Create { .. } | Action::ExportModule { .. } | Action::Block { .. } => {
                    Ok(decide_action(&v, action, Target::Account))
                }
            }
        })
    }
}
