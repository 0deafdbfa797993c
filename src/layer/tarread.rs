//! A bounded reader of (untrusted) tar streams.
//!
//! The `tar` crate's archive reader buffers PAX and GNU long-name members whole, with no
//! cap, so a member claiming gigabytes is a memory bomb. This reader parses headers with
//! `tar::Header`, caps the extension records before each entry together (`ext.rs`)
//! before reading them, counts members and bytes against the caller's limits before
//! consuming them, and streams file data. Every reader of a layer goes through it.

mod ext;

use super::apply::{ApplyError, ApplyOptions};
use ext::Ext;
use std::io::{self, Read};
use tar::Header;

/// One member, with PAX and GNU extensions already folded in.
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub name: Vec<u8>,
    pub link: Vec<u8>,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// The data of the current entry (see [`TarReader::data`]).
pub(crate) struct Data<'a, R>(&'a mut TarReader<R>);

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf)
    }
}

impl RawEntry {
    /// A regular file (a regular type whose name ends in `/` is a directory).
    pub fn is_file(&self) -> bool {
        matches!(self.typeflag, b'0' | b'\0' | b'7') && !self.name.ends_with(b"/")
    }
}

pub(crate) struct TarReader<R> {
    r: R,
    /// Data bytes of the current member not yet read.
    left: u64,
    /// Padding after the current member's data.
    pad: u64,
    members: u64,
    /// Every byte consumed from the stream so far.
    consumed: u64,
    max_members: u64,
    max_bytes: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    fn new(r: R, max_members: u64, max_bytes: u64) -> Self {
        TarReader {
            r,
            left: 0,
            pad: 0,
            members: 0,
            consumed: 0,
            max_members,
            max_bytes,
            done: false,
        }
    }

    /// A reader with the limits an apply under `opts` has: what every reader of an
    /// untrusted layer uses.
    pub fn bounded(r: R, opts: &ApplyOptions) -> Self {
        // Headers may add up to three blocks per member on top of the file bytes.
        let stream_cap = opts
            .max_total_bytes
            .saturating_add(opts.max_entries.saturating_mul(3 * 512))
            .saturating_add(1 << 20);
        TarReader::new(r, opts.max_entries, stream_cap)
    }

    /// The data of the current entry, as a reader.
    pub fn data(&mut self) -> Data<'_, R> {
        Data(self)
    }

    /// The next entry, or `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>, ApplyError> {
        let unnamed = |n: u64| format!("<member {n}>");
        self.skip_rest()
            .map_err(|e| ApplyError::io(unnamed(self.members), "reading the layer", e))?;
        let mut ext = Ext::default();
        loop {
            if self.done {
                return Ok(None);
            }
            let here = unnamed(self.members + 1);
            let Some(block) = self.next_header(&here, &ext)? else {
                return Ok(None);
            };
            let h = Header::from_byte_slice(&block);
            check_checksum(&block).map_err(|r| ApplyError::refused(here.clone(), r))?;
            let field_name =
                header_name(&block).map_err(|r| ApplyError::refused(here.clone(), r))?;
            let named = String::from_utf8_lossy(&field_name).into_owned();
            let refuse = |r: &str| ApplyError::refused(named.clone(), r.to_string());
            let size = h.entry_size().map_err(|_| refuse("invalid size field"))?;
            let typeflag = block[156];
            if ext::is_ext(typeflag) {
                ext.admit(typeflag, size).map_err(|r| refuse(&r))?;
                if ext::is_read(typeflag) {
                    let data = self.read_member(size).map_err(|e| {
                        ApplyError::io(named.clone(), "reading an extension header", e)
                    })?;
                    ext.take(typeflag, &data).map_err(refuse)?;
                } else {
                    self.start_member(size).map_err(|r| refuse(&r))?;
                    self.skip_rest()
                        .map_err(|e| ApplyError::io(named.clone(), "skipping a header", e))?;
                }
                continue;
            }
            let mut e = RawEntry {
                name: field_name,
                link: field(&block[157..257]).map_err(&refuse)?.to_vec(),
                typeflag,
                mode: (h.mode().map_err(|_| refuse("invalid mode field"))? & 0o7777),
                uid: h.uid().map_err(|_| refuse("invalid uid field"))?,
                gid: h.gid().map_err(|_| refuse("invalid gid field"))?,
                mtime: h.mtime().map_err(|_| refuse("invalid mtime field"))?,
                size,
                xattrs: Vec::new(),
            };
            let folded = ext.fold(&mut e);
            let named = String::from_utf8_lossy(&e.name).into_owned();
            let refuse = |r: String| ApplyError::refused(named.clone(), r);
            folded.map_err(&refuse)?;
            if typeflag == b'S' {
                return Err(refuse("sparse files are not supported".into()));
            }
            self.start_member(e.size).map_err(refuse)?;
            return Ok(Some(e));
        }
    }

    /// The next header block, counted against the member and byte limits; `None` at the
    /// end of the archive (refused if extension records were waiting for an entry).
    fn next_header(&mut self, here: &str, ext: &Ext) -> Result<Option<[u8; 512]>, ApplyError> {
        let refuse = |r: String| ApplyError::refused(here.to_string(), r);
        let mut block = [0u8; 512];
        match self.read_block(&mut block) {
            Ok(true) if self.consumed > self.max_bytes => {
                return Err(refuse(format!(
                    "layer stream longer than {} bytes (limit)",
                    self.max_bytes
                )))
            }
            Ok(true) if block.iter().any(|b| *b != 0) => {}
            Ok(_) => {
                self.done = true;
                if !ext.is_empty() {
                    return Err(refuse("archive ends after an extension header".into()));
                }
                return Ok(None);
            }
            Err(e) => return Err(ApplyError::io(here.to_string(), "reading a tar header", e)),
        }
        self.members += 1;
        if self.members > self.max_members {
            return Err(refuse(format!(
                "more than {} entries (limit)",
                self.max_members
            )));
        }
        Ok(Some(block))
    }

    /// Reads data of the current entry (at most what is left of it).
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar stream ends inside an entry",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }

    /// The stream, as far as it was read.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// Reads whatever follows the end of the archive (tar's record padding), still
    /// counted against the byte limit, so a caller hashing the stream sees all of it.
    pub fn drain(&mut self) -> Result<(), ApplyError> {
        let mut buf = [0u8; 8192];
        loop {
            let n = match self.r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ApplyError::io(
                        "<end of archive>".into(),
                        "reading the layer",
                        e,
                    ))
                }
            };
            self.consumed += n as u64;
            if self.consumed > self.max_bytes {
                return Err(ApplyError::refused(
                    "<end of archive>".into(),
                    format!("layer stream longer than {} bytes (limit)", self.max_bytes),
                ));
            }
        }
    }

    fn start_member(&mut self, size: u64) -> Result<(), String> {
        let padded = size
            .checked_add(511)
            .map(|s| s & !511)
            .ok_or_else(|| "size overflows".to_string())?;
        if self.consumed.saturating_add(padded) > self.max_bytes {
            return Err(format!(
                "entry of {size} bytes would take the layer past {} bytes (limit)",
                self.max_bytes
            ));
        }
        self.consumed += padded;
        self.left = size;
        self.pad = padded - size;
        Ok(())
    }

    fn read_member(&mut self, size: u64) -> io::Result<Vec<u8>> {
        self.start_member(size).map_err(io::Error::other)?;
        let mut v = vec![0u8; size as usize];
        self.r.read_exact(&mut v)?;
        self.left = 0;
        self.skip_rest()?;
        Ok(v)
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        let n = self.left + self.pad;
        if n > 0 {
            let copied = io::copy(&mut (&mut self.r).take(n), &mut io::sink())?;
            if copied != n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "tar stream ends inside an entry",
                ));
            }
        }
        self.left = 0;
        self.pad = 0;
        Ok(())
    }

    /// Reads one 512-byte block; `false` at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8; 512]) -> io::Result<bool> {
        let mut got = 0;
        while got < 512 {
            match self.r.read(&mut block[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "truncated tar header",
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.consumed += 512;
        Ok(true)
    }
}

fn check_checksum(block: &[u8; 512]) -> Result<(), &'static str> {
    let h = Header::from_byte_slice(block);
    let want = h.cksum().map_err(|_| "invalid checksum field")?;
    let spaces = 8 * u32::from(b' ');
    let unsigned: u32 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|b| u32::from(*b))
        .sum::<u32>()
        + spaces;
    let signed: i64 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|b| i64::from(*b as i8))
        .sum::<i64>()
        + i64::from(spaces);
    if want == unsigned || i64::from(want) == signed {
        Ok(())
    } else {
        Err("header checksum mismatch (not a tar stream, or corrupt)")
    }
}

/// A NUL-terminated header field; bytes after the terminator must be NUL too, or the
/// name hides something after a NUL.
fn field(f: &[u8]) -> Result<&[u8], &'static str> {
    match f.iter().position(|b| *b == 0) {
        Some(i) if f[i..].iter().any(|b| *b != 0) => Err("name contains a NUL byte"),
        Some(i) => Ok(&f[..i]),
        None => Ok(f),
    }
}

/// The name in the header itself: ustar `prefix/name`, or the plain name field.
fn header_name(block: &[u8; 512]) -> Result<Vec<u8>, &'static str> {
    let name = field(&block[..100])?;
    let is_ustar = &block[257..263] == b"ustar\0";
    let prefix = if is_ustar {
        field(&block[345..500])?
    } else {
        &[][..]
    };
    let mut out = Vec::with_capacity(prefix.len() + 1 + name.len());
    if !prefix.is_empty() {
        out.extend_from_slice(prefix);
        out.push(b'/');
    }
    out.extend_from_slice(name);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_hidden_bytes_after_nul_are_refused() {
        assert_eq!(field(b"abc\0\0\0").unwrap(), b"abc");
        assert!(field(b"abc\0../x").is_err());
    }
}
