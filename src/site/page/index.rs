//! The index: every core build with its description, the version on each channel, the
//! newest version's status and its end of support with days left.

use super::super::dates;
use super::super::gather::Site;
use super::super::html::{esc, head_row, scroll_table, Page};
use super::{build_path, status_cell, version_link};
use std::fmt::Write as _;

pub fn render(site: &Site) -> String {
    let mut b = String::new();
    let versions: usize = site.builds.iter().map(|x| x.versions.len()).sum();
    let _ = write!(
        b,
        "<h1>Core builds</h1>\n<p>{} core build{} and {versions} version{} in <code>{}</code>. \
         Pin a version by digest; each page lists the pull commands.</p>\n",
        site.builds.len(),
        if site.builds.len() == 1 { "" } else { "s" },
        if versions == 1 { "" } else { "s" },
        esc(&site.location)
    );
    if site.builds.is_empty() {
        b.push_str("<p class=\"notice\">The catalog holds no releases yet.</p>\n");
    }
    let mut t = String::from(
        "<table>\n<caption>Core builds, their channels and newest version</caption>\n",
    );
    t.push_str(&head_row(&[
        "Core build",
        "Description",
        "Channels",
        "Newest version",
        "Status",
        "End of support",
    ]));
    t.push_str("<tbody>\n");
    for build in &site.builds {
        let name = build.name();
        let _ = write!(
            t,
            "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td><td>",
            esc(&build_path(name)),
            esc(name),
            esc(build.description().unwrap_or("(no description)"))
        );
        channels(&mut t, site, build);
        t.push_str("</td>");
        match build.versions.last() {
            Some(v) => {
                let _ = write!(
                    t,
                    "<td>{}</td><td>{}</td><td>{}</td>",
                    version_link(0, name, v),
                    status_cell(v),
                    esc(&dates::support(
                        v.release.end_of_support.as_deref(),
                        &site.today
                    ))
                );
            }
            None => t.push_str("<td>none</td><td></td><td></td>"),
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody>\n</table>\n");
    b.push_str(&scroll_table("Core builds", &t));
    Page {
        depth: 0,
        title: "Core builds",
        crumbs: &[("Core builds".to_string(), "index.html".to_string())],
        body: b,
        today: &site.today,
    }
    .render()
}

/// The version each channel names, with its status and days left.
fn channels(t: &mut String, site: &Site, build: &super::super::gather::Build) {
    if build.state.channels.is_empty() {
        t.push_str("no channel");
        return;
    }
    t.push_str("<ul class=\"plain\">");
    for ch in &build.state.channels {
        let _ = write!(t, "<li><strong>{}</strong>: ", esc(&ch.name));
        match ch.version.as_deref().and_then(|v| build.version(v)) {
            Some(v) => {
                let _ = write!(
                    t,
                    "{} {}<br><span class=\"reason\">support {}</span>",
                    version_link(0, build.name(), v),
                    if super::is_flagged(v) {
                        status_cell(v)
                    } else {
                        String::new()
                    },
                    esc(&dates::support(
                        v.release.end_of_support.as_deref(),
                        &site.today
                    ))
                );
            }
            None => t.push_str("(empty)"),
        }
        t.push_str("</li>");
    }
    t.push_str("</ul>");
}
