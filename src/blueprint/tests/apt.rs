//! `[[apt.source]]` and `upgrade`: what loads, and every bad value at its line.

use super::{assert_err, Ws, HEAD};
use crate::blueprint::{Layer, LockedSource};

const ARMORED: &str =
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n";

fn source(extra: &str) -> String {
    format!(
        "{HEAD}[[apt.source]]\nuri = \"http://127.0.0.1:8080/repo/\"\nsuite = \"stable\"\ncomponents = [\"main\"]\n{extra}"
    )
}

#[test]
fn sources_and_upgrade_layers_load() {
    let ws = Ws::new();
    ws.write("blueprints/demo/keys/repo.asc", ARMORED);
    let bp = ws
        .load_bp(&source(
            "signed_by = \"keys/repo.asc\"\n[[apt.source]]\nuri = \"https://deb.example/flat\"\nsuite = \"./\"\n\
             [[layer]]\npackages = []\nupgrade = true\n",
        ))
        .unwrap();
    assert_eq!(bp.apt_sources.len(), 2);
    let s = &bp.apt_sources[0];
    assert_eq!(
        s.uri, "http://127.0.0.1:8080/repo",
        "trailing slash dropped"
    );
    assert_eq!(s.key_sha256.as_deref().map(str::len), Some(64));
    assert!(s.key_is_armored());
    assert!(bp.apt_sources[1].components.is_empty() && bp.apt_sources[1].signed_by.is_none());
    assert!(matches!(&bp.layers[0], Layer::Packages(p) if p.upgrade && p.packages.is_empty()));
    // The lock's record carries the key hash, not the path.
    let locked = LockedSource::of(s);
    assert_eq!(locked.key_sha256, s.key_sha256);
}

#[test]
fn bad_sources_name_the_line() {
    let cases: &[(&str, usize, usize, &[&str])] = &[
        ("[[apt.source]]\nuri = \"ftp://x/debian\"\nsuite = \"s\"\ncomponents = [\"main\"]\n", 8, 7, &["not a plain http"]),
        ("[[apt.source]]\nuri = \"http://user:pw@x/debian\"\nsuite = \"s\"\ncomponents = [\"main\"]\n", 8, 7, &["no credentials"]),
        ("[[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"../etc\"\ncomponents = [\"main\"]\n", 9, 9, &["suite", "characters"]),
        ("[[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"stable\"\n", 9, 9, &["needs `components`"]),
        ("[[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"stable\"\ncomponents = [\"main\"]\nsigned_by = \"nope.asc\"\n", 11, 13, &["nope.asc", "cannot be read", "signed_by"]),
        ("[[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"stable\"\ncomponents = [\"main\"]\nsigned_by = \"m\"\n", 11, 13, &["not an OpenPGP public key"]),
        ("[[layer]]\nrun = [\"true\"]\nupgrade = true\n", 9, 11, &["`upgrade` only applies to a `packages` layer"]),
        ("[[layer]]\npackages = []\n", 8, 12, &["`packages` is empty"]),
    ];
    for (body, line, col, words) in cases {
        let ws = Ws::new();
        ws.write("blueprints/demo/m", "not a key");
        let e = ws.load_bp(&format!("{HEAD}{body}")).unwrap_err();
        assert_err(&e, &ws.bp_path(), *line, *col, words);
    }
}

#[test]
fn one_source_declared_twice_differently_is_a_conflict() {
    let ws = Ws::new();
    ws.write(
        "blueprints/frag.toml",
        "[[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"stable\"\ncomponents = [\"main\", \"contrib\"]\n",
    );
    let e = ws
        .load_bp(
            "name = \"demo\"\nversion = \"1.0.0\"\ndescription = \"d\"\ninclude = [\"../frag.toml\"]\n\
             [base]\nref = \"debian-minbase:12\"\n\
             [[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"stable\"\ncomponents = [\"main\"]\n",
        )
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("also declared at") && text.contains("frag.toml:1"),
        "{text}"
    );
    // The same definition twice is one source.
    ws.write(
        "blueprints/frag.toml",
        "[[apt.source]]\nuri = \"http://x/debian\"\nsuite = \"stable\"\ncomponents = [\"main\"]\n",
    );
    let bp = crate::blueprint::load(&ws.bp_path(), &Default::default()).unwrap();
    assert_eq!(bp.apt_sources.len(), 1);
}
