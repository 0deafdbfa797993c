//! Watching a VM's serial console: what a boot test's `expect` may see, and the cleaned
//! tail a report shows.
//!
//! Only output after the kernel starts counts: firmware (SeaBIOS, OVMF) and GRUB print
//! menus, paths and the command line they are about to pass, and the kernel echoes its
//! own command line (`Command line: …`, `Kernel command line: …`, `Unknown kernel command
//! line parameters …`). A pattern that appears in a test's own `append` or in GRUB's
//! config would otherwise "match" on a VM whose userland never ran. The kernel starts at
//! the first line holding `Linux version ` (the banner; GRUB prints `Loading Linux …`
//! and OVMF's EFI stub `EFI stub: …`, neither of which has it). A kernel started with
//! `quiet` does not print its banner, so nothing would count: the report says so.
//!
//! Lines are matched with carriage returns and terminal escape sequences removed, and
//! the line still being written counts too, so a prompt without a newline
//! (`core-vm login: `) matches. Everything is bounded: a guest that prints without end
//! costs at most a few MiB here.

use regex::bytes::Regex;

/// Console bytes kept for the tail, and of the matched transcript (which carries the
/// results of command tests run in the VM: up to about 180 KiB each).
const KEEP: usize = 16 << 20;
/// A line longer than this is cut into pieces (a guest that never prints a newline).
const MAX_LINE: usize = 64 << 10;
/// How far back a new line's match may reach into earlier lines.
const OVERLAP: usize = 4096;
/// The kernel's banner: the first line of the kernel's own output.
pub const KERNEL_BANNER: &[u8] = b"Linux version ";

/// Whether a (cleaned) line is the kernel echoing its command line.
pub fn is_cmdline_echo(line: &[u8]) -> bool {
    let lower = line.to_ascii_lowercase();
    contains(&lower, b"command line:") || contains(&lower, b"kernel command line")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The console as it arrives, with the state `expect` is matched against.
pub struct Console<'a> {
    expect: &'a Regex,
    /// Everything, for the tail (bounded).
    raw: Vec<u8>,
    /// The line being written (bytes since the last newline, bounded).
    line: Vec<u8>,
    started: bool,
    /// Cleaned post-kernel lines without command line echoes (bounded).
    transcript: Vec<u8>,
    matched: bool,
}

impl<'a> Console<'a> {
    pub fn new(expect: &'a Regex) -> Self {
        Console {
            expect,
            raw: Vec::new(),
            line: Vec::new(),
            started: false,
            transcript: Vec::new(),
            matched: false,
        }
    }

    /// Takes the next bytes; true once `expect` has matched.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        self.raw.extend_from_slice(chunk);
        trim_front(&mut self.raw);
        for &b in chunk {
            self.line.push(b);
            if b == b'\n' || self.line.len() >= MAX_LINE {
                let line = std::mem::take(&mut self.line);
                self.complete(&line);
            }
        }
        if !self.matched && !self.line.is_empty() {
            self.matched = self.partial_matches();
        }
        self.matched
    }

    fn complete(&mut self, line: &[u8]) {
        let clean = clean(line);
        if !self.started && contains(&clean, KERNEL_BANNER) {
            self.started = true;
        }
        if !self.started || is_cmdline_echo(&clean) {
            return;
        }
        let from = self.transcript.len().saturating_sub(OVERLAP);
        self.transcript.extend_from_slice(&clean);
        self.transcript.push(b'\n');
        if !self.matched && self.expect.is_match(&self.transcript[from..]) {
            self.matched = true;
        }
        trim_front(&mut self.transcript);
    }

    /// The line still being written, after what came before it: a prompt waits for input
    /// without a newline.
    fn partial_matches(&self) -> bool {
        let clean = clean(&self.line);
        let started = self.started || contains(&clean, KERNEL_BANNER);
        if !started || is_cmdline_echo(&clean) {
            return false;
        }
        let from = self.transcript.len().saturating_sub(OVERLAP);
        let mut hay = self.transcript[from..].to_vec();
        hay.extend_from_slice(&clean);
        self.expect.is_match(&hay)
    }

    pub fn matched(&self) -> bool {
        self.matched
    }

    /// Whether the kernel's banner has been seen.
    pub fn kernel_started(&self) -> bool {
        self.started || contains(&clean(&self.line), KERNEL_BANNER)
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The cleaned post-kernel lines `expect` was matched against (echoes removed), with
    /// the line still being written.
    pub fn transcript(&self) -> Vec<u8> {
        let mut t = self.transcript.clone();
        if self.kernel_started() {
            t.extend_from_slice(&clean(&self.line));
        }
        t
    }

    /// The last `lines` lines of everything the console showed, cleaned.
    pub fn tail(&self, lines: usize) -> String {
        tail_text(&self.raw, lines)
    }
}

/// Keeps a buffer under [`KEEP`] by dropping its older half.
fn trim_front(buf: &mut Vec<u8>) {
    if buf.len() > KEEP {
        buf.drain(..buf.len() - KEEP / 2);
    }
}

/// A line without carriage returns, terminal escape sequences and other control
/// characters (newlines and tabs stay).
pub fn clean(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                // CSI: ESC [ params final-byte; other escapes: ESC and one byte.
                i += 1;
                if bytes.get(i) == Some(&b'[') {
                    i += 1;
                    while i < bytes.len() && !(b'@'..=b'~').contains(&bytes[i]) {
                        i += 1;
                    }
                }
                i += 1;
                continue;
            }
            b'\n' | b'\t' => out.push(bytes[i]),
            c if c < 0x20 || c == 0x7f => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The last `lines` lines of console output, cleaned (see [`clean`]), each cut to 240
/// characters; a line repeated back to back (a wait loop) is shown once with its count.
pub fn tail_text(console: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(console);
    let cleaned = clean(text.as_bytes());
    let clean = String::from_utf8_lossy(&cleaned);
    let mut all: Vec<(String, usize)> = Vec::new();
    for l in clean.lines().filter(|l| !l.trim().is_empty()) {
        let l: String = l.chars().take(240).collect();
        match all.last_mut() {
            Some((prev, n)) if *prev == l => *n += 1,
            _ => all.push((l, 1)),
        }
    }
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|(l, n)| {
            if *n > 1 {
                format!("{l} [×{n}]")
            } else {
                l.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(expect: &str, chunks: &[&[u8]]) -> bool {
        let re = Regex::new(expect).unwrap();
        let mut c = Console::new(&re);
        chunks.iter().any(|ch| c.push(ch))
    }

    const GRUB: &[u8] = b"\x1b[2J\x1b[HGNU GRUB  version 2.06\r\n  linux /boot/vmlinuz root=PARTUUID=x MARKER-OK\r\nLoading Linux 6.1.0-28-cloud-amd64 ...\r\n";
    const KERNEL: &[u8] = b"[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)\r\n\
[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 MARKER-OK\r\n\
[    0.011000] Kernel command line: BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 MARKER-OK\r\n\
[    0.020000] Unknown kernel command line parameters \"MARKER-OK\", will be passed to user space.\r\n";

    #[test]
    fn firmware_grub_and_command_line_echoes_never_match() {
        let ovmf = b"BdsDxe: loading Boot0001 \"UEFI Misc Device\" MARKER-OK\r\nEFI stub: Loaded initrd\r\n";
        assert!(!watch("MARKER-OK", &[ovmf, GRUB, KERNEL]));
        // Byte by byte, so a partial line never matches before it shows it is an echo.
        let all = [&ovmf[..], GRUB, KERNEL].concat();
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert!(!watch("MARKER-OK", &bytes));
        assert!(!watch("root=/dev/vda1", &[KERNEL]));
    }

    #[test]
    fn output_after_the_kernel_starts_matches_even_across_reads() {
        assert!(watch(
            "MARKER-OK core-vm",
            &[GRUB, KERNEL, b"[  3.1] init: MARKER-", b"OK core-vm\r\n"]
        ));
        // Escape sequences are gone before matching.
        assert!(watch(
            r"\[  OK  \] Reached target .*Multi-User",
            &[KERNEL, b"[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m.\r\n"]
        ));
        // Nothing before the banner counts, even without firmware noise.
        assert!(!watch("hello", &[b"hello\r\n"]));
    }

    #[test]
    fn a_prompt_without_a_newline_matches() {
        assert!(watch(
            "core-vm login: $",
            &[
                KERNEL,
                b"\r\nDebian GNU/Linux 12 core-vm ttyS0\r\n\r\ncore-vm login: "
            ]
        ));
    }

    #[test]
    fn a_guest_that_never_prints_a_newline_is_bounded() {
        let re = Regex::new("never").unwrap();
        let mut c = Console::new(&re);
        c.push(KERNEL);
        let junk = vec![b'x'; 1 << 20];
        for _ in 0..12 {
            assert!(!c.push(&junk));
        }
        assert!(c.raw.len() <= KEEP && c.transcript.len() <= KEEP + MAX_LINE);
        assert!(c.line.len() < MAX_LINE);
        assert!(c.kernel_started());
    }

    #[test]
    fn tail_drops_escapes_and_keeps_the_last_lines() {
        let s = b"one\r\n\x1b[0;32m  OK  \x1b[0m two\r\n\r\nthree\nfour\n";
        assert_eq!(tail_text(s, 2), "three\nfour");
        assert_eq!(tail_text(s, 3), "  OK   two\nthree\nfour");
        assert_eq!(
            tail_text(b"a\nwait\nwait\nwait\nb\n", 2),
            "wait [\u{d7}3]\nb"
        );
    }
}
