//! Test helpers: raw tar members built byte by byte (for streams the `tar` crate refuses
//! to build) and a sandbox with a canary directory beside the apply target.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One raw tar header; every field is what the test says, nothing is normalized.
#[derive(Clone)]
pub struct H {
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub size: u64,
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

impl H {
    pub fn new(name: impl AsRef<[u8]>, typeflag: u8) -> H {
        H {
            name: name.as_ref().to_vec(),
            typeflag,
            size: 0,
            link: Vec::new(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_000_000,
        }
    }
    pub fn file(name: impl AsRef<[u8]>) -> H {
        H::new(name, b'0')
    }
    pub fn dir(name: impl AsRef<[u8]>) -> H {
        H {
            mode: 0o755,
            ..H::new(name, b'5')
        }
    }
    pub fn symlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> H {
        H {
            link: target.as_ref().to_vec(),
            mode: 0o777,
            ..H::new(name, b'2')
        }
    }
    pub fn hardlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> H {
        H {
            link: target.as_ref().to_vec(),
            ..H::new(name, b'1')
        }
    }

    pub fn block(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        assert!(
            self.name.len() <= 100 && self.link.len() <= 100,
            "use PAX for long names"
        );
        b[..self.name.len()].copy_from_slice(&self.name);
        octal(&mut b[100..108], self.mode as u64);
        octal(&mut b[108..116], self.uid);
        octal(&mut b[116..124], self.gid);
        if self.size > 0o77777777777 {
            b[124] = 0x80;
            b[128..136].copy_from_slice(&self.size.to_be_bytes());
        } else {
            octal(&mut b[124..136], self.size);
        }
        octal(&mut b[136..148], self.mtime);
        b[156] = self.typeflag;
        b[157..157 + self.link.len()].copy_from_slice(&self.link);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[148..156].fill(b' ');
        let sum: u32 = b.iter().map(|x| u32::from(*x)).sum();
        let ck = format!("{sum:06o}\0 ");
        b[148..156].copy_from_slice(ck.as_bytes());
        b
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0width$o}\0", v, width = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A tar stream assembled member by member.
#[derive(Default)]
pub struct RawTar(pub Vec<u8>);

impl RawTar {
    pub fn new() -> Self {
        RawTar::default()
    }
    /// A member whose size is its data's length.
    pub fn add(mut self, mut h: H, data: &[u8]) -> Self {
        h.size = data.len() as u64;
        self.0.extend_from_slice(&h.block());
        self.data(data)
    }
    /// A member whose header claims `h.size` whatever data follows (for bombs).
    pub fn claim(mut self, h: H, data: &[u8]) -> Self {
        self.0.extend_from_slice(&h.block());
        self.data(data)
    }
    /// A PAX `x` header for the next member.
    pub fn pax(self, records: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let rest = k.len() + v.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        self.add(H::new("PaxHeaders/x", b'x'), &data)
    }
    fn data(mut self, data: &[u8]) -> Self {
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.resize(self.0.len() + pad, 0);
        self
    }
    pub fn finish(mut self) -> Vec<u8> {
        self.0.resize(self.0.len() + 1024, 0);
        self.0
    }
}

/// `tmp/target` (where layers are applied) beside `tmp/canary` (which must never change).
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub target: PathBuf,
    pub canary: PathBuf,
}

/// What a canary file looks like: any change to it is a write outside the target.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub content: Vec<u8>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let canary = tmp.path().join("canary");
        std::fs::create_dir(&target).unwrap();
        std::fs::create_dir(&canary).unwrap();
        std::fs::write(canary.join("secret"), b"canary").unwrap();
        std::fs::create_dir(canary.join("sub")).unwrap();
        std::fs::write(canary.join("sub/inner"), b"inner").unwrap();
        std::fs::write(tmp.path().join("beside"), b"beside").unwrap();
        Sandbox {
            tmp,
            target,
            canary,
        }
    }

    /// The absolute path of the canary directory, as bytes for tar names.
    pub fn canary_abs(&self) -> String {
        self.canary.to_str().unwrap().to_string()
    }

    /// Everything under tmp except the target.
    pub fn outside(&self) -> BTreeMap<PathBuf, Seen> {
        let mut out = BTreeMap::new();
        let walk = walkdir::WalkDir::new(self.tmp.path())
            .into_iter()
            .filter_entry(|e| e.path() != self.target);
        for e in walk {
            let e = e.unwrap();
            out.insert(e.path().to_path_buf(), seen(e.path()));
        }
        out
    }
}

pub fn seen(p: &Path) -> Seen {
    let md = std::fs::symlink_metadata(p).unwrap();
    let ft = md.file_type();
    let (kind, content) = if ft.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_encoded_bytes())
            .collect();
        names.sort();
        ("dir", names.join(&b'/'))
    } else if ft.is_symlink() {
        (
            "symlink",
            std::fs::read_link(p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes(),
        )
    } else if ft.is_file() {
        ("file", std::fs::read(p).unwrap())
    } else {
        ("other", Vec::new())
    };
    Seen {
        kind,
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
        mtime: (md.mtime(), md.mtime_nsec()),
        content,
    }
}
