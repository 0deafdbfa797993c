//! `catalog site`: the static web catalog of a small real catalog (tiny-web released
//! with notes and signed, a third version published without notes, a core build on a
//! revoked release, a fixture `[product]` and `[[known_issue]]`), generated twice for the
//! same bytes, every relative link resolving to a file, and checked in headless Chromium:
//! the index, a version page's notes, contract and packages, the `#q=` package filter, a
//! revoked version's reason, "base revoked", product facts, no console errors; screenshots
//! at 1280 and 390 pixels wide go to target/site-screenshots/.

use crate::browser;
use crate::catalog::{json_of, Project};
use crate::util::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

const TODAY: &str = "2026-06-01";
const REVOKE_REASON: &str = "CVE-2099-1234: curl sends credentials to the wrong host";
/// The reason as pages show it (the CVE id becomes a link).
const REVOKED_WHY: &str = ": curl sends credentials to the wrong host";

/// A dpkg status database listing `pkgs` (name, version) as installed.
fn dpkg_status(pkgs: &[(&str, &str)]) -> String {
    pkgs.iter()
        .map(|(n, v)| {
            format!(
                "Package: {n}\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
                 Maintainer: Fixture <fixture@example.org>\nArchitecture: amd64\nVersion: {v}\n\
                 Description: fixture package {n}\n\n"
            )
        })
        .collect()
}

fn set_version(bp: &Path, version: &str, pkgs: &[(&str, &str)], page: &str) {
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let toml: Vec<String> = toml
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(bp.join("blueprint.toml"), toml.join("\n") + "\n").unwrap();
    std::fs::write(bp.join("files/status"), dpkg_status(pkgs)).unwrap();
    std::fs::write(bp.join("files/index.html"), format!("ok {page}\n")).unwrap();
}

/// tiny-web with a dpkg database (so its SBOM lists packages), product facts and a
/// known issue whose summary tries to inject HTML.
fn fixture_blueprint(bp: &Path) {
    let toml = std::fs::read_to_string(bp.join("blueprint.toml")).unwrap();
    let toml = toml.replace(
        "files = [ { src = \"files/index.html\", dest = \"/var/www/index.html\", mode = \"0644\" } ]",
        "files = [ { src = \"files/index.html\", dest = \"/var/www/index.html\", mode = \"0644\" },\n\
         { src = \"files/status\", dest = \"/var/lib/dpkg/status\", mode = \"0644\" } ]",
    );
    assert!(
        toml.contains("files/status"),
        "the tiny-web blueprint changed: {toml}"
    );
    let toml = toml
        + "\n[product]\nowner = \"Web platform team\"\ncontact = \"#web-platform\"\n\
           bug_tracker = \"https://bugs.example.com/tiny-web\"\n\
           documentation = \"https://docs.example.com/tiny-web\"\n\
           upstream = [\"https://www.debian.org/releases/bookworm/releasenotes\"]\n\n\
           [[known_issue]]\nid = \"TW-17\"\n\
           summary = \"httpd logs nothing <script>alert(1)</script>\"\n\
           workaround = \"read the access log of the proxy in front\"\n";
    std::fs::write(bp.join("blueprint.toml"), toml).unwrap();
}

struct Fixture {
    p: Project,
    spec: String,
}

impl Fixture {
    fn release(&self, extra: &[&str]) -> serde_json::Value {
        json_of(&run_ok(
            self.p
                .cb(&self.spec)
                .arg("release")
                .arg(&self.p.bp)
                .arg("--json")
                .args(extra),
        ))
    }

    fn site(&self, out: &Path) -> serde_json::Value {
        json_of(&run_ok(
            self.p
                .cb(&self.spec)
                .args(["catalog", "site", "--today", TODAY, "--json", "--out"])
                .arg(out),
        ))
    }
}

/// tiny-web 1.0.0 (released with notes, revoked), 1.1.0 (released with notes, signed, on
/// stable, deprecated), 1.2.0 (published with a disk and without notes, on candidate), and
/// mid 1.0.0 built on tiny-web 1.0.0.
fn catalog() -> Fixture {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    std::fs::create_dir_all(p.ws.path().join("proj/release-notes")).unwrap();
    fixture_blueprint(&p.bp);
    let f = Fixture { p, spec };
    let v1 = [
        ("base-files", "12.4+deb12u5"),
        ("curl", "7.88.1-10+deb12u4"),
        ("libcurl4", "7.88.1-10+deb12u4"),
        ("libssl3", "3.0.11-1~deb12u2"),
        ("openssl", "3.0.11-1~deb12u2"),
        ("zlib1g", "1:1.2.13.dfsg-1"),
    ];
    set_version(&f.p.bp, "1.0.0", &v1, "one");
    f.release(&[]);

    let keys = f.p.ws.path().join("keys");
    run_ok(f.p.ws.cb().args(["key", "generate", "--out"]).arg(&keys));
    let v2 = [
        ("base-files", "12.4+deb12u5"),
        ("ca-certificates", "20230311"),
        ("curl", "7.88.1-10+deb12u8"),
        ("libcurl4", "7.88.1-10+deb12u8"),
        ("libssl3", "3.0.11-1~deb12u2"),
        ("openssl", "3.0.11-1~deb12u2"),
    ];
    set_version(&f.p.bp, "1.1.0", &v2, "two");
    let key = keys.join("cosign.key");
    f.release(&["--channel", "stable", "--sign-key", key.to_str().unwrap()]);

    // mid is built on tiny-web 1.0.0, which is revoked afterwards.
    let mid = f.p.ws.blueprint(
        "mid",
        "name = \"mid\"\nversion = \"1.0.0\"\ndescription = \"Built on tiny-web 1.0.0\"\n\
         [base]\nref = \"catalog:tiny-web:1.0.0\"\n\
         [[layer]]\nfiles = [ { src = \"extra\", dest = \"/etc/mid\", mode = \"0644\" } ]\n",
    );
    std::fs::write(mid.join("extra"), "mid\n").unwrap();
    run_ok(f.p.cb(&f.spec).arg("test").arg(&mid));
    run_ok(f.p.cb(&f.spec).arg("publish").arg(&mid));
    run_ok(
        f.p.cb(&f.spec)
            .args(["revoke", "tiny-web:1.0.0", "--reason", REVOKE_REASON]),
    );

    set_version(&f.p.bp, "1.2.0", &v2, "three");
    run_ok(f.p.cb(&f.spec).arg("test").arg(&f.p.bp));
    // A disk travels with it (an empty qcow2 from qemu-img: the site only links it).
    let disk = f.p.ws.path().join("tiny-web.qcow2");
    run_ok(
        std::process::Command::new(require("qemu-img"))
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&disk)
            .arg("1M"),
    );
    run_ok(
        f.p.cb(&f.spec)
            .arg("publish")
            .arg(&f.p.bp)
            .arg("--disk")
            .arg(&disk),
    );
    run_ok(
        f.p.cb(&f.spec)
            .args(["promote", "tiny-web:1.2.0", "candidate"]),
    );
    run_ok(f.p.cb(&f.spec).args([
        "deprecate",
        "tiny-web:1.1.0",
        "--reason",
        "superseded by 1.2.0",
    ]));
    f
}

/// Every `href`/`src` of every HTML file that is not absolute resolves to a file.
fn broken_links(root: &Path) -> Vec<String> {
    let attr = regex::Regex::new(r#"(?:href|src)="([^"]*)""#).unwrap();
    let mut bad = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        if e.path().extension().is_none_or(|x| x != "html") {
            continue;
        }
        let html = std::fs::read_to_string(e.path()).unwrap();
        for c in attr.captures_iter(&html) {
            let url = c[1].replace("&amp;", "&");
            if url.starts_with("https://")
                || url.starts_with("http://")
                || url.starts_with("mailto:")
            {
                continue;
            }
            let path = url.split(['#', '?']).next().unwrap_or_default();
            if path.is_empty() {
                if !url.starts_with('#') {
                    bad.push(format!("{}: empty link {url:?}", e.path().display()));
                }
                continue;
            }
            let target = e.path().parent().unwrap().join(path);
            if !target.is_file() {
                bad.push(format!(
                    "{}: {url} -> {}",
                    e.path().display(),
                    target.display()
                ));
            }
        }
    }
    bad
}

fn url(root: &Path, rel: &str) -> String {
    format!("file://{}/{rel}", root.display())
}

fn loaded(root: &Path, rel: &str) -> browser::Loaded {
    let l = browser::load(&url(root, rel));
    assert!(
        l.console.is_empty(),
        "console messages on {rel}: {:?}",
        l.console
    );
    l
}

/// (package, hidden) of every row of the package table in a dumped DOM.
fn package_rows(dom: &str) -> Vec<(String, bool)> {
    let row = regex::Regex::new(r#"<tr data-pkg="([^"]*)"( hidden="")?>"#).unwrap();
    row.captures_iter(dom)
        .map(|c| (c[1].to_string(), c.get(2).is_some()))
        .collect()
}

#[test]
fn the_site_shows_the_catalog_the_same_bytes_every_time_and_works_in_a_browser() {
    let f = catalog();
    let ws = f.p.ws.path();
    let (a, b) = (ws.join("site-a"), ws.join("site-b"));
    let t = Instant::now();
    let s = f.site(&a);
    let took = t.elapsed();
    eprintln!(
        "site of {} versions generated in {took:?}: {s}",
        s["versions"]
    );
    assert_eq!(s["core_builds"], 2, "{s}");
    assert_eq!(s["versions"], 4, "{s}");
    assert_eq!(s["pages"], 1 + 2 + 4, "{s}");
    f.site(&b);
    assert_eq!(tree_state(&a), tree_state(&b), "two runs, different bytes");
    // Regenerating into an existing site replaces it, with the same bytes.
    f.site(&a);
    assert_eq!(tree_state(&a), tree_state(&b));
    let foreign = ws.join("proj");
    let mut c = f.p.cb(&f.spec);
    c.args(["catalog", "site", "--out"]).arg(&foreign);
    fails_with(c, 2, "neither empty nor a site");
    let mut c = f.p.cb(&f.spec);
    c.args(["catalog", "site", "--today", "2026-02-30", "--out"])
        .arg(ws.join("x"));
    fails_with(c, 2, "--today");

    let bad = broken_links(&a);
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
    let files: BTreeSet<String> = walkdir::WalkDir::new(a.join("files"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for ext in [
        ".spdx.json",
        ".intoto.json",
        ".md",
        ".qcow2",
        ".openvex.json",
    ] {
        assert!(
            files.iter().any(|n| n.ends_with(ext)),
            "no {ext} file in {files:?}"
        );
    }
    let v110 = std::fs::read_to_string(a.join("builds/tiny-web/1.1.0.html")).unwrap();
    assert!(
        v110.contains("Signature manifest (cosign)"),
        "the signed release links its signatures"
    );
    assert!(!v110.contains("<script>alert"), "blueprint text is escaped");
    let v120 = std::fs::read_to_string(a.join("builds/tiny-web/1.2.0.html")).unwrap();
    assert!(v120.contains("No release notes are attached"), "{v120}");

    browser::console_check_works(ws);
    let index = loaded(&a, "index.html");
    for name in ["tiny-web", "mid"] {
        assert!(
            index.dom.contains(&format!("href=\"builds/{name}.html\"")),
            "the index lists {name}"
        );
    }
    assert!(
        index.dom.contains("Busybox httpd serving"),
        "descriptions are shown"
    );
    assert!(
        index.dom.contains("BASE REVOKED"),
        "mid stands on a revoked base"
    );

    let page = loaded(&a, "builds/tiny-web/1.1.0.html");
    let dom = &page.dom;
    assert!(dom.contains("<h2 id=\"release-notes\">Release notes</h2>"));
    assert!(
        dom.contains("Changes since 1.0.0"),
        "the release notes are rendered"
    );
    assert!(
        dom.contains("Suite posix-base"),
        "the contract is shown in words"
    );
    assert!(dom.contains("DEPRECATED") && dom.contains("superseded by 1.2.0"));
    assert!(dom.contains("https://security-tracker.debian.org/tracker/curl"));
    assert!(dom.contains("TW-17") && dom.contains("https://bugs.example.com/tiny-web"));
    let rows = package_rows(dom);
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows.iter().all(|(_, hidden)| !hidden), "{rows:?}");
    assert!(
        dom.contains("<td>changed</td>")
            && dom.contains("<td>removed</td>")
            && dom.contains("<td>added</td>")
    );

    let searched = loaded(&a, "builds/tiny-web/1.1.0.html#q=curl");
    let rows = package_rows(&searched.dom);
    let shown: Vec<&str> = rows.iter().filter(|r| !r.1).map(|r| r.0.as_str()).collect();
    assert_eq!(shown, ["curl", "libcurl4"], "{rows:?}");
    assert!(
        searched.dom.contains("2 of 6 packages match"),
        "the count follows the filter"
    );

    let revoked = loaded(&a, "builds/tiny-web/1.0.0.html");
    assert!(revoked.dom.contains("This version is revoked"));
    assert!(revoked.dom.contains(REVOKED_WHY));
    assert!(revoked.dom.contains(
        "<a href=\"https://security-tracker.debian.org/tracker/CVE-2099-1234\">CVE-2099-1234</a>"
    ));
    assert!(revoked.dom.contains("This is the first release"));
    let mid = loaded(&a, "builds/mid/1.0.0.html");
    assert!(mid.dom.contains("This version is built on a revoked base"));
    assert!(mid.dom.contains(REVOKED_WHY));
    let build = loaded(&a, "builds/tiny-web.html");
    assert!(build.dom.contains("TW-17") && build.dom.contains("https://bugs.example.com/tiny-web"));
    assert!(build.dom.contains("<svg class=\"timeline\""));
    assert!(build.dom.contains("REVOKED") && build.dom.contains("DEPRECATED"));

    let shots = repo_root().join("target/site-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut written: Vec<PathBuf> = Vec::new();
    for (rel, stem) in [
        ("index.html", "index"),
        ("builds/tiny-web/1.1.0.html", "version"),
    ] {
        for (w, h) in [(1280, 2400), (390, 3200)] {
            let png = shots.join(format!("{stem}-{w}.png"));
            browser::screenshot(&url(&a, rel), w, h, &png);
            written.push(png);
        }
    }
    for p in &written {
        eprintln!("screenshot: {}", p.display());
    }
}
