//! Signed releases, checked from outside: cosign-format signatures and DSSE attestations
//! verified by openssl on a real docker-registry, tampering caught by `corebuild verify`,
//! key rotation, and the `--require-signed` policy on resolve, pull, bases and publish.

use crate::catalog::{json_of, Project};
use crate::registry::Registry;
use crate::util::*;
use base64::Engine as _;
use corebuild::catalog::{self, Catalog, OpenOptions, RawManifest};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const NAME: &str = "tiny-web";

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn open(spec: &str) -> Box<dyn Catalog> {
    catalog::open_str(
        spec,
        &OpenOptions {
            insecure: true,
            retry: None,
        },
    )
    .unwrap()
}

fn manifest(cat: &dyn Catalog, tag: &str) -> (RawManifest, Value) {
    let m = cat
        .get_manifest(NAME, tag)
        .unwrap()
        .unwrap_or_else(|| panic!("no {tag}"));
    let v: Value = serde_json::from_slice(&m.bytes).unwrap();
    (m, v)
}

fn blob(cat: &dyn Catalog, layer: &Value) -> Vec<u8> {
    let d = layer["digest"].as_str().unwrap().parse().unwrap();
    cat.read_blob(NAME, &d, layer["size"].as_u64().unwrap())
        .unwrap()
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap()
}

/// `openssl dgst -sha256 -verify PUB -signature SIG MSG`: the independent verifier.
fn openssl_verifies(dir: &Path, public: &Path, msg: &[u8], sig: &[u8]) -> bool {
    let (m, s) = (dir.join("msg.bin"), dir.join("sig.der"));
    std::fs::write(&m, msg).unwrap();
    std::fs::write(&s, sig).unwrap();
    let o = Command::new(require("openssl"))
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(&s)
        .arg(&m)
        .output()
        .unwrap();
    o.status.success() && stdout(&o).contains("Verified OK")
}

/// A key pair made by openssl (the other path the issue names).
fn openssl_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (k, p) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    );
    run_ok(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "EC", "-pkeyopt"])
            .arg("ec_paramgen_curve:P-256")
            .arg("-out")
            .arg(&k),
    );
    run_ok(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&k)
            .arg("-out")
            .arg(&p),
    );
    (k, p)
}

/// `corebuild key generate` into `dir`; checks its fingerprint against openssl's.
fn generated_key(p: &Project, dir: &Path) -> (PathBuf, PathBuf) {
    let g = json_of(&run_ok(
        p.ws.cb()
            .args(["key", "generate", "--json", "--out"])
            .arg(dir),
    ));
    let public = dir.join("cosign.pub");
    let der = run_ok(
        Command::new("openssl")
            .args(["pkey", "-pubin", "-outform", "DER", "-in"])
            .arg(&public),
    )
    .stdout;
    let fp = format!("sha256:{}", corebuild::digest::Digest::of_bytes(&der).hex());
    assert_eq!(g["fingerprint"], fp.as_str());
    (dir.join("cosign.key"), public)
}

fn exit_with(mut c: Command, code: i32, needles: &[&str]) -> String {
    let o = c.output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{}\n{err}", stdout(&o));
    for n in needles {
        assert!(err.contains(n), "no {n:?} in:\n{err}");
    }
    err
}

/// The release's signature, checked by openssl against the payload it signs.
fn check_signature_with_openssl(p: &Project, cat: &dyn Catalog, digest: &str, public: &Path) {
    let (_, sig) = manifest(cat, &format!("sha256-{}.sig", hex(digest)));
    let layer = &sig["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = blob(cat, layer);
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        digest
    );
    assert_eq!(
        claims["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(
        claims["critical"]["identity"]["docker-reference"],
        cat.identity(NAME).as_str()
    );
    let der = b64(layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap());
    assert!(openssl_verifies(p.ws.path(), public, &payload, &der));
    let mut wrong = payload.clone();
    wrong[10] ^= 1;
    assert!(!openssl_verifies(p.ws.path(), public, &wrong, &der));
}

/// The provenance attestation, its DSSE PAE signature checked by openssl.
fn check_provenance_with_openssl(p: &Project, cat: &dyn Catalog, digest: &str, public: &Path) {
    let (_, att) = manifest(cat, &format!("sha256-{}.att", hex(digest)));
    let layers = att["layers"].as_array().unwrap();
    let types: Vec<&str> = layers
        .iter()
        .map(|l| l["annotations"]["predicateType"].as_str().unwrap())
        .collect();
    for t in [
        "https://slsa.dev/provenance/v1",
        "https://spdx.dev/Document",
        "https://openvex.dev/ns/v0.2.0",
        "https://corebuild.dev/attestations/contract-report/v1",
    ] {
        assert!(types.contains(&t), "{types:?}");
    }
    let prov = layers
        .iter()
        .find(|l| l["annotations"]["predicateType"] == "https://slsa.dev/provenance/v1")
        .unwrap();
    assert_eq!(prov["mediaType"], "application/vnd.dsse.envelope.v1+json");
    let env: Value = serde_json::from_slice(&blob(cat, prov)).unwrap();
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let statement = b64(env["payload"].as_str().unwrap());
    // PAE, written here from the DSSE spec, independently of corebuild.
    let mut pae = format!(
        "DSSEv1 28 application/vnd.in-toto+json {} ",
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(&statement);
    let sig = b64(env["signatures"][0]["sig"].as_str().unwrap());
    assert!(openssl_verifies(p.ws.path(), public, &pae, &sig));
    assert!(!openssl_verifies(p.ws.path(), public, &statement, &sig));
    let st: Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(st["subject"][0]["digest"]["sha256"], hex(digest));
    let slsa = &st["predicate"]["buildDefinition"]["internalParameters"]["slsa"];
    assert_eq!(slsa["buildLevel"], 2, "{st}");
}

#[test]
fn a_signed_release_on_docker_registry_verifies_with_openssl_and_the_policy() {
    let reg = Registry::start();
    let spec = reg.spec("core");
    let p = Project::new();
    let keys = p.ws.path().join("keys");
    let (key, public) = generated_key(&p, &keys);
    let d1 = p.candidate("1.0.0", "one\n");
    let out = json_of(&run_ok(
        p.cb(&spec)
            .args(["publish", "--json", "--sign-key"])
            .arg(&key)
            .arg(&p.bp),
    ));
    assert_eq!(out["signed"]["signatures_added"], 1);
    assert!(out["signed"]["attestations_added"].as_u64().unwrap() >= 4);
    let cat = open(&spec);
    check_signature_with_openssl(&p, cat.as_ref(), &d1, &public);
    check_provenance_with_openssl(&p, cat.as_ref(), &d1, &public);
    let v = json_of(&run_ok(
        p.cb(&spec)
            .args(["verify", "tiny-web:1.0.0", "--json", "--key"])
            .arg(&public),
    ));
    assert_eq!(v["digest"], d1.as_str());
    assert_eq!(v["problems"], serde_json::json!([]));

    // The policy: a signed release resolves and pulls; an unsigned one is refused.
    let r = json_of(&run_ok(
        p.cb(&spec)
            .args([
                "catalog",
                "resolve",
                "tiny-web:1.0.0",
                "--json",
                "--require-signed",
            ])
            .arg(&public),
    ));
    assert!(r["signed_by"].as_str().unwrap().starts_with("sha256:"));
    let d2 = p.candidate("1.0.1", "two\n");
    run_ok(p.cb(&spec).arg("publish").arg(&p.bp));
    let mut c = p.cb(&spec);
    c.args(["catalog", "resolve", "tiny-web:1.0.1", "--require-signed"])
        .arg(&public);
    exit_with(c, 1, &[&d2, "is not signed", "keys tried"]);
    let pulled = p.ws.path().join("pulled");
    let mut c = p.cb(&spec);
    c.env("COREBUILD_TRUSTED_KEYS", &public)
        .args(["pull", "tiny-web:1.0.1", "--out"])
        .arg(&pulled);
    exit_with(c, 1, &[&d2, "refused by the signature policy"]);
    assert!(!pulled.join("index.json").exists());

    // Rotation: a second key (made by openssl) signs again; both signatures stay, and
    // either key alone verifies.
    let (key2, public2) = openssl_key(p.ws.path(), "next");
    run_ok(
        p.cb(&spec)
            .args(["publish", "tiny-web:1.0.0", "--sign-key"])
            .arg(&key2),
    );
    let (_, sig) = manifest(cat.as_ref(), &format!("sha256-{}.sig", hex(&d1)));
    assert_eq!(sig["layers"].as_array().unwrap().len(), 2);
    for k in [&public, &public2] {
        run_ok(
            p.cb(&spec)
                .args(["verify", "tiny-web:1.0.0", "--key"])
                .arg(k),
        );
    }
    let both = format!("{}:{}", public.display(), public2.display());
    run_ok(p.cb(&spec).env("COREBUILD_TRUSTED_KEYS", &both).args([
        "catalog",
        "resolve",
        "tiny-web:1.0.0",
    ]));
}

/// Replaces what `tag` names for the length of `check`, then puts it back.
fn tampered(cat: &dyn Catalog, tag: &str, with: &RawManifest, check: impl FnOnce()) {
    let (saved, _) = manifest(cat, tag);
    cat.put_manifest(NAME, tag, with).unwrap();
    check();
    cat.put_manifest(NAME, tag, &saved).unwrap();
}

fn verify_cmd(p: &Project, spec: &str, r: &str, public: &Path) -> Command {
    let mut c = p.cb(spec);
    c.args(["verify", r, "--key"]).arg(public);
    c
}

#[test]
fn tampering_is_caught_by_verify_each_time_naming_it() {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    let (key, public) = generated_key(&p, &p.ws.path().join("keys"));
    let sign = |c: &mut Command| {
        run_ok(c.arg("publish").arg("--sign-key").arg(&key).arg(&p.bp));
    };
    let d1 = p.candidate("1.0.0", "one\n");
    sign(&mut p.cb(&spec));
    let d2 = p.candidate("1.0.1", "two\n");
    sign(&mut p.cb(&spec));
    let cat = open(&spec);
    let cat = cat.as_ref();
    run_ok(&mut verify_cmd(&p, &spec, "tiny-web:1.0.0", &public));
    let (sig1, sig2) = (
        format!("sha256-{}.sig", hex(&d1)),
        format!("sha256-{}.sig", hex(&d2)),
    );

    // A .sig tag moved to another manifest (1.0.1's signature, valid, for 1.0.0).
    let (other_sig, _) = manifest(cat, &sig2);
    tampered(cat, &sig1, &other_sig, || {
        exit_with(
            verify_cmd(&p, &spec, "tiny-web:1.0.0", &public),
            1,
            &[&format!("it signs {d2}, not {d1}")],
        );
    });

    // A payload naming another digest, signed with the real key (by openssl), added
    // beside the genuine signature.
    let (_, genuine) = manifest(cat, &sig1);
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"tiny-web"}},"image":{{"docker-manifest-digest":"{d2}"}},"type":"cosign container image signature"}},"optional":null}}"#
    );
    let forged = sign_with_openssl(&p, &key, payload.as_bytes());
    let layer = push_bytes(cat, payload.as_bytes());
    let mut m = genuine.clone();
    let mut l = layer.clone();
    l["mediaType"] = "application/vnd.dev.cosign.simplesigning.v1+json".into();
    l["annotations"] = serde_json::json!({ "dev.cosignproject.cosign/signature":
        base64::engine::general_purpose::STANDARD.encode(&forged) });
    m["layers"].as_array_mut().unwrap().push(l);
    tampered(cat, &sig1, &raw(&m), || {
        exit_with(
            verify_cmd(&p, &spec, "tiny-web:1.0.0", &public),
            1,
            &["signature layer", &format!("it signs {d2}, not {d1}")],
        );
    });

    // A signature by another key only.
    let (_, other_public) = openssl_key(p.ws.path(), "other");
    exit_with(
        verify_cmd(&p, &spec, "tiny-web:1.0.0", &other_public),
        1,
        &[&format!("no signature of {d1}"), "keys tried"],
    );

    // A swapped attestation layer: 1.0.1's SBOM envelope in 1.0.0's attestations.
    let att1 = format!("sha256-{}.att", hex(&d1));
    let (_, a1) = manifest(cat, &att1);
    let (_, a2) = manifest(cat, &format!("sha256-{}.att", hex(&d2)));
    let is_sbom = |l: &&Value| l["annotations"]["predicateType"] == "https://spdx.dev/Document";
    let theirs = a2["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(is_sbom)
        .unwrap();
    let mut swapped = a1.clone();
    for l in swapped["layers"].as_array_mut().unwrap() {
        if is_sbom(&&*l) {
            *l = theirs.clone();
        }
    }
    tampered(cat, &att1, &raw(&swapped), || {
        exit_with(
            verify_cmd(&p, &spec, "tiny-web:1.0.0", &public),
            1,
            &["attestation layer", &format!("it is about {d2}, not {d1}")],
        );
    });

    // The release re-tagged to another digest behind the catalog's back.
    let (m2, _) = manifest(cat, "1.0.1");
    tampered(cat, "1.0.0", &m2, || {
        exit_with(
            verify_cmd(&p, &spec, "tiny-web:1.0.0", &public),
            1,
            &[&format!("tagged {d2}, but it was released as {d1}")],
        );
    });

    // Everything put back: it verifies again.
    run_ok(&mut verify_cmd(&p, &spec, "tiny-web:1.0.0", &public));
}

fn raw(v: &Value) -> RawManifest {
    RawManifest::new(
        "application/vnd.oci.image.manifest.v1+json",
        serde_json::to_vec(v).unwrap(),
    )
}

fn push_bytes(cat: &dyn Catalog, bytes: &[u8]) -> Value {
    let d = corebuild::digest::Digest::of_bytes(bytes);
    cat.push_blob(
        NAME,
        &d,
        bytes.len() as u64,
        &catalog::BlobData::Bytes(bytes.to_vec()),
    )
    .unwrap();
    serde_json::json!({ "digest": d.to_string(), "size": bytes.len() })
}

fn sign_with_openssl(p: &Project, key: &Path, msg: &[u8]) -> Vec<u8> {
    let m = p.ws.path().join("forged.json");
    std::fs::write(&m, msg).unwrap();
    run_ok(
        Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(key)
            .arg(&m),
    )
    .stdout
}

#[test]
fn bases_and_publish_follow_the_signature_policy() {
    let p = Project::new();
    let spec = format!("oci-layout:{}", p.ws.path().join("catalog").display());
    let pw = "correct horse";
    let dir = p.ws.path().join("keys");
    let g = json_of(&run_ok(
        p.ws.cb()
            .env("COREBUILD_KEY_PASSWORD", pw)
            .args(["key", "generate", "--json", "--out"])
            .arg(&dir),
    ));
    assert_eq!(g["encrypted"], true);
    let (key, public) = (dir.join("cosign.key"), dir.join("cosign.pub"));
    // openssl reads the encrypted key with the same password.
    run_ok(
        Command::new("openssl")
            .args(["pkey", "-noout", "-passin"])
            .arg(format!("pass:{pw}"))
            .arg("-in")
            .arg(&key),
    );
    let signed = p.candidate("1.0.0", "one\n");
    let mut c = p.cb(&spec);
    c.env("COREBUILD_SIGN_KEY", &key).arg("publish").arg(&p.bp);
    exit_with(c, 2, &["COREBUILD_KEY_PASSWORD"]);
    run_ok(
        p.cb(&spec)
            .env("COREBUILD_SIGN_KEY", &key)
            .env("COREBUILD_KEY_PASSWORD", pw)
            .arg("publish")
            .arg(&p.bp),
    );
    let unsigned = p.candidate("1.0.1", "two\n");
    run_ok(p.cb(&spec).arg("publish").arg(&p.bp));

    let derived = |version: &str| {
        p.ws.blueprint(
            &format!("derived-{version}"),
            &format!(
                "name = \"derived\"\nversion = \"{version}\"\ndescription = \"on tiny-web\"\n\
                 [base]\nref = \"catalog:tiny-web:{version}\"\n\
                 [[layer]]\nfiles = [ {{ src = \"extra\", dest = \"/etc/extra\", mode = \"0644\" }} ]\n"
            ),
        )
    };
    let (on_signed, on_unsigned) = (derived("1.0.0"), derived("1.0.1"));
    std::fs::write(on_signed.join("extra"), "x\n").unwrap();
    std::fs::write(on_unsigned.join("extra"), "x\n").unwrap();
    let policy = |c: &mut Command| {
        c.arg("--require-signed").arg(&public);
    };
    let mut c = p.cb(&spec);
    c.arg("build").arg(&on_unsigned);
    policy(&mut c);
    exit_with(c, 1, &[&unsigned, "catalog:tiny-web:1.0.1", "keys tried"]);
    let mut c = p.cb(&spec);
    c.arg("build").arg(&on_signed);
    policy(&mut c);
    run_ok(&mut c);

    // Built and tested without the policy, then published under it: the image's base
    // is checked where it came from.
    run_ok(p.cb(&spec).arg("test").arg(&on_unsigned));
    let mut c = p.cb(&spec);
    c.env("COREBUILD_TRUSTED_KEYS", &public)
        .args(["publish", "derived:1.0.1"]);
    exit_with(c, 1, &[&unsigned, "the base catalog:tiny-web:1.0.1"]);
    assert_ne!(signed, unsigned);
}
