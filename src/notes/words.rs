//! A contract test in words, for technical notes: what a consumer may rely on.

use crate::contract::{Check, FileType, PackageExpect, TestCase};

/// A pattern's source as it would be written in TOML: escapes stay escapes.
fn pat(p: &crate::contract::Pattern) -> String {
    p.source.replace('\n', "\\n").replace('\t', "\\t")
}

fn argv(a: &[String]) -> String {
    format!("`{}`", a.join(" "))
}

/// One sentence describing what the test guarantees.
pub fn describe(t: &TestCase) -> String {
    match &t.check {
        Check::Command(c) => {
            let mut s = format!("{} exits {}", argv(&c.spec.argv), c.exit);
            if let Some(p) = &c.stdout {
                s.push_str(&format!(", stdout matches `{}`", pat(p)));
            }
            if let Some(p) = &c.stderr {
                s.push_str(&format!(", stderr matches `{}`", pat(p)));
            }
            if let Some(p) = &c.stdout_excludes {
                s.push_str(&format!(", stdout never matches `{}`", pat(p)));
            }
            if let Some(u) = &c.spec.user {
                s.push_str(&format!(", as user `{u}`"));
            }
            s.push_str(&format!(" (within {}s)", c.spec.timeout.as_secs()));
            s
        }
        Check::File(f) => {
            if !f.exists {
                return format!("`{}` does not exist", f.path);
            }
            let mut parts = vec![format!(
                "`{}` is {}",
                f.path,
                match f.file_type {
                    Some(FileType::File) => "a regular file",
                    Some(FileType::Dir) => "a directory",
                    Some(FileType::Symlink) => "a symlink",
                    None => "present",
                }
            )];
            if let Some(m) = f.mode {
                parts.push(format!("mode {m:04o}"));
            }
            if let Some(u) = f.uid {
                parts.push(format!("uid {u}"));
            }
            if let Some(g) = f.gid {
                parts.push(format!("gid {g}"));
            }
            if let Some(p) = &f.contains {
                parts.push(format!("contains `{}`", pat(p)));
            }
            if let Some(p) = &f.excludes {
                parts.push(format!("never contains `{}`", pat(p)));
            }
            if let Some(h) = &f.sha256 {
                parts.push(format!("sha256 {h}"));
            }
            if let Some(t) = &f.target {
                parts.push(format!("points to `{t}`"));
            }
            parts.join(", ")
        }
        Check::Metadata(m) => {
            let mut parts = Vec::new();
            for (k, p) in &m.env {
                parts.push(format!("env `{k}` matches `{}`", pat(p)));
            }
            if let Some(e) = &m.entrypoint {
                parts.push(format!("entrypoint is {}", argv(e)));
            }
            if let Some(c) = &m.cmd {
                parts.push(format!("cmd is {}", argv(c)));
            }
            if let Some(u) = &m.user {
                parts.push(format!("user is `{u}`"));
            }
            if let Some(w) = &m.workdir {
                parts.push(format!("workdir is `{w}`"));
            }
            for (k, p) in &m.labels {
                parts.push(format!("label `{k}` matches `{}`", pat(p)));
            }
            if !m.exposed_ports.is_empty() {
                parts.push(format!("exposes {}", m.exposed_ports.join(", ")));
            }
            format!("image config: {}", parts.join("; "))
        }
        Check::Package(p) => match &p.expect {
            PackageExpect::Installed(Some(c)) => {
                format!("package `{}` is installed, version {c}", p.name)
            }
            PackageExpect::Installed(None) => format!("package `{}` is installed", p.name),
            PackageExpect::Absent => format!("package `{}` is not installed", p.name),
        },
        Check::Library(l) => format!("`{}` provides {}", l.name, l.provides.join(", ")),
        Check::Service(s) => {
            let mut x = format!("{} serves TCP port {}", argv(&s.spec.argv), s.spec.port);
            if let Some(h) = &s.spec.http {
                x.push_str(&format!(", `GET {h}` answers {}", s.status));
            }
            x.push_str(&format!(
                " (ready within {}s)",
                s.spec.ready_timeout.as_secs()
            ));
            x
        }
        Check::Boot(b) => format!(
            "the VM disk boots and the console shows `{}` within {}s",
            pat(&b.expect),
            b.timeout.as_secs()
        ),
    }
}
