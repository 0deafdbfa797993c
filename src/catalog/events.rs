//! The lifecycle log: every change to a name's catalog state (released, promoted, rolled
//! back, deprecated, revoked) is an event artifact under its own tag
//! `corebuild.event.<id>` in the name's repository, never rewritten.
//!
//! Why a log and not one record moved by compare-and-swap: Docker distribution ignores
//! `If-Match`, so two writers that both read record N and both write N+1 cannot both be
//! detected; the slower one silently drops the faster one's update. Unique tags make
//! writes commutative: nothing is overwritten, so nothing can be lost, whatever the
//! interleaving. The state is the fold of the events sorted by id ([`super::State`]).
//!
//! An id is `<unix time in ns, 20 digits>-<16 random hex digits>`: sortable, unique, and
//! made greater than every id the writer has seen, so an event always sorts after the
//! events it was decided on (causal order even with clock skew between writers).

use super::artifact::{push_missing, Artifact, ArtifactLayer};
use super::Catalog;
use crate::digest::Digest;
use anyhow::{Context, Result};
use base64::Engine as _;
use oci_spec::image::ImageManifest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;

/// The artifact type of an event, and the media type of its one layer.
pub const EVENT_MEDIA_TYPE: &str = "application/vnd.corebuild.catalog-event.v1+json";
/// Events are tagged with this prefix and their id.
pub const EVENT_TAG_PREFIX: &str = "corebuild.event.";

/// One change to a name's catalog state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and sortable (see the module doc); also the tag suffix.
    pub id: String,
    /// The blueprint name (repository) the event is about.
    pub name: String,
    /// When it happened (wall clock, RFC 3339): an event records an act, not an artifact
    /// that must be reproducible.
    pub time: String,
    /// Who did it (`$USER` or `$CI_JOB_ID`-style identity when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A version was published as `digest`. `released` is the image's build epoch (the
    /// same for every rerun); `end_of_support` comes from the blueprint's `[lifecycle]`.
    Released {
        version: String,
        digest: Digest,
        released: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_of_support: Option<String>,
    },
    /// `channel` now names `version` at `digest`.
    Promoted {
        channel: String,
        version: String,
        digest: Digest,
        reason: String,
    },
    /// `channel` returns to its previous assignment.
    RolledBack { channel: String, reason: String },
    Deprecated {
        version: String,
        digest: Digest,
        reason: String,
    },
    /// Never to be used again: resolving it fails and channels drop it.
    Revoked {
        version: String,
        digest: Digest,
        reason: String,
    },
}

impl EventKind {
    pub fn label(&self) -> &'static str {
        match self {
            EventKind::Released { .. } => "released",
            EventKind::Promoted { .. } => "promoted",
            EventKind::RolledBack { .. } => "rolled-back",
            EventKind::Deprecated { .. } => "deprecated",
            EventKind::Revoked { .. } => "revoked",
        }
    }
}

/// The time part of an id, in ns.
fn id_nanos(id: &str) -> Option<u128> {
    id.split('-').next()?.parse().ok()
}

fn random_hex() -> String {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        // Without /dev/urandom, mix what differs between writers.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let tid = format!("{:?}", std::thread::current().id());
        let d = Digest::of_bytes(format!("{t}{}{tid}", std::process::id()).as_bytes());
        return d.hex()[..16].to_string();
    }
    hex::encode(b)
}

/// A new event id, greater than `after` (the newest id the writer has seen).
pub fn new_id(after: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let floor = after.and_then(id_nanos).map(|n| n + 1).unwrap_or(0);
    format!("{:020}-{}", now.max(floor), random_hex())
}

/// The wall-clock time now, RFC 3339 (seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    crate::build::epoch::rfc3339(secs)
}

fn actor() -> Option<String> {
    std::env::var("COREBUILD_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|s| !s.is_empty())
}

impl Event {
    /// A new event about `name`, sorted after `after`.
    pub fn new(name: &str, kind: EventKind, after: Option<&str>) -> Self {
        Event {
            id: new_id(after),
            name: name.to_string(),
            time: now_rfc3339(),
            actor: actor(),
            kind,
        }
    }

    pub fn tag(&self) -> String {
        format!("{EVENT_TAG_PREFIX}{}", self.id)
    }
}

/// Appends an event to the catalog: its blobs, then its manifest under its unique tag.
pub fn append<C: Catalog + ?Sized>(c: &C, event: &Event) -> Result<()> {
    let json = serde_json::to_vec(event)?;
    let mut layer = ArtifactLayer::bytes(EVENT_MEDIA_TYPE, json.clone(), None);
    // Inline copy of the content: a reader needs one request per event, not two.
    layer.descriptor.set_data(Some(
        base64::engine::general_purpose::STANDARD.encode(&json),
    ));
    let annotations = BTreeMap::from([
        (
            "org.opencontainers.image.created".to_string(),
            event.time.clone(),
        ),
        (
            "dev.corebuild.catalog.event".to_string(),
            event.kind.label().to_string(),
        ),
    ]);
    let a = Artifact::new(EVENT_MEDIA_TYPE, None, vec![layer], annotations)?;
    let blobs: Vec<_> = a
        .blobs
        .iter()
        .map(|l| {
            Ok((
                Digest::try_from(l.descriptor.digest())?,
                l.descriptor.size(),
                l.data.clone(),
            ))
        })
        .collect::<Result<_>>()?;
    push_missing(c, &event.name, &blobs)?;
    c.put_manifest(&event.name, &event.tag(), &a.manifest)
        .with_context(|| {
            format!(
                "recording the {} event of {}",
                event.kind.label(),
                event.name
            )
        })?;
    Ok(())
}

/// Every event of `name`, sorted by id. An event whose tag, name or content does not
/// match is an error: a tampered log is never folded.
pub fn read_all<C: Catalog + ?Sized + Sync>(c: &C, name: &str) -> Result<Vec<Event>> {
    let mut tags: Vec<String> = c
        .tags(name)?
        .into_iter()
        .filter(|t| t.starts_with(EVENT_TAG_PREFIX))
        .collect();
    tags.sort();
    // Independent small reads: a log of hundreds of events is read on a few threads.
    let read = crate::parallel::map(&tags, READERS, |tag| {
        read_one(c, name, tag).with_context(|| format!("reading catalog event {name}:{tag}"))
    })?;
    Ok(read.into_iter().flatten().collect())
}

/// Threads reading a log (or a name's version tags) at once.
pub(crate) const READERS: usize = 8;

/// One event; `None` when its tag is listed but not readable yet (distribution lists a
/// tag while it is being written, before its link is in place).
fn read_one<C: Catalog + ?Sized>(c: &C, name: &str, tag: &str) -> Result<Option<Event>> {
    let bad = |why: String| crate::error::input(format!("not a catalog event: {why}"));
    let Some(m) = c.get_manifest(name, tag)? else {
        return Ok(None);
    };
    let manifest: ImageManifest = m.parse()?;
    let at = manifest.artifact_type().as_ref().map(ToString::to_string);
    if at.as_deref() != Some(EVENT_MEDIA_TYPE) {
        return Err(bad(format!("artifactType is {at:?}")));
    }
    let [layer] = manifest.layers().as_slice() else {
        return Err(bad(format!("{} layers, not 1", manifest.layers().len())));
    };
    let digest = Digest::try_from(layer.digest())?;
    let bytes = match layer.data() {
        Some(d) => {
            let b = base64::engine::general_purpose::STANDARD
                .decode(d)
                .map_err(|e| bad(format!("inline data is not base64: {e}")))?;
            let got = Digest::of_bytes(&b);
            if got != digest || b.len() as u64 != layer.size() {
                return Err(crate::oci::DigestMismatch {
                    expected: digest,
                    actual: got,
                    size: b.len() as u64,
                }
                .into());
            }
            b
        }
        None => c.read_blob(name, &digest, layer.size())?,
    };
    let e: Event = serde_json::from_slice(&bytes).map_err(|e| bad(format!("{e}")))?;
    if e.tag() != tag || e.name != name {
        return Err(bad(format!(
            "event {} of {} is tagged {name}:{tag}",
            e.id, e.name
        )));
    }
    Ok(Some(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_after_what_was_seen() {
        let far = format!("{:020}-{}", u64::MAX as u128 * 100, "0".repeat(16));
        let id = new_id(Some(&far));
        assert!(id > far, "{id} <= {far}");
        let a = new_id(None);
        let b = new_id(Some(&a));
        assert!(b > a);
        assert_eq!(a.len(), 37);
    }

    #[test]
    fn events_serialize_with_their_kind() {
        let e = Event {
            id: "1-a".into(),
            name: "core".into(),
            time: "2025-01-01T00:00:00Z".into(),
            actor: None,
            kind: EventKind::RolledBack {
                channel: "stable".into(),
                reason: "r".into(),
            },
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""event":"rolled-back""#), "{s}");
        assert_eq!(serde_json::from_str::<Event>(&s).unwrap(), e);
    }
}
