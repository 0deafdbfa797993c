//! The pinning rule: a base is referenced by digest, in the blueprint or through
//! `blueprint.lock`, and `--locked` refuses anything else (like `cargo --locked`).

use super::error::{display_path, BlueprintError};
use super::lock::{lock_path, LockedBase};
use super::model::{BaseRef, Blueprint};
use crate::digest::Digest;

const RELOCK: &str = "run `corebuild lock` to pin the base and commit blueprint.lock";

impl Blueprint {
    /// The base reference and the digest it is pinned to: the blueprint's own `digest`,
    /// or the lock's when the lock pins the same `ref`. Both present and different is an
    /// error (someone changed one without the other); no pin at all is an error that says
    /// to run `corebuild lock`. A lock that pins another `ref` is stale and ignored here.
    pub fn pinned_base(&self) -> Result<(String, Digest), BlueprintError> {
        let reference = &self.base.reference;
        let locked = self.locked_base().filter(|l| l.reference == *reference);
        match (self.own_pin()?, locked) {
            // A lock of a reference that names an index records the index too.
            (Some(own), Some(l)) if own != l.digest && l.index.as_ref() != Some(&own) => Err(self
                .base_error(format!(
                    "base {reference:?} is pinned to {own} here but to {} in {}",
                    l.digest,
                    display_path(&lock_path(&self.dir))
                ))
                .with_hint(
                    "run `corebuild lock` to record the blueprint's digest in the lock, \
                     or fix the digest in the blueprint",
                )),
            (Some(own), _) => Ok((reference.clone(), own)),
            (None, Some(l)) => Ok((reference.clone(), l.digest.clone())),
            (None, None) => Err(self
                .base_error(format!(
                    "base {reference:?} is not pinned: [base] has no digest and {} does not pin it",
                    display_path(&lock_path(&self.dir))
                ))
                .with_hint(format!(
                    "{RELOCK}, or add digest = \"sha256:...\" under [base]"
                ))),
        }
    }

    /// The pin the blueprint itself carries: `[base] digest`, or the digest of a
    /// `docker://…@sha256:…` reference (a reference pinned by itself). Both present and
    /// different is an error.
    pub fn own_pin(&self) -> Result<Option<Digest>, BlueprintError> {
        let in_ref = match self.base.parsed()? {
            BaseRef::Docker { digest, .. } => digest,
            _ => None,
        };
        match (&self.base.digest, in_ref) {
            (Some(own), Some(r)) if *own != r => Err(self
                .base_error(format!(
                    "base {:?} names {r}, but [base] digest is {own}",
                    self.base.reference
                ))
                .with_hint("keep one pin: remove [base] digest or make the two agree")),
            (own, r) => Ok(own.clone().or(r)),
        }
    }

    /// The `--locked` check: the base must be pinned (see [`Blueprint::pinned_base`]) and
    /// a lock file, when there is one, must be current for this blueprint's base.
    pub fn check_locked(&self) -> Result<(), BlueprintError> {
        self.pinned_base()?;
        if let Some(l) = self.locked_base() {
            if l.reference != self.base.reference {
                return Err(self
                    .base_error(format!(
                        "{} is out of date: it pins base {:?}, but the blueprint uses {:?}",
                        display_path(&lock_path(&self.dir)),
                        l.reference,
                        self.base.reference
                    ))
                    .with_hint(RELOCK));
            }
        }
        Ok(())
    }

    fn locked_base(&self) -> Option<&LockedBase> {
        self.lock.as_ref().and_then(|l| l.base.as_ref())
    }

    fn base_error(&self, message: String) -> BlueprintError {
        BlueprintError::at(
            &self.base.declared_in,
            self.base.line,
            self.base.column,
            message,
        )
    }
}
