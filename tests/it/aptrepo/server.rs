//! A loopback HTTP/1.1 file server for the fixture archive: GET and HEAD, keep-alive
//! (apt pipelines its requests on one connection), a thread per connection, paths
//! resolved strictly inside the root. Stops accepting when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Server {
    addr: String,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `root` on 127.0.0.1 at a free port.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap().to_string();
        let root = root.canonicalize().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop2, log2, count) = (stop.clone(), log.clone(), connections.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let (root, log, stop) = (root.clone(), log2.clone(), stop2.clone());
                std::thread::spawn(move || {
                    let _ = serve_connection(conn, &root, &log, &stop);
                });
            }
        });
        Server {
            addr,
            stop,
            log,
            connections,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn uri(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Every request answered so far, as `METHOD PATH STATUS`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many connections clients opened so far (fewer than requests: keep-alive).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request head: method, target, whether the client wants the connection kept.
struct Request {
    method: String,
    target: String,
    keep_alive: bool,
}

/// Answers requests on one connection until the client closes it, asks to close, goes
/// idle for 10 s, or the server stops.
fn serve_connection(
    conn: TcpStream,
    root: &Path,
    log: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    while !stop.load(Ordering::SeqCst) {
        let Some(req) = read_request(&mut reader)? else {
            return Ok(());
        };
        let status = respond(&mut out, root, &req)?;
        log.lock()
            .unwrap()
            .push(format!("{} {} {status}", req.method, req.target));
        if !req.keep_alive {
            break;
        }
    }
    Ok(())
}

/// Reads a request head (bounded: 8 KiB a line, 100 lines); `None` at end of stream.
fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut first = String::new();
    let mut keep_alive = None;
    for n in 0..100 {
        let mut line = String::new();
        if Read::take(&mut *r, 8192).read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if n == 0 {
            first = line.to_string();
            continue;
        }
        if line.is_empty() {
            let mut words = first.split_whitespace();
            let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let http11 = words.next() == Some("HTTP/1.1");
            return Ok(Some(Request {
                method: method.to_string(),
                target: target.to_string(),
                keep_alive: keep_alive.unwrap_or(http11),
            }));
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("connection") {
                keep_alive = Some(!value.trim().eq_ignore_ascii_case("close"));
            }
        }
    }
    Err(std::io::Error::other("request head too long"))
}

/// Writes the answer and returns its status.
fn respond(out: &mut TcpStream, root: &Path, req: &Request) -> std::io::Result<u16> {
    let conn = if req.keep_alive {
        "keep-alive"
    } else {
        "close"
    };
    let head_only = req.method == "HEAD";
    let (status, reason, file) = match (req.method.as_str(), resolve(root, &req.target)) {
        ("GET" | "HEAD", Ok(Some(path))) => (200, "OK", Some(path)),
        ("GET" | "HEAD", Ok(None)) => (404, "Not Found", None),
        ("GET" | "HEAD", Err(())) => (403, "Forbidden", None),
        _ => (405, "Method Not Allowed", None),
    };
    let body = match &file {
        Some(p) => std::fs::read(p)?,
        None => format!("{status} {reason}\n").into_bytes(),
    };
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n\
         Content-Type: application/octet-stream\r\nConnection: {conn}\r\n\r\n",
        body.len()
    )?;
    if !head_only {
        out.write_all(&body)?;
    }
    out.flush()?;
    Ok(status)
}

/// The file a request target names under `root`: `Ok(None)` if there is none, `Err` if the
/// target tries to leave the root or reach a hidden file (`..`, `.gnupg/…`), after
/// percent-decoding, or leads outside it through a symlink.
fn resolve(root: &Path, target: &str) -> Result<Option<PathBuf>, ()> {
    let path = target.strip_prefix("http://").map_or(target, |rest| {
        rest.find('/').map_or("/", |i| &rest[i..]) // absolute-form (a proxy request)
    });
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = corebuild::percent::decode(path).ok_or(())?;
    let mut full = root.to_path_buf();
    for part in decoded.split('/').filter(|p| !p.is_empty()) {
        if part.starts_with('.') || part.contains('\0') || part.contains('\\') {
            return Err(());
        }
        full.push(part);
    }
    match full.canonicalize() {
        Ok(real) if !real.starts_with(root) => Err(()),
        Ok(real) if real.is_file() => Ok(Some(real)),
        _ => Ok(None),
    }
}
