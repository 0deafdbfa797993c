//! A core build's page: its description and product facts (from its newest release
//! notes), every version (digest, released, status and reason, channels, end of support,
//! base), the lifecycle timeline and the channel history.

use super::super::dates;
use super::super::gather::{Build, Site, Version};
use super::super::html::{esc, head_row, root, scroll_table, Page};
use super::super::markdown;
use super::super::timeline::{self, Row};
use super::{build_path, short, status_cell, version_link, version_path};
use crate::catalog::Status;
use std::fmt::Write as _;

/// The section of `md` under the `## {title}` heading, up to the next `#`/`##` heading.
pub fn section(md: &str, title: &str) -> Option<String> {
    let head = format!("## {title}");
    let mut lines = md.lines().skip_while(|l| l.trim_end() != head);
    lines.next()?;
    let body: Vec<&str> = lines
        .take_while(|l| !(l.starts_with("# ") || l.starts_with("## ")))
        .collect();
    let body = body.join("\n");
    (!body.trim().is_empty()).then_some(body)
}

pub fn render(site: &Site, build: &Build) -> String {
    let name = build.name();
    let mut b = String::new();
    let _ = writeln!(b, "<h1>{}</h1>", esc(name));
    let _ = writeln!(
        b,
        "<p>{}</p>",
        esc(build.description().unwrap_or("(no description)"))
    );
    product(&mut b, build);
    let flagged = build
        .versions
        .iter()
        .filter(|v| super::is_flagged(v))
        .count();
    if flagged > 0 {
        let _ = writeln!(
            b,
            "<p class=\"warning\"><strong>{flagged} of {} versions</strong> are deprecated, revoked, \
             past their end of support or built on a revoked base: see their status below.</p>",
            build.versions.len()
        );
    }
    b.push_str("<h2 id=\"versions\">Versions</h2>\n");
    b.push_str(&scroll_table("Versions", &versions_table(site, build)));
    b.push_str("<h2 id=\"lifecycle\">Lifecycle</h2>\n");
    b.push_str(
        "<p class=\"legend\">Each version from its release (dot): a solid line while supported, \
         dashed once deprecated, a cross where it was revoked, a bar at its end of support; the \
         blue dashed line is the date this page is as of.</p>\n",
    );
    let rows: Vec<Row> = build.versions.iter().filter_map(row).collect();
    let today = dates::day(&site.today).unwrap_or_default();
    b.push_str(&timeline::render(
        &format!("Lifecycle of {name}"),
        &rows,
        today,
        "timeline",
    ));
    b.push_str("<h2 id=\"channels\">Channel history</h2>\n");
    channel_history(&mut b, build);
    Page {
        depth: 1,
        title: name,
        crumbs: &[
            ("Core builds".to_string(), "../index.html".to_string()),
            (name.to_string(), format!("{}{}", root(1), build_path(name))),
        ],
        body: b,
        today: &site.today,
    }
    .render()
}

/// Owner, contact, bug tracker and known issues, as the newest release notes state them.
fn product(b: &mut String, build: &Build) {
    let Some(v) = build
        .versions
        .iter()
        .rev()
        .find(|v| v.facts.release_notes.is_some())
    else {
        return;
    };
    let md = v.facts.release_notes.as_deref().unwrap_or_default();
    for (title, id) in [("Support", "support"), ("Known issues", "known-issues")] {
        if let Some(s) = section(md, title) {
            let _ = write!(
                b,
                "<h2 id=\"{id}\">{title}</h2>\n<p class=\"legend\">From the release notes of {}.</p>\n{}",
                esc(&v.release.version),
                // The section's own headings are `###`: h3 under this h2.
                markdown::render(&s, 0)
            );
        }
    }
}

fn row(v: &Version) -> Option<Row> {
    let r = &v.release;
    let when = |s: Status| {
        r.history
            .iter()
            .find(|h| h.status == s)
            .and_then(|h| dates::day(&h.time))
    };
    Some(Row {
        label: r.version.clone(),
        released: dates::day(&r.released)?,
        deprecated: when(Status::Deprecated),
        revoked: when(Status::Revoked),
        end_of_support: r.end_of_support.as_deref().and_then(dates::day),
    })
}

fn versions_table(site: &Site, build: &Build) -> String {
    let name = build.name();
    let mut t = format!(
        "<table>\n<caption>Versions of {}, newest first</caption>\n",
        esc(name)
    );
    t.push_str(&head_row(&[
        "Version",
        "Status",
        "Digest",
        "Released",
        "Channels",
        "End of support",
        "Base",
    ]));
    t.push_str("<tbody>\n");
    for v in build.versions.iter().rev() {
        let r = &v.release;
        let _ = writeln!(
            t,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"digest\"><code>{}</code></td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            version_link(1, name, v),
            status_cell(v),
            esc(&short(&r.digest)),
            esc(dates::date_of(&r.released)),
            esc(&if r.channels.is_empty() {
                "-".to_string()
            } else {
                r.channels.join(", ")
            }),
            esc(&dates::support(r.end_of_support.as_deref(), &site.today)),
            base_cell(1, v)
        );
    }
    t.push_str("</tbody>\n</table>\n");
    t
}

/// The base a release names, linked when it is a release of this catalog.
pub fn base_cell(depth: usize, v: &Version) -> String {
    match (&v.base, &v.base_release) {
        (_, Some((n, ver))) if super::super::gather::safe_version(ver) => format!(
            "<a href=\"{}{}\">{}:{}</a>",
            root(depth),
            esc(&version_path(n, ver)),
            esc(n),
            esc(ver)
        ),
        (Some(b), _) => format!("{} <code>{}</code>", esc(&b.name), esc(&short(&b.digest))),
        (None, _) => "not recorded".to_string(),
    }
}

fn channel_history(b: &mut String, build: &Build) {
    let mut all: Vec<(&str, &crate::catalog::Assignment)> = build
        .state
        .channels
        .iter()
        .flat_map(|c| c.history.iter().map(move |h| (c.name.as_str(), h)))
        .collect();
    all.sort_by(|a, b| (&a.1.event, a.0).cmp(&(&b.1.event, b.0)));
    if all.is_empty() {
        b.push_str("<p>No version was ever promoted to a channel.</p>\n");
        return;
    }
    let mut t =
        String::from("<table>\n<caption>Every change of every channel, oldest first</caption>\n");
    t.push_str(&head_row(&[
        "Time",
        "Channel",
        "Change",
        "Now names",
        "Reason",
    ]));
    t.push_str("<tbody>\n");
    for (ch, h) in all {
        let _ = writeln!(
            t,
            "<tr><td>{}</td><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&h.time),
            esc(ch),
            esc(&h.action),
            match h.version.as_deref().and_then(|v| build.version(v)) {
                Some(v) => version_link(1, build.name(), v),
                None => "(empty)".to_string(),
            },
            esc(&h.reason)
        );
    }
    t.push_str("</tbody>\n</table>\n");
    b.push_str(&scroll_table("Channel history", &t));
}

#[cfg(test)]
mod tests {
    use super::section;

    #[test]
    fn sections_are_cut_at_the_next_heading() {
        let md = "# t\n\n## Support\n\n- Owner: os\n- Report bugs: <https://b>\n\n## Known issues\n\n- **K-1**: x\n";
        assert_eq!(
            section(md, "Support").unwrap().trim(),
            "- Owner: os\n- Report bugs: <https://b>"
        );
        assert_eq!(section(md, "Known issues").unwrap().trim(), "- **K-1**: x");
        assert!(section(md, "Missing").is_none());
    }
}
