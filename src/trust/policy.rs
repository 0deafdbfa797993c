//! The signature policy: with trusted keys configured (`--require-signed PUB`, or
//! `COREBUILD_TRUSTED_KEYS` naming several key files), content from a catalog or a
//! registry is used only when one of those keys signed its digest for its repository.
//! Unsigned or wrongly signed content is refused (exit 1) naming the digest and the keys.

use super::keys::PublicKey;
use super::repo::Repository;
use super::verify;
use crate::digest::Digest;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Mutex;

/// Public key files, separated by `:` or `,`.
pub const TRUSTED_KEYS_ENV: &str = "COREBUILD_TRUSTED_KEYS";

/// The key files the command line named (`None`: the environment decides).
static FLAGS: Mutex<Option<Vec<PathBuf>>> = Mutex::new(None);
/// The keys, read on first use.
static TRUSTED: Mutex<Option<Vec<PublicKey>>> = Mutex::new(None);

/// Reads public key files.
pub fn load(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths.iter().map(|p| PublicKey::load(p)).collect()
}

/// The key files `COREBUILD_TRUSTED_KEYS` names.
pub fn env_paths() -> Vec<PathBuf> {
    std::env::var(TRUSTED_KEYS_ENV)
        .unwrap_or_default()
        .split([':', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Records the `--require-signed` key files (read when first needed); with none given,
/// the environment's apply.
pub fn configure(flags: &[PathBuf]) {
    if !flags.is_empty() {
        *FLAGS.lock().unwrap_or_else(|e| e.into_inner()) = Some(flags.to_vec());
    }
}

/// The trusted keys (empty: no policy).
pub fn trusted() -> Result<Vec<PublicKey>> {
    let mut g = TRUSTED.lock().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        let flags = FLAGS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        *g = Some(load(&flags.unwrap_or_else(env_paths))?);
    }
    Ok(g.clone().unwrap_or_default())
}

/// Under a policy, refuses `digest` in `repo` unless a trusted key signed it; `what`
/// says what it is (`base catalog:core:1.0.0`). Returns the fingerprint that verified.
pub fn require(repo: &dyn Repository, digest: &Digest, what: &str) -> Result<Option<String>> {
    let keys = trusted()?;
    if keys.is_empty() {
        return Ok(None);
    }
    require_keys(repo, digest, what, &keys).map(Some)
}

/// Refuses `digest` unless one of `keys` signed it; returns that key's fingerprint.
pub fn require_keys(
    repo: &dyn Repository,
    digest: &Digest,
    what: &str,
    keys: &[PublicKey],
) -> Result<String> {
    judge(&verify::signatures(repo, digest, keys), what, keys)
}

/// The policy's verdict on checked signatures: the fingerprint of the trusted key that
/// signed, or the refusal (exit 1) naming `what`, the digest, the problems and the keys.
pub fn judge(v: &verify::Verification, what: &str, keys: &[PublicKey]) -> Result<String> {
    let digest = &v.digest;
    if v.ok() {
        let k = v
            .signatures
            .iter()
            .find(|c| c.verdict == verify::Verdict::Verified)
            .and_then(|c| c.key.clone())
            .unwrap_or_default();
        return Ok(k);
    }
    let problems = v.problems.join("; ");
    let tried = if problems.contains("keys tried") {
        String::new()
    } else {
        format!("; keys tried: {}", verify::describe_keys(keys))
    };
    Err(crate::error::failed(format!(
        "{what} ({digest}) is refused by the signature policy: {problems}{tried}"
    )))
}
