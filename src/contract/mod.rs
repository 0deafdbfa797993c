//! Service contracts: the suite schema and its parser, a runner per test kind, the
//! report (human text, JSON, JUnit XML), storing reports as OCI artifacts beside the
//! candidate, and the gate that publishing asks.
//!
//! Flow: [`load_suite`] (or [`load_suite_ref`] for a blueprint's suites) → [`run_suites`]
//! with an [`Executor`] for command and service tests → [`ContractReport`] →
//! [`store_report`] → [`gate`] before publishing.

mod candidate;
mod command_check;
pub mod debversion;
mod dpkg;
mod exec;
mod file_check;
mod gate;
mod junit;
mod library_check;
mod metadata_check;
mod package_check;
mod parse;
mod raw;
mod report;
mod rootfs;
mod run;
mod schema;
mod store;
mod text;
mod values;

#[cfg(test)]
mod tests;

pub use candidate::Candidate;
pub use command_check::{evaluate_command, evaluate_service};
pub use exec::{CommandOutput, Executor, ServiceOutput};
pub use gate::{decide, gate, GateStatus, GateVerdict, SuiteVerdict};
pub use junit::render as render_junit;
pub use library_check::version_definitions;
pub use parse::{load_suite, load_suite_ref, load_suites, parse_suite};
pub use report::{ContractReport, Outcome, SuiteReport, Summary, TestResult};
pub use run::{run_suites, run_test, RunOptions};
pub use schema::{
    BootTest, Check, CommandSpec, CommandTest, FileTest, FileType, LibraryTest, MetadataTest,
    PackageExpect, PackageTest, Pattern, ServiceSpec, ServiceTest, Suite, TestCase, TestKind,
};
pub use store::{
    reports_for, store_report, stored_reports, tag_prefix, StoredReport, PASSED_ANNOTATION,
    REPORT_MEDIA_TYPE, SUBJECT_ANNOTATION, SUITES_ANNOTATION,
};
pub use text::render as render_text;
