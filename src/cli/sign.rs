//! `corebuild sign REF --sign-key KEY [--json]`: adds a signature to a published release
//! (`NAME:VERSION`, `NAME@CHANNEL`, `NAME@sha256:…` in the catalog, attesting the
//! documents already attached to it) or to an image in a registry (`docker://HOST/REPO:TAG`,
//! signature only). Signing again adds a signature and never drops one: this is how a
//! rotated key signs what the old one signed.

use crate::catalog::{attest, CatalogRef};
use crate::cli::catalog::CatalogArgs;
use crate::cli::output;
use crate::cli::output::say;
use crate::trust::sign::Signed;
use crate::trust::CatalogRepo;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A catalog release, or docker://HOST/REPO[:TAG|@sha256:…].
    pub reference: String,
    #[command(flatten)]
    pub sign: crate::cli::key::SignArgs,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let key = a.sign.load()?.ok_or_else(|| {
        crate::error::input("sign needs a key: --sign-key KEY or COREBUILD_SIGN_KEY")
    })?;
    let signed = if a
        .reference
        .starts_with(crate::build::registry_base::DOCKER_PREFIX)
    {
        crate::build::registry_base::sign(&a.reference, &key)?
    } else {
        sign_release(&a, &key)?
    };
    if a.json {
        output::json(&signed)?;
    } else {
        say!(
            "signed {} by {}: +{} signature, +{} attestations",
            a.reference,
            signed.key,
            signed.signatures_added,
            signed.attestations_added
        );
    }
    Ok(0)
}

fn sign_release(a: &Args, key: &crate::trust::SigningKey) -> anyhow::Result<Signed> {
    let cat = a.catalog.open()?;
    let r = crate::catalog::resolve(cat.as_ref(), &CatalogRef::parse(&a.reference)?, false)?;
    let docs = attest::attached(cat.as_ref(), &r.name, &r.digest)?;
    let repo = CatalogRepo {
        catalog: cat.as_ref(),
        name: &r.name,
    };
    let statements = attest::statements(&r.name, &r.digest, &docs);
    crate::trust::sign::sign(&repo, &r.digest, key, &statements)
}
