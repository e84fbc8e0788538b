//! [`Store::can`]: any [`Action`] answered before it runs (for showing a
//! Share, Restore or Export button).

use crate::access::action::{decide_action, Action, Decision, Target};
use crate::access::AccessContext;
use crate::engine::Engine;
use crate::error::Result;

/// [`Store::can`].
pub(crate) fn can(store: &Engine, ctx: &AccessContext, action: Action<'_>) -> Result<Decision> {
    store.read(|r| {
        let v = store.viewer_in(r, ctx)?;
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
