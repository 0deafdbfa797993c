//! The OCI image layout on disk.

/// A blob's bytes do not match its digest or size.
#[derive(Debug, thiserror::Error)]
#[error("blob {expected}: content does not match its digest (got {actual}, {size} bytes)")]
pub struct DigestMismatch {
    pub expected: crate::digest::Digest,
    pub actual: crate::digest::Digest,
    pub size: u64,
}
