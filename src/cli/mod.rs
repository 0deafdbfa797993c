//! The command line: clap types, one short function per subcommand, and the mapping from
//! errors to exit codes. No pipeline logic lives here.

mod base;
mod build;
mod catalog;
mod diff;
mod disk;
mod fsck;
mod gc;
mod inspect;
mod key;
mod lock;
mod output;
mod pins;
mod plan;
mod promote;
mod publish;
mod pull;
mod query;
mod rebuild;
mod release;
mod sign;
mod test;
mod unpack;
mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "corebuild",
    version,
    about = "Build, test and publish versioned core images from declarative blueprints"
)]
pub struct Cli {
    /// The build store (an OCI image layout).
    #[arg(
        long,
        global = true,
        env = "COREBUILD_STORE",
        default_value = ".corebuild/store"
    )]
    pub store: PathBuf,
    /// Refuse catalog and registry content (resolve, pull, catalog: and docker:// bases,
    /// publish of a base-derived image) unless this public key signed it; repeatable.
    /// Default: the key files COREBUILD_TRUSTED_KEYS names (separated by `:` or `,`).
    #[arg(long = "require-signed", global = true, value_name = "PUB")]
    pub require_signed: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a blueprint into the store (and optionally an OCI layout).
    Build(build::Args),
    /// Resolve the blueprint's base (and pins) and write blueprint.lock.
    Lock(lock::Args),
    /// Manage known-good bases.
    #[command(subcommand)]
    Base(base::Command),
    /// Show an image's manifest, config and layers.
    Inspect(inspect::Args),
    /// List the images tagged in the store.
    Images(inspect::ImagesArgs),
    /// Flatten an image into a directory with the safe layer apply.
    Unpack(unpack::Args),
    /// Verify every blob and reference in the store.
    Fsck(fsck::Args),
    /// Run the contract suites against a candidate and store the report.
    Test(test::Args),
    /// Show what changed between two images: packages, files, config, base, suites, sizes.
    Diff(diff::Args),
    /// The whole pipeline: build, disk, test, gate, publish, notes, promote.
    Release(release::Args),
    /// Publish a candidate that passed its contract gate to the catalog.
    Publish(publish::Args),
    /// Assign a published release to a channel (by digest).
    Promote(promote::PromoteArgs),
    /// Return a channel to its previous assignment.
    Rollback(promote::RollbackArgs),
    /// Mark a release deprecated.
    Deprecate(promote::StatusArgs),
    /// Revoke a release: resolving it fails and channels drop it.
    Revoke(promote::StatusArgs),
    /// Read the catalog: list, resolve, artifacts.
    #[command(subcommand)]
    Catalog(catalog::Command),
    /// Check the core-build references an app pins (Dockerfiles, YAML, lists).
    #[command(subcommand)]
    Pins(pins::Command),
    /// Fetch a release from the catalog into an OCI layout.
    Pull(pull::Args),
    /// Which released core builds carry a package, a file or a CVE (from their SBOMs and VEX).
    Query(query::Args),
    /// Rebuild the core builds whose latest release carries a vulnerable package.
    Rebuild(rebuild::Args),
    /// Export an image as a bootable qcow2 or raw disk (GPT, ext4), kept in the store.
    Disk(disk::Args),
    /// Manage signing keys.
    #[command(subcommand)]
    Key(key::Command),
    /// Verify a release's signatures and attestations against public keys.
    Verify(verify::Args),
    /// Sign a published release (again, e.g. with a rotated key) or a registry image.
    Sign(sign::Args),
    /// Remove what no tag, lock file or size budget keeps from the store.
    Gc(gc::Args),
    /// Write the fan-out plan of a blueprint directory for GitHub Actions, GitLab CI,
    /// Kubernetes Jobs or our JSON contract (one release job per blueprint, in base order).
    Plan(plan::Args),
}

/// Parses arguments, runs the command, and returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            crate::error::exit_code(&e)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let store = cli.store;
    crate::trust::policy::configure(&cli.require_signed);
    let _lease = lease(&cli.command, &store)?;
    match cli.command {
        Command::Build(a) => build::run(&store, a),
        Command::Lock(a) => lock::run(&store, a),
        Command::Base(c) => base::run(&store, c),
        Command::Inspect(a) => inspect::run(&store, a),
        Command::Images(a) => inspect::images(&store, a),
        Command::Unpack(a) => unpack::run(&store, a),
        Command::Fsck(a) => fsck::run(&store, a),
        Command::Test(a) => test::run(&store, a),
        Command::Diff(a) => diff::run(&store, a),
        Command::Release(a) => release::run(&store, a),
        Command::Publish(a) => publish::run(&store, a),
        Command::Promote(a) => promote::promote(a),
        Command::Rollback(a) => promote::rollback(a),
        Command::Deprecate(a) => promote::deprecate(a),
        Command::Revoke(a) => promote::revoke(a),
        Command::Catalog(c) => catalog::run(c),
        Command::Pins(c) => pins::run(c),
        Command::Pull(a) => pull::run(a),
        Command::Query(a) => query::run(&store, a),
        Command::Rebuild(a) => rebuild::run(&store, a),
        Command::Disk(a) => disk::run(&store, a),
        Command::Key(c) => key::run(c),
        Command::Verify(a) => verify::run(a),
        Command::Sign(a) => sign::run(a),
        Command::Gc(a) => gc::run(&store, a),
        Command::Plan(a) => plan::run(a),
    }
}

/// The store lease (`crate::gc::lease`) a command holds while it runs: shared by every
/// command that uses the store, so that `gc` (which takes it exclusively) never collects
/// a build's blobs mid-build. Commands without the store take none.
fn lease(
    command: &Command,
    store: &std::path::Path,
) -> anyhow::Result<Option<crate::gc::lease::Lease>> {
    use crate::gc::lease;
    Ok(match command {
        Command::Build(_)
        | Command::Lock(_)
        | Command::Base(_)
        | Command::Test(_)
        | Command::Release(_)
        | Command::Publish(_)
        | Command::Rebuild(_)
        | Command::Disk(_) => Some(lease::for_writer(store)?),
        Command::Inspect(_)
        | Command::Images(_)
        | Command::Unpack(_)
        | Command::Fsck(_)
        | Command::Diff(_)
        | Command::Query(_) => lease::for_reader(store),
        Command::Gc(_)
        | Command::Promote(_)
        | Command::Rollback(_)
        | Command::Deprecate(_)
        | Command::Revoke(_)
        | Command::Catalog(_)
        | Command::Pins(_)
        | Command::Pull(_)
        | Command::Key(_)
        | Command::Verify(_)
        | Command::Sign(_)
        | Command::Plan(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_build_flags() {
        let c = Cli::try_parse_from([
            "corebuild",
            "build",
            "bp",
            "--locked",
            "--json",
            "--out",
            "o",
        ])
        .unwrap();
        match c.command {
            Command::Build(a) => {
                assert!(a.locked && a.json);
                assert_eq!(a.out.unwrap(), PathBuf::from("o"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn base_import_needs_exactly_one_source() {
        let import = |sources: &[&str]| {
            let mut args = vec![
                "corebuild",
                "base",
                "import",
                "--name",
                "n",
                "--version",
                "1",
            ];
            args.extend_from_slice(sources);
            Cli::try_parse_from(args)
        };
        assert!(import(&[]).is_err());
        assert!(import(&["--rootfs", "r", "--oci-layout", "l"]).is_err());
        assert!(import(&["--registry", "reg.example/debian:12", "--oci-layout", "l"]).is_err());
        assert!(import(&["--rootfs", "r"]).is_ok());
        let c = import(&["--registry", "docker://reg.example/debian:12"]).unwrap();
        let Command::Base(crate::cli::base::Command::Import(a)) = c.command else {
            panic!("parsed as {:?}", c.command)
        };
        assert_eq!(
            a.registry.as_deref(),
            Some("docker://reg.example/debian:12")
        );
    }

    #[test]
    fn catalog_commands_parse() {
        let c = Cli::try_parse_from([
            "corebuild",
            "publish",
            "bp",
            "--catalog",
            "registry:127.0.0.1:5000/core",
            "--insecure",
        ])
        .unwrap();
        match c.command {
            Command::Publish(a) => {
                assert!(a.catalog.insecure);
                assert_eq!(a.catalog.catalog, "registry:127.0.0.1:5000/core");
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["corebuild", "promote", "a:1", "stable"]).is_ok());
        assert!(
            Cli::try_parse_from(["corebuild", "revoke", "a:1"]).is_err(),
            "revoke needs --reason"
        );
        assert!(Cli::try_parse_from([
            "corebuild",
            "catalog",
            "resolve",
            "a@stable",
            "--allow-revoked"
        ])
        .is_ok());
        assert!(
            Cli::try_parse_from(["corebuild", "pull", "a:1"]).is_err(),
            "pull needs --out"
        );
    }

    #[test]
    fn query_takes_exactly_one_selector() {
        let ok = |args: &[&str]| {
            let mut v = vec!["corebuild", "query"];
            v.extend_from_slice(args);
            Cli::try_parse_from(v).is_ok()
        };
        assert!(ok(&[
            "--package",
            "corelib",
            "--version",
            "<< 1.0-2",
            "--json"
        ]));
        assert!(ok(&["--file", "/usr/bin/x"]));
        assert!(ok(&["--cve", "CVE-2026-0001"]));
        assert!(!ok(&[]), "a selector is required");
        assert!(!ok(&["--package", "a", "--cve", "CVE-1"]), "only one");
        assert!(
            !ok(&["--file", "/x", "--version", ">= 1"]),
            "--version needs --package"
        );
    }

    #[test]
    fn pins_check_parses() {
        let c = Cli::try_parse_from([
            "corebuild",
            "pins",
            "check",
            "Dockerfile",
            "k8s",
            "--channel",
            "candidate",
            "--json",
            "--fix",
            "--catalog",
            "oci-layout:c",
        ])
        .unwrap();
        let Command::Pins(crate::cli::pins::Command::Check(a)) = c.command else {
            panic!("parsed as {:?}", c.command)
        };
        assert_eq!(a.paths, [PathBuf::from("Dockerfile"), PathBuf::from("k8s")]);
        assert!(a.json && a.fix);
        assert_eq!(
            (a.channel.as_str(), a.catalog.catalog.as_str()),
            ("candidate", "oci-layout:c")
        );
        assert!(
            Cli::try_parse_from(["corebuild", "pins", "check"]).is_err(),
            "a path is required"
        );
    }

    #[test]
    fn gc_parses_sizes_and_repeated_locks() {
        let c = Cli::try_parse_from([
            "corebuild",
            "gc",
            "--keep-size",
            "1.5GB",
            "--locks",
            "a",
            "--locks",
            "b",
            "--dry-run",
            "--no-wait",
            "--json",
        ])
        .unwrap();
        let Command::Gc(a) = c.command else {
            panic!("parsed as {:?}", c.command)
        };
        assert_eq!(a.keep_size, Some(1_500_000_000));
        assert_eq!(a.locks, [PathBuf::from("a"), PathBuf::from("b")]);
        assert!(a.dry_run && a.no_wait && a.json);
        let err = Cli::try_parse_from(["corebuild", "gc", "--keep-size", "lots"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--keep-size"), "{err}");
    }

    #[test]
    fn plan_parses() {
        let c = Cli::try_parse_from([
            "corebuild",
            "plan",
            "blueprints",
            "--emit",
            "k8s-job",
            "--image",
            "i@sha256:00",
            "--out",
            "p.yaml",
        ])
        .unwrap();
        let Command::Plan(a) = c.command else {
            panic!("parsed as {:?}", c.command)
        };
        assert_eq!(a.emit, crate::plan::Emit::K8sJob);
        assert_eq!(a.out, Some(PathBuf::from("p.yaml")));
        assert!(
            Cli::try_parse_from(["corebuild", "plan", "b", "--emit", "jenkins"]).is_err(),
            "only the known engines"
        );
    }

    #[test]
    fn store_comes_from_flag() {
        let c = Cli::try_parse_from(["corebuild", "--store", "/s", "fsck"]).unwrap();
        assert_eq!(c.store, PathBuf::from("/s"));
    }
}
