//! The edits `rebuild` makes to a blueprint.toml, with `toml_edit` so the engineer's
//! comments, order and layout survive: the next patch version, the base moved to the
//! rebuilt core build, and the blueprint's own `[[change]]` entries replaced by one
//! security entry naming the advisories. Git stays the source of truth: the edited
//! files are left for the engineer to review and commit.

use anyhow::{Context, Result};
use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table, Value};

/// What to change; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub version: String,
    pub base_ref: Option<String>,
    /// `[base] digest`, rewritten only where the blueprint pins its base inline.
    pub base_digest: Option<String>,
    pub change_id: Option<String>,
    pub change_summary: String,
}

/// The next patch version: `1.0.0` → `1.0.1` (pre-release and build metadata dropped).
pub fn next_patch(v: &semver::Version) -> semver::Version {
    semver::Version::new(v.major, v.minor, v.patch + 1)
}

/// Applies `e` to the text of a blueprint.toml.
pub fn apply(text: &str, e: &Edit) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("parsing blueprint.toml for editing")?;
    set_keeping_decor(doc.as_table_mut(), "version", &e.version)?;
    if let Some(base) = doc.get_mut("base").and_then(Item::as_table_like_mut) {
        if let Some(r) = &e.base_ref {
            replace_value(base.get_mut("ref"), r)?;
        }
        if let (Some(d), Some(item)) = (&e.base_digest, base.get_mut("digest")) {
            replace_value(Some(item), d)?;
        }
    }
    replace_changes(&mut doc, e);
    Ok(doc.to_string())
}

fn set_keeping_decor(t: &mut Table, key: &str, new: &str) -> Result<()> {
    replace_value(t.get_mut(key), new).with_context(|| format!("blueprint.toml has no `{key}`"))
}

/// Replaces a string value in place, keeping the comments and spaces around it.
fn replace_value(item: Option<&mut Item>, new: &str) -> Result<()> {
    let v = item
        .and_then(Item::as_value_mut)
        .context("the key is not a plain value")?;
    let decor = v.decor().clone();
    *v = Value::from(new);
    *v.decor_mut() = decor;
    Ok(())
}

/// Drops the blueprint's `[[change]]` tables and puts one security entry where the
/// first of them was (at the end when there were none).
fn replace_changes(doc: &mut DocumentMut, e: &Edit) {
    let position = doc
        .get("change")
        .and_then(Item::as_array_of_tables)
        .and_then(|a| a.get(0))
        .and_then(Table::position);
    let mut t = Table::new();
    t["kind"] = value("security");
    if let Some(id) = &e.change_id {
        t["id"] = value(id.as_str());
    }
    t["summary"] = value(e.change_summary.as_str());
    if let Some(p) = position {
        t.set_position(p);
    }
    let mut list = ArrayOfTables::new();
    list.push(t);
    doc.insert("change", Item::ArrayOfTables(list));
}

#[cfg(test)]
mod tests {
    use super::*;

    const BP: &str = r#"# core-a: the team's base image
name = "core-a"
version = "1.0.0"   # bumped by rebuild
description = "A"

[base]
# the known-good base
ref = "catalog:core-root:2.0.0"

[[layer]]
packages = ["corelib"]

# what this release changes
[[change]]
kind = "enhancement"
summary = "Adds corelib"

[[change]]
kind = "bugfix"
id = "BUG-1"
summary = "Fixes a thing"

[lifecycle]
end_of_support = "2027-12-31"
"#;

    #[test]
    fn bumps_moves_the_base_and_replaces_changes_keeping_comments() {
        let out = apply(
            BP,
            &Edit {
                version: "1.0.1".into(),
                base_ref: Some("catalog:core-root:2.0.1".into()),
                base_digest: Some("sha256:00".into()),
                change_id: Some("CVE-2026-0001".into()),
                change_summary: "corelib 1.0-1 → 1.0-2 (CVE-2026-0001)".into(),
            },
        )
        .unwrap();
        assert!(
            out.contains("version = \"1.0.1\"   # bumped by rebuild\n"),
            "{out}"
        );
        assert!(
            out.contains("# the known-good base\nref = \"catalog:core-root:2.0.1\"\n"),
            "{out}"
        );
        // No inline digest was there: none is added.
        assert!(!out.contains("sha256:00"), "{out}");
        assert!(
            !out.contains("Adds corelib") && !out.contains("BUG-1"),
            "{out}"
        );
        let change = out.find("kind = \"security\"").unwrap();
        assert!(out.find("[[layer]]").unwrap() < change, "{out}");
        assert!(change < out.find("[lifecycle]").unwrap(), "{out}");
        assert!(
            out.starts_with("# core-a: the team's base image\n"),
            "{out}"
        );
        // The result is still a valid blueprint table.
        let v: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(v["change"].as_array().unwrap().len(), 1);
        assert_eq!(v["change"][0]["id"].as_str(), Some("CVE-2026-0001"));
    }

    #[test]
    fn a_blueprint_without_changes_gets_one_at_the_end() {
        let text =
            "name = \"x\"\nversion = \"2.3.4-rc.1\"\ndescription = \"d\"\n[base]\nref = \"b:1\"\n";
        let v = next_patch(&semver::Version::parse("2.3.4-rc.1").unwrap());
        assert_eq!(v.to_string(), "2.3.5");
        let out = apply(
            text,
            &Edit {
                version: v.to_string(),
                base_ref: None,
                base_digest: None,
                change_id: None,
                change_summary: "rebuilt".into(),
            },
        )
        .unwrap();
        assert!(
            out.ends_with("[[change]]\nkind = \"security\"\nsummary = \"rebuilt\"\n"),
            "{out}"
        );
        assert!(out.contains("ref = \"b:1\""));
    }
}
