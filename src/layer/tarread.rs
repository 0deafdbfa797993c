//! A bounded reader of (untrusted) tar streams.
//!
//! The `tar` crate's archive reader buffers PAX and GNU long-name members whole, with no
//! cap, so a member claiming gigabytes is a memory bomb. This reader parses headers with
//! `tar::Header`, caps every metadata member before reading it, counts members and bytes
//! against the caller's limits before consuming them, and streams file data.

use super::apply::ApplyError;
use std::io::{self, Read};
use tar::Header;

/// Largest PAX (`x`/`g`) member we read.
const MAX_PAX_BYTES: u64 = 1 << 20;
/// Largest GNU long name/link member we read (a path is at most 4096 bytes).
const MAX_LONGNAME_BYTES: u64 = 8192;

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
    pub fn new(r: R, max_members: u64, max_bytes: u64) -> Self {
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

    /// The next entry, or `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>, ApplyError> {
        let unnamed = |n: u64| format!("<member {n}>");
        self.skip_rest()
            .map_err(|e| ApplyError::io(unnamed(self.members), "reading the layer", e))?;
        let mut pax_path = None;
        let mut pax_link = None;
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            if self.done {
                return Ok(None);
            }
            let here = unnamed(self.members + 1);
            let mut block = [0u8; 512];
            match self.read_block(&mut block) {
                Ok(false) => {
                    self.done = true;
                    if pax_path.is_some() || !pax.is_empty() || long_name.is_some() {
                        return Err(ApplyError::refused(
                            here,
                            "archive ends after an extension header",
                        ));
                    }
                    return Ok(None);
                }
                Ok(true) if self.consumed > self.max_bytes => {
                    return Err(ApplyError::refused(
                        here,
                        format!("layer stream longer than {} bytes (limit)", self.max_bytes),
                    ))
                }
                Ok(true) => {}
                Err(e) => return Err(ApplyError::io(here, "reading a tar header", e)),
            }
            if block.iter().all(|b| *b == 0) {
                self.done = true;
                return Ok(None);
            }
            self.members += 1;
            if self.members > self.max_members {
                return Err(ApplyError::refused(
                    here,
                    format!("more than {} entries (limit)", self.max_members),
                ));
            }
            let h = Header::from_byte_slice(&block);
            check_checksum(&block).map_err(|r| ApplyError::refused(here.clone(), r))?;
            let field_name =
                header_name(&block).map_err(|r| ApplyError::refused(here.clone(), r))?;
            let named = String::from_utf8_lossy(&field_name).into_owned();
            let refuse = |r: &str| ApplyError::refused(named.clone(), r.to_string());
            let mut size = h.entry_size().map_err(|_| refuse("invalid size field"))?;
            let typeflag = block[156];
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    let cap = if matches!(typeflag, b'x' | b'g') {
                        MAX_PAX_BYTES
                    } else {
                        MAX_LONGNAME_BYTES
                    };
                    if size > cap {
                        return Err(refuse(&format!(
                            "extension header of {size} bytes (limit {cap})"
                        )));
                    }
                    let data = self.read_member(size).map_err(|e| {
                        ApplyError::io(named.clone(), "reading an extension header", e)
                    })?;
                    match typeflag {
                        b'x' => parse_pax(&data, &mut pax_path, &mut pax_link, &mut pax)
                            .map_err(&refuse)?,
                        b'g' => {} // global defaults: ignored; every member states its own fields
                        b'L' => long_name = Some(gnu_long(&data).map_err(&refuse)?),
                        _ => long_link = Some(gnu_long(&data).map_err(&refuse)?),
                    }
                    continue;
                }
                _ => {}
            }
            let mut e = RawEntry {
                name: field_name,
                link: field(&block[157..257]).map_err(&refuse)?.to_vec(),
                typeflag,
                mode: (h.mode().map_err(|_| refuse("invalid mode field"))? & 0o7777),
                uid: h.uid().map_err(|_| refuse("invalid uid field"))?,
                gid: h.gid().map_err(|_| refuse("invalid gid field"))?,
                mtime: h.mtime().map_err(|_| refuse("invalid mtime field"))?,
                size: 0,
                xattrs: Vec::new(),
            };
            if let Some(n) = long_name.take() {
                e.name = n;
            }
            if let Some(l) = long_link.take() {
                e.link = l;
            }
            if let Some(p) = pax_path.take() {
                e.name = p;
            }
            if let Some(l) = pax_link.take() {
                e.link = l;
            }
            let named = String::from_utf8_lossy(&e.name).into_owned();
            let refuse = |r: String| ApplyError::refused(named.clone(), r);
            for (k, v) in pax.drain(..) {
                let num = || -> Result<u64, ApplyError> {
                    let s = std::str::from_utf8(&v).ok();
                    // PAX times may carry a fraction; a negative time becomes 0.
                    let s = s.map(|s| s.split('.').next().unwrap_or(""));
                    match s {
                        Some(s) if s.starts_with('-') => Ok(0),
                        Some(s) => s
                            .parse()
                            .map_err(|_| refuse(format!("invalid PAX {k} value"))),
                        None => Err(refuse(format!("invalid PAX {k} value"))),
                    }
                };
                match k.as_str() {
                    "size" => size = num()?,
                    "uid" => e.uid = num()?,
                    "gid" => e.gid = num()?,
                    "mtime" => e.mtime = num()?,
                    _ if k.starts_with("GNU.sparse.") => {
                        return Err(refuse("sparse files are not supported".into()))
                    }
                    _ => {
                        if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                            e.xattrs.push((x.to_string(), v));
                        }
                    }
                }
            }
            if typeflag == b'S' {
                return Err(refuse("sparse files are not supported".into()));
            }
            e.size = size;
            self.start_member(size).map_err(refuse)?;
            return Ok(Some(e));
        }
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

fn gnu_long(data: &[u8]) -> Result<Vec<u8>, &'static str> {
    let end = data.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let v = &data[..end];
    if v.contains(&0) {
        return Err("name contains a NUL byte");
    }
    Ok(v.to_vec())
}

fn parse_pax(
    mut data: &[u8],
    path: &mut Option<Vec<u8>>,
    link: &mut Option<Vec<u8>>,
    rest: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), &'static str> {
    const BAD: &str = "malformed PAX header";
    while !data.is_empty() {
        let sp = data.iter().position(|b| *b == b' ').ok_or(BAD)?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(BAD)?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(BAD);
        }
        let rec = &data[sp + 1..len - 1];
        let eq = rec.iter().position(|b| *b == b'=').ok_or(BAD)?;
        let key = std::str::from_utf8(&rec[..eq]).map_err(|_| BAD)?;
        let value = rec[eq + 1..].to_vec();
        match key {
            "path" | "linkpath" if value.contains(&0) => return Err("name contains a NUL byte"),
            "path" => *path = Some(value),
            "linkpath" => *link = Some(value),
            _ => rest.push((key.to_string(), value)),
        }
        data = &data[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_parsing_refuses_lies() {
        let (mut p, mut l, mut r) = (None, None, Vec::new());
        assert!(parse_pax(b"9 path=a\n", &mut p, &mut l, &mut r).is_ok());
        assert_eq!(p.as_deref(), Some(&b"a"[..]));
        for bad in [
            &b"99 path=a\n"[..],
            b"5 path=a\n",
            b"x path=a\n",
            b"9 patha=\n\n",
            b"10 path=a\0\n",
        ] {
            assert!(
                parse_pax(bad, &mut p, &mut l, &mut r).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn fields_with_hidden_bytes_after_nul_are_refused() {
        assert_eq!(field(b"abc\0\0\0").unwrap(), b"abc");
        assert!(field(b"abc\0../x").is_err());
        assert_eq!(gnu_long(b"long\0\0").unwrap(), b"long");
        assert!(gnu_long(b"lo\0ng\0").is_err());
    }
}
