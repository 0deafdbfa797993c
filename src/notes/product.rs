//! The product facts in the notes: who owns the core build and where to reach them, the
//! upstream references, and its known issues with their workarounds.

use super::facts::ReleaseFacts;
use std::fmt::Write as _;

/// `## Known issues`: every declared issue, open or fixed, with its workaround.
pub fn known_issues(s: &mut String, f: &ReleaseFacts) {
    if f.known_issues.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Known issues\n");
    for k in &f.known_issues {
        let status = match &k.fixed_in {
            Some(v) => format!(" (fixed in {v})"),
            None => " (open)".to_string(),
        };
        let _ = writeln!(s, "- **{}**{status}: {}", k.id, k.summary);
        if let Some(w) = &k.workaround {
            let _ = writeln!(s, "  - Workaround: {w}");
        }
    }
    s.push('\n');
}

/// `## Support`: owner, contact, bug tracker, documentation, upstream references.
pub fn support(s: &mut String, f: &ReleaseFacts) {
    let p = &f.product;
    let mut lines = Vec::new();
    if let Some(o) = &p.owner {
        lines.push(format!("- Owner: {o}"));
    }
    if let Some(c) = &p.contact {
        lines.push(format!("- Contact: {c}"));
    }
    if let Some(b) = &p.bug_tracker {
        lines.push(format!("- Report bugs: <{b}>"));
    }
    if let Some(d) = &p.documentation {
        lines.push(format!("- Documentation: <{d}>"));
    }
    for u in &p.upstream {
        lines.push(format!("- Upstream: <{u}>"));
    }
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Support\n\n{}", lines.join("\n"));
}
