//! The chain of trust: ECDSA P-256 keys, cosign-format signatures of published images,
//! DSSE-enveloped in-toto attestations, their verification, and the policy that refuses
//! unsigned content. Formats are the ecosystem's (cosign's signature spec, DSSE,
//! in-toto), so cosign and openssl verify what we sign.

pub mod cosign;
pub mod dsse;
pub mod keys;
pub mod payload;
pub mod policy;
pub mod release;
pub mod repo;
pub mod sign;
pub mod verify;

pub use keys::{PublicKey, SigningKey};
pub use repo::{CatalogRepo, RegistryRepo, Repository};
