//! User-mode networking for one container ([`Network::User`](super::Network::User)): a
//! network namespace of its own, held by a small child process (`unshare --net`), with
//! slirp4netns giving it a `tap0` device, a default route and DNS at [`DNS`], and no way
//! to the host's loopback (`--disable-host-loopback`: 10.0.2.2 is not routed and
//! 127.0.0.1 inside is the namespace's own).
//!
//! Both children end with us: the holder's stdin and slirp4netns's `--exit-fd` are
//! pipes whose writing ends only this process holds, so even a `kill -9` of corebuild
//! ends them. Dropping [`UserNet`] kills and reaps both.

use crate::tool::ToolError;
use anyhow::{bail, Context as _};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The resolver slirp4netns answers on (it forwards to the host's resolver).
pub const DNS: &str = "10.0.2.3";

/// How long the namespace and slirp4netns get to come up.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A network namespace with slirp4netns attached; both go on drop.
#[derive(Debug)]
pub struct UserNet {
    holder: Child,
    slirp: Option<Child>,
}

impl UserNet {
    /// Creates the namespace and waits until slirp4netns has configured it.
    pub fn start() -> anyhow::Result<UserNet> {
        let holder = Command::new(find("unshare")?)
            .args(["--net", "--", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting `unshare --net` for the step's network namespace")?;
        let mut net = UserNet {
            holder,
            slirp: None,
        };
        net.wait_for_own_netns()?;
        net.start_slirp()?;
        Ok(net)
    }

    /// The namespace, as the runtime joins it.
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// Points `config`'s network namespace at ours and bind-mounts `resolv_conf` (a
    /// host file this call writes, naming [`DNS`]) at /etc/resolv.conf, read-only.
    pub fn apply(&self, config: &mut Spec, resolv_conf: &Path) -> anyhow::Result<()> {
        std::fs::write(resolv_conf, format!("nameserver {DNS}\n"))
            .with_context(|| format!("writing {}", resolv_conf.display()))?;
        let path = self.netns_path();
        let linux = config.linux_mut().as_mut().context("config has no linux")?;
        let mut namespaces = linux.namespaces().clone().unwrap_or_default();
        let ns = namespaces
            .iter_mut()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .context("config has no network namespace")?;
        ns.set_path(Some(path));
        linux.set_namespaces(Some(namespaces));
        let bind = super::spec::Bind {
            src: resolv_conf.to_path_buf(),
            dest: "/etc/resolv.conf".into(),
            readonly: true,
        };
        let mut mounts = config.mounts().clone().unwrap_or_default();
        super::spec::mount_into(&mut mounts, super::spec::bind_mount(&bind)?);
        config.set_mounts(Some(mounts));
        Ok(())
    }

    /// Until `unshare` has moved the holder out of our namespace: slirp4netns must
    /// never configure ours. The holder is not reaped before drop, so its pid cannot
    /// name another process meanwhile.
    fn wait_for_own_netns(&mut self) -> anyhow::Result<()> {
        let ours = std::fs::read_link("/proc/self/ns/net").context("reading our netns")?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(theirs) = std::fs::read_link(self.netns_path()) {
                if theirs != ours {
                    return Ok(());
                }
            }
            if let Some(status) = self.holder.try_wait()? {
                bail!("`unshare --net` exited ({status}) before creating a network namespace");
            }
            if Instant::now() > deadline {
                bail!(
                    "`unshare --net` did not create a network namespace within {START_TIMEOUT:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn start_slirp(&mut self) -> anyhow::Result<()> {
        let mut child = Command::new(find("slirp4netns")?)
            .args([
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                "--enable-sandbox",
                "--ready-fd=1",
                "--exit-fd=0",
                "--netns-type=path",
            ])
            .arg(self.netns_path())
            .arg("tap0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting slirp4netns")?;
        let ready = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = ready;
            let mut b = [0u8; 1];
            let _ = tx.send(matches!(ready.read(&mut b), Ok(1)));
        });
        // Drained for as long as slirp4netns lives (a closed pipe would kill it with
        // SIGPIPE); the text only matters when it fails to start.
        let stderr = child.stderr.take().expect("stderr is piped");
        let messages = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.take(64 * 1024).read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        if !rx.recv_timeout(START_TIMEOUT).unwrap_or(false) {
            let _ = child.kill();
            let _ = child.wait();
            let err = messages.join().unwrap_or_default();
            return Err(crate::error::environment(format!(
                "slirp4netns did not bring up the step's network within {START_TIMEOUT:?}: {}",
                err.trim()
            )));
        }
        self.slirp = Some(child);
        Ok(())
    }
}

impl Drop for UserNet {
    fn drop(&mut self) {
        if let Some(mut s) = self.slirp.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A host tool by name, from PATH or the sbin/bin dirs; missing is exit 3 naming the
/// Debian package.
fn find(program: &str) -> Result<PathBuf, ToolError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| ToolError::Missing {
            program: program.to_string(),
            hint: crate::tool::debian_package(program)
                .map(|p| format!(" (install it: apt-get install {p})"))
                .unwrap_or_default(),
        })
}
