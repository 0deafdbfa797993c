//! ECDSA P-256 keys in the formats cosign and openssl use: the private key as PKCS#8 PEM
//! (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with the password from
//! `COREBUILD_KEY_PASSWORD`; SEC1 `EC PRIVATE KEY` as `openssl ecparam -genkey` writes
//! is read too), the public key as PKIX PEM (`PUBLIC KEY`, the format of `cosign.pub`).
//! Signatures are ECDSA over SHA-256, DER-encoded, as cosign and `openssl dgst -sha256
//! -sign` make them. All of it is RustCrypto (`p256`, `ecdsa`, `pkcs8`, `spki`).

use anyhow::{Context, Result};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey as P256Signing, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use p256::pkcs8::{EncryptedPrivateKeyInfo, LineEnding};
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// The environment variable holding the password of an encrypted private key.
pub const PASSWORD_ENV: &str = "COREBUILD_KEY_PASSWORD";

/// PBKDF2-HMAC-SHA256 rounds for an encrypted key (OWASP's 2023 figure).
const PBKDF2_ITERATIONS: u32 = 600_000;

/// The largest key file read (PEM keys are a few hundred bytes).
const KEY_FILE_LIMIT: u64 = 64 << 10;

/// A private key that signs.
pub struct SigningKey {
    key: P256Signing,
    /// Where it was read from, for messages.
    pub path: PathBuf,
}

/// A public key that verifies, with where it came from.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: VerifyingKey,
    pub path: PathBuf,
}

fn read_pem(path: &Path, what: &str) -> Result<String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| {
        crate::error::input(format!("cannot read the {what} {}: {e}", path.display()))
    })?;
    let mut s = String::new();
    f.take(KEY_FILE_LIMIT)
        .read_to_string(&mut s)
        .map_err(|e| crate::error::input(format!("{} is not a PEM file: {e}", path.display())))?;
    Ok(s)
}

fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = pem[start..].find("-----")?;
    Some(&pem[start..start + end])
}

/// Never prints the secret: the file and the public key's fingerprint.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("path", &self.path)
            .field("public", &self.public().fingerprint())
            .finish()
    }
}

impl SigningKey {
    /// Reads a private key file (see the module doc for the accepted forms); an encrypted
    /// one with the password in `COREBUILD_KEY_PASSWORD`.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with_password(path, std::env::var(PASSWORD_ENV).ok().as_deref())
    }

    /// Reads a private key file, decrypting it with `password` when it is encrypted.
    pub fn load_with_password(path: &Path, password: Option<&str>) -> Result<Self> {
        let pem = read_pem(path, "signing key")?;
        let bad = |why: String| {
            crate::error::input(format!(
                "{}: {why} (expected an ECDSA P-256 private key as PKCS#8 PEM, e.g. from \
                 `corebuild key generate` or `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)",
                path.display()
            ))
        };
        let key = match pem_label(&pem) {
            Some("PRIVATE KEY") => {
                P256Signing::from_pkcs8_pem(&pem).map_err(|e| bad(format!("{e}")))?
            }
            Some("EC PRIVATE KEY") => p256::SecretKey::from_sec1_pem(&pem)
                .map(P256Signing::from)
                .map_err(|e| bad(format!("{e}")))?,
            Some("ENCRYPTED PRIVATE KEY") => decrypt(&pem, path, password)?,
            Some("ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY") => {
                return Err(bad("cosign's own encrypted key format is not read; export the key \
                     as PKCS#8 (`cosign import-key-pair` goes the other way; or generate one with `corebuild key generate`)"
                    .into()))
            }
            Some(other) => return Err(bad(format!("a PEM block of type {other:?}"))),
            None => return Err(bad("no PEM block".into())),
        };
        Ok(SigningKey {
            key,
            path: path.to_path_buf(),
        })
    }

    /// A new random key (from the operating system's generator).
    pub fn generate() -> Self {
        SigningKey {
            key: P256Signing::random(&mut rand_core::OsRng),
            path: PathBuf::new(),
        }
    }

    /// The DER-encoded ECDSA P-256 signature of SHA-256(`msg`). Deterministic (RFC 6979):
    /// the same key and message give the same bytes.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
            path: self.path.clone(),
        }
    }

    /// The private key as PKCS#8 PEM, encrypted with `password` when one is given:
    /// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, which openssl reads (its scrypt
    /// memory limit refuses the pkcs8 crate's default scrypt parameters).
    pub fn to_pem(&self, password: Option<&str>) -> Result<String> {
        use rand_core::RngCore as _;
        let Some(password) = password else {
            let pem = self
                .key
                .to_pkcs8_pem(LineEnding::LF)
                .context("encoding the private key")?;
            return Ok(pem.to_string());
        };
        let der = self
            .key
            .to_pkcs8_der()
            .context("encoding the private key")?;
        let info =
            pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).context("encoding the private key")?;
        let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
        rand_core::OsRng.fill_bytes(&mut salt);
        rand_core::OsRng.fill_bytes(&mut iv);
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
                .map_err(|e| anyhow::anyhow!("encryption parameters: {e}"))?;
        let enc = info
            .encrypt_with_params(params, password)
            .context("encrypting the private key")?;
        let pem = enc
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .context("encoding the encrypted key")?;
        Ok(pem.to_string())
    }
}

fn decrypt(pem: &str, path: &Path, password: Option<&str>) -> Result<P256Signing> {
    let password = password.ok_or_else(|| {
        crate::error::input(format!(
            "{} is encrypted: set {PASSWORD_ENV} to its password",
            path.display()
        ))
    })?;
    let (_, doc) = pkcs8::der::SecretDocument::from_pem(pem).map_err(|e| {
        crate::error::input(format!("{}: not an encrypted key: {e}", path.display()))
    })?;
    let info = EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|e| {
        crate::error::input(format!("{}: not an encrypted key: {e}", path.display()))
    })?;
    let plain = info.decrypt(password.as_bytes()).map_err(|_| {
        crate::error::input(format!(
            "{}: cannot decrypt it with the password in {PASSWORD_ENV}",
            path.display()
        ))
    })?;
    P256Signing::from_pkcs8_der(plain.as_bytes()).map_err(|e| {
        crate::error::input(format!(
            "{}: the decrypted key is not an ECDSA P-256 key: {e}",
            path.display()
        ))
    })
}

impl PublicKey {
    /// Reads a PKIX PEM public key (`cosign.pub`).
    pub fn load(path: &Path) -> Result<Self> {
        let pem = read_pem(path, "public key")?;
        if pem_label(&pem).is_some_and(|l| l.contains("PRIVATE KEY")) {
            return Err(crate::error::input(format!(
                "{} is a private key; give the public key (cosign.pub) to verify",
                path.display()
            )));
        }
        let key = VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
            crate::error::input(format!(
                "{}: not an ECDSA P-256 public key in PKIX PEM (cosign.pub): {e}",
                path.display()
            ))
        })?;
        Ok(PublicKey {
            key,
            path: path.to_path_buf(),
        })
    }

    /// Whether `sig` (DER) is this key's signature of SHA-256(`msg`).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = DerSignature::from_bytes(sig) else {
            return false;
        };
        self.key.verify(msg, &sig).is_ok()
    }

    /// The public key as PKIX PEM.
    pub fn to_pem(&self) -> Result<String> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .context("encoding the public key")
    }

    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo: what
    /// `openssl pkey -pubin -outform DER | sha256sum` prints.
    pub fn fingerprint(&self) -> String {
        let der = self
            .key
            .to_public_key_der()
            .expect("a P-256 point always encodes");
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(der.as_bytes()))
        )
    }

    /// How messages name the key: its fingerprint and file.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.fingerprint(), self.path.display())
    }
}

/// The file names `key generate` writes (cosign's).
pub const PRIVATE_FILE: &str = "cosign.key";
pub const PUBLIC_FILE: &str = "cosign.pub";

/// What `generate` wrote.
#[derive(Debug, serde::Serialize)]
pub struct Generated {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub fingerprint: String,
    pub encrypted: bool,
}

/// Writes a new key pair into `dir` (created if missing): `cosign.key` (mode 0600,
/// encrypted with `password` when given) and `cosign.pub`. Existing files are never
/// overwritten.
pub fn generate(dir: &Path, password: Option<&str>) -> Result<Generated> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::error::environment(format!("creating {}: {e}", dir.display())))?;
    let private = dir.join(PRIVATE_FILE);
    let public = dir.join(PUBLIC_FILE);
    for p in [&private, &public] {
        if p.symlink_metadata().is_ok() {
            return Err(crate::error::input(format!(
                "{} exists; keys are never overwritten: remove it or choose another --out",
                p.display()
            )));
        }
    }
    let key = SigningKey::generate();
    let mut pub_key = key.public();
    write_new(&private, key.to_pem(password)?.as_bytes(), 0o600)?;
    write_new(&public, pub_key.to_pem()?.as_bytes(), 0o644)?;
    pub_key.path = public.clone();
    Ok(Generated {
        fingerprint: pub_key.fingerprint(),
        private_key: private,
        public_key: public,
        encrypted: password.is_some(),
    })
}

/// Creates `path` (failing if it exists) with `mode`, writes and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| crate::error::environment(format!("writing {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| crate::error::environment(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pair_signs_and_verifies_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), None).unwrap();
        let key = SigningKey::load(&g.private_key).unwrap();
        let public = PublicKey::load(&g.public_key).unwrap();
        assert_eq!(public.fingerprint(), g.fingerprint);
        let sig = key.sign(b"payload");
        assert!(public.verify(b"payload", &sig));
        assert!(!public.verify(b"payload!", &sig));
        assert!(!public.verify(b"payload", b"not der"));
        let other = SigningKey::generate().public();
        assert!(!other.verify(b"payload", &sig));
        // Never overwritten.
        let again = generate(dir.path(), None).unwrap_err();
        assert!(
            format!("{again:#}").contains("never overwritten"),
            "{again:#}"
        );
        let mode = std::fs::metadata(&g.private_key).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_private_key_is_refused_where_a_public_one_belongs() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), None).unwrap();
        let e = PublicKey::load(&g.private_key).unwrap_err();
        assert!(format!("{e:#}").contains("is a private key"), "{e:#}");
        let e = SigningKey::load(&g.public_key).unwrap_err();
        assert!(format!("{e:#}").contains("PUBLIC KEY"), "{e:#}");
    }

    #[test]
    fn an_encrypted_key_needs_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), Some("s3cret")).unwrap();
        let pem = std::fs::read_to_string(&g.private_key).unwrap();
        assert!(
            pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{pem}"
        );
        let key = SigningKey::load_with_password(&g.private_key, Some("s3cret")).unwrap();
        assert_eq!(key.public().fingerprint(), g.fingerprint);
        for (pw, says) in [
            (None, "set COREBUILD_KEY_PASSWORD"),
            (Some("wrong"), "cannot decrypt"),
        ] {
            let e = SigningKey::load_with_password(&g.private_key, pw)
                .err()
                .unwrap();
            assert!(format!("{e:#}").contains(says), "{e:#}");
        }
    }
}
