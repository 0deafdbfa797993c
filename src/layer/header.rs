//! Encodes one [`Entry`] as tar header blocks: a ustar header, preceded by a PAX `x`
//! header only when a value does not fit (long path or link, large id, size or time,
//! xattrs). Every field is set here, so nothing about the host leaks into the archive.

use super::entry::{split_parent, Entry, EntryKind, OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use std::path::Path;
use tar::{EntryType, Header};

pub(crate) const BLOCK: usize = 512;

/// Largest value of an 8-byte octal field (uid, gid).
const MAX_OCTAL_8: u64 = 0o7777777;
/// Largest value of a 12-byte octal field (size, mtime).
const MAX_OCTAL_12: u64 = 0o77777777777;

/// The name an entry has inside the tar stream.
pub(crate) fn tar_name(e: &Entry) -> String {
    match e.kind {
        EntryKind::Dir => format!("{}/", e.path),
        EntryKind::Whiteout => match split_parent(&e.path) {
            ("", name) => format!("{WHITEOUT_PREFIX}{name}"),
            (parent, name) => format!("{parent}/{WHITEOUT_PREFIX}{name}"),
        },
        EntryKind::OpaqueWhiteout => format!("{}/{OPAQUE_WHITEOUT}", e.path),
        _ => e.path.clone(),
    }
}

/// Appends the header block(s) for `e`, named `name`, to `out`, and returns the number
/// of data bytes that must follow (the file size for regular files, else 0).
pub(crate) fn encode(e: &Entry, name: &str, epoch: u64, out: &mut Vec<u8>) -> std::io::Result<u64> {
    let mtime = e.mtime.min(epoch);
    let (etype, size, link): (EntryType, u64, Option<&str>) = match &e.kind {
        EntryKind::Dir => (EntryType::Directory, 0, None),
        EntryKind::File { size, .. } => (EntryType::Regular, *size, None),
        EntryKind::Symlink { target } => (EntryType::Symlink, 0, Some(target)),
        EntryKind::Hardlink { target } => (EntryType::Link, 0, Some(target)),
        EntryKind::Fifo => (EntryType::Fifo, 0, None),
        EntryKind::Whiteout | EntryKind::OpaqueWhiteout => (EntryType::Regular, 0, None),
    };

    let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
    let mut h = Header::new_ustar();
    if h.set_path(Path::new(name)).is_err() {
        // Too long for name+prefix: the PAX record carries it; the ustar field keeps a
        // truncated copy for readers that ignore PAX.
        pax.push(("path".into(), name.as_bytes().to_vec()));
        let ustar = h.as_ustar_mut().expect("a ustar header");
        ustar.prefix.fill(0);
        copy_truncated(&mut ustar.name, name.as_bytes());
    }
    if let Some(link) = link {
        if link.len() > 100 {
            pax.push(("linkpath".into(), link.as_bytes().to_vec()));
            copy_truncated(&mut h.as_old_mut().linkname, link.as_bytes());
        } else {
            h.set_link_name_literal(link.as_bytes())?;
        }
    }
    for (key, v) in [("uid", e.uid as u64), ("gid", e.gid as u64)] {
        if v > MAX_OCTAL_8 {
            pax.push((key.into(), v.to_string().into_bytes()));
        }
    }
    if size > MAX_OCTAL_12 {
        pax.push(("size".into(), size.to_string().into_bytes()));
    }
    if mtime > MAX_OCTAL_12 {
        pax.push(("mtime".into(), mtime.to_string().into_bytes()));
    }
    for (k, v) in &e.xattrs {
        pax.push((format!("SCHILY.xattr.{k}"), v.clone()));
    }

    // set_uid/set_size fall back to base-256 for values beyond octal; the PAX record
    // above is what modern readers use.
    h.set_mode(e.mode & 0o7777);
    h.set_uid(e.uid as u64);
    h.set_gid(e.gid as u64);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_entry_type(etype);
    // uname, gname, devmajor and devminor stay all-zero from new_ustar().
    h.set_cksum();

    if !pax.is_empty() {
        let data = pax_records(&pax);
        let mut ph = Header::new_ustar();
        let base = split_parent(name.trim_end_matches('/')).1;
        let pname = format!("PaxHeaders/{base}");
        copy_truncated(
            &mut ph.as_ustar_mut().expect("ustar").name,
            pname.as_bytes(),
        );
        ph.set_mode(0o644);
        ph.set_uid(0);
        ph.set_gid(0);
        ph.set_size(data.len() as u64);
        ph.set_mtime(mtime.min(MAX_OCTAL_12));
        ph.set_entry_type(EntryType::XHeader);
        ph.set_cksum();
        out.extend_from_slice(ph.as_bytes());
        out.extend_from_slice(&data);
        out.resize(out.len() + padding(data.len() as u64), 0);
    }
    out.extend_from_slice(h.as_bytes());
    Ok(size)
}

/// Bytes of zero padding after `len` data bytes, to the next block boundary.
pub(crate) fn padding(len: u64) -> usize {
    ((BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64) as usize
}

/// PAX records: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_records(&[("path".into(), b"a".to_vec())]);
        assert_eq!(r, b"9 path=a\n");
        let long = vec![b'x'; 95];
        let r = pax_records(&[("path".into(), long)]);
        assert!(
            r.starts_with(b"105 path="),
            "{:?}",
            String::from_utf8_lossy(&r[..10])
        );
        assert_eq!(r.len(), 105);
    }

    #[test]
    fn short_entry_is_one_block_without_host_fields() {
        let mut e = Entry::bytes("etc/motd", b"hi".to_vec(), 0o644);
        e.mtime = 5_000;
        let mut out = Vec::new();
        let n = encode(&e, &tar_name(&e), 1_000, &mut out).unwrap();
        assert_eq!((n, out.len()), (2, BLOCK));
        let h = Header::from_byte_slice(&out);
        assert_eq!(h.mtime().unwrap(), 1_000, "clamped to epoch");
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        assert_eq!(&out[329..345], &[0u8; 16], "device fields are zero");
        assert_eq!(h.path_bytes().as_ref(), b"etc/motd");
    }

    #[test]
    fn long_names_big_ids_and_xattrs_use_pax() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
        let mut e = Entry::bytes(long.clone(), Vec::new(), 0o4755);
        e.uid = 5_000_000;
        e.xattrs
            .insert("security.capability".into(), vec![1, 0, 0, 2]);
        let mut out = Vec::new();
        encode(&e, &tar_name(&e), 0, &mut out).unwrap();
        let ph = Header::from_byte_slice(&out[..BLOCK]);
        assert_eq!(ph.entry_type(), EntryType::XHeader);
        let data = &out[BLOCK..BLOCK + ph.size().unwrap() as usize];
        let text = String::from_utf8_lossy(data);
        assert!(text.contains(&format!(" path={long}\n")));
        assert!(text.contains(" uid=5000000\n"));
        assert!(text.contains(" SCHILY.xattr.security.capability="));
    }
}
