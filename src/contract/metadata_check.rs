//! `metadata` tests: the image configuration's env, entrypoint, cmd, user, workdir,
//! labels and exposed ports. Every field the test names must hold; all mismatches are
//! reported together.

use super::report::Outcome;
use super::schema::MetadataTest;
use oci_spec::image::{Config, ImageConfiguration};

pub fn check(config: &ImageConfiguration, t: &MetadataTest) -> Outcome {
    let empty = Config::default();
    let c = config.config().as_ref().unwrap_or(&empty);
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    let env: Vec<(&str, &str)> = c
        .env()
        .iter()
        .flatten()
        .map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), "")))
        .collect();
    for (name, p) in &t.env {
        // The last assignment wins, as a runtime reads the list.
        match env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) if p.is_match(v.as_bytes()) => {}
            Some((_, v)) => {
                expected.push(format!("env {name} matching /{}/", p.source));
                actual.push(format!("env {name}={v}"));
            }
            None => {
                expected.push(format!("env {name} matching /{}/", p.source));
                actual.push(format!("env {name} not set"));
            }
        }
    }
    let mut exact = |field: &str, want: Option<String>, is: Option<String>| {
        if let Some(want) = want {
            if Some(&want) != is.as_ref() {
                expected.push(format!("{field} {want}"));
                actual.push(format!(
                    "{field} {}",
                    is.unwrap_or_else(|| "not set".into())
                ));
            }
        }
    };
    exact(
        "entrypoint",
        t.entrypoint.as_deref().map(json),
        c.entrypoint().as_deref().map(json),
    );
    exact(
        "cmd",
        t.cmd.as_deref().map(json),
        c.cmd().as_deref().map(json),
    );
    exact("user", t.user.clone(), c.user().clone());
    exact("workdir", t.workdir.clone(), c.working_dir().clone());
    for (name, p) in &t.labels {
        match c.labels().as_ref().and_then(|l| l.get(name)) {
            Some(v) if p.is_match(v.as_bytes()) => {}
            is => {
                expected.push(format!("label {name} matching /{}/", p.source));
                actual.push(match is {
                    Some(v) => format!("label {name}={v}"),
                    None => format!("label {name} not set"),
                });
            }
        }
    }
    let exposed: Vec<&str> = c
        .exposed_ports()
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let missing: Vec<&str> = t
        .exposed_ports
        .iter()
        .map(String::as_str)
        .filter(|p| !exposed.contains(p))
        .collect();
    if !missing.is_empty() {
        expected.push(format!("exposed ports include {}", missing.join(", ")));
        actual.push(if exposed.is_empty() {
            "no exposed ports".into()
        } else {
            format!("exposed ports {}", exposed.join(", "))
        });
    }
    if expected.is_empty() {
        Outcome::Passed
    } else {
        Outcome::failed(expected.join("; "), actual.join("; "))
    }
}

/// An argv as JSON, so `["a b"]` and `["a", "b"]` read differently in a report.
fn json(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::values::pattern;

    fn config() -> ImageConfiguration {
        serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
            "config":{"Env":["PATH=/usr/local/bin:/usr/bin","LANG=C.UTF-8","PATH=/usr/bin"],
            "Entrypoint":["/bin/sh"],"Cmd":["-c","true"],"User":"1000:1000","WorkingDir":"/srv",
            "Labels":{"org.opencontainers.image.vendor":"Core Team"},
            "ExposedPorts":{"8080/tcp":{},"53/udp":{}}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn all_fields_hold() {
        let t = MetadataTest {
            env: [("PATH".into(), pattern("^/usr/bin$", false).unwrap())].into(),
            entrypoint: Some(vec!["/bin/sh".into()]),
            cmd: Some(vec!["-c".into(), "true".into()]),
            user: Some("1000:1000".into()),
            workdir: Some("/srv".into()),
            labels: [(
                "org.opencontainers.image.vendor".into(),
                pattern("^Core", false).unwrap(),
            )]
            .into(),
            exposed_ports: vec!["8080/tcp".into(), "53/udp".into()],
        };
        assert_eq!(check(&config(), &t), Outcome::Passed);
    }

    #[test]
    fn every_mismatch_is_reported() {
        let t = MetadataTest {
            env: [
                ("LANG".into(), pattern("^en_", false).unwrap()),
                ("TZ".into(), pattern(".", false).unwrap()),
            ]
            .into(),
            entrypoint: Some(vec!["/bin/sh -c".into()]),
            user: Some("root".into()),
            labels: [("missing".into(), pattern(".", false).unwrap())].into(),
            exposed_ports: vec!["8080/tcp".into(), "443/tcp".into()],
            ..Default::default()
        };
        let Outcome::Failed { expected, actual } = check(&config(), &t) else {
            panic!()
        };
        for w in [
            "env LANG matching /^en_/",
            "env TZ",
            "entrypoint [\"/bin/sh -c\"]",
            "user root",
            "label missing",
            "include 443/tcp",
        ] {
            assert!(expected.contains(w), "{w:?} not in {expected}");
        }
        for w in [
            "env LANG=C.UTF-8",
            "env TZ not set",
            "entrypoint [\"/bin/sh\"]",
            "user 1000:1000",
            "label missing not set",
            "53/udp",
        ] {
            assert!(actual.contains(w), "{w:?} not in {actual}");
        }
        assert!(!expected.contains("8080"), "{expected}");
    }

    #[test]
    fn config_without_a_config_section() {
        let c: ImageConfiguration = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        let t = MetadataTest {
            workdir: Some("/".into()),
            ..Default::default()
        };
        assert_eq!(
            check(&c, &t),
            Outcome::failed("workdir /", "workdir not set")
        );
    }
}
