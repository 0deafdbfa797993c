//! Technical notes (`release-notes/<name>/<version>-technical.md`): the service contract
//! in words, lifecycle, ABI facts, the VM disks and how to import them, every package,
//! the advisories the upgraded packages fixed, every layer, provenance and how to verify — the reference an engineer checks a
//! release against.

use crate::notes::facts::ReleaseFacts;
use crate::notes::{links, words};
use std::fmt::Write;

pub fn render(f: &ReleaseFacts) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} {}: technical notes\n", f.name, f.version);
    let _ = writeln!(s, "Digest `{}`, pull `{}`.\n", f.digest, f.pull_ref);

    let _ = writeln!(s, "## Service contract\n");
    for suite in &f.suites {
        let _ = writeln!(s, "### {} {}\n", suite.name, suite.version);
        if !suite.description.is_empty() {
            let _ = writeln!(s, "{}\n", suite.description);
        }
        for t in &suite.tests {
            let reg = t
                .regression_for
                .as_deref()
                .map(|r| format!(" (regression test for {r})"))
                .unwrap_or_default();
            let _ = writeln!(s, "- **{}**{reg}: {}.", t.name, words::describe(t));
        }
        s.push('\n');
    }

    let _ = writeln!(s, "## Lifecycle\n");
    let _ = writeln!(s, "- Released: {}", f.released);
    let _ = writeln!(
        s,
        "- End of support: {}",
        f.end_of_support.as_deref().unwrap_or("not set")
    );
    let _ = writeln!(s, "- Status: {}\n", f.status);

    let _ = writeln!(s, "## ABI\n");
    let _ = writeln!(
        s,
        "- glibc: {}",
        f.glibc.as_deref().unwrap_or("not present")
    );
    if let Some(k) = &f.kernel {
        let _ = writeln!(s, "- Kernel: {k}");
    }
    if f.sonames.is_empty() {
        let _ = writeln!(s, "- Shared libraries: none found");
    } else {
        let _ = writeln!(
            s,
            "- Key shared libraries: {}",
            f.sonames
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s.push('\n');

    s.push_str(&crate::notes::import::render(f));

    let _ = writeln!(s, "## Packages ({})\n", f.packages.len());
    if f.packages.is_empty() {
        let _ = writeln!(s, "No dpkg database in this image.\n");
    } else {
        let _ = writeln!(s, "| package | version |\n|---|---|");
        for (n, v) in &f.packages {
            let _ = writeln!(s, "| {} | {v} |", links::package(n, &f.sources));
        }
        s.push('\n');
    }

    advisories(&mut s, f);

    let _ = writeln!(s, "## Layers\n");
    let _ = writeln!(s, "| # | digest | size | made by |\n|---|---|---|---|");
    for (i, l) in f.layers.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {i} | `{}` | {} | {} |",
            l.digest, l.size, l.created_by
        );
    }
    let total: u64 = f.layers.iter().map(|l| l.size).sum();
    let _ = writeln!(s, "\nTotal compressed size: {total} bytes.\n");

    let _ = writeln!(s, "## Provenance\n");
    let _ = writeln!(
        s,
        "- Base: `{}`{}",
        f.base_ref,
        f.base_digest
            .as_deref()
            .map(|d| format!(" (`{d}`)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "- Blueprint digest: {}",
        f.blueprint_digest
            .as_deref()
            .map(|d| format!("`{d}`"))
            .unwrap_or_else(|| "not recorded".into())
    );
    let _ = writeln!(
        s,
        "- Lock digest: {}",
        f.lock_digest
            .as_deref()
            .map(|d| format!("`{d}`"))
            .unwrap_or_else(|| "not recorded".into())
    );
    let _ = writeln!(s, "- Builder: {}\n", f.builder);

    let _ = writeln!(s, "## How to verify\n");
    let _ = writeln!(
        s,
        "- Pin by digest: `{}`; a registry client verifies every blob against it.",
        f.pull_ref
    );
    let _ = writeln!(
        s,
        "- `corebuild pull {}:{} --out DIR` re-verifies every digest and size.",
        f.name, f.version
    );
    if let Some(r) = &f.sbom_ref {
        let _ = writeln!(s, "- SBOM (SPDX 2.3 JSON): `{r}`");
    }
    if let Some(r) = &f.provenance_ref {
        let _ = writeln!(s, "- Provenance (in-toto, SLSA v1): `{r}`");
    }
    if let Some(r) = &f.vex_ref {
        let _ = writeln!(s, "- What this release fixed (OpenVEX 0.2.0): `{r}`");
    }
    signature(&mut s, f);
    let _ = writeln!(
        s,
        "- Contract report: attached to `{}` (tag `sha256-{}.contract-*` in the catalog); rerun it with `corebuild test {}:{} --suite NAME`.",
        f.digest,
        f.digest.hex(),
        f.name,
        f.version
    );
    super::product::support(&mut s, f);
    if !f.known_issues.is_empty() {
        s.push('\n');
        super::product::known_issues(&mut s, f);
        s.truncate(s.trim_end().len() + 1);
    }
    s
}

/// Who signed the release, and the SLSA Build level that makes its provenance.
fn signature(s: &mut String, f: &ReleaseFacts) {
    match &f.signed_by {
        Some(k) => {
            let _ = writeln!(
                s,
                "- Signed (cosign format, tag `sha256-{hex}.sig`) by the build platform's key `{k}`; the provenance, SBOM, contract reports and OpenVEX document are signed in-toto attestations (tag `sha256-{hex}.att`). Check both with `corebuild verify {}:{} --key cosign.pub`. Provenance: SLSA Build L2 (signed by the build platform).",
                f.name,
                f.version,
                hex = f.digest.hex()
            );
        }
        None => {
            let _ = writeln!(
                s,
                "- Not signed: the provenance is SLSA Build L1 (unsigned). Releases published with `--sign-key` are signed and attested."
            );
        }
    }
}

/// The upgraded packages whose Debian changelogs name advisories since the previous
/// release (the OpenVEX document attached to the release says the same).
fn advisories(s: &mut String, f: &ReleaseFacts) {
    let Some(d) = &f.diff else {
        return;
    };
    let _ = writeln!(s, "## Security advisories fixed by package upgrades\n");
    if d.advisories.is_empty() {
        let _ = writeln!(
            s,
            "No upgraded package's Debian changelog names an advisory since the previous release.\n"
        );
        return;
    }
    let _ = writeln!(s, "| package | old | new | advisories |\n|---|---|---|---|");
    for x in &d.advisories {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            links::package(&x.package, &f.sources),
            x.old_version,
            x.new_version,
            x.advisories
                .iter()
                .map(|a| links::advisory(a))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s.push('\n');
}
