//! The output of a container: copied line by line to our stderr behind a prefix when
//! asked, and kept bounded (the last [`KEEP_BYTES`] of each stream and the last
//! [`TAIL_LINES`] lines) whatever the command prints.

use std::collections::VecDeque;
use std::io::{Read, Write as _};
use std::sync::Mutex;

/// Bytes kept of each stream.
pub const KEEP_BYTES: usize = 64 << 10;
/// Lines kept for error messages.
pub const TAIL_LINES: usize = 20;
/// Longest line kept in the tail (longer ones are cut, with "…").
const TAIL_LINE_BYTES: usize = 1000;
/// A line longer than this is passed on (streamed) in pieces.
const MAX_PENDING: usize = 16 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// What the two streams left, bounded.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    out: Vec<u8>,
    err: Vec<u8>,
    tail: VecDeque<String>,
}

impl Capture {
    fn push(&mut self, which: Stream, data: &[u8]) {
        let buf = match which {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        buf.extend_from_slice(data);
        // Trim in steps of KEEP_BYTES so the copy cost stays linear.
        if buf.len() > 2 * KEEP_BYTES {
            buf.drain(..buf.len() - KEEP_BYTES);
        }
    }

    /// Adds a line to the tail (also for messages that are not output, e.g. the
    /// runtime's reason for not starting the command).
    pub(crate) fn note(&mut self, line: &str) {
        let mut l = line.trim_end_matches('\r').to_string();
        if l.len() > TAIL_LINE_BYTES {
            let mut cut = TAIL_LINE_BYTES;
            while !l.is_char_boundary(cut) {
                cut -= 1;
            }
            l.truncate(cut);
            l.push('…');
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(l);
    }

    pub(crate) fn tail_contains(&self, line: &str) -> bool {
        self.tail.iter().any(|l| l.contains(line.trim()))
    }

    pub(crate) fn tail_lines(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// The last [`KEEP_BYTES`] of a stream.
    pub(crate) fn take(&mut self, which: Stream) -> Vec<u8> {
        let mut buf = std::mem::take(match which {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        });
        if buf.len() > KEEP_BYTES {
            buf.drain(..buf.len() - KEEP_BYTES);
        }
        buf
    }
}

/// Reads `pipe` to its end into `capture`, copying complete lines to our stderr after
/// `prefix` when one is given.
pub(crate) fn pump(
    mut pipe: impl Read,
    which: Stream,
    capture: &Mutex<Capture>,
    prefix: Option<&str>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        let n = match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        pending.extend_from_slice(&chunk[..n]);
        let mut lines = Vec::new();
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            lines.push(pending.drain(..=i).collect::<Vec<u8>>());
        }
        if pending.len() > MAX_PENDING {
            lines.push(std::mem::take(&mut pending));
        }
        let mut cap = capture.lock().unwrap_or_else(|e| e.into_inner());
        cap.push(which, &chunk[..n]);
        for l in &lines {
            cap.note(&String::from_utf8_lossy(strip_newline(l)));
        }
        drop(cap);
        if let Some(p) = prefix {
            stream_lines(p, &lines);
        }
    }
    if !pending.is_empty() {
        let mut cap = capture.lock().unwrap_or_else(|e| e.into_inner());
        cap.note(&String::from_utf8_lossy(&pending));
        drop(cap);
        if let Some(p) = prefix {
            stream_lines(p, &[pending]);
        }
    }
}

fn strip_newline(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}

fn stream_lines(prefix: &str, lines: &[Vec<u8>]) {
    if lines.is_empty() {
        return;
    }
    let mut buf = Vec::new();
    for l in lines {
        buf.extend_from_slice(prefix.as_bytes());
        buf.extend_from_slice(strip_newline(l));
        buf.push(b'\n');
    }
    // One write per batch keeps lines of parallel containers from interleaving.
    let _ = std::io::stderr().lock().write_all(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end_of_each_stream_and_the_last_lines() {
        let cap = Mutex::new(Capture::default());
        let mut text = Vec::new();
        for i in 0..10_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        pump(&text[..], Stream::Stdout, &cap, None);
        pump(&b"partial"[..], Stream::Stderr, &cap, None);
        let mut cap = cap.into_inner().unwrap();
        let tail = cap.tail_lines();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail[TAIL_LINES - 2], "line 9999");
        assert_eq!(tail[TAIL_LINES - 1], "partial");
        let out = cap.take(Stream::Stdout);
        assert_eq!(out.len(), KEEP_BYTES);
        assert!(text.ends_with(&out));
        assert_eq!(cap.take(Stream::Stderr), b"partial");
    }

    #[test]
    fn cuts_long_lines_in_the_tail() {
        let cap = Mutex::new(Capture::default());
        let long = "é".repeat(40_000);
        pump(long.as_bytes(), Stream::Stderr, &cap, None);
        let cap = cap.into_inner().unwrap();
        let tail = cap.tail_lines();
        assert!(tail
            .iter()
            .all(|l| l.len() <= TAIL_LINE_BYTES + '…'.len_utf8()));
        assert!(tail[0].ends_with('…'));
    }
}
