//! Release and technical notes (Markdown) as HTML, with pulldown-cmark. The notes carry
//! blueprint text, so nothing passes through raw: HTML in the Markdown is shown as code,
//! images become their alt text, and links keep only http(s), mailto and `#` targets
//! (anything else, `javascript:` included, becomes plain text). Headings move down so that
//! a note's `#` sits below the page's own headings. CVE ids not already in a link become
//! links to the Debian security tracker.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

fn level_of(n: usize) -> HeadingLevel {
    match n {
        0 | 1 => HeadingLevel::H1,
        2 => HeadingLevel::H2,
        3 => HeadingLevel::H3,
        4 => HeadingLevel::H4,
        5 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

fn shifted(l: HeadingLevel, by: usize) -> HeadingLevel {
    level_of(l as usize + by)
}

/// Whether a link target may stay a link.
pub fn safe_url(u: &str) -> bool {
    let l = u.trim_start().to_ascii_lowercase();
    (l.starts_with("https://") || l.starts_with("http://") || l.starts_with("mailto:"))
        || (l.starts_with('#') && l.len() > 1)
}

/// `md` as HTML with headings moved down by `shift` levels (`#` becomes `h(1+shift)`).
pub fn render(md: &str, shift: usize) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut dropped_link = false;
    let events = Parser::new_ext(md, opts).filter_map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Code(h)),
        Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::CodeBlock(CodeBlockKind::Indented))),
        Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::CodeBlock)),
        Event::Start(Tag::Heading { level, .. }) => Some(Event::Start(Tag::Heading {
            level: shifted(level, shift),
            id: None,
            classes: Vec::new(),
            attrs: Vec::new(),
        })),
        Event::End(TagEnd::Heading(level)) => {
            Some(Event::End(TagEnd::Heading(shifted(level, shift))))
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            id,
            ..
        }) => {
            if safe_url(&dest_url) {
                Some(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title: CowStr::Borrowed(""),
                    id,
                }))
            } else {
                dropped_link = true;
                None
            }
        }
        Event::End(TagEnd::Link) if dropped_link => {
            dropped_link = false;
            None
        }
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let events = link_cves(events);
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, fix_blocks(events));
    out
}

/// CVE ids in text outside links become links to the Debian security tracker (HTML made
/// here from escaped text, so nothing of the notes passes raw).
fn link_cves<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut in_link = false;
    events.map(move |e| match e {
        Event::Start(Tag::Link { .. }) => {
            in_link = true;
            e
        }
        Event::End(TagEnd::Link) => {
            in_link = false;
            e
        }
        Event::Text(t) if !in_link && t.contains("CVE-") => {
            Event::InlineHtml(CowStr::from(super::html::esc_linking_cves(&t)))
        }
        e => e,
    })
}

/// Inside a code block (an HTML block shown as code), the raw HTML arrived as `Html`
/// events, mapped to `Code` above: there they must be plain text.
fn fix_blocks<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut in_block = false;
    events.map(move |e| match e {
        Event::Start(Tag::CodeBlock(k)) => {
            in_block = true;
            Event::Start(Tag::CodeBlock(k))
        }
        Event::End(TagEnd::CodeBlock) => {
            in_block = false;
            Event::End(TagEnd::CodeBlock)
        }
        Event::Code(c) if in_block => Event::Text(c),
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_never_passes_through() {
        let html = render(
            "# Notes\n\nhello <script>alert(1)</script> <img src=x onerror=y>\n\n<div onclick=\"x\">block</div>\n",
            2,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;div onclick="), "{html}");
        assert!(html.contains("<h3>Notes</h3>"), "{html}");
    }

    #[test]
    fn only_safe_links_stay_links_and_images_become_text() {
        let html = render(
            "[ok](https://bugs.example.com/x) [bad](javascript:alert(1)) [rel](other.md) \
             <https://a.example/> ![alt text](https://img.example/x.png)",
            0,
        );
        assert!(
            html.contains("<a href=\"https://bugs.example.com/x\">ok</a>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"https://a.example/\">"), "{html}");
        assert!(!html.contains("javascript"), "{html}");
        assert!(!html.contains("other.md"), "{html}");
        assert!(html.contains("bad") && html.contains("rel"), "{html}");
        assert!(
            !html.contains("<img") && html.contains("alt text"),
            "{html}"
        );
    }

    #[test]
    fn tables_and_code_render() {
        let html = render("| a | b |\n|---|---|\n| `x<y` | 2 |\n", 0);
        assert!(
            html.contains("<table>") && html.contains("<code>x&lt;y</code>"),
            "{html}"
        );
    }

    #[test]
    fn cve_ids_link_to_the_tracker_once() {
        let html = render(
            "Fixes CVE-2024-1234 and [CVE-2024-9999](https://x.example/).",
            0,
        );
        assert!(
            html.contains("<a href=\"https://security-tracker.debian.org/tracker/CVE-2024-1234\">CVE-2024-1234</a>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://x.example/\">CVE-2024-9999</a>"),
            "{html}"
        );
        assert_eq!(html.matches("<a ").count(), 2, "{html}");
    }
}
