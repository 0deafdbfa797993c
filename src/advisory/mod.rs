//! The security response: catalog queries by package, file and CVE, the advisories a
//! release fixed (read from the packages' own Debian changelogs), the OpenVEX document
//! published with a release, and rebuild planning.

pub mod cache;
pub mod edit;
pub mod fixed;
pub mod gather;
pub mod query;
pub mod rebuild;
pub mod rebuild_run;
pub mod sbom_read;
pub mod vex;
