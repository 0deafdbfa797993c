//! `corebuild plan`: the emitted GitHub Actions, GitLab CI and Kubernetes files pass the
//! real validators offline (check-jsonschema's vendored schemas, kubernetes-validate's
//! bundled ones), jobs come in base order, the same set gives the same bytes from two
//! checkout paths, and cycles, unpinned images and broken blueprints are bad input.

use crate::util::*;
use std::path::Path;
use std::process::Command;

pub const IMAGE: &str = "registry.example/corebuild@sha256:6f1c2d3e4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";

/// A checkout with `blueprints/`: `web` on a store base, `app` on `catalog:web:1.0.0`,
/// `tools` on its own, and `bases/` holding scripts only.
fn checkout(root: &Path) {
    let bp = |dir: &str, name: &str, base: &str| {
        let d = root.join("blueprints").join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("blueprint.toml"),
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"d\"\n[base]\nref = \"{base}\"\n\
                 [[layer]]\nrun = [\"/bin/sh\", \"-c\", \"echo {name} > /etc/{name}\"]\n"
            ),
        )
        .unwrap();
    };
    bp("web", "web", "busybox-tiny:1");
    bp("app", "app", "catalog:web:1.0.0");
    bp("tools", "tools", "busybox-tiny:1");
    std::fs::create_dir_all(root.join("blueprints/bases")).unwrap();
    std::fs::write(root.join("blueprints/bases/make.sh"), "#!/bin/sh\n").unwrap();
}

fn plan_cmd(ws: &Ws, cwd: &Path, emit: &str) -> Command {
    let mut c = ws.cb();
    c.current_dir(cwd)
        .env_remove("COREBUILD_CATALOG")
        .env_remove("COREBUILD_CACHE")
        .env_remove("COREBUILD_INSECURE")
        .env("COREBUILD_IMAGE", IMAGE)
        .args(["plan", "blueprints", "--emit", emit])
        .args(["--catalog", "registry:registry.example/core"])
        .args(["--cache", "registry:registry.example/cache"]);
    c
}

fn validate(tool: &str, args: &[&str], file: &Path) {
    let o = Command::new(require(tool))
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{tool} rejected {}:\n{}{}\n{}",
        file.display(),
        stdout(&o),
        stderr(&o),
        std::fs::read_to_string(file).unwrap()
    );
}

#[test]
fn emitted_files_validate_and_keep_base_order() {
    let ws = Ws::new();
    let one = ws.path().join("one");
    checkout(&one);
    let formats = [
        ("json", "plan.json"),
        ("github-actions", "fanout.yml"),
        ("gitlab-ci", ".gitlab-ci.yml"),
        ("k8s-job", "jobs.yaml"),
    ];
    for (emit, file) in formats {
        run_ok(plan_cmd(&ws, &one, emit).args(["--out", file]));
    }
    validate(
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-workflows"],
        &one.join("fanout.yml"),
    );
    validate(
        "check-jsonschema",
        &["--builtin-schema", "vendor.gitlab-ci"],
        &one.join(".gitlab-ci.yml"),
    );
    validate(
        "kubernetes-validate",
        &["--kubernetes-version", "1.33.0", "--strict"],
        &one.join("jobs.yaml"),
    );

    // The order: app (on catalog:web:1.0.0) one level after web, in every format.
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(one.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["plan_version"], 1);
    assert_eq!(
        plan["levels"],
        serde_json::json!([["tools", "web"], ["app"]])
    );
    let app = &plan["jobs"][0];
    assert_eq!(app["name"], "app");
    assert_eq!(app["after"], serde_json::json!(["web"]));
    assert_eq!(
        app["command"],
        serde_json::json!(["corebuild", "release", "--locked", "blueprints/app"])
    );
    assert_eq!(
        app["env"]["COREBUILD_CACHE"],
        "registry:registry.example/cache"
    );
    let gh = std::fs::read_to_string(one.join("fanout.yml")).unwrap();
    let level1 = &gh[gh.find("\n  level-1:\n").expect("a level-1 job")..];
    assert!(level1.contains("    needs:\n      - level-0\n"), "{gh}");
    assert!(level1.contains("blueprint: blueprints/app"), "{gh}");
    assert!(gh.contains(&format!("image: {IMAGE}")), "{gh}");
    let gl = std::fs::read_to_string(one.join(".gitlab-ci.yml")).unwrap();
    assert!(gl.contains("stages:\n  - level-0\n  - level-1\n"), "{gl}");
    let k8s = std::fs::read_to_string(one.join("jobs.yaml")).unwrap();
    let (l0, l1) = (
        k8s.find("name: corebuild-level-0").unwrap(),
        k8s.find("name: corebuild-level-1").unwrap(),
    );
    assert!(
        l0 < l1 && k8s[l1..].contains("0) bp='blueprints/app'"),
        "{k8s}"
    );
    assert!(k8s.contains("completionMode: Indexed") && k8s.contains("completions: 2"));

    // Another checkout path, another run: the same bytes; stdout is the --out file.
    let two = ws.path().join("elsewhere/two");
    checkout(&two);
    for (emit, file) in formats {
        let o = run_ok(&mut plan_cmd(&ws, &two, emit));
        assert_eq!(
            o.stdout,
            std::fs::read(one.join(file)).unwrap(),
            "{emit} differs between checkouts"
        );
        assert!(
            stderr(&o).contains("warning: blueprints/web builds on the store base busybox-tiny:1"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn cycles_unpinned_images_and_broken_blueprints_are_bad_input() {
    let ws = Ws::new();
    let root = ws.path().join("co");
    checkout(&root);
    let mut c = plan_cmd(&ws, &root, "json");
    c.env("COREBUILD_IMAGE", "registry.example/corebuild:latest");
    fails_with(c, 2, "is not pinned by digest");

    let web = root.join("blueprints/web/blueprint.toml");
    let text = std::fs::read_to_string(&web).unwrap();
    std::fs::write(&web, text.replace("busybox-tiny:1", "catalog:app:1.0.0")).unwrap();
    fails_with(
        plan_cmd(&ws, &root, "github-actions"),
        2,
        "cycle: app (blueprints/app) -> web (blueprints/web) -> app",
    );

    std::fs::write(&web, "name = \"web\"\nversion = 1\n").unwrap();
    fails_with(plan_cmd(&ws, &root, "k8s-job"), 2, "blueprints/web");
}
