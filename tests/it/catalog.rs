//! The catalog against a real docker-registry and an OCI layout, the same scenarios on
//! both: publish (gate, no-op re-publish, refused conflicting re-publish), promote,
//! rollback, deprecate, revoke, resolve, pull, artifacts found from the digest alone,
//! concurrent promoters, a fault proxy, kill -9 mid-publish, auth, catalog bases, SBOM.

use crate::registry::{FaultProxy, Faults, Registry};
use crate::util::*;
use corebuild::catalog::{self, OpenOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A workspace with the busybox base and the tiny-web project, ready to test versions.
pub struct Project {
    pub ws: Ws,
    pub bp: PathBuf,
}

impl Project {
    pub fn new() -> Project {
        let ws = Ws::new();
        ws.tiny_base();
        let bp = ws.project_blueprint("tiny-web");
        Project { ws, bp }
    }

    /// Sets the blueprint's version (and page), runs the contract suites (which builds
    /// it and stores the report), and returns the candidate digest.
    pub fn candidate(&self, version: &str, page: &str) -> String {
        let toml = std::fs::read_to_string(self.bp.join("blueprint.toml")).unwrap();
        let mut lines: Vec<String> = toml.lines().map(str::to_string).collect();
        for l in &mut lines {
            if l.starts_with("version = ") {
                *l = format!("version = \"{version}\"");
            }
        }
        std::fs::write(self.bp.join("blueprint.toml"), lines.join("\n") + "\n").unwrap();
        // The httpd-service suite wants "ok" in the page.
        std::fs::write(self.bp.join("files/index.html"), format!("ok {page}")).unwrap();
        let o = run_ok(self.ws.cb().arg("test").arg(&self.bp).arg("--json"));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        r["candidate"].as_str().unwrap().to_string()
    }

    pub fn cb(&self, spec: &str) -> Command {
        let mut c = self.ws.cb();
        c.env("COREBUILD_CATALOG", spec)
            .env("COREBUILD_INSECURE", "1")
            .env("DOCKER_CONFIG", self.ws.path().join("docker"));
        c
    }
}

pub fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

fn resolve(p: &Project, spec: &str, r: &str) -> String {
    stdout(&run_ok(p.cb(spec).args(["catalog", "resolve", r])))
        .trim()
        .to_string()
}

/// The whole release story on one catalog.
fn release_story(spec: &str, registry: Option<&Registry>) {
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "<html>one</html>\n");

    // Publish: the gate passed (test ran), blobs and manifest pushed, tag last.
    let o = json_of(&run_ok(p.cb(spec).arg("publish").arg(&p.bp).arg("--json")));
    assert_eq!(o["digest"], d1.as_str());
    assert_eq!(o["already_published"], false);
    let types: Vec<&str> = o["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["artifact_type"].as_str().unwrap())
        .collect();
    for t in [
        "application/vnd.corebuild.contract-report.v1+json",
        "application/spdx+json",
        "application/vnd.in-toto+json",
        "application/vnd.openvex+json",
    ] {
        assert!(types.contains(&t), "{types:?}");
    }
    // Re-publish: a no-op success, by blueprint or by store reference.
    let again = json_of(&run_ok(p.cb(spec).arg("publish").arg(&p.bp).arg("--json")));
    assert_eq!(again["already_published"], true);
    assert_eq!(again["digest"], d1.as_str());
    run_ok(p.cb(spec).args(["publish", "tiny-web:1.0.0"]));

    // A different image under the same version is refused, and nothing changes.
    let other = p.candidate("1.0.0", "<html>changed</html>\n");
    assert_ne!(other, d1);
    let mut c = p.cb(spec);
    c.arg("publish").arg(&p.bp);
    fails_with(c, 1, "bump the version");
    assert_eq!(
        resolve(&p, spec, "tiny-web:1.0.0"),
        format!("tiny-web@{d1}")
    );

    // A candidate without a passing report is refused by the gate, naming the suite.
    let toml = std::fs::read_to_string(p.bp.join("blueprint.toml")).unwrap();
    std::fs::write(
        p.bp.join("blueprint.toml"),
        toml.replace("version = \"1.0.0\"", "version = \"0.9.0\""),
    )
    .unwrap();
    run_ok(p.ws.cb().arg("build").arg(&p.bp));
    let mut c = p.cb(spec);
    c.arg("publish").arg(&p.bp);
    fails_with(c, 1, "gate refused");

    let d2 = p.candidate("1.1.0", "<html>two</html>\n");
    run_ok(p.cb(spec).arg("publish").arg(&p.bp));

    // Channels: promote by digest, roll back to the previous assignment.
    run_ok(
        p.cb(spec)
            .args(["promote", "tiny-web:1.0.0", "stable", "--reason", "first"]),
    );
    run_ok(
        p.cb(spec)
            .args(["promote", "tiny-web:1.1.0", "stable", "--reason", "second"]),
    );
    run_ok(p.cb(spec).args(["promote", "tiny-web:1.1.0", "candidate"]));
    assert_eq!(
        resolve(&p, spec, "tiny-web@stable"),
        format!("tiny-web@{d2}")
    );
    run_ok(
        p.cb(spec)
            .args(["rollback", "tiny-web", "stable", "--reason", "regression"]),
    );
    assert_eq!(
        resolve(&p, spec, "tiny-web@stable"),
        format!("tiny-web@{d1}")
    );
    let mut c = p.cb(spec);
    c.args(["rollback", "tiny-web", "stable"]);
    fails_with(c, 1, "no previous assignment");

    // Deprecated warns; revoked fails unless --allow-revoked, and leaves its channels.
    run_ok(
        p.cb(spec)
            .args(["deprecate", "tiny-web:1.1.0", "--reason", "use 1.2"]),
    );
    let o = run_ok(
        p.cb(spec)
            .args(["catalog", "resolve", "tiny-web@candidate"]),
    );
    assert!(stderr(&o).contains("deprecated: use 1.2"), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), format!("tiny-web@{d2}"));
    run_ok(
        p.cb(spec)
            .args(["revoke", "tiny-web:1.0.0", "--reason", "CVE-2099-1"]),
    );
    let mut c = p.cb(spec);
    c.args(["catalog", "resolve", "tiny-web:1.0.0"]);
    fails_with(c, 1, "revoked: CVE-2099-1");
    let o = run_ok(
        p.cb(spec)
            .args(["catalog", "resolve", "tiny-web:1.0.0", "--allow-revoked"]),
    );
    assert!(stderr(&o).contains("revoked"));
    let mut c = p.cb(spec);
    c.args(["catalog", "resolve", "tiny-web@stable"]);
    fails_with(c, 1, "empty");
    let mut c = p.cb(spec);
    c.args(["promote", "tiny-web:1.0.0", "stable"]);
    fails_with(c, 1, "cannot be assigned");

    // The listing: versions, digests, status, channels, support dates, history.
    let list = json_of(&run_ok(
        p.cb(spec).args(["catalog", "list", "tiny-web", "--json"]),
    ));
    let s = &list[0];
    let rel = s["releases"].as_array().unwrap();
    assert_eq!(rel.len(), 2, "{s}");
    assert_eq!(rel[0]["version"], "1.0.0");
    assert_eq!(rel[0]["digest"], d1.as_str());
    assert_eq!(rel[0]["status"], "revoked");
    assert_eq!(rel[1]["status"], "deprecated");
    assert_eq!(rel[1]["end_of_support"], "2027-06-30");
    assert_eq!(rel[1]["released"], "2025-01-01T00:00:00Z");
    assert_eq!(rel[1]["channels"], serde_json::json!(["candidate"]));
    let stable = s["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "stable")
        .unwrap();
    let actions: Vec<&str> = stable["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["promoted", "promoted", "rolled-back", "revoked"]);
    assert_eq!(stable["history"][2]["reason"], "regression");
    let human = stdout(&run_ok(p.cb(spec).args(["catalog", "list"])));
    assert!(
        human.contains("tiny-web") && human.contains("revoked"),
        "{human}"
    );

    // Pull back and compare digests (skopeo reads the layout independently).
    let out = p.ws.path().join("pulled");
    run_ok(
        p.cb(spec)
            .args(["pull", "tiny-web@candidate", "--out"])
            .arg(&out),
    );
    let inspect = run_ok(
        Command::new(require("skopeo"))
            .arg("inspect")
            .arg(format!("oci:{}:1.1.0", out.display())),
    );
    assert_eq!(json_of(&inspect)["Digest"], d2.as_str());
    let mut c = p.cb(spec);
    c.args(["pull", "tiny-web:1.0.0", "--out"])
        .arg(p.ws.path().join("no"));
    fails_with(c, 1, "revoked");

    // The SBOM and provenance are found from the image digest alone.
    let by_digest = format!("tiny-web@{d2}");
    let sbom = json_of(&run_ok(p.cb(spec).args([
        "catalog",
        "artifacts",
        &by_digest,
        "--type",
        "application/spdx+json",
        "--content",
    ])));
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    assert!(sbom["documentNamespace"]
        .as_str()
        .unwrap()
        .ends_with(&d2[7..]));
    assert_eq!(
        sbom["packages"][0]["checksums"][0]["checksumValue"],
        &d2[7..]
    );
    let prov = json_of(&run_ok(p.cb(spec).args([
        "catalog",
        "artifacts",
        &by_digest,
        "--type",
        "application/vnd.in-toto+json",
        "--content",
    ])));
    assert_eq!(prov["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(prov["subject"][0]["digest"]["sha256"], &d2[7..]);
    let deps = prov["predicate"]["buildDefinition"]["resolvedDependencies"].to_string();
    assert!(
        deps.contains("\"base\"") && deps.contains("blueprint.toml"),
        "{deps}"
    );

    if let Some(reg) = registry {
        // Plain clients: skopeo finds our digest at HOST/NS/NAME:VERSION, and the
        // referrers under the OCI 1.1 fallback tag sha256-<hex>.
        let ns = spec.rsplit('/').next().unwrap();
        let inspect = run_ok(Command::new(require("skopeo")).args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}/{ns}/tiny-web:1.1.0", reg.addr),
        ]));
        assert_eq!(json_of(&inspect)["Digest"], d2.as_str());
        let raw = run_ok(Command::new(require("skopeo")).args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/{ns}/tiny-web:sha256-{}", reg.addr, &d2[7..]),
        ]));
        let index = json_of(&raw);
        let kinds = index["manifests"].to_string();
        assert!(
            kinds.contains("application/spdx+json") && kinds.contains("in-toto"),
            "{kinds}"
        );
    }
}

#[test]
fn registry_release_story() {
    let reg = Registry::start();
    release_story(&reg.spec("core"), Some(&reg));
}

#[test]
fn layout_release_story() {
    let t = tempfile::tempdir().unwrap();
    release_story(
        &format!("oci-layout:{}", t.path().join("catalog").display()),
        None,
    );
}

/// Publishes tiny-web 1.0.0 and 1.1.0 into `spec` and returns their digests.
fn two_releases(p: &Project, spec: &str) -> (String, String) {
    let d1 = p.candidate("1.0.0", "one\n");
    run_ok(p.cb(spec).arg("publish").arg(&p.bp));
    let d2 = p.candidate("1.1.0", "two\n");
    run_ok(p.cb(spec).arg("publish").arg(&p.bp));
    (d1, d2)
}

fn concurrent_promoters(spec: &str) {
    let p = Project::new();
    two_releases(&p, spec);
    const N: usize = 8;
    std::thread::scope(|s| {
        for i in 0..N {
            s.spawn(move || {
                let cat = catalog::open_str(
                    spec,
                    &OpenOptions {
                        insecure: true,
                        retry: None,
                    },
                )
                .unwrap();
                let v = if i % 2 == 0 { "1.0.0" } else { "1.1.0" };
                catalog::promote(
                    cat.as_ref(),
                    "tiny-web",
                    v,
                    "stable",
                    &format!("promoter {i}"),
                )
                .unwrap();
            });
        }
    });
    let cat = catalog::open_str(
        spec,
        &OpenOptions {
            insecure: true,
            retry: None,
        },
    )
    .unwrap();
    let st = catalog::state(cat.as_ref(), "tiny-web").unwrap();
    let ch = st.channel("stable").unwrap();
    let mut reasons: Vec<&str> = ch.history.iter().map(|h| h.reason.as_str()).collect();
    reasons.sort();
    let want: Vec<String> = (0..N).map(|i| format!("promoter {i}")).collect();
    assert_eq!(reasons, want, "an update was lost");
    // The channel names what the last event in the log says.
    let last = ch.history.last().unwrap();
    assert_eq!(ch.version, last.version);
}

#[test]
fn concurrent_promoters_lose_nothing_on_a_registry() {
    let reg = Registry::start();
    concurrent_promoters(&reg.spec("core"));
}

#[test]
fn concurrent_promoters_lose_nothing_in_a_layout() {
    let t = tempfile::tempdir().unwrap();
    concurrent_promoters(&format!(
        "oci-layout:{}",
        t.path().join("catalog").display()
    ));
}

/// Every release `catalog list` shows is complete: tagged with its digest and with its
/// SBOM and provenance attached.
fn assert_nothing_half_published(p: &Project, spec: &str) -> Option<String> {
    let o = run_ok(p.cb(spec).args(["catalog", "list", "tiny-web", "--json"]));
    let list = json_of(&o);
    let rel = list[0]["releases"].as_array().cloned().unwrap_or_default();
    assert!(rel.len() <= 1, "{list}");
    let r = rel.first()?;
    let d = r["digest"].as_str().unwrap().to_string();
    let arts = json_of(&run_ok(p.cb(spec).args([
        "catalog",
        "artifacts",
        &format!("tiny-web@{d}"),
        "--json",
    ])));
    let kinds = arts.to_string();
    assert!(
        kinds.contains("application/spdx+json") && kinds.contains("in-toto"),
        "listed but incomplete: {kinds}"
    );
    Some(d)
}

#[test]
fn publish_through_a_faulty_proxy_completes_with_the_same_digests() {
    let reg = Registry::start();
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "one\n");
    let proxy = FaultProxy::start(
        &reg.addr,
        Faults {
            seed: 0x5eed,
            drop: 80,
            error_500: 80,
            too_many: 30,
            bad_gateway: 0,
            truncate: 40,
            max_faults: 40,
            bearer: None,
        },
    );
    let direct = reg.spec("core");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // A reader polls the real registry while the publish fights the proxy.
        let watcher = s.spawn(|| {
            let mut seen = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if assert_nothing_half_published(&p, &direct).is_some() {
                    seen += 1;
                }
            }
            seen
        });
        let o = json_of(&run_ok(
            p.cb(&proxy.spec("core"))
                .arg("publish")
                .arg(&p.bp)
                .arg("--json"),
        ));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(o["digest"], d1.as_str());
        watcher.join().unwrap();
    });
    assert!(
        proxy.faults.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the proxy injected no fault in {} requests",
        proxy.requests.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert_eq!(assert_nothing_half_published(&p, &direct), Some(d1.clone()));
    // Reading through the faults gives the same digests.
    assert_eq!(
        resolve(&p, &proxy.spec("core"), "tiny-web:1.0.0"),
        format!("tiny-web@{d1}")
    );
    let out = p.ws.path().join("pulled");
    run_ok(
        p.cb(&proxy.spec("core"))
            .args(["pull", "tiny-web:1.0.0", "--out"])
            .arg(&out),
    );
    let inspect = run_ok(
        Command::new(require("skopeo"))
            .arg("inspect")
            .arg(format!("oci:{}:1.0.0", out.display())),
    );
    assert_eq!(json_of(&inspect)["Digest"], d1.as_str());
}

fn killed_publishes_converge(spec_of: &dyn Fn(usize) -> String, delays_ms: &[u64]) {
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "one\n");
    for (i, delay) in delays_ms.iter().enumerate() {
        let spec = spec_of(i);
        let mut child = p
            .cb(&spec)
            .args(["publish", "tiny-web:1.0.0"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(*delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let shown = assert_nothing_half_published(&p, &spec);
        assert!(shown.is_none() || shown.as_deref() == Some(d1.as_str()));
        run_ok(p.cb(&spec).args(["publish", "tiny-web:1.0.0"]));
        assert_eq!(assert_nothing_half_published(&p, &spec), Some(d1.clone()));
        // One release event, however often the publish was interrupted and rerun.
        let cat = catalog::open_str(
            &spec,
            &OpenOptions {
                insecure: true,
                retry: None,
            },
        )
        .unwrap();
        let events = catalog::events::read_all(cat.as_ref(), "tiny-web").unwrap();
        assert_eq!(events.len(), 1, "after a kill at {delay} ms: {events:?}");
    }
}

#[test]
fn publish_killed_at_any_point_on_a_registry_converges() {
    let reg = Registry::start();
    killed_publishes_converge(
        &|i| reg.spec(&format!("kill{i}")),
        &[0, 5, 10, 20, 30, 45, 60, 80, 110, 150],
    );
}

#[test]
fn publish_killed_at_any_point_in_a_layout_converges() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    killed_publishes_converge(
        &|i| format!("oci-layout:{}", root.join(format!("cat{i}")).display()),
        &[0, 5, 10, 20, 40, 80],
    );
}

fn write_docker_config(dir: &Path, host: &str, user: &str, password: &str) {
    use base64::Engine as _;
    std::fs::create_dir_all(dir).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
}

#[test]
fn basic_auth_comes_from_the_docker_config() {
    let reg = Registry::start_with_auth("builder", "s3cret");
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "one\n");
    let spec = reg.spec("core");
    let mut c = p.cb(&spec);
    c.args(["publish", "tiny-web:1.0.0"]);
    fails_with(c, 3, "docker login");
    write_docker_config(&p.ws.path().join("docker"), &reg.addr, "builder", "s3cret");
    run_ok(p.cb(&spec).args(["publish", "tiny-web:1.0.0"]));
    assert_eq!(
        resolve(&p, &spec, "tiny-web:1.0.0"),
        format!("tiny-web@{d1}")
    );
}

#[test]
fn credentials_come_from_a_docker_credential_helper() {
    let reg = Registry::start_with_auth("builder", "s3cret");
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "one\n");
    let bin = p.ws.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-cbtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread -r host\n[ \"$host\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\necho '{{\"Username\":\"builder\",\"Secret\":\"s3cret\"}}'\n",
            reg.addr
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker = p.ws.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), r#"{"credsStore":"cbtest"}"#).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let spec = reg.spec("core");
    run_ok(
        p.cb(&spec)
            .env("PATH", &path)
            .args(["publish", "tiny-web:1.0.0"]),
    );
    let o = run_ok(
        p.cb(&spec)
            .env("PATH", &path)
            .args(["catalog", "resolve", "tiny-web:1.0.0"]),
    );
    assert_eq!(stdout(&o).trim(), format!("tiny-web@{d1}"));
}

#[test]
fn bearer_tokens_are_fetched_from_the_challenge_realm() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(
        &reg.addr,
        Faults {
            bearer: Some("ci:t0ken"),
            ..Faults::none()
        },
    );
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "one\n");
    let spec = proxy.spec("core");
    let mut c = p.cb(&spec);
    c.args(["publish", "tiny-web:1.0.0"]);
    fails_with(c, 3, "token service");
    write_docker_config(&p.ws.path().join("docker"), &proxy.addr, "ci", "t0ken");
    run_ok(p.cb(&spec).args(["publish", "tiny-web:1.0.0"]));
    assert_eq!(
        resolve(&p, &spec, "tiny-web:1.0.0"),
        format!("tiny-web@{d1}")
    );
}

#[test]
fn a_core_image_builds_on_a_catalog_release_until_it_is_revoked() {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    let d1 = p.candidate("1.0.0", "one\n");
    run_ok(p.cb(&spec).arg("publish").arg(&p.bp));
    let derived = p.ws.blueprint(
        "derived",
        "name = \"derived\"\nversion = \"1.0.0\"\ndescription = \"on tiny-web\"\n\
         [base]\nref = \"catalog:tiny-web:1.0.0\"\n\
         [[layer]]\nfiles = [ { src = \"extra\", dest = \"/etc/extra\", mode = \"0644\" } ]\n",
    );
    std::fs::write(derived.join("extra"), "x\n").unwrap();
    // A fresh store: the base comes from the catalog, verified.
    let store2 = p.ws.path().join("store2");
    let o = json_of(&run_ok(
        p.cb(&spec)
            .env("COREBUILD_STORE", &store2)
            .args(["build", "--json"])
            .arg(&derived),
    ));
    assert_eq!(o["base"]["digest"], d1.as_str());
    run_ok(
        p.cb(&spec)
            .env("COREBUILD_STORE", &store2)
            .arg("lock")
            .arg(&derived),
    );
    run_ok(
        p.cb(&spec)
            .args(["revoke", "tiny-web:1.0.0", "--reason", "CVE-2099-2"]),
    );
    let mut c = p.cb(&spec);
    c.env("COREBUILD_STORE", &store2)
        .arg("build")
        .arg("--locked")
        .arg(&derived);
    fails_with(c, 1, "revoked");
}

#[test]
fn the_sbom_lists_dpkg_packages_with_purls_deterministically() {
    let ws = Ws::new();
    let root = ws.path().join("rootfs");
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n\n\
         Package: telnetd\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 0.17\n\n\
         Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::create_dir_all(root.join("lib")).unwrap();
    std::fs::write(root.join("lib/libc.so.6"), "not really libc\n").unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/info/libc6:amd64.list"),
        "/.\n/lib\n/lib/libc.so.6\n/lib/absent.so\n",
    )
    .unwrap();
    run_ok(
        ws.cb()
            .args([
                "base",
                "import",
                "--name",
                "deb",
                "--version",
                "1",
                "--epoch",
                "1735689600",
                "--rootfs",
            ])
            .arg(&root),
    );
    // A layer on top that does not touch the database: the scan goes down to the base.
    let bp = ws.blueprint(
        "on-deb",
        "name = \"on-deb\"\nversion = \"1.0.0\"\ndescription = \"d\"\n[base]\nref = \"deb:1\"\n\
         [[layer]]\nfiles = [ { src = \"f\", dest = \"/etc/f\", mode = \"0644\" } ]\n",
    );
    std::fs::write(bp.join("f"), "f\n").unwrap();
    run_ok(ws.cb().arg("build").arg(&bp));
    let store = corebuild::oci::OciDir::open(ws.store()).unwrap();
    let img = store
        .find_image(Some("on-deb:1.0.0"), None)
        .unwrap()
        .unwrap();
    let a = corebuild::sbom::generate(&store, &img, "on-deb", "1.0.0").unwrap();
    let b = corebuild::sbom::generate(&store, &img, "on-deb", "1.0.0").unwrap();
    assert_eq!(a, b);
    let doc: Value = serde_json::from_slice(&a).unwrap();
    let text = doc.to_string();
    assert!(
        text.contains("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64"),
        "{text}"
    );
    assert!(text.contains("pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all"));
    assert!(!text.contains("telnetd"), "not installed, not listed");
    assert_eq!(doc["creationInfo"]["created"], "2025-01-01T00:00:00Z");
    assert!(
        text.contains("DESCENDANT_OF"),
        "the base is named by digest"
    );
    // Files: the stacked image's regular files with SHA-1 and SHA-256, owned by the
    // package whose dpkg list names them, else by the image.
    let files = doc["files"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["fileName"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"/lib/libc.so.6") && names.contains(&"/etc/f"),
        "{names:?}"
    );
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted: {names:?}");
    let libc = files
        .iter()
        .find(|f| f["fileName"] == "/lib/libc.so.6")
        .unwrap();
    assert_eq!(libc["checksums"][0]["algorithm"], "SHA1");
    let sha1 = stdout(&run_ok(
        Command::new("sha1sum").arg(root.join("lib/libc.so.6")),
    ));
    assert_eq!(
        libc["checksums"][0]["checksumValue"],
        sha1.split(' ').next().unwrap()
    );
    let contains = |from: &str, file: &Value| {
        doc["relationships"].as_array().unwrap().iter().any(|r| {
            r["spdxElementId"] == from
                && r["relationshipType"] == "CONTAINS"
                && r["relatedSpdxElement"] == file["SPDXID"]
        })
    };
    assert!(contains("SPDXRef-Package-deb-libc6-amd64", libc));
    let f = files.iter().find(|f| f["fileName"] == "/etc/f").unwrap();
    assert!(contains("SPDXRef-Image", f));
}

#[test]
fn a_tag_pushed_by_a_plain_client_is_completed_by_publish() {
    let reg = Registry::start();
    let p = Project::new();
    let d1 = p.candidate("1.0.0", "one\n");
    let layout = p.ws.path().join("layout");
    run_ok(p.ws.cb().arg("build").arg(&p.bp).arg("--out").arg(&layout));
    run_ok(Command::new(require("skopeo")).args([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("oci:{}:1.0.0", layout.display()),
        &format!("docker://{}/core/tiny-web:1.0.0", reg.addr),
    ]));
    let spec = reg.spec("core");
    // The image is there, but not released: no record, no SBOM.
    assert_eq!(assert_nothing_half_published(&p, &spec), None);
    let o = json_of(&run_ok(p.cb(&spec).args([
        "publish",
        "tiny-web:1.0.0",
        "--json",
    ])));
    assert_eq!(o["already_published"], false);
    assert_eq!(assert_nothing_half_published(&p, &spec), Some(d1));
}
