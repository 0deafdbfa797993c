//! Plans of small blueprint sets written into a temp dir: order, levels, cycles, names,
//! pinned images, and byte-stable output.

use super::*;
use std::path::PathBuf;

const IMAGE: &str =
    "reg.example/corebuild@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn opts() -> PlanOptions {
    PlanOptions {
        image: IMAGE.into(),
        catalog: "registry:127.0.0.1:5000/core".into(),
        insecure: true,
        cache: Some("registry:127.0.0.1:5000/cache".into()),
    }
}

/// `root/bps/<dir>/blueprint.toml` for each (dir, name, base).
fn set(root: &Path, bps: &[(&str, &str, &str)]) -> PathBuf {
    let dir = root.join("bps");
    for (d, name, base) in bps {
        let p = dir.join(d);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("blueprint.toml"),
            format!("name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"d\"\n[base]\nref = \"{base}\"\n"),
        )
        .unwrap();
    }
    dir
}

fn err_text(e: anyhow::Error) -> (i32, String) {
    (crate::error::exit_code(&e), format!("{e:#}"))
}

#[test]
fn chains_become_levels_and_jobs_are_sorted() {
    let t = tempfile::tempdir().unwrap();
    let dir = set(
        t.path(),
        &[
            ("z-top", "top", "catalog:mid:1.0.0"),
            ("mid", "mid", "catalog:root:1.0.0"),
            ("root", "root", "busybox-tiny:1"),
            ("other", "other", "catalog:root:2.0.0"),
            ("nested/leaf", "leaf", "catalog:root:1.0.0"),
        ],
    );
    std::fs::create_dir_all(dir.join(".hidden/x")).unwrap();
    std::fs::write(dir.join(".hidden/x/blueprint.toml"), "not toml [").unwrap();
    let p = plan(&dir, t.path(), &opts()).unwrap();
    assert_eq!(
        p.levels,
        [vec!["other", "root"], vec!["leaf", "mid"], vec!["top"]]
    );
    let top = p.jobs.iter().find(|j| j.name == "top").unwrap();
    assert_eq!((top.level, top.after.clone()), (2, vec!["mid".to_string()]));
    assert_eq!(top.blueprint, "bps/z-top");
    assert_eq!(
        top.command,
        ["corebuild", "release", "--locked", "bps/z-top"]
    );
    assert_eq!(top.env["COREBUILD_INSECURE"], "1");
    // `other` is on a release of root that this set does not build: no order needed.
    assert!(p
        .jobs
        .iter()
        .find(|j| j.name == "other")
        .unwrap()
        .after
        .is_empty());
    let names: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["leaf", "mid", "other", "root", "top"]);
    // Only root is on a store base, which a job's empty store lacks.
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].starts_with("bps/root builds on the store base busybox-tiny:1"));
}

#[test]
fn a_cycle_is_bad_input_naming_its_members() {
    let t = tempfile::tempdir().unwrap();
    let dir = set(
        t.path(),
        &[
            ("a", "a", "catalog:b:1.0.0"),
            ("b", "b", "catalog:c:1.0.0"),
            ("c", "c", "catalog:a:1.0.0"),
            ("d", "d", "catalog:a:1.0.0"),
        ],
    );
    let (code, msg) = err_text(plan(&dir, t.path(), &opts()).unwrap_err());
    assert_eq!(code, 2);
    assert!(
        msg.contains("cycle: a (bps/a) -> b (bps/b) -> c (bps/c) -> a (bps/a)"),
        "{msg}"
    );
}

#[test]
fn bad_sets_and_options_are_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let dir = set(t.path(), &[("a", "a", "busybox-tiny:1"), ("b", "a", "x:1")]);
    let (code, msg) = err_text(plan(&dir, t.path(), &opts()).unwrap_err());
    assert_eq!(code, 2);
    assert!(
        msg.contains("two blueprints are named \"a\": bps/a and bps/b"),
        "{msg}"
    );

    let dir = set(t.path(), &[("c", "c", "busybox-tiny:1")]);
    std::fs::remove_dir_all(dir.join("b")).unwrap();
    for image in [
        "reg.example/corebuild:1",
        "reg.example/corebuild@sha256:0123",
        "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "reg.example/corebuild@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let o = PlanOptions {
            image: image.into(),
            ..opts()
        };
        let (code, msg) = err_text(plan(&dir, t.path(), &o).unwrap_err());
        assert_eq!(code, 2, "{image}");
        assert!(msg.contains("not pinned by digest"), "{msg}");
    }
    let o = PlanOptions {
        cache: Some("127.0.0.1:5000/cache".into()),
        ..opts()
    };
    assert_eq!(err_text(plan(&dir, t.path(), &o).unwrap_err()).0, 2);

    // Outside the run directory, the paths could not be relative.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, msg) = err_text(plan(&dir, elsewhere.path(), &opts()).unwrap_err());
    assert_eq!(code, 2);
    assert!(msg.contains("outside the current directory"), "{msg}");

    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(err_text(plan(&empty, t.path(), &opts()).unwrap_err())
        .1
        .contains("no blueprint.toml"));

    std::fs::create_dir_all(dir.join("broken")).unwrap();
    std::fs::write(dir.join("broken/blueprint.toml"), "name = 1\n").unwrap();
    let (code, msg) = err_text(plan(&dir, t.path(), &opts()).unwrap_err());
    assert_eq!(code, 2);
    assert!(msg.contains("bps/broken"), "{msg}");
}

#[test]
fn every_format_renders_the_same_bytes_twice() {
    let t = tempfile::tempdir().unwrap();
    let dir = set(
        t.path(),
        &[("a", "a", "busybox-tiny:1"), ("b", "b", "catalog:a:1.0.0")],
    );
    for emit in [
        Emit::Json,
        Emit::GithubActions,
        Emit::GitlabCi,
        Emit::K8sJob,
    ] {
        let one = render(&plan(&dir, t.path(), &opts()).unwrap(), emit).unwrap();
        let two = render(&plan(&dir, t.path(), &opts()).unwrap(), emit).unwrap();
        assert_eq!(one, two);
        assert!(one.contains(IMAGE) && !one.contains(&*t.path().to_string_lossy()));
    }
    let k8s = render(&plan(&dir, t.path(), &opts()).unwrap(), Emit::K8sJob).unwrap();
    assert!(k8s.contains("  0) bp='bps/a' ;;"), "{k8s}");
    assert_eq!(k8s.matches("\n---\n").count(), 2, "{k8s}");
}

#[test]
fn big_levels_are_split_for_matrix_limits() {
    let jobs: Vec<Job> = (0..300)
        .map(|i| Job {
            name: format!("bp{i:03}"),
            version: "1.0.0".into(),
            blueprint: format!("bps/bp{i:03}"),
            base: "x:1".into(),
            level: 0,
            after: vec![],
            command: vec![],
            env: BTreeMap::new(),
        })
        .collect();
    let p = Plan {
        plan_version: PLAN_VERSION,
        image: IMAGE.into(),
        catalog: "c".into(),
        cache: None,
        levels: vec![jobs.iter().map(|j| j.name.clone()).collect()],
        jobs,
        warnings: vec![],
    };
    let g = level_groups(&p, 0, 256);
    let sizes: Vec<(&str, usize)> = g.iter().map(|(id, j)| (id.as_str(), j.len())).collect();
    assert_eq!(sizes, [("level-0-part-1", 256), ("level-0-part-2", 44)]);
    assert_eq!(level_groups(&p, 0, 300)[0].0, "level-0");
}
