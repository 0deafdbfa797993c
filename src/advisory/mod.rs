//! The security response: catalog queries by package, file and CVE, the advisories a
//! release fixed (read from the packages' own Debian changelogs), the OpenVEX document
//! published with a release, and rebuild planning.

pub mod fixed;
pub mod vex;
