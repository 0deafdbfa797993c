//! Changing a release's lifecycle: promote to a channel (by digest, with time and
//! reason), roll a channel back, deprecate, revoke. Each is one new event in the log
//! (never a rewrite of the image or of an earlier record), checked against the current
//! state first and read back after. Concurrent writers cannot lose each other's events:
//! each writes its own tag (see [`super::events`]).

use super::events::{self, Event, EventKind};
use super::resolve::{check_channel, state};
use super::state::{State, Status};
use super::Catalog;
use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LifecycleOutcome {
    /// The event written; `None` when the change was already in effect (a no-op).
    pub event: Option<Event>,
    /// The state after the change.
    pub state: State,
}

fn write(cat: &dyn Catalog, st: &State, name: &str, kind: EventKind) -> Result<LifecycleOutcome> {
    let e = Event::new(name, kind, st.last_event.as_deref());
    events::append(cat, &e)?;
    // Read back: the event must be in the log now, whatever else was written meanwhile.
    let after = state(cat, name)?;
    if cat.head_manifest(name, &e.tag())?.is_none() {
        return Err(crate::error::environment(format!(
            "the {} event {} of {name} did not read back from {}",
            e.kind.label(),
            e.id,
            cat.location()
        )));
    }
    Ok(LifecycleOutcome {
        event: Some(e),
        state: after,
    })
}

fn release<'a>(
    cat: &dyn Catalog,
    st: &'a State,
    name: &str,
    version: &str,
) -> Result<&'a super::Release> {
    st.release(version).ok_or_else(|| {
        crate::error::input(format!(
            "{name}:{version} is not published in {} (see `corebuild catalog list {name}`)",
            cat.location()
        ))
    })
}

/// Assigns `NAME:VERSION` (by its digest) to `channel`. A revoked release is refused
/// (exit 1). Promoting again records the act again: the history shows every promotion.
pub fn promote(
    cat: &dyn Catalog,
    name: &str,
    version: &str,
    channel: &str,
    reason: &str,
) -> Result<LifecycleOutcome> {
    check_channel(channel)?;
    let st = state(cat, name)?;
    let r = release(cat, &st, name, version)?;
    if r.status == Status::Revoked {
        return Err(crate::error::failed(format!(
            "{name}:{version} is revoked ({}): a revoked version cannot be assigned to a channel",
            r.reason().unwrap_or("no reason given")
        )));
    }
    let kind = EventKind::Promoted {
        channel: channel.to_string(),
        version: version.to_string(),
        digest: r.digest.clone(),
        reason: reason.to_string(),
    };
    write(cat, &st, name, kind)
}

/// Returns `channel` to its previous assignment; refused (exit 1) when it has none.
pub fn rollback(
    cat: &dyn Catalog,
    name: &str,
    channel: &str,
    reason: &str,
) -> Result<LifecycleOutcome> {
    check_channel(channel)?;
    let st = state(cat, name)?;
    let ch = st
        .channel(channel)
        .ok_or_else(|| crate::error::input(format!("{name} has no channel {channel:?}")))?;
    if ch.previous().is_none() {
        return Err(crate::error::failed(format!(
            "{name}@{channel} has no previous assignment to return to"
        )));
    }
    let kind = EventKind::RolledBack {
        channel: channel.to_string(),
        reason: reason.to_string(),
    };
    write(cat, &st, name, kind)
}

/// Marks `NAME:VERSION` deprecated (a no-op when it already is, or is revoked).
pub fn deprecate(
    cat: &dyn Catalog,
    name: &str,
    version: &str,
    reason: &str,
) -> Result<LifecycleOutcome> {
    let st = state(cat, name)?;
    let r = release(cat, &st, name, version)?;
    if r.history
        .iter()
        .any(|h| matches!(h.status, Status::Deprecated | Status::Revoked))
    {
        return Ok(LifecycleOutcome {
            event: None,
            state: st,
        });
    }
    let kind = EventKind::Deprecated {
        version: version.to_string(),
        digest: r.digest.clone(),
        reason: reason.to_string(),
    };
    write(cat, &st, name, kind)
}

/// Revokes `NAME:VERSION`: resolving it fails from now on and channels drop it (a no-op
/// when it already is revoked).
pub fn revoke(
    cat: &dyn Catalog,
    name: &str,
    version: &str,
    reason: &str,
) -> Result<LifecycleOutcome> {
    let st = state(cat, name)?;
    let r = release(cat, &st, name, version)?;
    if r.status == Status::Revoked {
        return Ok(LifecycleOutcome {
            event: None,
            state: st,
        });
    }
    let kind = EventKind::Revoked {
        version: version.to_string(),
        digest: r.digest.clone(),
        reason: reason.to_string(),
    };
    write(cat, &st, name, kind)
}
