//! The fixture against the real tools: the host's apt-get and apt-cache (in a private
//! root) update from it, verify its signature, download from it; and the server's edges.

use super::*;
use crate::util::{run_ok, stderr, stdout, Ws};
use std::io::{Read, Write};

fn corelib(version: &str) -> PkgOpts {
    PkgOpts {
        changelog: corelib_changelog(version),
        ..Default::default()
    }
}

/// A repository with corelib 1.0-1 and 1.0-2, published.
fn corelib_repo(ws: &Ws) -> AptRepo {
    let mut repo = AptRepo::new(&ws.path().join("repo"), "bookworm-security");
    repo.add_package("corelib", "1.0-1", &corelib("1.0-1"));
    repo.add_package("corelib", "1.0-2", &corelib("1.0-2"));
    repo.publish();
    repo
}

fn client(ws: &Ws, repo: &AptRepo, server: &Server) -> AptClient {
    AptClient::new(&ws.path().join("apt"), &repo.sources_line(&server.uri()))
}

/// The decompressed `/usr/share/doc/NAME/changelog.Debian.gz` of a .deb, read from
/// `dpkg-deb --fsys-tarfile`.
fn changelog_in(deb: &Path, name: &str) -> String {
    let tar = run_ok(
        Command::new(require("dpkg-deb"))
            .arg("--fsys-tarfile")
            .arg(deb),
    )
    .stdout;
    let want = format!("./usr/share/doc/{name}/changelog.Debian.gz");
    let mut archive = tar::Archive::new(&tar[..]);
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == want {
            let mut s = String::new();
            flate2::read::GzDecoder::new(e)
                .read_to_string(&mut s)
                .unwrap();
            return s;
        }
    }
    panic!("{} has no {want}", deb.display());
}

/// The versions `apt-cache madison NAME` lists.
fn madison(apt: &AptClient, name: &str) -> Vec<String> {
    let out = run_ok(apt.cmd("apt-cache").args(["madison", name]));
    stdout(&out)
        .lines()
        .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
        .collect()
}

#[test]
fn apt_updates_verifies_and_downloads_the_security_fix() {
    let ws = Ws::new();
    let repo = corelib_repo(&ws);
    let server = repo.serve();
    let apt = client(&ws, &repo, &server);
    let update = run_ok(apt.cmd("apt-get").arg("update"));
    let said = format!("{}{}", stdout(&update), stderr(&update));
    assert!(
        !said.contains("W:") && !said.contains("E:"),
        "apt-get update warned:\n{said}"
    );
    let lists = apt_lists(&ws);
    assert!(
        lists
            .iter()
            .any(|l| l.ends_with("_dists_bookworm-security_InRelease")),
        "apt kept no verified InRelease: {lists:?}"
    );
    run_ok(apt.cmd("apt-get").args(["download", "corelib=1.0-2"]));
    let deb = apt.download_dir().join("corelib_1.0-2_amd64.deb");
    let log = changelog_in(&deb, "corelib");
    assert!(
        log.starts_with("corelib (1.0-2) bookworm-security; urgency=medium\n"),
        "{log}"
    );
    assert!(
        log.contains("CVE-2026-0001") && log.contains("DSA-5999-1"),
        "{log}"
    );
    assert!(log.contains("\n -- corebuild tests <m@x>  Thu, 01 Jan 2026 00:00:00 +0000\n"));
    assert!(log.contains("corelib (1.0-1)"), "older entries stay: {log}");
    let fetched = server.requests();
    assert!(
        server.connections() < fetched.len(),
        "apt kept its connection open ({} connections for {fetched:?})",
        server.connections()
    );
    assert!(
        fetched
            .iter()
            .any(|r| r == "GET /pool/main/c/corelib/corelib_1.0-2_amd64.deb 200"),
        "{fetched:?}"
    );
}

fn apt_lists(ws: &Ws) -> Vec<String> {
    std::fs::read_dir(ws.path().join("apt/state/lists"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn apt_refuses_a_release_signed_by_another_key_naming_the_repository() {
    let ws = Ws::new();
    let repo = corelib_repo(&ws);
    repo.break_signature();
    let server = repo.serve();
    let apt = client(&ws, &repo, &server);
    let out = apt.cmd("apt-get").arg("update").output().unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !out.status.success(),
        "apt-get update accepted a bad signature:\n{said}"
    );
    let named = format!(
        "The repository '{} {} InRelease' is not signed",
        server.uri().trim_end_matches('/'),
        repo.suite()
    );
    assert!(said.contains(&named), "wanted {named:?} in:\n{said}");
    assert!(
        madison(&apt, "corelib").is_empty(),
        "nothing from the unverified index"
    );
}

#[test]
fn a_dropped_superseded_version_leaves_apt_only_the_fix() {
    let ws = Ws::new();
    let mut repo = corelib_repo(&ws);
    let server = repo.serve();
    let apt = client(&ws, &repo, &server);
    run_ok(apt.cmd("apt-get").arg("update"));
    assert_eq!(madison(&apt, "corelib"), ["1.0-2", "1.0-1"]);
    repo.remove_package("corelib", "1.0-1");
    repo.publish();
    run_ok(apt.cmd("apt-get").arg("update"));
    assert_eq!(madison(&apt, "corelib"), ["1.0-2"]);
}

#[test]
fn the_same_packages_give_the_same_bytes_in_another_repository() {
    let ws = Ws::new();
    let a = corelib_repo(&ws);
    let mut b = AptRepo::new(&ws.path().join("other"), "bookworm-security");
    b.add_package("corelib", "1.0-2", &corelib("1.0-2"));
    b.add_package("corelib", "1.0-1", &corelib("1.0-1"));
    b.publish();
    for f in [
        "pool/main/c/corelib/corelib_1.0-2_amd64.deb",
        "dists/bookworm-security/main/binary-amd64/Packages",
        "dists/bookworm-security/main/binary-amd64/Packages.gz",
        "dists/bookworm-security/Release",
    ] {
        let (x, y) = (a.dir().join(f), b.dir().join(f));
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{f} differs"
        );
    }
}

/// Sends raw requests on one connection and returns everything the server answered.
fn raw(server: &Server, requests: &str) -> String {
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.write_all(requests.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_server_keeps_connections_and_stays_inside_the_archive() {
    let ws = Ws::new();
    let repo = corelib_repo(&ws);
    let server = repo.serve();
    let release = std::fs::read(repo.dir().join("dists/bookworm-security/Release")).unwrap();
    let out = raw(
        &server,
        "HEAD /dists/bookworm-security/Release HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /dists/bookworm-security/Release HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /no/such/file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let answers: Vec<&str> = out.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 3, "{out}");
    let len = format!("Content-Length: {}\r\n", release.len());
    assert!(
        answers[0].starts_with("200") && answers[0].contains(&len),
        "{}",
        answers[0]
    );
    assert!(answers[0].ends_with("\r\n\r\n"), "HEAD has no body");
    assert!(answers[1].starts_with("200") && answers[1].contains(&len));
    assert!(answers[1].ends_with(&*String::from_utf8_lossy(&release)));
    assert!(answers[2].starts_with("404") && answers[2].contains("Connection: close"));
    for evil in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/.gnupg/pubring.kbx",
        "/pool/../.build",
    ] {
        let out = raw(&server, &format!("GET {evil} HTTP/1.0\r\n\r\n"));
        assert!(out.starts_with("HTTP/1.1 403 "), "{evil}: {out}");
    }
    let out = raw(&server, "DELETE /key.asc HTTP/1.0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 405 "), "{out}");
    assert!(repo.key_asc().exists());
}
