//! Service contracts: the suite schema and its parser, a runner per test kind, the
//! report (human text, JSON, JUnit XML), storing reports as OCI artifacts beside the
//! candidate, and the gate that publishing asks.

pub mod debversion;
mod parse;
mod raw;
mod schema;
mod values;

#[cfg(test)]
mod tests;

pub use parse::{load_suite, load_suite_ref, parse_suite};
pub use schema::{
    BootTest, Check, CommandSpec, CommandTest, FileTest, FileType, LibraryTest, MetadataTest,
    PackageExpect, PackageTest, Pattern, ServiceSpec, ServiceTest, Suite, TestCase, TestKind,
};
