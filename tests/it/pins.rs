//! `pins check`: real releases in a layout catalog (and one in a docker-registry), the
//! files app teams keep (a Dockerfile, a Deployment, a Compose file, a plain list), the
//! verdicts and exit codes, `--fix` changing only the pinned references, and a revoked
//! base reaching the pins of its dependents.

use crate::catalog::{json_of, Project};
use crate::dependents::on;
use crate::registry::Registry;
use crate::util::*;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn digest_of(o: &Output) -> String {
    json_of(o)["digest"].as_str().unwrap().to_string()
}

/// Publishes the project at `version` (with `eos` as its end of support) and returns its digest.
fn release(p: &Project, spec: &str, version: &str, eos: &str) -> String {
    let toml = std::fs::read_to_string(p.bp.join("blueprint.toml")).unwrap();
    let toml: String = toml
        .lines()
        .map(|l| {
            if l.starts_with("end_of_support") {
                format!("end_of_support = \"{eos}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(p.bp.join("blueprint.toml"), toml).unwrap();
    p.candidate(version, version);
    digest_of(&run_ok(p.cb(spec).arg("publish").arg(&p.bp).arg("--json")))
}

fn check(p: &Project, spec: &str, args: &[&str]) -> (i32, Value) {
    let o = p
        .cb(spec)
        .args(["pins", "check", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "exit {:?}\n{}",
        o.status.code(),
        stderr(&o)
    );
    (o.status.code().unwrap(), json_of(&o))
}

/// (file name, line, reference, verdict) of every pin.
fn verdicts(v: &Value) -> Vec<(String, u64, String, String)> {
    v["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let file = p["file"].as_str().unwrap();
            (
                Path::new(file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into(),
                p["line"].as_u64().unwrap(),
                p["reference"].as_str().unwrap().to_string(),
                p["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pin<'a>(v: &'a Value, reference: &str) -> &'a Value {
    v["pins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["reference"] == reference)
        .unwrap_or_else(|| panic!("no pin {reference} in {v:#}"))
}

struct Releases {
    eol: String,
    deprecated: String,
    revoked: String,
    stable: String,
    mid: String,
}

/// tiny-web 0.9.0 (end of support in the past), 1.0.0 (deprecated), 1.1.0 (revoked, after
/// `mid` was built on it), 1.2.0 (on stable).
fn catalog(p: &Project, spec: &str) -> Releases {
    let eol = release(p, spec, "0.9.0", "2020-01-31");
    let deprecated = release(p, spec, "1.0.0", "2030-01-31");
    let revoked = release(p, spec, "1.1.0", "2030-01-31");
    let stable = release(p, spec, "1.2.0", "2030-01-31");
    let mid = on(p, "mid", "tiny-web:1.1.0");
    run_ok(p.cb(spec).arg("test").arg(&mid));
    let mid = digest_of(&run_ok(p.cb(spec).arg("publish").arg(&mid).arg("--json")));
    run_ok(
        p.cb(spec)
            .args(["deprecate", "tiny-web:1.0.0", "--reason", "use 1.2"]),
    );
    run_ok(
        p.cb(spec)
            .args(["revoke", "tiny-web:1.1.0", "--reason", "CVE-2099-1"]),
    );
    run_ok(p.cb(spec).args(["promote", "tiny-web:1.2.0", "stable"]));
    Releases {
        eol,
        deprecated,
        revoked,
        stable,
        mid,
    }
}

#[test]
fn pins_check_judges_the_files_app_teams_keep_and_fix_changes_only_the_pins() {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    let r = catalog(&p, &spec);
    let unknown = format!("sha256:{}", "0".repeat(64));
    let app = p.ws.path().join("app");
    std::fs::create_dir_all(app.join("deploy")).unwrap();
    std::fs::create_dir_all(app.join(".git")).unwrap();
    let files = [
        (
            "Dockerfile",
            format!(
                "# syntax=docker/dockerfile:1\nARG TAG=1.2.0\n\
                 FROM --platform=linux/amd64 tiny-web:1.2.0@{} AS build\nRUN echo hi\n\
                 from tiny-web:${{TAG}}\nFROM \\\n    tiny-web:1.0.0@{}  \\\n    AS final\n\
                 COPY --from=build /x /x\n",
                r.stable, r.deprecated
            ),
        ),
        (
            "deploy/app.yaml",
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n\
                 \x20     initContainers:\n      - name: init\n        image: \"registry.example/core/tiny-web:1.1.0@{}\"\n\
                 \x20     containers:\n      - image: tiny-web:1.2.0   # the web\n        name: web\n\
                 \x20     - name: side\n        image: docker.io/library/busybox:1.36\n",
                r.revoked
            ),
        ),
        (
            "compose.yml",
            format!(
                "services:\r\n  web:\r\n    image: 'tiny-web@{unknown}'\r\n  db:\r\n    image: postgres:16\r\n  mid:\r\n    image: mid:1.0.0@{}\r\n",
                r.mid
            ),
        ),
        (
            "pins.list",
            format!("# our pins\n\ntiny-web:0.9.0@{}\ntiny-web:2.0.0\n", r.eol),
        ),
        (".git/x.yaml", format!("image: tiny-web:1.1.0@{}\n", r.revoked)),
    ];
    for (f, text) in &files {
        std::fs::write(app.join(f), text).unwrap();
    }

    let (code, v) = check(&p, &spec, &[app.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let s = |x: &str| x.to_string();
    assert_eq!(
        verdicts(&v),
        vec![
            (
                s("Dockerfile"),
                3,
                format!("tiny-web:1.2.0@{}", r.stable),
                s("ok")
            ),
            (
                s("Dockerfile"),
                7,
                format!("tiny-web:1.0.0@{}", r.deprecated),
                s("deprecated")
            ),
            (
                s("compose.yml"),
                3,
                format!("tiny-web@{unknown}"),
                s("unknown")
            ),
            (
                s("compose.yml"),
                7,
                format!("mid:1.0.0@{}", r.mid),
                s("base-revoked")
            ),
            (
                s("app.yaml"),
                10,
                format!("registry.example/core/tiny-web:1.1.0@{}", r.revoked),
                s("revoked")
            ),
            (s("app.yaml"), 12, s("tiny-web:1.2.0"), s("tag-only")),
            (
                s("pins.list"),
                3,
                format!("tiny-web:0.9.0@{}", r.eol),
                s("end-of-life")
            ),
            (s("pins.list"), 4, s("tiny-web:2.0.0"), s("unknown")),
        ]
    );
    let revoked = pin(
        &v,
        &format!("registry.example/core/tiny-web:1.1.0@{}", r.revoked),
    );
    assert!(
        revoked["reason"].as_str().unwrap().contains("CVE-2099-1"),
        "{revoked}"
    );
    assert_eq!(revoked["column"], 17);
    assert_eq!(revoked["name"], "tiny-web");
    assert_eq!(revoked["version"], "1.1.0");
    assert_eq!(
        revoked["suggestion"],
        format!("registry.example/core/tiny-web:1.2.0@{}", r.stable)
    );
    let tag = pin(&v, "tiny-web:1.2.0");
    assert_eq!(tag["status"], "released");
    assert_eq!(tag["digest"], r.stable.as_str());
    let eol = pin(&v, &format!("tiny-web:0.9.0@{}", r.eol));
    assert!(
        eol["reason"].as_str().unwrap().contains("2020-01-31"),
        "{eol}"
    );
    // mid has no stable channel: said, nothing suggested.
    let mid = pin(&v, &format!("mid:1.0.0@{}", r.mid));
    assert_eq!(mid["suggestion"], Value::Null);
    let why = mid["reason"].as_str().unwrap();
    assert!(
        why.contains("tiny-web:1.1.0") && why.contains("CVE-2099-1"),
        "{why}"
    );
    assert!(why.contains("no release of mid on channel stable"), "{why}");
    assert_eq!(v["summary"]["revoked"], 1);
    assert_eq!(v["summary"]["unknown"], 2);
    assert_eq!(v["exit_code"], 1);
    let skipped: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reference"].as_str().unwrap())
        .collect();
    for s in [
        "tiny-web:${TAG}",
        "build",
        "postgres:16",
        "docker.io/library/busybox:1.36",
    ] {
        assert!(skipped.contains(&s), "{s} not in {skipped:?}");
    }

    // Human output: one line a pin, the build argument, a summary; exit 1.
    let o = p
        .cb(&spec)
        .args(["pins", "check"])
        .arg(&app)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "compose.yml:7: mid:1.0.0@{}  base-revoked  (mid:1.0.0: base revoked",
            r.mid
        )),
        "{out}"
    );
    assert!(
        out.contains("tiny-web:${TAG}  not checked (build argument)"),
        "{out}"
    );
    assert!(out.contains("8 pins checked"), "{out}");

    // Deprecated, tag-only and unknown alone pass (exit 0).
    let (code, _) = check(&p, &spec, &[app.join("Dockerfile").to_str().unwrap()]);
    assert_eq!(code, 0);

    // --fix: every byte but the pinned references stays; then the check passes, except
    // mid, which has nothing to move to.
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|(f, _)| std::fs::read(app.join(f)).unwrap())
        .collect();
    let mode = |f: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(app.join(f)).unwrap().permissions().mode()
    };
    std::fs::set_permissions(
        app.join("pins.list"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (code, v) = check(
        &p,
        &spec,
        &[app.to_str().unwrap(), "--fix", "--channel", "stable"],
    );
    assert_eq!(code, 1, "mid stays base-revoked: {v:#}");
    assert_eq!(v["fixed"].as_array().unwrap().len(), 6, "{v:#}");
    let stable = |repo: &str| format!("{repo}:1.2.0@{}", r.stable);
    let expect = |i: usize, swaps: &[(String, String)]| {
        let mut t = String::from_utf8(before[i].clone()).unwrap();
        for (from, to) in swaps {
            assert!(t.contains(from.as_str()));
            t = t.replace(from.as_str(), to);
        }
        assert_eq!(
            std::fs::read_to_string(app.join(files[i].0)).unwrap(),
            t,
            "{}",
            files[i].0
        );
    };
    expect(
        0,
        &[(
            format!("tiny-web:1.0.0@{}", r.deprecated),
            stable("tiny-web"),
        )],
    );
    expect(
        1,
        &[
            (
                format!("registry.example/core/tiny-web:1.1.0@{}", r.revoked),
                stable("registry.example/core/tiny-web"),
            ),
            (
                "tiny-web:1.2.0   #".into(),
                format!("{}   #", stable("tiny-web")),
            ),
        ],
    );
    expect(2, &[(format!("tiny-web@{unknown}"), stable("tiny-web"))]);
    expect(
        3,
        &[
            (format!("tiny-web:0.9.0@{}", r.eol), stable("tiny-web")),
            (
                "tiny-web:2.0.0\n".into(),
                format!("{}\n", stable("tiny-web")),
            ),
        ],
    );
    assert_eq!(
        std::fs::read(app.join(".git/x.yaml")).unwrap(),
        before[4],
        "hidden dirs are not read"
    );
    assert_eq!(mode("pins.list") & 0o777, 0o600, "--fix keeps the mode");
    assert_eq!(v["summary"]["ok"], 7, "{v:#}");
    assert_eq!(v["summary"]["base-revoked"], 1, "{v:#}");

    // Without the dependent, the rerun passes.
    std::fs::write(app.join("compose.yml"), "services: {}\n").unwrap();
    let (code, v) = check(&p, &spec, &[app.to_str().unwrap()]);
    assert_eq!((code, v["summary"]["ok"].as_u64()), (0, Some(6)), "{v:#}");

    // Bad input names the path (2); a catalog that is not there is the environment (3).
    let mut c = p.cb(&spec);
    c.args(["pins", "check"]).arg(app.join("nope.yaml"));
    fails_with(c, 2, "nope.yaml");
    let mut c = p.cb(&spec);
    c.args(["pins", "check", "--catalog", "oci-layout:/nonexistent/cat"])
        .arg(&app);
    fails_with(c, 3, "/nonexistent/cat");
}

#[test]
fn a_revoked_base_fails_the_pins_of_its_dependents() {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    p.candidate("1.0.0", "one");
    run_ok(p.cb(&spec).arg("publish").arg(&p.bp));
    let top = on(&p, "top", "tiny-web:1.0.0");
    run_ok(p.cb(&spec).arg("test").arg(&top));
    let d = digest_of(&run_ok(p.cb(&spec).arg("publish").arg(&top).arg("--json")));
    let df = p.ws.path().join("Dockerfile");
    std::fs::write(&df, format!("FROM top:1.0.0@{d}\nRUN true\n")).unwrap();
    let o = run_ok(p.cb(&spec).args(["pins", "check"]).arg(&df));
    assert!(
        stdout(&o).contains("top:1.0.0@") && stdout(&o).contains("  ok"),
        "{}",
        stdout(&o)
    );

    run_ok(
        p.cb(&spec)
            .args(["revoke", "tiny-web:1.0.0", "--reason", "CVE-2099-7"]),
    );
    let deps = stdout(&run_ok(p.cb(&spec).args([
        "catalog",
        "dependents",
        "tiny-web:1.0.0",
    ])));
    assert!(deps.contains(&format!("top:1.0.0 {d}")), "{deps}");
    let o = p
        .cb(&spec)
        .args(["pins", "check"])
        .arg(&df)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("base-revoked")
            && out.contains("tiny-web:1.0.0")
            && out.contains("CVE-2099-7"),
        "{out}"
    );
}

#[test]
fn a_registry_catalog_matches_host_port_namespace_and_name() {
    let reg = Registry::start();
    let p = Project::new();
    let spec = reg.spec("core");
    let d = release(&p, &spec, "1.0.0", "2030-01-31");
    run_ok(p.cb(&spec).args(["promote", "tiny-web:1.0.0", "stable"]));
    let list = p.ws.path().join("images.pins");
    let full = format!("{}/core/tiny-web", reg.addr);
    std::fs::write(
        &list,
        format!(
            "{full}:1.0.0@{d}\n{full}:1.0.0\ntiny-web:1.0.0@{d}\n{}/other/tiny-web:1.0.0\n",
            reg.addr
        ),
    )
    .unwrap();
    let (code, v) = check(&p, &spec, &[list.to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        verdicts(&v).into_iter().map(|x| x.3).collect::<Vec<_>>(),
        ["ok", "tag-only"],
        "only {full} is the core build: {v:#}"
    );
    assert_eq!(
        pin(&v, &format!("{full}:1.0.0"))["suggestion"],
        format!("{full}:1.0.0@{d}")
    );
    assert_eq!(v["skipped"].as_array().unwrap().len(), 2, "{v:#}");
}
