//! A version's page: its status (revoked and deprecated in words at the top), facts,
//! pull-by-digest commands with copy buttons, files, the release and technical notes
//! rendered, the contract in words, the searchable package list, the package diff from
//! the previous version, and its lifecycle and dependents.

use super::super::dates;
use super::super::gather::{Build, Site, Version};
use super::super::html::{esc, head_row, root, scroll_table, tracker_link, Page};
use super::super::markdown;
use super::super::packages::{self, Change};
use super::build::base_cell;
use super::{build_path, status_cell, version_link, version_path};
use crate::catalog::Status;
use std::fmt::Write as _;

/// The page of `build.versions[i]`.
pub fn render(site: &Site, build: &Build, i: usize) -> String {
    let v = &build.versions[i];
    let name = build.name();
    let ver = &v.release.version;
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{} {}</h1>", esc(name), esc(ver));
    banner(&mut b, v);
    facts(&mut b, site, v, build.description());
    pull(&mut b, v);
    links(&mut b, v);
    notes(&mut b, v);
    b.push_str("<h2 id=\"contract\">Service contract</h2>\n");
    b.push_str(&super::contract::render(&v.facts.reports, 3));
    package_list(&mut b, v);
    diff(&mut b, build, i);
    lifecycle(&mut b, v);
    let title = format!("{name} {ver}");
    Page {
        depth: 2,
        title: &title,
        crumbs: &[
            ("Core builds".to_string(), format!("{}index.html", root(2))),
            (name.to_string(), format!("{}{}", root(2), build_path(name))),
            (
                ver.to_string(),
                format!("{}{}", root(2), version_path(name, ver)),
            ),
        ],
        body: b,
        today: &site.today,
    }
    .render()
}

/// Revoked, deprecated, end of life or base revoked, stated first, with the reason.
fn banner(b: &mut String, v: &Version) {
    let r = &v.release;
    let class = match r.status {
        Status::Revoked => "alert",
        _ if v.base_revoked.is_some() => "alert",
        Status::Released => return,
        _ => "warning",
    };
    let head = match r.status {
        Status::Revoked => "This version is revoked: do not use it.",
        Status::Deprecated => "This version is deprecated: move to a newer one.",
        Status::EndOfLife => "This version is past its end of support.",
        Status::Released => "This version is built on a revoked base.",
    };
    let _ = writeln!(
        b,
        "<div class=\"{class}\" role=\"note\"><p><strong>{head}</strong></p>{}</div>",
        status_cell(v)
    );
}

fn facts(b: &mut String, site: &Site, v: &Version, description: Option<&str>) {
    let r = &v.release;
    let _ = writeln!(
        b,
        "<dl class=\"facts\">\n<dt>Status</dt><dd>{}</dd>\n<dt>Digest</dt><dd><code>{}</code></dd>\n\
         <dt>Released</dt><dd>{}</dd>\n<dt>End of support</dt><dd>{}</dd>\n\
         <dt>Channels</dt><dd>{}</dd>\n<dt>Base</dt><dd>{}</dd>\n<dt>Core build</dt><dd>{}</dd>\n</dl>",
        super::super::html::badge(r.status),
        esc(&r.digest.to_string()),
        esc(&r.released),
        esc(&dates::support(r.end_of_support.as_deref(), &site.today)),
        esc(&if r.channels.is_empty() { "none".to_string() } else { r.channels.join(", ") }),
        base_cell(2, v),
        esc(description.unwrap_or("(none)"))
    );
}

fn pull(b: &mut String, v: &Version) {
    b.push_str("<h2 id=\"pull\">Pull by digest</h2>\n");
    for (i, (tool, cmd)) in v.commands.iter().enumerate() {
        let _ = writeln!(
            b,
            "<div class=\"cmd\"><code id=\"cmd-{i}\">{}</code>\
             <button type=\"button\" data-copy=\"cmd-{i}\" hidden>Copy the {} command</button></div>",
            esc(cmd),
            esc(tool)
        );
    }
    b.push_str(
        "<p id=\"copy-status\" class=\"legend\" role=\"status\" aria-live=\"polite\"></p>\n",
    );
}

fn links(b: &mut String, v: &Version) {
    b.push_str("<h2 id=\"files\">Files</h2>\n");
    if v.facts.links.is_empty() && v.facts.signatures.is_empty() {
        b.push_str("<p class=\"notice\">No documents are attached to this release.</p>\n");
    }
    for (title, list) in [
        ("Documents", &v.facts.links),
        ("Signatures", &v.facts.signatures),
    ] {
        if list.is_empty() {
            if title == "Signatures" {
                b.push_str("<p>This release is not signed.</p>\n");
            }
            continue;
        }
        let _ = writeln!(b, "<h3>{title}</h3>\n<ul>");
        for l in list {
            let _ = writeln!(
                b,
                "<li><a href=\"{}{}\">{}</a> ({} bytes)</li>",
                root(2),
                esc(&l.file.path),
                esc(&l.label),
                l.file.size
            );
        }
        b.push_str("</ul>\n");
    }
    for p in &v.facts.problems {
        let _ = writeln!(b, "<p class=\"notice\">{}</p>", esc(p));
    }
}

fn notes(b: &mut String, v: &Version) {
    b.push_str("<h2 id=\"release-notes\">Release notes</h2>\n");
    match &v.facts.release_notes {
        Some(md) => b.push_str(&markdown::render(md, 2)),
        None => b.push_str(
            "<p class=\"notice\">No release notes are attached to this version \
             (it was published without <code>corebuild release</code>).</p>\n",
        ),
    }
    b.push_str("<h2 id=\"technical-notes\">Technical notes</h2>\n");
    match &v.facts.technical_notes {
        Some(md) => {
            b.push_str("<details><summary>Show the technical notes</summary>\n");
            b.push_str(&markdown::render(md, 2));
            b.push_str("</details>\n");
        }
        None => {
            b.push_str("<p class=\"notice\">No technical notes are attached to this version.</p>\n")
        }
    }
}

fn package_list(b: &mut String, v: &Version) {
    b.push_str("<h2 id=\"packages\">Packages</h2>\n");
    let Some(pkgs) = &v.facts.packages else {
        b.push_str("<p class=\"notice\">No package list: this release has no readable SBOM.</p>\n");
        return;
    };
    let _ = writeln!(
        b,
        "<p class=\"search\"><label for=\"pkg-q\">Search packages</label>\
         <input id=\"pkg-q\" type=\"search\" autocomplete=\"off\" spellcheck=\"false\" \
         aria-controls=\"pkg-table\" aria-describedby=\"pkg-count pkg-hint\"></p>\n\
         <p id=\"pkg-count\" role=\"status\" aria-live=\"polite\">{} packages</p>\n\
         <p id=\"pkg-hint\" class=\"legend\">A search can be linked: add <code>#q=NAME</code> to \
         this page's address. Names link to the Debian security tracker.</p>",
        pkgs.len()
    );
    let mut t = String::from("<table id=\"pkg-table\">\n<caption>Debian packages in this version (from its SBOM)</caption>\n");
    t.push_str(&head_row(&["Package", "Version", "Architecture"]));
    t.push_str("<tbody>\n");
    for p in pkgs {
        let _ = writeln!(
            t,
            "<tr data-pkg=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            esc(&p.name.to_lowercase()),
            tracker_link(&p.name),
            esc(&p.version),
            esc(&p.arch)
        );
    }
    t.push_str("</tbody>\n</table>\n");
    b.push_str(&scroll_table("Packages", &t));
}

fn diff(b: &mut String, build: &Build, i: usize) {
    b.push_str("<h2 id=\"diff\">Changes from the previous version</h2>\n");
    let Some(prev) = i.checked_sub(1).map(|j| &build.versions[j]) else {
        b.push_str("<p>This is the first release: there is no previous version.</p>\n");
        return;
    };
    let v = &build.versions[i];
    let _ = writeln!(
        b,
        "<p>Compared with {}.</p>",
        version_link(2, build.name(), prev)
    );
    let (Some(old), Some(new)) = (&prev.facts.packages, &v.facts.packages) else {
        b.push_str("<p class=\"notice\">One of the two versions has no readable SBOM: no package diff.</p>\n");
        return;
    };
    let changes = packages::diff(old, new);
    if changes.is_empty() {
        b.push_str("<p>No package was added, removed or changed.</p>\n");
        return;
    }
    let mut t = String::from("<table>\n<caption>Packages added, removed and changed</caption>\n");
    t.push_str(&head_row(&["Package", "Change", "Before", "After"]));
    t.push_str("<tbody>\n");
    for c in &changes {
        let (n, what, from, to) = match c {
            Change::Added { name, version } => (name, "added", "-", version.as_str()),
            Change::Removed { name, version } => (name, "removed", version.as_str(), "-"),
            Change::Changed { name, from, to } => (name, "changed", from.as_str(), to.as_str()),
        };
        let _ = writeln!(
            t,
            "<tr><th scope=\"row\">{}</th><td>{what}</td><td>{}</td><td>{}</td></tr>",
            tracker_link(n),
            esc(from),
            esc(to)
        );
    }
    t.push_str("</tbody>\n</table>\n");
    b.push_str(&scroll_table("Package changes", &t));
}

fn lifecycle(b: &mut String, v: &Version) {
    b.push_str("<h2 id=\"lifecycle\">Lifecycle</h2>\n<ul>\n");
    let _ = writeln!(b, "<li>Released {}</li>", esc(&v.release.released));
    for h in &v.release.history {
        let _ = writeln!(
            b,
            "<li>{} {}: {}</li>",
            match h.status {
                Status::Revoked => "<strong>Revoked</strong>",
                _ => "<strong>Deprecated</strong>",
            },
            esc(&h.time),
            esc(&h.reason)
        );
    }
    b.push_str("</ul>\n<h3>Built on this version</h3>\n");
    if v.dependents.is_empty() {
        b.push_str("<p>No release in this catalog is built on it.</p>\n");
        return;
    }
    b.push_str("<ul>\n");
    for d in &v.dependents {
        let what = format!("{}:{}", esc(&d.name), esc(&d.version));
        let what = if super::super::gather::safe_version(&d.version) {
            format!(
                "<a href=\"{}{}\">{what}</a>",
                root(2),
                esc(&version_path(&d.name, &d.version))
            )
        } else {
            what
        };
        let _ = writeln!(b, "<li>{what} (depth {})</li>", d.depth);
    }
    b.push_str("</ul>\n");
}
