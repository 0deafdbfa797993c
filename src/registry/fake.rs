//! A scripted HTTP server on a loopback address for the client's tests: it records every
//! request and answers what the test says. Only for what a real registry will not do on
//! demand: Locations, Links and realms on other hosts, endless pages, huge answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target, `/v2/…?…`.
    pub path: String,
    pub authorization: Option<String>,
}

type Answer = dyn Fn(&Seen, &str) -> Vec<u8> + Send + Sync;

pub struct Fake {
    /// `IP:PORT`.
    pub addr: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

/// A raw HTTP/1.1 answer that closes the connection.
pub fn answer(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

impl Fake {
    /// Listens on `ip` (any loopback address) at a free port; `respond(request, own
    /// address)` gives the raw answer.
    pub fn start(
        ip: &str,
        respond: impl Fn(&Seen, &str) -> Vec<u8> + Send + Sync + 'static,
    ) -> Fake {
        let listener = TcpListener::bind((ip, 0)).expect("bind a loopback address");
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let respond: Arc<Answer> = Arc::new(respond);
        let (seen2, stop2, me) = (seen.clone(), stop.clone(), addr.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let _ = serve(conn, &seen2, respond.as_ref(), &me);
            }
        });
        Fake { addr, seen, stop }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(
    conn: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    respond: &Answer,
    me: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut parts = first.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let (mut len, mut authorization) = (0u64, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let (k, v) = line.split_once(':').unwrap_or((&line, ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(v.trim().to_string()),
            _ => {}
        }
    }
    std::io::copy(&mut reader.by_ref().take(len), &mut std::io::sink())?;
    let s = Seen {
        method,
        path,
        authorization,
    };
    seen.lock().unwrap().push(s.clone());
    let mut conn = conn;
    conn.write_all(&respond(&s, me))?;
    conn.shutdown(std::net::Shutdown::Both)
}
