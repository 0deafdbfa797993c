//! The extension records that precede one tar entry (PAX `x` and `g`, GNU long name `L`
//! and long link `K`): admitted under one byte budget per entry, each kind at most once,
//! and only the PAX keys the apply uses kept.

use super::RawEntry;
use crate::layer::scan::KEPT_XATTR;

/// All extension data before one entry, every kind together.
pub(crate) const MAX_EXT_BYTES: u64 = 1 << 20;
/// One GNU long name or link (a path is at most 4096 bytes).
const MAX_LONGNAME_BYTES: u64 = 8192;

/// What the extension records before the next entry said.
#[derive(Debug, Default)]
pub(super) struct Ext {
    /// Bytes of extension data admitted so far for this entry.
    total: u64,
    /// Typeflags already met before this entry.
    kinds: Vec<u8>,
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    /// PAX numeric fields, raw: parsed when folded, so a bad value names the entry.
    numbers: Vec<(&'static str, Vec<u8>)>,
    capability: Option<Vec<u8>>,
    sparse: bool,
}

/// Whether a typeflag is an extension record rather than an entry.
pub(super) fn is_ext(typeflag: u8) -> bool {
    matches!(typeflag, b'x' | b'g' | b'L' | b'K')
}

/// Whether the data of an extension record is read (`g` is skipped unread: global
/// defaults are ignored, every entry states its own fields).
pub(super) fn is_read(typeflag: u8) -> bool {
    typeflag != b'g'
}

impl Ext {
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Checks a record's header before any of its data is read: one of each kind per
    /// entry, a long name within its cap, and all of them within [`MAX_EXT_BYTES`].
    pub fn admit(&mut self, typeflag: u8, size: u64) -> Result<(), String> {
        let kind = match typeflag {
            b'x' => "PAX header",
            b'g' => "PAX global header",
            b'L' => "GNU long name",
            _ => "GNU long link",
        };
        if self.kinds.contains(&typeflag) {
            return Err(format!("a second {kind} before one entry"));
        }
        if matches!(typeflag, b'L' | b'K') && size > MAX_LONGNAME_BYTES {
            return Err(format!(
                "extension header of {size} bytes (limit {MAX_LONGNAME_BYTES})"
            ));
        }
        let total = self.total.saturating_add(size);
        if total > MAX_EXT_BYTES {
            return Err(format!(
                "extension header of {size} bytes takes this entry's extension headers \
                 to {total} bytes (limit {MAX_EXT_BYTES})"
            ));
        }
        self.kinds.push(typeflag);
        self.total = total;
        Ok(())
    }

    /// Takes the data of an admitted record.
    pub fn take(&mut self, typeflag: u8, data: &[u8]) -> Result<(), &'static str> {
        match typeflag {
            b'x' => self.parse_pax(data)?,
            b'L' => self.long_name = Some(gnu_long(data)?),
            b'K' => self.long_link = Some(gnu_long(data)?),
            _ => {}
        }
        Ok(())
    }

    /// Folds what was kept into the entry; a PAX value overrides a GNU long name, which
    /// overrides the header's own field.
    pub fn fold(self, e: &mut RawEntry) -> Result<(), String> {
        if let Some(n) = self.path.or(self.long_name) {
            e.name = n;
        }
        if let Some(l) = self.link.or(self.long_link) {
            e.link = l;
        }
        if self.sparse {
            return Err("sparse files are not supported".into());
        }
        for (k, v) in self.numbers {
            let n = pax_number(&v).ok_or_else(|| format!("invalid PAX {k} value"))?;
            match k {
                "size" => e.size = n,
                "uid" => e.uid = n,
                "gid" => e.gid = n,
                _ => e.mtime = n,
            }
        }
        if let Some(c) = self.capability {
            e.xattrs.push((KEPT_XATTR.to_string(), c));
        }
        Ok(())
    }

    fn parse_pax(&mut self, mut data: &[u8]) -> Result<(), &'static str> {
        const BAD: &str = "malformed PAX header";
        while !data.is_empty() {
            let sp = data.iter().take(20).position(|b| *b == b' ').ok_or(BAD)?;
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
            self.pax_record(key, &rec[eq + 1..])?;
            data = &data[len..];
        }
        Ok(())
    }

    /// Keeps one PAX record if the apply uses its key; everything else is dropped.
    fn pax_record(&mut self, key: &str, value: &[u8]) -> Result<(), &'static str> {
        let xattr = key.strip_prefix("SCHILY.xattr.");
        match key {
            "path" | "linkpath" if value.contains(&0) => return Err("name contains a NUL byte"),
            "path" => self.path = Some(value.to_vec()),
            "linkpath" => self.link = Some(value.to_vec()),
            "size" | "uid" | "gid" | "mtime" => {
                let k = ["size", "uid", "gid", "mtime"]
                    .into_iter()
                    .find(|k| *k == key)
                    .expect("matched above");
                self.numbers.retain(|(n, _)| *n != k);
                self.numbers.push((k, value.to_vec()));
            }
            _ if key.starts_with("GNU.sparse.") => self.sparse = true,
            _ if xattr == Some(KEPT_XATTR) => self.capability = Some(value.to_vec()),
            _ => {}
        }
        Ok(())
    }
}

/// A PAX decimal; a fraction (times) is dropped and a negative time becomes 0.
fn pax_number(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.split('.').next().unwrap_or("");
    if s.starts_with('-') {
        return Some(0);
    }
    s.parse().ok()
}

pub(super) fn gnu_long(data: &[u8]) -> Result<Vec<u8>, &'static str> {
    let end = data.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let v = &data[..end];
    if v.contains(&0) {
        return Err("name contains a NUL byte");
    }
    Ok(v.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pax(data: &[u8]) -> Result<Ext, &'static str> {
        let mut x = Ext::default();
        x.parse_pax(data).map(|()| x)
    }

    #[test]
    fn pax_parsing_refuses_lies() {
        assert_eq!(pax(b"9 path=a\n").unwrap().path.as_deref(), Some(&b"a"[..]));
        for bad in [
            &b"99 path=a\n"[..],
            b"5 path=a\n",
            b"x path=a\n",
            b"9 patha=\n\n",
            b"10 path=a\0\n",
            b"000000000000000000000000009 path=a\n",
        ] {
            assert!(pax(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_used_pax_keys_are_kept() {
        let x = pax(b"13 comment=x\n20 SCHILY.xattr.a=b\n11 uname=u\n").unwrap();
        assert!(x.numbers.is_empty() && x.capability.is_none() && x.path.is_none());
        let x = pax(b"11 size=12\n11 size=34\n").unwrap();
        assert_eq!(x.numbers, vec![("size", b"34".to_vec())]);
        let x = pax(b"38 SCHILY.xattr.security.capability=c\n").unwrap();
        assert_eq!(x.capability.as_deref(), Some(&b"c"[..]));
    }

    #[test]
    fn one_of_each_kind_within_one_budget() {
        let mut x = Ext::default();
        x.admit(b'x', 100).unwrap();
        assert!(x
            .admit(b'x', 100)
            .unwrap_err()
            .contains("second PAX header"));
        x.admit(b'L', 100).unwrap();
        assert!(x
            .admit(b'L', 1)
            .unwrap_err()
            .contains("second GNU long name"));
        assert!(x.admit(b'K', 9000).unwrap_err().contains("limit 8192"));
        x.admit(b'K', 100).unwrap();
        assert!(x.admit(b'g', MAX_EXT_BYTES).unwrap_err().contains("limit"));
        x.admit(b'g', MAX_EXT_BYTES - 300).unwrap();
    }

    #[test]
    fn fields_with_hidden_bytes_after_nul_are_refused() {
        assert_eq!(gnu_long(b"long\0\0").unwrap(), b"long");
        assert!(gnu_long(b"lo\0ng\0").is_err());
    }
}
