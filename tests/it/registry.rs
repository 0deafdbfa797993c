//! A real Docker distribution registry (`docker-registry`, Debian package) for tests: its
//! own config file and storage directory, on 127.0.0.1 at a free port, stopped (by its
//! pid, as our own child) when dropped. Optionally with htpasswd Basic auth. Also the
//! fault proxy that sits in front of it: drops connections, answers 500 and 429
//! (with Retry-After) on a seeded pseudo-random fraction of requests, and logs every
//! request with the status it got.

use crate::util::require;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with(None)
    }

    /// With Basic auth: `user` / `password` in an htpasswd (bcrypt) file.
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Self::start_with(Some((user, password)))
    }

    fn start_with(auth: Option<(&str, &str)>) -> Registry {
        let bin = require("docker-registry");
        let mut dir = tempfile::tempdir().unwrap();
        let mut auth_cfg = String::new();
        if let Some((u, p)) = auth {
            let out = Command::new(require("htpasswd"))
                .args(["-Bbn", "-C", "4", u, p])
                .output()
                .unwrap();
            assert!(out.status.success());
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            auth_cfg = format!(
                "auth:\n  htpasswd:\n    realm: corebuild-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            );
        }
        for _attempt in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n{auth_cfg}",
                dir.path().join("data").display()
            );
            let cfg_path = dir.path().join("config.yml");
            std::fs::write(&cfg_path, config).unwrap();
            let child = Command::new(&bin)
                .arg("serve")
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
                .spawn()
                .unwrap();
            let mut reg = Registry { child, addr, dir };
            if reg.wait_ready() {
                return reg;
            }
            let _ = reg.child.kill();
            let _ = reg.child.wait();
            dir = reg.into_dir();
        }
        panic!("docker-registry did not start");
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let d = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, d)
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // exited: port taken, or a config error
            }
            if let Ok(mut s) = TcpStream::connect(&self.addr) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("HTTP/") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `registry:ADDR/NS`.
    pub fn spec(&self, ns: &str) -> String {
        format!("registry:{}/{ns}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the fault proxy does to a fraction of requests (per mille each).
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub seed: u64,
    /// Close the connection without an answer.
    pub drop: u32,
    /// Answer 500.
    pub error_500: u32,
    /// Answer 429 with `Retry-After: 1`.
    pub too_many: u32,
    /// Answer 502 or 503 (alternately).
    pub bad_gateway: u32,
    /// Forward, but cut the answer off halfway.
    pub truncate: u32,
    /// At most this many faults in all (bounded, so a run always ends).
    pub max_faults: u64,
    /// Act as a token-auth front: answer `/token` (with these Basic credentials,
    /// `user:password`) with a token and refuse requests without it (401 Bearer).
    pub bearer: Option<&'static str>,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            seed: 1,
            drop: 0,
            error_500: 0,
            too_many: 0,
            bad_gateway: 0,
            truncate: 0,
            max_faults: 0,
            bearer: None,
        }
    }
}

const TOKEN: &str = "test-token-4711";

/// An in-process HTTP proxy in front of a registry, one request per connection.
/// One request through the proxy: what was asked and what the client got (0: dropped).
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub status: u16,
}

pub struct FaultProxy {
    pub addr: String,
    pub log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
    pub faults: Arc<AtomicU64>,
    pub requests: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// xorshift64*: deterministic for a seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[derive(Clone, Copy)]
enum Action {
    Forward,
    Drop,
    Error500,
    BadGateway(bool),
    TooMany,
    Truncate,
}

impl FaultProxy {
    pub fn start(upstream: &str, f: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let (stop2, faults2, requests2) = (stop.clone(), faults.clone(), requests.clone());
        let log2 = log.clone();
        let thread = std::thread::spawn(move || {
            let mut rng = Rng(f.seed | 1);
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                requests2.fetch_add(1, Ordering::SeqCst);
                let roll = (rng.next() % 1000) as u32;
                let mut action = Action::Forward;
                let mut edge = 0;
                for (share, a) in [
                    (f.drop, Action::Drop),
                    (f.error_500, Action::Error500),
                    (f.too_many, Action::TooMany),
                    (f.bad_gateway, Action::BadGateway(roll.is_multiple_of(2))),
                    (f.truncate, Action::Truncate),
                ] {
                    edge += share;
                    if roll < edge {
                        action = a;
                        break;
                    }
                }
                if !matches!(action, Action::Forward) {
                    if faults2.load(Ordering::SeqCst) >= f.max_faults {
                        action = Action::Forward;
                    } else {
                        faults2.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let up = upstream.clone();
                let bearer = f.bearer;
                let log = log2.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &up, action, bearer, &log);
                });
            }
        });
        FaultProxy {
            addr,
            log,
            stop,
            faults,
            requests,
            thread: Some(thread),
        }
    }

    pub fn spec(&self, ns: &str) -> String {
        format!("registry:{}/{ns}", self.addr)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (head and Content-Length body), acts, and closes.
fn handle(
    mut client: TcpStream,
    upstream: &str,
    action: Action,
    bearer: Option<&str>,
    log: &Mutex<Vec<Logged>>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut len = 0usize;
    let mut authorization = String::new();
    let mut request_line = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if request_line.is_empty() {
            request_line = line.clone();
        }
        if lower.starts_with("connection:") {
            continue;
        }
        if lower.starts_with("authorization:") && bearer.is_some() {
            authorization = line["authorization:".len()..].trim().to_string();
            continue; // the registry behind us has no auth of its own
        }
        head.extend_from_slice(line.as_bytes());
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let mut words = request_line.split_whitespace();
    let mut record = |status: u16| {
        log.lock().unwrap().push(Logged {
            method: words.next().unwrap_or("").to_string(),
            path: words.next().unwrap_or("").to_string(),
            status,
        })
    };
    if let Some(creds) = bearer {
        use base64::Engine as _;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        );
        let port = client.local_addr()?.port();
        if request_line.starts_with("GET /token") {
            let answer = if authorization == basic {
                let body = format!("{{\"token\":\"{TOKEN}\"}}");
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            client.write_all(answer.as_bytes())?;
            return Ok(());
        }
        if authorization != format!("Bearer {TOKEN}") {
            let answer = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:any:pull,push\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            client.write_all(answer.as_bytes())?;
            return Ok(());
        }
    }
    match action {
        Action::Drop => {
            record(0);
            client.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        Action::Error500 => {
            record(500);
            client.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        Action::BadGateway(first) => {
            let line = if first {
                "502 Bad Gateway"
            } else {
                "503 Service Unavailable"
            };
            record(line[..3].parse().unwrap());
            client.write_all(
                format!("HTTP/1.1 {line}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )?;
            return Ok(());
        }
        Action::TooMany => {
            record(429);
            client.write_all(
                b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        Action::Forward | Action::Truncate => {}
    }
    let mut up = TcpStream::connect(upstream)?;
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    up.write_all(&head)?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let status = std::str::from_utf8(&answer[..answer.len().min(12)])
        .ok()
        .and_then(|l| l.get(9..12))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    record(status);
    if matches!(action, Action::Truncate) && answer.len() > 1 {
        // Keep the head's promise of a body, but stop halfway through it.
        answer.truncate(answer.len() / 2);
    }
    client.write_all(&answer)?;
    client.shutdown(Shutdown::Both)?;
    Ok(())
}
