//! The committed full fixture loads into exactly the resolved blueprint we expect.

use super::{fixture, Ws, HEAD};
use crate::blueprint::*;
use crate::layer::Compression;
use std::collections::BTreeMap;

fn full() -> Blueprint {
    load(
        &fixture("full/blueprints/core-minimal/blueprint.toml"),
        &LoadOptions::default(),
    )
    .expect("the full fixture loads")
}

#[test]
fn full_fixture_header_base_outputs_lifecycle() {
    let bp = full();
    let dir = fixture("full/blueprints/core-minimal")
        .canonicalize()
        .unwrap();
    assert_eq!(bp.path, dir.join("blueprint.toml"));
    assert_eq!(bp.dir, dir);
    assert_eq!(bp.name, "core-minimal");
    assert_eq!(bp.version, semver::Version::new(1, 2, 0));
    assert_eq!(
        bp.description,
        "Minimal Debian core with hardening and monitoring"
    );
    assert_eq!(bp.epoch, Some(1_700_000_000));
    assert_eq!(bp.base.reference, "debian-minbase:12");
    assert_eq!(
        bp.base.digest.as_ref().map(ToString::to_string).as_deref(),
        Some("sha256:1111111111111111111111111111111111111111111111111111111111111111")
    );
    assert_eq!((bp.base.line, bp.base.column), (8, 7));
    assert_eq!(bp.base.declared_in, bp.path);
    assert_eq!(
        bp.base.parsed().unwrap(),
        BaseRef::Store {
            name: "debian-minbase".into(),
            version: "12".into()
        }
    );
    assert_eq!(bp.lifecycle.end_of_support.as_deref(), Some("2027-12-31"));
    assert_eq!(
        bp.outputs,
        Outputs {
            compression: Compression::Zstd,
            qcow2: Some(DiskOutput {
                size_bytes: Some(2 * 1024 * 1024 * 1024),
                ..DiskOutput::default()
            }),
            raw: None,
            vhd: None,
            vmdk: None,
        }
    );
    assert_eq!(bp.lock, None);
    let (reference, digest) = bp.pinned_base().unwrap();
    assert_eq!(reference, "debian-minbase:12");
    assert_eq!(Some(digest), bp.base.digest);
    bp.check_locked().unwrap();
}

#[test]
fn full_fixture_sources_are_blueprint_then_fragments_in_include_order() {
    let bp = full();
    let frag = fixture("full/blueprints/fragments").canonicalize().unwrap();
    assert_eq!(
        bp.sources,
        vec![
            bp.path.clone(),
            // security.toml includes base-env.toml: it comes first; monitoring.toml
            // includes it too, but it is read once.
            frag.join("base-env.toml"),
            frag.join("security.toml"),
            frag.join("monitoring.toml"),
        ]
    );
}

#[test]
fn full_fixture_layers_fragments_first_then_blueprint() {
    let bp = full();
    let frag = fixture("full/blueprints/fragments").canonicalize().unwrap();
    assert_eq!(bp.layers.len(), 5);
    assert_eq!(
        bp.layers[0],
        Layer::Files(vec![FileSpec {
            src: frag.join("files/sshd-hardening.conf"),
            dest: "/etc/ssh/sshd_config.d/hardening.conf".into(),
            mode: Some(0o600),
            uid: 0,
            gid: 0,
        }])
    );
    assert_eq!(
        bp.layers[1],
        Layer::Files(vec![FileSpec {
            src: frag.join("files/agent.conf"),
            dest: "/etc/agent/agent.conf".into(),
            mode: None,
            uid: 0,
            gid: 0,
        }])
    );
    assert_eq!(
        bp.layers[2],
        Layer::Files(vec![
            FileSpec {
                src: bp.dir.join("files/motd"),
                dest: "/etc/motd".into(),
                mode: Some(0o644),
                uid: 0,
                gid: 0,
            },
            FileSpec {
                src: bp.dir.join("files/skel"),
                // normalized: the trailing slash is dropped
                dest: "/etc/skel".into(),
                mode: None,
                uid: 0,
                gid: 0,
            },
        ])
    );
    assert_eq!(
        bp.layers[3],
        Layer::Packages(PackagesSpec {
            packages: vec![
                PackageSpec {
                    name: "curl".into(),
                    version: None
                },
                PackageSpec {
                    name: "ca-certificates".into(),
                    version: Some("20230311".into())
                },
            ],
            upgrade: false
        })
    );
    assert_eq!(
        bp.layers[4],
        Layer::Run(RunSpec {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                "update-ca-certificates".into()
            ],
            env: BTreeMap::from([("DEBIAN_FRONTEND".into(), "noninteractive".into())]),
            user: Some("root".into()),
            workdir: Some("/tmp".into()),
            network: false,
        })
    );
}

#[test]
fn full_fixture_config_merges_fragments_under_the_blueprint() {
    let bp = full();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        bp.config,
        ConfigSpec {
            env: BTreeMap::from([
                // monitoring.toml says LANG = "C"; the blueprint's value wins
                ("LANG".into(), "C.UTF-8".into()),
                ("TZ".into(), "UTC".into()),
                ("UMASK".into(), "027".into()),
            ]),
            entrypoint: Some(s(&["/bin/sh"])),
            cmd: Some(s(&["-l"])),
            user: Some("root".into()),
            workdir: Some("/".into()),
            labels: BTreeMap::from([
                ("com.example.hardened".into(), "true".into()),
                (
                    "org.opencontainers.image.vendor".into(),
                    "Example Corp".into()
                ),
            ]),
            exposed_ports: s(&["9100/tcp", "8080/tcp"]),
            stop_signal: Some("SIGTERM".into()),
        }
    );
}

#[test]
fn full_fixture_suites_and_changes() {
    let bp = full();
    let suites = fixture("full/contract-tests").canonicalize().unwrap();
    let names: Vec<_> = bp.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["hardening", "posix-base"]);
    assert_eq!(bp.suites[0].path, suites.join("hardening.toml"));
    assert_eq!(bp.suites[0].version, semver::Version::new(0, 3, 1));
    assert_eq!(
        bp.suites[1].description,
        "POSIX tools and files every core image has"
    );
    // later keys are kept raw for the contract module
    assert!(bp.suites[1].raw.get("test").is_some_and(|t| t.is_array()));
    let changes: Vec<_> = bp
        .changes
        .iter()
        .map(|c| (c.kind, c.id.as_deref(), c.summary.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            (ChangeKind::Workaround, None, "Disable password logins"),
            (
                ChangeKind::Security,
                Some("DSA-0000-1"),
                "Rebuilt on the fixed base"
            ),
            (ChangeKind::Enhancement, None, "Adds curl"),
        ]
    );
}

#[test]
fn notes_parts_serialize_to_stable_json() {
    let bp = full();
    let json = serde_json::json!({
        "config": bp.config,
        "changes": bp.changes,
        "lifecycle": bp.lifecycle,
        "outputs": bp.outputs,
    });
    assert_eq!(
        json.to_string(),
        r#"{"changes":[{"id":null,"kind":"workaround","summary":"Disable password logins"},{"id":"DSA-0000-1","kind":"security","summary":"Rebuilt on the fixed base"},{"id":null,"kind":"enhancement","summary":"Adds curl"}],"config":{"cmd":["-l"],"entrypoint":["/bin/sh"],"env":{"LANG":"C.UTF-8","TZ":"UTC","UMASK":"027"},"exposed_ports":["9100/tcp","8080/tcp"],"labels":{"com.example.hardened":"true","org.opencontainers.image.vendor":"Example Corp"},"stop_signal":"SIGTERM","user":"root","workdir":"/"},"lifecycle":{"end_of_support":"2027-12-31"},"outputs":{"compression":"zstd","qcow2":{"boot":null,"kernel_cmdline":[],"size_bytes":2147483648},"raw":null,"vhd":null,"vmdk":null}}"#
    );
    // the whole blueprint serializes too (for --json)
    let whole = serde_json::to_value(&bp).unwrap();
    assert_eq!(whole["version"], "1.2.0");
    assert_eq!(
        whole["layers"][3]["packages"]["packages"][1]["version"],
        "20230311"
    );
    assert_eq!(whole["layers"][3]["packages"]["upgrade"], false);
}

#[test]
fn minimal_blueprint_gets_defaults_and_loads_by_directory() {
    let ws = Ws::new();
    ws.write("blueprints/demo/blueprint.toml", HEAD);
    let bp = load(&ws.path("blueprints/demo"), &LoadOptions::default()).unwrap();
    assert_eq!(bp.path, ws.bp_path());
    assert_eq!(bp.outputs.compression, Compression::Gzip);
    assert_eq!(bp.outputs.qcow2, None);
    assert_eq!(bp.outputs.raw, None);
    assert_eq!(bp.epoch, None);
    assert!(bp.layers.is_empty() && bp.suites.is_empty() && bp.changes.is_empty());
    assert_eq!(bp.config, ConfigSpec::default());
    assert_eq!(bp.lifecycle, Lifecycle::default());
    assert_eq!(bp.sources, vec![ws.bp_path()]);
}

#[test]
fn bare_toml_date_and_oci_layout_base_are_accepted() {
    let ws = Ws::new();
    let bp = ws
        .load_bp(
            "name = \"demo\"\nversion = \"1.0.0\"\ndescription = \"d\"\n\
             [base]\nref = \"oci-layout:../../bases/busybox:1.36\"\n\
             [lifecycle]\nend_of_support = 2028-02-29\n",
        )
        .unwrap();
    assert_eq!(bp.lifecycle.end_of_support.as_deref(), Some("2028-02-29"));
    assert_eq!(
        bp.base.parsed().unwrap(),
        BaseRef::OciLayout {
            path: ws.path("blueprints/demo/../../bases/busybox"),
            tag: Some("1.36".into())
        }
    );
}

#[test]
fn run_layer_defaults_and_network() {
    let ws = Ws::new();
    let bp = ws
        .load_bp(&format!(
            "{HEAD}[[layer]]\nrun = [\"apt-get\", \"update\"]\nnetwork = true\n"
        ))
        .unwrap();
    assert_eq!(
        bp.layers,
        [Layer::Run(RunSpec {
            argv: vec!["apt-get".into(), "update".into()],
            env: BTreeMap::new(),
            user: None,
            workdir: None,
            network: true,
        })]
    );
}

#[test]
fn suites_dir_option_overrides_the_search() {
    let ws = Ws::new();
    ws.write(
        "elsewhere/special.toml",
        "name = \"special\"\nversion = \"2.0.0\"\ndescription = \"s\"\n",
    );
    ws.write(
        "blueprints/demo/blueprint.toml",
        &format!("{HEAD}[contract]\nsuites = [\"special\"]\n"),
    );
    let opts = LoadOptions {
        suites_dir: Some(ws.path("elsewhere")),
    };
    let bp = load(&ws.bp_path(), &opts).unwrap();
    assert_eq!(bp.suites[0].path, ws.path("elsewhere/special.toml"));
    assert_eq!(bp.suites[0].version, semver::Version::new(2, 0, 0));
}
