//! corebuild: declarative blueprints to versioned, content-addressed, tested core images.
//!
//! The binary in `main.rs` is a thin shim over this library; every stage of the pipeline
//! lives in its own module (see `../shared/DESIGN.md`).

pub mod advisory;
pub mod blueprint;
pub mod build;
pub mod catalog;
pub mod cli;

pub mod contract;
pub mod debian;
pub mod digest;
pub mod disk;
pub mod error;
pub mod failpoint;
#[cfg(test)]
mod fuzz;
pub mod gc;
pub mod layer;
pub mod notes;
pub mod oci;
pub mod parallel;
pub mod percent;
pub mod pins;
pub mod pipeline;
pub mod plan;
pub mod profile;
pub mod provenance;
pub mod registry;
pub mod runtime;
pub mod sbom;
pub mod site;
pub mod tool;
pub mod trust;
