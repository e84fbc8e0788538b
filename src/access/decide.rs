//! The access decision, written line by line as DESIGN.md "Access rules"
//! states it. The query planner is an optimisation of [`decide`]; the model
//! tests hold the two to the same answers.

use crate::model::{
    Access, FieldMask, FieldRule, Principal, Record, RecordView, Scope, Share, Shares,
};

use super::viewer::Viewer;

/// What a viewer wants to do to an existing record (the record rows of
/// DESIGN.md's table; [`super::Action`] names the record too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RecordAction {
    View,
    Edit,
    Delete,
    Export,
    /// Share it with a principal, take a share away, or give it to another
    /// owner: one rule.
    Share,
}

/// What the rules read of a record: an owned [`Record`] or a [`RecordView`]
/// of its stored bytes decide the same.
pub(crate) struct Subject<'r> {
    module: &'r str,
    owner: u64,
    team: Option<u64>,
    stage: Option<&'r str>,
    shares: SubjectShares<'r>,
}

/// A record's shares: a list, or read in place.
enum SubjectShares<'r> {
    Owned(&'r [Share]),
    Stored(Shares<'r>),
}

impl<'r> From<&'r Record> for Subject<'r> {
    fn from(r: &'r Record) -> Self {
        Subject {
            module: &r.module,
            owner: r.owner,
            team: r.team,
            stage: r.stage.as_deref(),
            shares: SubjectShares::Owned(&r.shares),
        }
    }
}

impl<'r> From<&'r RecordView<'_>> for Subject<'r> {
    fn from(r: &'r RecordView<'_>) -> Self {
        Subject {
            module: r.module,
            owner: r.owner,
            team: r.team,
            stage: r.stage,
            shares: SubjectShares::Stored(r.shares),
        }
    }
}

impl Subject<'_> {
    /// The share level `principals` get from the record's own shares.
    fn share_level(&self, mut matches: impl FnMut(&Principal) -> bool) -> Option<Access> {
        let mut level = |s: Share| matches(&s.to).then_some(s.access);
        match self.shares {
            SubjectShares::Owned(list) => list.iter().filter_map(|s| level(*s)).max(),
            SubjectShares::Stored(shares) => shares.iter().filter_map(level).max(),
        }
    }
}

/// `owns(V,R)`: R.owner is V or one of V's subordinates.
fn owns(v: &Viewer, r: &Subject<'_>) -> bool {
    v.owners.contains(&r.owner)
}

/// The highest level among R's shares and the sharing rules reaching V.
fn share(v: &Viewer, r: &Subject<'_>) -> Option<Access> {
    let direct = r.share_level(|p| v.principals.contains(p));
    let by_rule = v
        .rules
        .get(r.module)
        .into_iter()
        .flatten()
        .filter(|g| g.owners.contains(&r.owner))
        .map(|g| g.access)
        .max();
    direct.max(by_rule)
}

/// Whether V may do `action` to R.
pub(crate) fn decide<'r>(v: &Viewer, r: impl Into<Subject<'r>>, action: RecordAction) -> bool {
    let r = &r.into();
    // An admin may do everything in the account: no profile, stage or privacy limit.
    if v.admin {
        return true;
    }
    // A module missing from the profile means `none` for every action.
    let Some(p) = v.perms(r.module) else {
        return false;
    };
    let owns = owns(v, r);
    let covers = |scope: Scope| match scope {
        Scope::All => true,
        Scope::Team => owns || r.team.is_some_and(|t| v.teams.contains(&t)),
        Scope::Own => owns,
        Scope::None => false,
    };
    let stage_ok = match (&p.stages, r.stage) {
        (Some(allowed), Some(stage)) => allowed.contains(stage),
        _ => true,
    };
    let share = share(v, r);
    let view = p.view != Scope::None && stage_ok && (covers(p.view) || share >= Some(Access::Read));
    match action {
        RecordAction::View => view,
        RecordAction::Edit => {
            view && p.edit != Scope::None && (covers(p.edit) || share >= Some(Access::ReadWrite))
        }
        RecordAction::Delete => {
            view && !v.admin_only_delete.contains(r.module)
                && p.delete != Scope::None
                && (covers(p.delete) || share == Some(Access::Full))
        }
        // Shares never grant export.
        RecordAction::Export => {
            view && !v.admin_only_export.contains(r.module)
                && p.export != Scope::None
                && covers(p.export)
        }
        // share / unshare / assign owner: admin (above), or owns ∧ edit.
        RecordAction::Share => {
            owns && view
                && p.edit != Scope::None
                && (covers(p.edit) || share >= Some(Access::ReadWrite))
        }
    }
}

/// create: admin, or a create scope other than none.
pub(crate) fn may_create(v: &Viewer, module: &str) -> bool {
    v.admin || v.perms(module).is_some_and(|p| p.create != Scope::None)
}

/// Whether V may create records owned by someone else.
pub(crate) fn may_set_owner(v: &Viewer, module: &str) -> bool {
    v.admin || v.perms(module).is_some_and(|p| p.edit == Scope::All)
}

/// Whether V may view anything at all in `module`.
pub(crate) fn may_view_module(v: &Viewer, module: &str) -> bool {
    v.admin || v.perms(module).is_some_and(|p| p.view != Scope::None)
}

/// Whether a stage is within V's stage limit for `module`.
pub(crate) fn stage_allowed(v: &Viewer, module: &str, stage: Option<&str>) -> bool {
    if v.admin {
        return true;
    }
    match (v.perms(module).and_then(|p| p.stages.as_ref()), stage) {
        (Some(allowed), Some(s)) => allowed.contains(s),
        _ => true,
    }
}

/// The rule on `field` of `module` for V (none for admins).
pub(crate) fn field_rule(v: &Viewer, module: &str, field: &str) -> Option<FieldRule> {
    if v.admin {
        return None;
    }
    v.perms(module).and_then(|p| p.fields.get(field)).copied()
}

/// Whether V may see (part of) a trash batch `deleted_by` deleted: an admin
/// every batch; anyone else the batches they or their subordinates deleted
/// (of which they then see the records they may view: `trash::batch`).
pub(crate) fn may_see_batch_of(v: &Viewer, deleted_by: u64) -> bool {
    v.admin || v.owners.contains(&deleted_by)
}

/// The refusal of a filter naming a field hidden from V in `module`,
/// anywhere in it (decided before any type check or visibility question).
pub(crate) fn hidden_filter_refusal<'f>(
    v: &Viewer,
    module: &str,
    mut fields: impl Iterator<Item = &'f str>,
) -> Option<String> {
    fields
        .find(|name| hidden(v, module, name))
        .map(|h| format!("field `{h}` of `{module}` is hidden from user `{}`", v.user))
}

/// Whether `field` of `module` is hidden from V.
pub(crate) fn hidden(v: &Viewer, module: &str, field: &str) -> bool {
    field_rule(v, module, field) == Some(FieldRule::Hidden)
}

/// R as V reads it: hidden fields removed.
pub(crate) fn redact(v: &Viewer, mut r: Record) -> Record {
    let hidden = hidden_fields(v, &r.module);
    if !hidden.is_empty() {
        r.fields.retain(|name, _| !hidden.contains(name));
    }
    r
}

/// The fields of `module` hidden from V (none from an admin).
pub(crate) fn hidden_fields<'v>(v: &'v Viewer, module: &str) -> FieldMask<'v> {
    let rules = (!v.admin).then(|| v.perms(module)).flatten();
    FieldMask::from_names(&rules.map_or_else(Vec::new, |p| {
        p.fields
            .iter()
            .filter(|(_, rule)| **rule == FieldRule::Hidden)
            .map(|(name, _)| name.as_str())
            .collect()
    }))
}
