//! Queries: [`Filter`] and its text syntax, [`Query`], [`Page`], and the
//! index-driven planner that answers them.

pub(crate) mod count;
pub(crate) mod filter;
pub(crate) mod parse;
pub(crate) mod plan;
mod rows;

pub use filter::{CmpOp, FieldRef, Filter};
pub use rows::{Rows, RowsIter};

use crate::model::Record;

/// What to read: one module, an optional filter, and a page (records with
/// ids above `after`, at most `limit` of them), always in ascending id order.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub(crate) module: String,
    pub(crate) filter: Option<Filter>,
    pub(crate) after: Option<u64>,
    pub(crate) limit: Option<usize>,
}

impl Query {
    /// Every record of `module` the viewer may see.
    pub fn module(module: impl Into<String>) -> Query {
        Query {
            module: module.into(),
            filter: None,
            after: None,
            limit: None,
        }
    }

    /// Only records matching `filter`.
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(filter);
        self
    }

    /// Only records with an id above `id` (the cursor of the previous page).
    #[must_use]
    pub fn after(mut self, id: u64) -> Query {
        self.after = Some(id);
        self
    }

    /// At most `n` records.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Query {
        self.limit = Some(n);
        self
    }
}

/// One page of a query's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The records, ascending by id, hidden fields removed.
    pub records: Vec<Record>,
    /// Pass to [`Query::after`] for the next page; `None` when this was the last.
    pub next_after: Option<u64>,
    /// How many index candidates were examined: grows with what the viewer
    /// can see, not with the size of the account.
    pub examined: u64,
}
