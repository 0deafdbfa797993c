//! `corebuild verify REF --key PUB [--key PUB2] [--catalog C] [--json]`: every
//! signature and attestation of a release, checked against the given public keys.
//! Exit 0 when it verifies, 1 when anything does not (each finding named).

use crate::catalog::CatalogRef;
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use crate::trust::release::{verify_release, ReleaseVerification};
use crate::trust::verify::{LayerCheck, Verdict};
use crate::trust::PublicKey;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NAME:VERSION, NAME@CHANNEL or NAME@sha256:… in the catalog, or an image in a
    /// registry: docker://HOST/REPO[:TAG|@sha256:…] (signatures required, attestations
    /// checked when present).
    pub reference: String,
    /// A public key (PKIX PEM, cosign.pub); repeat it to accept several (rotation).
    #[arg(long = "key", value_name = "PUB", required = true)]
    pub keys: Vec<PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let keys = a
        .keys
        .iter()
        .map(|p| PublicKey::load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let v = if a
        .reference
        .starts_with(crate::build::registry_base::DOCKER_PREFIX)
    {
        ReleaseVerification {
            reference: a.reference.clone(),
            name: a.reference.clone(),
            version: None,
            verification: crate::build::registry_base::verify(&a.reference, &keys)?,
            warnings: Vec::new(),
        }
    } else {
        let cat = a.catalog.open()?;
        verify_release(cat.as_ref(), &CatalogRef::parse(&a.reference)?, &keys)?
    };
    for w in &v.warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        output::json(&v)?;
    } else {
        print_human(&v);
    }
    Ok(if v.verification.ok() { 0 } else { 1 })
}

fn line(kind: &str, c: &LayerCheck) -> String {
    let what = c
        .predicate_type
        .as_deref()
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    let by = c
        .key
        .as_deref()
        .map(|k| format!(" by {k}"))
        .unwrap_or_default();
    let detail = c
        .detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let verdict = match c.verdict {
        Verdict::Verified => "verified",
        Verdict::UnknownKey => "unknown key",
        Verdict::Invalid => "INVALID",
    };
    format!("  {verdict}: {kind}{what}{by} (layer {}){detail}", c.layer)
}

fn print_human(v: &ReleaseVerification) {
    let x = &v.verification;
    eprintln!("{} → {} in {}", v.reference, x.digest, x.identity);
    for c in &x.signatures {
        eprintln!("{}", line("signature", c));
    }
    for c in &x.attestations {
        eprintln!("{}", line("attestation", c));
    }
    if x.ok() {
        say!(
            "verified {} ({}): {} signature(s), {} attestation(s)",
            v.reference,
            x.digest,
            x.signatures
                .iter()
                .filter(|c| c.verdict == Verdict::Verified)
                .count(),
            x.attestations.len()
        );
    } else {
        for p in &x.problems {
            eprintln!("error: {p}");
        }
        eprintln!(
            "verification of {} FAILED ({} problem(s))",
            v.reference,
            x.problems.len()
        );
    }
}
