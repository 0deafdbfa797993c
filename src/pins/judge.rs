//! The verdict on one pin: which core build a reference names (the matching rule), what
//! the catalog says about the release it pins (ok, deprecated, revoked, end-of-life, base
//! revoked, unknown, tag-only), and the reference to pin instead.

use super::find::Found;
use super::reference::Reference;
use crate::catalog::view::View;
use crate::catalog::{Catalog, Release, State, Status};
use crate::digest::Digest;
use serde::Serialize;
use std::ops::Range;
use std::path::Path;

/// What a pin is worth. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    TagOnly,
    Deprecated,
    Unknown,
    EndOfLife,
    BaseRevoked,
    Revoked,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Ok,
        Verdict::TagOnly,
        Verdict::Deprecated,
        Verdict::Unknown,
        Verdict::EndOfLife,
        Verdict::BaseRevoked,
        Verdict::Revoked,
    ];

    /// Whether the pin fails the check (exit 1): the release must not be used any more.
    pub fn fails(self) -> bool {
        matches!(
            self,
            Verdict::Revoked | Verdict::EndOfLife | Verdict::BaseRevoked
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::TagOnly => "tag-only",
            Verdict::Deprecated => "deprecated",
            Verdict::Unknown => "unknown",
            Verdict::EndOfLife => "end-of-life",
            Verdict::BaseRevoked => "base-revoked",
            Verdict::Revoked => "revoked",
        }
    }
}

/// A reference to a core build, judged.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reference: String,
    /// The core build (blueprint name) it names.
    pub name: String,
    /// The version of the release it pins, when it pins one.
    pub version: Option<String>,
    pub digest: Option<Digest>,
    pub verdict: Verdict,
    /// The catalog status of the release it pins (`released`, `deprecated`, …).
    pub status: Option<Status>,
    pub reason: Option<String>,
    /// The reference to pin instead: `REPOSITORY:VERSION@sha256:…`.
    pub suggestion: Option<String>,
    #[serde(skip)]
    pub span: Option<Range<usize>>,
}

/// A reference that is not checked, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reference: String,
    pub why: String,
}

pub enum Judged {
    Pin(Pin),
    Skipped(Skipped),
}

/// Judges references against one view of the catalog.
pub struct Judge<'a> {
    view: &'a View,
    /// Each name with its repository (`Catalog::identity`).
    identities: Vec<(&'a State, String)>,
    channel: String,
}

impl<'a> Judge<'a> {
    pub fn new(cat: &dyn Catalog, view: &'a View, channel: &str) -> Self {
        let identities = view
            .states
            .iter()
            .map(|s| (s, cat.identity(&s.name)))
            .collect();
        Judge {
            view,
            identities,
            channel: channel.to_string(),
        }
    }

    /// The core build `repository` names: its repository is the catalog's identity for
    /// the name; when that identity is the bare name (a layout catalog has no host), a
    /// repository ending in `/NAME` (a mirror, `docker.io/library/NAME`) counts too.
    pub fn core_build(&self, repository: &str) -> Option<&'a State> {
        self.identities.iter().find_map(|(s, id)| {
            let bare = *id == s.name;
            let hit = repository == id
                || (bare
                    && repository
                        .strip_suffix(s.name.as_str())
                        .is_some_and(|r| r.ends_with('/')));
            hit.then_some(*s)
        })
    }

    pub fn judge(&self, file: &Path, f: &Found) -> Judged {
        let skip = |why: &str| {
            Judged::Skipped(Skipped {
                file: file.display().to_string(),
                line: f.line,
                column: f.column,
                reference: f.text.clone(),
                why: why.to_string(),
            })
        };
        if let Some(note) = f.note {
            return skip(note);
        }
        if f.text.contains('$') {
            return skip("a build argument or variable: not checked");
        }
        let Some(r) = Reference::parse(&f.text) else {
            return skip("not an image reference");
        };
        let Some(st) = self.core_build(r.repository) else {
            return skip("not a core build of this catalog");
        };
        let mut pin = self.pin(st, &r);
        pin.reference = f.text.clone();
        pin.file = file.display().to_string();
        (pin.line, pin.column, pin.span) = (f.line, f.column, f.span.clone());
        Judged::Pin(pin)
    }

    fn pin(&self, st: &State, r: &Reference) -> Pin {
        let (release, by_digest) = pinned(st, r);
        let (verdict, reason) = match release {
            Some(rel) => self.verdict_of(st, rel, by_digest),
            None => (Verdict::Unknown, unknown_reason(st, r)),
        };
        let mut pin = Pin {
            file: String::new(),
            line: 0,
            column: 0,
            reference: String::new(),
            name: st.name.clone(),
            version: release.map(|x| x.version.clone()),
            digest: release.map(|x| x.digest.clone()),
            verdict,
            status: release.map(|x| x.status),
            reason: Some(reason).filter(|r| !r.is_empty()),
            suggestion: None,
            span: None,
        };
        if let (Some(rel), Some(t), true) = (release, r.tag, by_digest) {
            if t != rel.version && t != rel.version.replace('+', "_") {
                let s = format!("the tag says {t} but the digest is version {}", rel.version);
                pin.reason = Some(pin.reason.map_or(s.clone(), |r| format!("{r}; {s}")));
            }
        }
        if verdict != Verdict::Ok {
            self.suggest(st, r, release, &mut pin);
        }
        pin
    }

    /// The verdict on a release; a tag pin of a release that must not be used takes that
    /// release's verdict (it fails), else `tag-only`.
    fn verdict_of(&self, st: &State, rel: &Release, by_digest: bool) -> (Verdict, String) {
        let what = format!("{}:{}", st.name, rel.version);
        let changed = |s: Status| {
            rel.history
                .iter()
                .find(|h| h.status == s)
                .map_or("no reason given", |h| h.reason.as_str())
                .to_string()
        };
        let base_revoked = self.view.revoked_base(&rel.digest);
        let (verdict, reason) = if rel.status == Status::Revoked {
            (
                Verdict::Revoked,
                format!("{what} revoked: {}", changed(Status::Revoked)),
            )
        } else if let Some(why) = base_revoked {
            (Verdict::BaseRevoked, format!("{what}: {why}"))
        } else if rel.status == Status::EndOfLife {
            let eos = rel.end_of_support.as_deref().unwrap_or("?");
            (
                Verdict::EndOfLife,
                format!("{what} is past its end of support ({eos})"),
            )
        } else if !by_digest {
            let mut s = format!(
                "pinned by tag only; {what} is {} ({})",
                rel.status, rel.digest
            );
            if rel.status == Status::Deprecated {
                s += &format!(": {}", changed(Status::Deprecated));
            }
            (Verdict::TagOnly, s)
        } else if rel.status == Status::Deprecated {
            (
                Verdict::Deprecated,
                format!("{what} deprecated: {}", changed(Status::Deprecated)),
            )
        } else {
            (Verdict::Ok, String::new())
        };
        if verdict.fails() && !by_digest {
            return (verdict, format!("{reason} (pinned by tag only)"));
        }
        (verdict, reason)
    }

    /// Fills in the suggestion: a tag pin of a released version keeps its version and
    /// gains its digest; anything else moves to the release on the channel, unless the
    /// channel is empty or its release would fail the check too (then it says so).
    fn suggest(&self, st: &State, r: &Reference, release: Option<&Release>, pin: &mut Pin) {
        let target = match release {
            Some(rel) if pin.verdict == Verdict::TagOnly && rel.status == Status::Released => {
                Some(rel)
            }
            _ => self.channel_release(st, pin),
        };
        let Some(t) = target else { return };
        if release.is_some_and(|rel| rel.digest == t.digest) && pin.verdict != Verdict::TagOnly {
            return; // the channel names this very release: nothing better to pin
        }
        let tag = t.version.replace('+', "_");
        pin.suggestion = Some(format!("{}:{tag}@{}", r.repository, t.digest));
    }

    fn channel_release(&self, st: &'a State, pin: &mut Pin) -> Option<&'a Release> {
        let ch = &self.channel;
        let note = |pin: &mut Pin, s: String| {
            pin.reason = Some(match pin.reason.take() {
                Some(r) => format!("{r}; {s}"),
                None => s,
            });
        };
        let Some(d) = st.channel(ch).and_then(|c| c.digest.as_ref()) else {
            note(
                pin,
                format!("no release of {} on channel {ch} to suggest", st.name),
            );
            return None;
        };
        let rel = st.releases.iter().find(|x| &x.digest == d)?;
        let (v, _) = self.verdict_of(st, rel, true);
        if v.fails() {
            note(
                pin,
                format!(
                    "channel {ch} names {}:{}, which is {}: no suggestion",
                    st.name,
                    rel.version,
                    v.label()
                ),
            );
            return None;
        }
        Some(rel)
    }
}

/// The release a reference pins: by digest when it has one (the tag is then ignored, as
/// Docker does), else by its tag read as a version.
fn pinned<'s>(st: &'s State, r: &Reference) -> (Option<&'s Release>, bool) {
    match (r.digest, r.tag) {
        (Some(d), _) => {
            let d = d.parse::<Digest>().ok();
            (
                st.releases.iter().find(|x| Some(&x.digest) == d.as_ref()),
                true,
            )
        }
        (None, Some(t)) => (
            st.releases
                .iter()
                .find(|x| x.version == t || x.version.replace('+', "_") == t),
            false,
        ),
        (None, None) => (None, false),
    }
}

fn unknown_reason(st: &State, r: &Reference) -> String {
    match (r.digest, r.tag) {
        (Some(d), _) => format!("{d} is not a release of {}", st.name),
        (None, Some(t)) => format!("tag {t} is not a released version of {}", st.name),
        (None, None) => format!(
            "no tag or digest (Docker pulls :latest, which is not a release of {})",
            st.name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{EventKind, LayoutCatalog, RegistryCatalog, RetryPolicy};
    use std::collections::BTreeMap;

    fn view(name: &str, eos: &str) -> (View, Digest) {
        let d = Digest::of_bytes(name.as_bytes());
        let kind = EventKind::Released {
            version: "1.0.0".into(),
            digest: d.clone(),
            released: "2026-01-01T00:00:00Z".into(),
            end_of_support: Some(eos.into()),
        };
        let e = crate::catalog::Event::new(name, kind, None);
        let published = BTreeMap::from([("1.0.0".to_string(), d.clone())]);
        let st = State::fold(name, &[e], &published, "2026-06-01");
        let v = View {
            states: vec![st],
            bases: BTreeMap::new(),
        };
        (v, d)
    }

    fn verdict(j: &Judge, text: &str) -> Option<(Verdict, Option<String>)> {
        let f = Found {
            line: 1,
            column: 1,
            span: Some(0..text.len()),
            text: text.into(),
            note: None,
        };
        match j.judge(Path::new("f"), &f) {
            Judged::Pin(p) => Some((p.verdict, p.suggestion)),
            Judged::Skipped(_) => None,
        }
    }

    #[test]
    fn a_layout_catalog_matches_the_bare_name_and_any_repository_ending_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let cat = LayoutCatalog::open(dir.path()).unwrap();
        let (v, d) = view("core", "2030-01-01");
        let j = Judge::new(&cat, &v, "stable");
        for ok in [
            "core",
            "mirror.example:5000/team/core",
            "docker.io/library/core",
        ] {
            let r = format!("{ok}:1.0.0@{d}");
            assert_eq!(verdict(&j, &r), Some((Verdict::Ok, None)), "{ok}");
        }
        for other in [
            "hardcore:1.0.0",
            "core/x:1",
            "core-vm:1",
            "r.example/score:1",
        ] {
            assert_eq!(verdict(&j, other), None, "{other}");
        }
        assert_eq!(verdict(&j, "core:${V}"), None);
        // No channel: nothing to suggest, except the digest of the tag's own release.
        assert_eq!(
            verdict(&j, "core:1.0.0"),
            Some((Verdict::TagOnly, Some(format!("core:1.0.0@{d}"))))
        );
        assert_eq!(verdict(&j, "core:9"), Some((Verdict::Unknown, None)));
    }

    #[test]
    fn a_registry_catalog_matches_host_namespace_and_name_exactly() {
        let cat =
            RegistryCatalog::new("127.0.0.1:5000", "core", true, RetryPolicy::default()).unwrap();
        let (v, d) = view("core", "2026-05-31");
        let j = Judge::new(&cat, &v, "stable");
        let full = format!("127.0.0.1:5000/core/core:1.0.0@{d}");
        assert_eq!(verdict(&j, &full), Some((Verdict::EndOfLife, None)));
        assert_eq!(
            verdict(&j, "127.0.0.1:5000/core/core:1.0.0"),
            Some((Verdict::EndOfLife, None)),
            "a tag pin of an end-of-life release fails too"
        );
        for other in [
            "core:1.0.0",
            "127.0.0.1:5000/other/core:1",
            "localhost:5000/core/core:1",
        ] {
            assert_eq!(verdict(&j, other), None, "{other}");
        }
    }
}
