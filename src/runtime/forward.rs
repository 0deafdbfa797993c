//! Forwards a few host-loopback TCP addresses into a step's user-mode network: a
//! source the blueprint declares on the build machine's loopback (`[[apt.source]]`
//! `uri = "http://127.0.0.1:8080/…"`, an internal mirror's local proxy) is reachable at
//! the same address inside the step, while the rest of the host's loopback stays out of
//! reach (slirp4netns runs with `--disable-host-loopback`).
//!
//! The listening socket is made inside the step's namespace by a short-lived thread that
//! joins it (a socket keeps the namespace it was made in); accepting and the outgoing
//! connections run in threads of our own namespace, so they reach the host's loopback.

use anyhow::Context as _;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a forwarded connection may take to reach the host address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the accept loops look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// The running forwards; dropping it stops accepting (open connections finish alone).
#[derive(Debug)]
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    loops: Vec<JoinHandle<()>>,
}

/// Whether `addr` is on the host's loopback (the only addresses forwarded).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

impl Forwarder {
    /// Listens on each of `addrs` inside the namespace at `netns` and forwards every
    /// connection to the same address on the host.
    pub fn start(netns: &Path, addrs: &[SocketAddr]) -> anyhow::Result<Forwarder> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut loops = Vec::new();
        for addr in addrs {
            anyhow::ensure!(is_loopback(addr), "{addr} is not a loopback address");
            let listener = listen_in(netns, *addr)
                .with_context(|| format!("forwarding {addr} into the step's network"))?;
            let (stop, addr) = (stop.clone(), *addr);
            loops.push(std::thread::spawn(move || {
                accept_loop(listener, addr, &stop)
            }));
        }
        Ok(Forwarder { stop, loops })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for l in self.loops.drain(..) {
            let _ = l.join();
        }
    }
}

/// A listener bound to `addr` inside the namespace at `netns`.
fn listen_in(netns: &Path, addr: SocketAddr) -> io::Result<TcpListener> {
    let ns = std::fs::File::open(netns)?;
    std::thread::spawn(move || {
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )?;
        let l = TcpListener::bind(addr)?;
        l.set_nonblocking(true)?;
        Ok(l)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
}

fn accept_loop(listener: TcpListener, target: SocketAddr, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((inside, _)) => {
                std::thread::spawn(move || {
                    let _ = relay(inside, target);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Copies both ways between the step's connection and a new one to `target`.
fn relay(inside: TcpStream, target: SocketAddr) -> io::Result<()> {
    inside.set_nonblocking(false)?;
    let outside = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    let (mut in_r, mut out_w) = (inside.try_clone()?, outside.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut in_r, &mut out_w);
        let _ = out_w.shutdown(Shutdown::Write);
    });
    let (mut out_r, mut in_w) = (outside, inside);
    let _ = io::copy(&mut out_r, &mut in_w);
    let _ = in_w.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn refuses_addresses_off_the_loopback() {
        let err = Forwarder::start(
            Path::new("/proc/self/ns/net"),
            &["192.0.2.1:80".parse().unwrap()],
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("not a loopback"), "{err:#}");
    }

    /// In a namespace of our own (unshare), a connection to the forwarded address
    /// reaches a server on the host's loopback; another host port does not.
    #[test]
    fn a_declared_host_port_is_reachable_inside_and_no_other() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        std::thread::spawn(move || {
            for s in server.incoming().flatten() {
                let mut s = s;
                let _ = s.write_all(b"hello from the host");
            }
        });
        let mut holder = std::process::Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up 2>/dev/null; exec cat",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let ns = format!("/proc/{}/ns/net", holder.id());
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        while std::fs::read_link(&ns).unwrap() == ours {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        let fwd = Forwarder::start(Path::new(&ns), &[addr]).unwrap();
        let probe = |port: u16| {
            std::process::Command::new("nsenter")
                .arg(format!("--net={ns}"))
                .args([
                    "bash",
                    "-c",
                    &format!("exec 3<>/dev/tcp/127.0.0.1/{port} && cat <&3"),
                ])
                .output()
                .unwrap()
        };
        let out = probe(addr.port());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from the host");
        let out = probe(other.local_addr().unwrap().port());
        assert!(!out.status.success() && out.stdout.is_empty());
        drop(fwd);
        drop(other);
        let _ = holder.kill();
        let _ = holder.wait();
    }
}
