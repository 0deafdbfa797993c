//! A name's catalog state: the deterministic fold of its event log (sorted by id) and its
//! version tags. A release counts only when the version tag names the released digest,
//! so the release event of an interrupted publish (written before the tag) stays hidden.
//!
//! Channels are a stack of assignments: `promote` pushes, `rollback` pops back to the
//! previous one, `revoke` removes the revoked digest from every stack (a channel holding
//! it falls back to its previous assignment). A promotion of a revoked or unknown release
//! is ignored by the fold, whichever writer raced whom. The history keeps every change.

use super::events::{Event, EventKind};
use crate::digest::Digest;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Released,
    Deprecated,
    /// Past its `end_of_support` date.
    EndOfLife,
    Revoked,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Released => "released",
            Status::Deprecated => "deprecated",
            Status::EndOfLife => "end-of-life",
            Status::Revoked => "revoked",
        })
    }
}

impl Status {
    /// The status on `today` (`YYYY-MM-DD`) of a release with these status changes and
    /// support end: revoked, else end-of-life, else deprecated, else released.
    pub fn as_of(history: &[StatusChange], end_of_support: Option<&str>, today: &str) -> Status {
        let has = |s: Status| history.iter().any(|h| h.status == s);
        if has(Status::Revoked) {
            Status::Revoked
        } else if end_of_support.is_some_and(|d| d < today) {
            Status::EndOfLife
        } else if has(Status::Deprecated) {
            Status::Deprecated
        } else {
            Status::Released
        }
    }
}

/// A lifecycle change of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    pub status: Status,
    pub time: String,
    pub reason: String,
    pub event: String,
}

/// A published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub version: String,
    pub digest: Digest,
    /// The build epoch's date-time (RFC 3339).
    pub released: String,
    pub end_of_support: Option<String>,
    /// The status now: revoked, else end-of-life, else deprecated, else released.
    pub status: Status,
    /// Channels that currently name this release.
    pub channels: Vec<String>,
    /// Deprecation and revocation, oldest first.
    pub history: Vec<StatusChange>,
}

impl Release {
    /// The reason of the newest status change, if any.
    pub fn reason(&self) -> Option<&str> {
        self.history.last().map(|c| c.reason.as_str())
    }
}

/// One change of a channel's assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    /// `promoted`, `rolled-back` or `revoked` (the channel dropped a revoked release).
    pub action: String,
    /// What the channel names after the change (none: the channel is empty).
    pub version: Option<String>,
    pub digest: Option<Digest>,
    pub time: String,
    pub reason: String,
    pub event: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelState {
    pub name: String,
    pub version: Option<String>,
    pub digest: Option<Digest>,
    /// Every change, oldest first.
    pub history: Vec<Assignment>,
    #[serde(skip)]
    stack: Vec<(String, Digest)>,
}

impl ChannelState {
    /// What a rollback would return the channel to: the assignment before the current one.
    pub fn previous(&self) -> Option<(&str, &Digest)> {
        let n = self.stack.len();
        (n >= 2).then(|| (self.stack[n - 2].0.as_str(), &self.stack[n - 2].1))
    }

    fn new(name: &str) -> Self {
        ChannelState {
            name: name.to_string(),
            version: None,
            digest: None,
            history: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn record(&mut self, action: &str, e: &Event, reason: &str) {
        let top = self.stack.last().cloned();
        self.version = top.as_ref().map(|t| t.0.clone());
        self.digest = top.as_ref().map(|t| t.1.clone());
        self.history.push(Assignment {
            action: action.to_string(),
            version: self.version.clone(),
            digest: self.digest.clone(),
            time: e.time.clone(),
            reason: reason.to_string(),
            event: e.id.clone(),
        });
    }
}

/// Everything the catalog knows about one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    pub name: String,
    /// Published releases, lowest version first.
    pub releases: Vec<Release>,
    pub channels: Vec<ChannelState>,
    /// The newest event id (new events sort after it).
    pub last_event: Option<String>,
}

#[derive(Clone)]
struct Candidate {
    released: String,
    end_of_support: Option<String>,
    history: Vec<StatusChange>,
}

fn version_key(v: &str) -> (Option<semver::Version>, String) {
    (semver::Version::parse(v).ok(), v.to_string())
}

impl State {
    /// Folds `events` (any order: they are sorted by id) with the version tags of the name
    /// (`published`: version → the digest its tag names). `today` is `YYYY-MM-DD`.
    pub fn fold(
        name: &str,
        events: &[Event],
        published: &BTreeMap<String, Digest>,
        today: &str,
    ) -> State {
        let mut events: Vec<&Event> = events.iter().collect();
        events.sort_by(|a, b| a.id.cmp(&b.id));
        let mut cands: BTreeMap<(String, Digest), Candidate> = BTreeMap::new();
        let mut channels: BTreeMap<String, ChannelState> = BTreeMap::new();
        for e in &events {
            match &e.kind {
                EventKind::Released {
                    version,
                    digest,
                    released,
                    end_of_support,
                } => {
                    cands
                        .entry((version.clone(), digest.clone()))
                        .or_insert_with(|| Candidate {
                            released: released.clone(),
                            end_of_support: end_of_support.clone(),
                            history: Vec::new(),
                        });
                }
                EventKind::Deprecated {
                    version,
                    digest,
                    reason,
                }
                | EventKind::Revoked {
                    version,
                    digest,
                    reason,
                } => {
                    let revoke = matches!(e.kind, EventKind::Revoked { .. });
                    let Some(c) = cands.get_mut(&(version.clone(), digest.clone())) else {
                        continue;
                    };
                    let status = if revoke {
                        Status::Revoked
                    } else {
                        Status::Deprecated
                    };
                    if c.history.iter().any(|h| h.status == status) {
                        continue;
                    }
                    c.history.push(StatusChange {
                        status,
                        time: e.time.clone(),
                        reason: reason.clone(),
                        event: e.id.clone(),
                    });
                    if revoke {
                        for ch in channels.values_mut() {
                            let before = ch.stack.last().cloned();
                            ch.stack.retain(|(_, d)| d != digest);
                            if ch.stack.last() != before.as_ref() {
                                ch.record("revoked", e, reason);
                            }
                        }
                    }
                }
                EventKind::Promoted {
                    channel,
                    version,
                    digest,
                    reason,
                } => {
                    let ok = cands
                        .get(&(version.clone(), digest.clone()))
                        .is_some_and(|c| !c.history.iter().any(|h| h.status == Status::Revoked));
                    if !ok {
                        continue;
                    }
                    let ch = channels
                        .entry(channel.clone())
                        .or_insert_with(|| ChannelState::new(channel));
                    ch.stack.push((version.clone(), digest.clone()));
                    ch.record("promoted", e, reason);
                }
                EventKind::RolledBack { channel, reason } => {
                    let Some(ch) = channels.get_mut(channel) else {
                        continue;
                    };
                    if ch.stack.pop().is_some() {
                        ch.record("rolled-back", e, reason);
                    }
                }
            }
        }
        let mut releases: Vec<Release> = cands
            .into_iter()
            .filter(|((v, d), _)| published.get(v) == Some(d))
            .map(|((version, digest), c)| {
                let status = Status::as_of(&c.history, c.end_of_support.as_deref(), today);
                let chans = channels
                    .values()
                    .filter(|ch| ch.digest.as_ref() == Some(&digest))
                    .map(|ch| ch.name.clone())
                    .collect();
                Release {
                    version,
                    digest,
                    released: c.released,
                    end_of_support: c.end_of_support,
                    status,
                    channels: chans,
                    history: c.history,
                }
            })
            .collect();
        releases.sort_by_key(|a| version_key(&a.version));
        State {
            name: name.to_string(),
            releases,
            channels: channels.into_values().collect(),
            last_event: events.last().map(|e| e.id.clone()),
        }
    }

    pub fn release(&self, version: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.version == version)
    }

    pub fn channel(&self, name: &str) -> Option<&ChannelState> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The release version `version` with `digest` was recorded as, published or not
    /// (publish uses it to skip a release event a previous run already wrote).
    pub fn has_release_event(events: &[Event], version: &str, digest: &Digest) -> bool {
        events.iter().any(|e| {
            matches!(&e.kind, EventKind::Released { version: v, digest: d, .. } if v == version && d == digest)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::of_bytes(&[n])
    }

    fn ev(id: u32, kind: EventKind) -> Event {
        Event {
            id: format!("{id:020}-0000000000000000"),
            name: "core".into(),
            time: format!("t{id}"),
            actor: None,
            kind,
        }
    }

    fn released(id: u32, v: &str, n: u8, eos: Option<&str>) -> Event {
        ev(
            id,
            EventKind::Released {
                version: v.into(),
                digest: d(n),
                released: "2025-01-01T00:00:00Z".into(),
                end_of_support: eos.map(str::to_string),
            },
        )
    }

    fn promoted(id: u32, ch: &str, v: &str, n: u8) -> Event {
        ev(
            id,
            EventKind::Promoted {
                channel: ch.into(),
                version: v.into(),
                digest: d(n),
                reason: format!("p{id}"),
            },
        )
    }

    fn published() -> BTreeMap<String, Digest> {
        BTreeMap::from([
            ("1.0.0".to_string(), d(1)),
            ("1.1.0".to_string(), d(2)),
            ("1.10.0".to_string(), d(3)),
        ])
    }

    #[test]
    fn only_tagged_releases_show_and_versions_sort_semantically() {
        let events = vec![
            released(1, "1.10.0", 3, None),
            released(2, "1.0.0", 1, None),
            released(3, "1.1.0", 2, None),
            released(4, "2.0.0", 4, None), // tag not written: an interrupted publish
            released(5, "1.1.0", 9, None), // a different digest than the tag names
        ];
        let s = State::fold("core", &events, &published(), "2026-01-01");
        let v: Vec<_> = s.releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(v, ["1.0.0", "1.1.0", "1.10.0"]);
        assert_eq!(s.release("1.1.0").unwrap().digest, d(2));
    }

    #[test]
    fn promote_rollback_revoke() {
        let events = vec![
            released(1, "1.0.0", 1, None),
            released(2, "1.1.0", 2, None),
            released(3, "1.10.0", 3, None),
            promoted(4, "stable", "1.0.0", 1),
            promoted(5, "stable", "1.1.0", 2),
            promoted(6, "stable", "1.10.0", 3),
            ev(
                7,
                EventKind::RolledBack {
                    channel: "stable".into(),
                    reason: "bad".into(),
                },
            ),
            ev(
                8,
                EventKind::Revoked {
                    version: "1.1.0".into(),
                    digest: d(2),
                    reason: "cve".into(),
                },
            ),
            promoted(9, "candidate", "1.1.0", 2), // revoked: ignored
        ];
        let s = State::fold("core", &events, &published(), "2026-01-01");
        let stable = s.channel("stable").unwrap();
        assert_eq!(stable.version.as_deref(), Some("1.0.0"));
        let actions: Vec<_> = stable.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(
            actions,
            ["promoted", "promoted", "promoted", "rolled-back", "revoked"]
        );
        assert!(s.channel("candidate").is_none());
        let r = s.release("1.1.0").unwrap();
        assert_eq!(r.status, Status::Revoked);
        assert_eq!(r.reason(), Some("cve"));
        assert_eq!(s.release("1.0.0").unwrap().channels, ["stable"]);
    }

    #[test]
    fn status_precedence_and_end_of_life() {
        let events = vec![
            released(1, "1.0.0", 1, Some("2025-06-30")),
            released(2, "1.1.0", 2, Some("2030-01-01")),
            ev(
                3,
                EventKind::Deprecated {
                    version: "1.1.0".into(),
                    digest: d(2),
                    reason: "old".into(),
                },
            ),
            ev(
                4,
                EventKind::Deprecated {
                    version: "1.0.0".into(),
                    digest: d(1),
                    reason: "old".into(),
                },
            ),
        ];
        let s = State::fold("core", &events, &published(), "2026-01-01");
        assert_eq!(s.release("1.0.0").unwrap().status, Status::EndOfLife);
        assert_eq!(s.release("1.1.0").unwrap().status, Status::Deprecated);
        let s = State::fold("core", &events, &published(), "2025-01-01");
        assert_eq!(s.release("1.0.0").unwrap().status, Status::Deprecated);
    }

    #[test]
    fn the_fold_does_not_depend_on_arrival_order() {
        let mut events = vec![
            released(1, "1.0.0", 1, None),
            released(2, "1.1.0", 2, None),
            promoted(3, "stable", "1.0.0", 1),
            promoted(4, "stable", "1.1.0", 2),
        ];
        let a = State::fold("core", &events, &published(), "2026-01-01");
        events.reverse();
        let b = State::fold("core", &events, &published(), "2026-01-01");
        assert_eq!(a, b);
    }
}
