//! Debian facts read from an image: version order and relations, the dpkg status
//! database, and (for the security response) package changelogs. The contract tests,
//! the notes, the SBOM and the advisory work all read them through here.

pub mod changelog;
pub mod dpkg;
pub mod version;
