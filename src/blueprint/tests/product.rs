//! `[product]` and `[[known_issue]]`: what loads, and every bad value at its line.

use super::{assert_err, Ws, HEAD};

#[test]
fn product_facts_and_known_issues_load() {
    let ws = Ws::new();
    let bp = ws
        .load_bp(&format!(
            "{HEAD}[product]\nowner = \"platform-os\"\ncontact = \"os@example.com\"\n\
             bug_tracker = \"https://bugs.example.com/core\"\n\
             upstream = [\"https://www.debian.org/releases/bookworm/releasenotes\"]\n\
             [[known_issue]]\nid = \"KI-1\"\nsummary = \"slow first boot\"\nworkaround = \"wait\"\n\
             [[known_issue]]\nid = \"KI-2\"\nsummary = \"typo\"\nfixed_in = \"1.2.0\"\n"
        ))
        .unwrap();
    assert_eq!(bp.product.owner.as_deref(), Some("platform-os"));
    assert_eq!(
        bp.product.bug_tracker.as_deref(),
        Some("https://bugs.example.com/core")
    );
    assert_eq!(bp.product.upstream.len(), 1);
    assert_eq!(bp.known_issues.len(), 2);
    assert_eq!(
        bp.known_issues[1].fixed_in,
        Some(semver::Version::new(1, 2, 0))
    );
    assert_eq!(bp.known_issues[0].workaround.as_deref(), Some("wait"));
    // Recorded on the notes artifact for the web catalog: only the facts that are set.
    let a = bp.product.annotations();
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        [
            "dev.corebuild.product.bug-tracker",
            "dev.corebuild.product.contact",
            "dev.corebuild.product.owner",
            "dev.corebuild.product.upstream"
        ]
    );
    assert_eq!(a["dev.corebuild.product.owner"], "platform-os");
}

#[test]
fn bad_product_facts_are_refused_at_their_line() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[product]\nbug_tracker = \"bugs.example.com\"\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        15,
        &["bug_tracker", "not an http(s) URL"],
    );
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[known_issue]]\nid = \"KI-1\"\nsummary = \"a\"\n[[known_issue]]\nid = \"KI-1\"\nsummary = \"b\"\n"
        ))
        .unwrap_err();
    assert_err(&e, &ws.bp_path(), 11, 6, &["KI-1", "declared twice"]);
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[known_issue]]\nid = \"KI-1\"\nsummary = \"a\"\nfixed_in = \"soon\"\n"
        ))
        .unwrap_err();
    assert_err(&e, &ws.bp_path(), 10, 12, &["fixed_in", "is not a version"]);
}
