//! Integration tests: the real `corebuild` binary against real tools (skopeo, umoci,
//! runc, GNU tar). One test binary, a small util module.

mod advisories;
mod apt_sources;
mod aptrepo;
mod bad_input;
mod boot_disk;
mod browser;
mod build;
mod catalog;
mod contract;
mod core_vm;
mod crash;
mod dependents;
mod determinism;
mod diff;
mod disk;
mod disk_formats;
mod docker_base;
mod escapes;
mod fanout;
mod gc;
mod layer_cache;
mod pins;
mod plan;
mod query;
mod rebuild;
mod registry;
mod registry_faults;
mod release;
mod self_image;
mod site;
mod steps;
mod store;
mod trust;
mod util;
mod vm_contract;
