//! `[[apt.source]]`: the extra apt sources `packages` layers install from (a security
//! archive, an internal repository). Checked here: the URI is plain http(s) with a host,
//! suite and components use the characters apt allows, and `signed_by` names an OpenPGP
//! key file (armored or binary) in the declaring file's directory, hashed so the lock and
//! the layer cache record exactly which key was trusted.

use super::error::{BlueprintError, Source};
use super::model::AptSource;
use super::raw::RawAptSource;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

/// The largest key file read (a keyring of a few keys is a few KiB).
const KEY_LIMIT: u64 = 1 << 20;

pub fn source(src: &Source, dir: &Path, raw: Spanned<RawAptSource>) -> Result<AptSource> {
    let origin = src.origin(&raw.span());
    let r = raw.into_inner();
    let uri = uri(src, &r.uri)?;
    let suite = word(src, &r.suite, "suite", true)?;
    let components = match &r.components {
        Some(c) => c
            .get_ref()
            .iter()
            .map(|w| word(src, w, "component", false))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let flat = suite.ends_with('/');
    if components.is_empty() != flat {
        let span = r.components.as_ref().map_or(r.suite.span(), |c| c.span());
        return Err(src_error_hint(
            src,
            span,
            "a source needs `components` unless its suite is a flat repository path ending in `/`",
            "write components = [\"main\"], or suite = \"./\" for a flat repository",
        ));
    }
    let (signed_by, key_sha256) = match &r.signed_by {
        Some(k) => {
            let (path, sha) = key(src, dir, k)?;
            (Some(path), Some(sha))
        }
        None => (None, None),
    };
    Ok(AptSource {
        uri,
        suite,
        components,
        signed_by,
        key_sha256,
        declared_in: origin.file,
        line: origin.line,
        column: origin.column,
    })
}

fn uri(src: &Source, v: &Spanned<String>) -> Result<String> {
    let s = v.get_ref().trim_end_matches('/');
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty() && !host.contains('@')
    }) && s
        .chars()
        .all(|c| c.is_ascii_graphic() && !"\"'\\<>`$;".contains(c));
    if !ok {
        return Err(src_error_hint(
            src,
            v.span(),
            format!("apt source uri {:?} is not a plain http:// or https:// URL", v.get_ref()),
            "write uri = \"http://deb.debian.org/debian-security\" (no credentials in the URL; no quotes or spaces)",
        ));
    }
    Ok(s.to_string())
}

/// A suite (`bookworm-security`, `./` for flat) or a component (`main`).
fn word(src: &Source, v: &Spanned<String>, what: &str, slash: bool) -> Result<String> {
    let s = v.get_ref();
    let ok = !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+~".contains(c) || (slash && c == '/'))
        && !s.split('/').any(|p| p == "..");
    if !ok {
        return Err(src_error_hint(
            src,
            v.span(),
            format!("apt source {what} {s:?} has characters apt does not allow"),
            format!("a {what} is letters, digits and . _ - + ~, e.g. \"bookworm-security\""),
        ));
    }
    Ok(s.clone())
}

/// The key file, absolute, and the sha256 of its bytes; armored or binary OpenPGP.
fn key(src: &Source, dir: &Path, v: &Spanned<String>) -> Result<(std::path::PathBuf, String)> {
    use std::io::Read as _;
    let rel = v.get_ref();
    let path = dir.join(rel);
    let hint = format!(
        "signed_by is a key file relative to {}: export it with `gpg --export KEYID > {rel}` (or --armor), or leave signed_by out to trust the base's keyring",
        super::error::display_path(dir)
    );
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(&path).and_then(|f| f.take(KEY_LIMIT + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Err(src_error_hint(
            src,
            v.span(),
            format!(
                "apt source key {rel:?} cannot be read: {} ({})",
                path.display(),
                e.kind()
            ),
            hint,
        ));
    }
    let armored = bytes.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----");
    // A binary OpenPGP packet: the tag byte has its top bit set; public keys are tag 6.
    let binary = bytes
        .first()
        .is_some_and(|b| b & 0x80 != 0 && packet_tag(*b) == 6);
    if bytes.len() as u64 > KEY_LIMIT || !(armored || binary) {
        return Err(src_error_hint(
            src,
            v.span(),
            format!("apt source key {rel:?} is not an OpenPGP public key"),
            hint,
        ));
    }
    let path = path.canonicalize().unwrap_or(path);
    Ok((path, hex::encode(Sha256::digest(&bytes))))
}

fn src_error_hint(
    src: &Source,
    span: std::ops::Range<usize>,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> BlueprintError {
    src.error(span, message).with_hint(hint)
}

/// The packet tag of an OpenPGP header byte (old and new formats).
fn packet_tag(b: u8) -> u8 {
    if b & 0x40 != 0 {
        b & 0x3f
    } else {
        (b >> 2) & 0x0f
    }
}

impl AptSource {
    /// Whether the key-file extension apt needs is `.asc` (armored) or `.gpg`.
    pub fn key_is_armored(&self) -> bool {
        self.signed_by.as_ref().is_some_and(|p| {
            std::fs::read(p).is_ok_and(|b| b.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"))
        })
    }

    /// `uri suite [components]`, how errors and the notes name the source.
    pub fn label(&self) -> String {
        let mut s = format!("{} {}", self.uri, self.suite);
        for c in &self.components {
            s.push(' ');
            s.push_str(c);
        }
        s
    }
}
