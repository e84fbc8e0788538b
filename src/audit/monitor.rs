//! The activity monitor: per-account rules `{action, max_records,
//! window_secs}`. An action that would take a user past a limit within the
//! window is refused and the user blocked (both audited, in the transaction
//! that records the refusal). Admins are logged like anyone but never blocked.

use redb::ReadableTable;

use crate::access::Viewer;
use crate::audit::{self, AuditAction, Entry};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{AccountSettings, MonitorAction, Timestamp};
use crate::txn::{Tx, Writer};

/// Why a user is to be blocked, carried from the refused transaction to the
/// one that records the refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlockRequest {
    pub reason: String,
}

fn event_name(a: MonitorAction) -> &'static str {
    match a {
        MonitorAction::Delete => AuditAction::RecordDelete,
        MonitorAction::Export => AuditAction::RecordExport,
    }
    .name()
}

/// Records the viewer's `action` over `count` records at `now` against the
/// rules. Refuses (and asks for a block) when a rule's limit would be crossed.
pub(crate) fn charge(
    w: &mut Writer<'_>,
    v: &Viewer,
    settings: &AccountSettings,
    action: MonitorAction,
    count: u64,
    now: Timestamp,
    block: &mut Option<BlockRequest>,
) -> Result<()> {
    if v.admin {
        return Ok(());
    }
    let rules: Vec<_> = settings
        .monitor
        .iter()
        .filter(|r| r.action == action)
        .collect();
    let Some(widest) = rules.iter().map(|r| r.window_secs).max() else {
        return Ok(());
    };
    let since_widest = now.plus_secs(-i64::try_from(widest).unwrap_or(i64::MAX));
    // Walk the log backwards over the widest window: cost grows with the
    // user's recent activity, not with the log.
    let name = event_name(action);
    let a = settings.id;
    let mut recent: Vec<(Timestamp, u64)> = Vec::new();
    for e in w.audit.range((a, 0)..=(a, u64::MAX))?.rev() {
        let (k, val) = e?;
        let ev: audit::Event = codec::decode(val.value(), || format!("audit key {:?}", k.value()))?;
        if ev.at <= since_widest {
            break;
        }
        if ev.actor == Some(v.user) && ev.action == name {
            recent.push((ev.at, ev.count));
        }
    }
    for rule in rules {
        let since = now.plus_secs(-i64::try_from(rule.window_secs).unwrap_or(i64::MAX));
        let used: u64 = recent
            .iter()
            .filter(|(at, _)| *at > since)
            .fold(0u64, |sum, (_, c)| sum.saturating_add(*c));
        if used.saturating_add(count) > rule.max_records {
            let reason = format!(
                "{} of {} records within {} s crosses the limit of {}",
                if action == MonitorAction::Delete {
                    "delete"
                } else {
                    "export"
                },
                used.saturating_add(count),
                rule.window_secs,
                rule.max_records
            );
            *block = Some(BlockRequest {
                reason: reason.clone(),
            });
            return Err(Error::Denied(format!(
                "activity monitor: {reason}; user `{}` is now blocked",
                v.user
            )));
        }
    }
    Ok(())
}

/// Sets a user's `blocked` flag (a directory change) and audits it.
pub(crate) fn set_blocked(
    w: &mut Writer<'_>,
    account: u64,
    actor: Option<u64>,
    user: u64,
    blocked: bool,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    let mut dir = w
        .directory_of(account)?
        .ok_or_else(|| Error::NotFound(format!("no account `{account}`")))?;
    let u = dir
        .users
        .iter_mut()
        .find(|u| u.id == user)
        .ok_or_else(|| Error::NotFound(format!("no user `{user}` in account `{account}`")))?;
    u.blocked = blocked;
    w.put_directory(&dir)?;
    if blocked {
        use crate::sessions::{end_user, EndReason};
        end_user(w, account, user, EndReason::UserBlocked, now, now)?;
    }
    let action = if blocked {
        AuditAction::UserBlock
    } else {
        AuditAction::UserUnblock
    };
    let e = Entry {
        actor,
        action,
        target: format!("user {user}"),
        count: 0,
        detail: reason.to_string(),
    };
    audit::append(w, account, now, e)
}
