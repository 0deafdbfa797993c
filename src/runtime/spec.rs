//! What to run and how it is confined ([`RunSpec`], one struct with a build-step and a
//! contract-test profile), and its translation into the runtime's `config.json` (the
//! runtime `Spec` of oci-spec; no parallel structs).
//!
//! No user namespace: we run as root. Build steps get Docker's default capabilities
//! without CAP_NET_RAW (no raw sockets to sniff or forge traffic) and a writable rootfs;
//! contract tests are sandboxed by no capabilities, `no_new_privileges`, a read-only
//! rootfs, rlimits and a pids cgroup. Both get the seccomp filter of
//! [`super::seccomp::default_profile`] (no new user namespaces, mounts, `ptrace`, `bpf`,
//! keyrings…).

use super::user::ResolvedUser;
use anyhow::Context as _;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount,
    MountBuilder, PosixRlimitBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use oci_spec::runtime::{PosixRlimit as Rlimit, PosixRlimitType as RlimitType};

/// The PATH a process gets when the spec's environment has none (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set without CAP_NET_RAW: enough for apt, dpkg, chown,
/// useradd, setuid helpers. (Only `ping` wants raw sockets, and a build step has no
/// business pinging.)
pub const BUILD_CAPABILITIES: [Capability; 13] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with only `lo` (up); nothing else is reachable.
    Isolated,
    /// A network namespace of its own with user-mode networking (slirp4netns, see
    /// [`super::usernet`]): a default route out through `tap0` and DNS, but not the
    /// host's loopback, and /etc/resolv.conf naming slirp's resolver (read-only). For
    /// build steps that download.
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capabilities {
    /// [`BUILD_CAPABILITIES`] in the bounding, effective and permitted sets (none
    /// inheritable or ambient, so a non-root user gets none).
    BuildDefault,
    /// Every set empty: root inside is an ordinary user towards the kernel.
    None,
}

/// A host path mounted into the container (`rbind`, private propagation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub src: PathBuf,
    /// Absolute path inside the container.
    pub dest: String,
    pub readonly: bool,
}

/// One command to run in a root filesystem, and its confinement.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// argv; `args[0]` is looked up in the container's PATH. MUST NOT be empty.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries. `PATH` defaults to [`DEFAULT_PATH`] and `HOME` to the user's
    /// home when absent.
    pub env: Vec<String>,
    /// "root", "1000", "1000:1000", "name" or "name:group", resolved against the
    /// rootfs's /etc/passwd and /etc/group; None is root.
    pub user: Option<String>,
    /// Absolute working directory inside the container (created by the runtime if
    /// missing).
    pub cwd: String,
    pub network: Network,
    /// Host loopback addresses reachable at the same address inside, with
    /// [`Network::User`] only (see `runtime::forward`).
    pub forwards: Vec<std::net::SocketAddr>,
    /// Mount the rootfs read-only (the tmpfs mounts stay writable).
    pub readonly_rootfs: bool,
    /// Absolute paths that get an empty tmpfs (mode 1777, 256 MiB, nosuid, nodev).
    pub tmpfs: Vec<String>,
    pub capabilities: Capabilities,
    pub no_new_privileges: bool,
    /// RLIMIT_NPROC counts the processes of the uid host-wide (there is no user
    /// namespace), and the kernel does not apply it to root: `pids_limit` is the bound
    /// that holds for every user.
    pub rlimits: Vec<Rlimit>,
    /// Most tasks (processes and threads) in the container, via the pids cgroup.
    pub pids_limit: Option<i64>,
    /// Wall-clock limit; on expiry the container is killed with SIGKILL.
    pub timeout: Duration,
    pub hostname: String,
    pub binds: Vec<Bind>,
    /// When set, each line of the output is copied to our stderr as it arrives, after
    /// this prefix (e.g. `"[layer 2] "`).
    pub stream_prefix: Option<String>,
}

/// An rlimit entry.
pub fn rlimit(kind: RlimitType, soft: u64, hard: u64) -> Rlimit {
    // PosixRlimit has getters only; its builder has a default for every field, so
    // `build` cannot fail.
    PosixRlimitBuilder::default()
        .typ(kind)
        .soft(soft)
        .hard(hard)
        .build()
        .expect("PosixRlimitBuilder has no required field")
}

impl Default for RunSpec {
    /// The build-step profile with no command.
    fn default() -> Self {
        RunSpec {
            args: Vec::new(),
            env: vec![DEFAULT_PATH.to_string()],
            user: None,
            cwd: "/".to_string(),
            network: Network::Isolated,
            readonly_rootfs: false,
            tmpfs: vec!["/tmp".to_string()],
            capabilities: Capabilities::BuildDefault,
            no_new_privileges: false,
            rlimits: vec![
                rlimit(RlimitType::RlimitNofile, 1024, 524_288),
                rlimit(RlimitType::RlimitNproc, 65_536, 65_536),
                rlimit(RlimitType::RlimitCore, 0, 0),
            ],
            pids_limit: Some(16_384),
            timeout: Duration::from_secs(3600),
            hostname: "corebuild".to_string(),
            binds: Vec::new(),
            stream_prefix: None,
            forwards: Vec::new(),
        }
    }
}

impl RunSpec {
    /// A build step (`[[layer]] run`/`packages`): root with Docker's capabilities, a
    /// writable rootfs, tmpfs /tmp, no network (set [`Network::User`] to download), one
    /// hour.
    pub fn build_step(args: Vec<String>) -> Self {
        RunSpec {
            args,
            ..RunSpec::default()
        }
    }

    /// A contract test: root without capabilities, `no_new_privileges`, read-only rootfs
    /// with tmpfs /tmp, no network, 1024 open files, no core dumps, 512 tasks, one minute.
    pub fn contract_test(args: Vec<String>) -> Self {
        RunSpec {
            args,
            readonly_rootfs: true,
            capabilities: Capabilities::None,
            no_new_privileges: true,
            rlimits: vec![
                rlimit(RlimitType::RlimitNofile, 1024, 1024),
                rlimit(RlimitType::RlimitNproc, 1024, 1024),
                rlimit(RlimitType::RlimitCore, 0, 0),
            ],
            pids_limit: Some(512),
            timeout: Duration::from_secs(60),
            hostname: "contract".to_string(),
            ..RunSpec::default()
        }
    }

    /// Checks what the runtime would otherwise reject with a less clear message.
    pub fn validate(&self) -> anyhow::Result<()> {
        let bad = |m: String| Err(crate::error::input(m));
        if self.args.is_empty() || self.args[0].is_empty() {
            return bad("the command to run is empty".into());
        }
        if let Some(e) = self
            .env
            .iter()
            .find(|e| !e.contains('=') || e.starts_with('='))
        {
            return bad(format!("environment entry {e:?} is not KEY=VALUE"));
        }
        if self.timeout.is_zero() {
            return bad("the timeout must be more than zero".into());
        }
        if self.pids_limit.is_some_and(|n| n < 1) {
            return bad(format!(
                "pids limit {:?} must be at least 1",
                self.pids_limit
            ));
        }
        let dests = self
            .tmpfs
            .iter()
            .chain(self.binds.iter().map(|b| &b.dest))
            .chain(std::iter::once(&self.cwd));
        for d in dests {
            if !d.starts_with('/') || d.split('/').any(|c| c == "..") || d.contains('\0') {
                return bad(format!(
                    "container path {d:?} must be absolute without `..` components"
                ));
            }
        }
        for b in &self.binds {
            if !b.src.is_absolute() {
                return bad(format!("bind source {} must be absolute", b.src.display()));
            }
        }
        Ok(())
    }
}

/// `r`, lowered to this process's own hard limit when we cannot raise it: raising a
/// hard limit needs CAP_SYS_RESOURCE, which a root in a restricted sandbox may lack,
/// and the runtime would then fail with EPERM.
fn settable(r: &Rlimit) -> Rlimit {
    use rustix::process::Resource;
    if has_cap_sys_resource() {
        return *r;
    }
    let resource = match r.typ() {
        RlimitType::RlimitCpu => Resource::Cpu,
        RlimitType::RlimitFsize => Resource::Fsize,
        RlimitType::RlimitData => Resource::Data,
        RlimitType::RlimitStack => Resource::Stack,
        RlimitType::RlimitCore => Resource::Core,
        RlimitType::RlimitRss => Resource::Rss,
        RlimitType::RlimitNproc => Resource::Nproc,
        RlimitType::RlimitNofile => Resource::Nofile,
        RlimitType::RlimitMemlock => Resource::Memlock,
        RlimitType::RlimitAs => Resource::As,
        RlimitType::RlimitLocks => Resource::Locks,
        RlimitType::RlimitSigpending => Resource::Sigpending,
        RlimitType::RlimitMsgqueue => Resource::Msgqueue,
        RlimitType::RlimitNice => Resource::Nice,
        RlimitType::RlimitRtprio => Resource::Rtprio,
        RlimitType::RlimitRttime => Resource::Rttime,
    };
    let ours = rustix::process::getrlimit(resource)
        .maximum
        .unwrap_or(u64::MAX);
    let hard = r.hard().min(ours);
    rlimit(r.typ(), r.soft().min(hard), hard)
}

/// Whether this process has CAP_SYS_RESOURCE in its effective set.
fn has_cap_sys_resource() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// Whether the kernel has cgroup namespaces (Linux 4.6+).
fn cgroup_ns_supported() -> bool {
    Path::new("/proc/self/ns/cgroup").exists()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> anyhow::Result<Mount> {
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// The `config.json` for running `run` in `rootfs` as `user`. The caller adds what
/// belongs to one container (annotations, cgroups path).
pub fn build_config(run: &RunSpec, rootfs: &Path, user: &ResolvedUser) -> anyhow::Result<Spec> {
    run.validate()?;
    let mut env = run.env.clone();
    let has = |k: &str| run.env.iter().any(|e| e.split('=').next() == Some(k));
    if !has("PATH") {
        env.push(DEFAULT_PATH.to_string());
    }
    if !has("HOME") {
        env.push(format!("HOME={}", user.home));
    }
    let caps: HashSet<Capability> = match run.capabilities {
        Capabilities::BuildDefault => BUILD_CAPABILITIES.into_iter().collect(),
        Capabilities::None => HashSet::new(),
    };
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()?;
    let oci_user = UserBuilder::default()
        .uid(user.uid)
        .gid(user.gid)
        .additional_gids(user.additional_gids.clone())
        .build()?;
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(oci_user)
        .args(run.args.clone())
        .env(env)
        .cwd(&run.cwd)
        .capabilities(capabilities)
        .rlimits(run.rlimits.iter().map(settable).collect::<Vec<_>>())
        .no_new_privileges(run.no_new_privileges)
        .build()?;

    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
    ];
    for t in &run.tmpfs {
        mount_into(
            &mut mounts,
            mount(
                t,
                "tmpfs",
                "tmpfs",
                &["nosuid", "nodev", "mode=1777", "size=262144k"],
            )?,
        );
    }
    for b in &run.binds {
        mount_into(&mut mounts, bind_mount(b)?);
    }

    let mut namespaces = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    // Always a namespace of our own: runc and crun bring `lo` up in a new one
    // themselves; with `Network::User` the runner points it at the namespace slirp4netns
    // serves ([`super::usernet::UserNet::apply`]).
    namespaces.push(LinuxNamespaceType::Network);
    if cgroup_ns_supported() {
        namespaces.push(LinuxNamespaceType::Cgroup);
    }
    let namespaces = namespaces
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
        .collect::<Result<Vec<_>, _>>()?;

    // Deny every device, then the runtime adds its defaults (null, zero, full, tty,
    // random, urandom, ptmx), as in `runc spec`.
    let mut resources =
        LinuxResourcesBuilder::default().devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?]);
    if let Some(limit) = run.pids_limit {
        resources = resources.pids(LinuxPidsBuilder::default().limit(limit).build()?);
    }
    let mut masked = oci_spec::runtime::get_default_maskedpaths();
    masked.push("/sys/devices/virtual/powercap".to_string());
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build()?)
        .masked_paths(masked)
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths())
        .seccomp(super::seccomp::default_profile()?)
        .build()?;

    let rootfs = std::fs::canonicalize(rootfs)
        .with_context(|| format!("opening rootfs {}", rootfs.display()))?;
    Ok(SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(rootfs)
                .readonly(run.readonly_rootfs)
                .build()?,
        )
        .hostname(run.hostname.clone())
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .build()?)
}

/// Adds `m`, replacing an earlier mount at the same destination (a bind of /tmp
/// replaces the tmpfs there).
pub(super) fn mount_into(mounts: &mut Vec<Mount>, m: Mount) {
    mounts.retain(|x| x.destination() != m.destination());
    mounts.push(m);
}

pub(super) fn bind_mount(b: &Bind) -> anyhow::Result<Mount> {
    let mut opts = vec!["rbind", "rprivate", "nosuid", "nodev"];
    opts.push(if b.readonly { "ro" } else { "rw" });
    let src = b
        .src
        .to_str()
        .with_context(|| format!("bind source {} is not UTF-8", b.src.display()))?;
    mount(&b.dest, "bind", src, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn root_user() -> ResolvedUser {
        ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            name: Some("root".into()),
            home: "/root".into(),
        }
    }

    fn json(run: &RunSpec) -> Value {
        let dir = tempfile::tempdir().unwrap();
        serde_json::to_value(build_config(run, dir.path(), &root_user()).unwrap()).unwrap()
    }

    fn strings(v: &Value) -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    fn ns(v: &Value) -> Vec<String> {
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn build_profile_config() {
        let v = json(&RunSpec::build_step(vec![
            "apt-get".into(),
            "update".into(),
        ]));
        let p = &v["process"];
        assert_eq!(strings(&p["args"]), ["apt-get", "update"]);
        let env = strings(&p["env"]);
        assert!(env.contains(&DEFAULT_PATH.to_string()) && env.contains(&"HOME=/root".into()));
        let caps = strings(&p["capabilities"]["bounding"]);
        assert_eq!(caps.len(), 13);
        assert!(caps.contains(&"CAP_CHOWN".into()) && !caps.contains(&"CAP_SYS_ADMIN".into()));
        assert!(!caps.contains(&"CAP_NET_RAW".into()));
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        assert!(strings(&p["capabilities"]["ambient"]).is_empty());
        assert_eq!(p["noNewPrivileges"], false);
        assert_eq!(v["root"]["readonly"], false);
        assert!(v["root"]["path"].as_str().unwrap().starts_with('/'));
        let namespaces = ns(&v);
        for t in ["pid", "ipc", "uts", "mount", "network"] {
            assert!(namespaces.contains(&t.to_string()), "{t} in {namespaces:?}");
        }
        assert!(!namespaces.contains(&"user".to_string()));
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/shm",
                "/dev/mqueue",
                "/sys",
                "/tmp"
            ]
        );
        let sys = &v["mounts"][5];
        assert!(strings(&sys["options"]).contains(&"ro".to_string()));
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 16384);
        assert_eq!(v["linux"]["resources"]["devices"][0]["allow"], false);
        assert!(strings(&v["linux"]["maskedPaths"]).contains(&"/proc/kcore".to_string()));
        assert!(strings(&v["linux"]["readonlyPaths"]).contains(&"/proc/sys".to_string()));
        let rl: Vec<&str> = p["rlimits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(rl, ["RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE"]);
    }

    #[test]
    fn contract_profile_config() {
        let v = json(&RunSpec::contract_test(vec!["true".into()]));
        let p = &v["process"];
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            assert!(strings(&p["capabilities"][set]).is_empty(), "{set}");
        }
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 512);
        assert_eq!(p["rlimits"][0]["hard"], 1024);
        assert_eq!(v["linux"]["seccomp"]["syscalls"][0]["errnoRet"], 1);
    }

    #[test]
    fn every_network_mode_gets_a_namespace_and_binds_come_last() {
        for mode in [Network::Isolated, Network::User] {
            let mut run = RunSpec::build_step(vec!["true".into()]);
            run.network = mode;
            run.binds.push(Bind {
                src: "/srv/cache".into(),
                dest: "/var/cache/apt".into(),
                readonly: false,
            });
            let v = json(&run);
            assert!(ns(&v).contains(&"network".to_string()), "{mode:?}");
            let mounts = v["mounts"].as_array().unwrap();
            // The host's resolver file is never bound in.
            assert!(!mounts.iter().any(|m| m["source"] == "/etc/resolv.conf"));
            let last = mounts.last().unwrap();
            assert_eq!(last["destination"], "/var/cache/apt");
            assert!(strings(&last["options"]).contains(&"rw".to_string()));
        }
    }

    #[test]
    fn user_and_env_reach_the_process() {
        let mut run = RunSpec::contract_test(vec!["id".into()]);
        run.env = vec!["HOME=/srv".into(), "PATH=/bin".into()];
        let user = ResolvedUser {
            uid: 1000,
            gid: 1001,
            additional_gids: vec![50],
            name: Some("app".into()),
            home: "/home/app".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let v = serde_json::to_value(build_config(&run, dir.path(), &user).unwrap()).unwrap();
        let u = &v["process"]["user"];
        assert_eq!(
            (u["uid"].as_u64(), u["gid"].as_u64()),
            (Some(1000), Some(1001))
        );
        assert_eq!(u["additionalGids"][0], 50);
        assert_eq!(strings(&v["process"]["env"]), ["HOME=/srv", "PATH=/bin"]);
    }

    #[test]
    fn validation_names_the_problem() {
        type Change = fn(&mut RunSpec);
        let cases: Vec<(Change, &str)> = vec![
            (|r| r.args.clear(), "empty"),
            (|r| r.env.push("NOEQUALS".into()), "KEY=VALUE"),
            (|r| r.tmpfs.push("tmp".into()), "absolute"),
            (|r| r.cwd = "/a/../b".into(), "absolute"),
            (|r| r.timeout = Duration::ZERO, "timeout"),
            (|r| r.pids_limit = Some(0), "pids"),
        ];
        for (change, needle) in cases {
            let mut run = RunSpec::build_step(vec!["true".into()]);
            change(&mut run);
            let e = run.validate().unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
            assert_eq!(crate::error::exit_code(&e), 2);
        }
    }
}
