//! `corebuild key generate --out DIR [--json]`, and the `--sign-key` option shared by the
//! commands that publish.

use crate::cli::output;
use crate::cli::output::say;
use crate::trust::keys::{self, SigningKey, PASSWORD_ENV};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a new ECDSA P-256 key pair: cosign.key (PKCS#8 PEM, encrypted when
    /// COREBUILD_KEY_PASSWORD is set) and cosign.pub (PKIX PEM).
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The directory the two files are written to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// `--sign-key KEY`: sign what is published.
#[derive(Debug, Clone, clap::Args)]
pub struct SignArgs {
    /// Sign the published manifest and attest its provenance, SBOM, contract reports and
    /// OpenVEX document with this private key (PKCS#8 PEM; encrypted: password in
    /// COREBUILD_KEY_PASSWORD).
    #[arg(long, env = "COREBUILD_SIGN_KEY", value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
}

impl SignArgs {
    /// The key, read now so a bad key or password fails before anything is built.
    pub fn load(&self) -> anyhow::Result<Option<Arc<SigningKey>>> {
        self.sign_key
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| SigningKey::load(p).map(Arc::new))
            .transpose()
    }
}

pub fn run(c: Command) -> anyhow::Result<i32> {
    let Command::Generate(a) = c;
    let password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let g = keys::generate(Path::new(&a.out), password.as_deref())?;
    if a.json {
        output::json(&g)?;
    } else {
        eprintln!(
            "wrote {} ({}) and {}",
            g.private_key.display(),
            if g.encrypted {
                "encrypted"
            } else {
                "not encrypted: set COREBUILD_KEY_PASSWORD to encrypt it"
            },
            g.public_key.display()
        );
        say!("{}", g.fingerprint);
    }
    Ok(0)
}
