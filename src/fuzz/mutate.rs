//! Mutations of a valid document: byte flips, inserts of bytes that matter to TOML and
//! JSON, deletions, line duplication and swaps, truncation.

use proptest::prelude::*;

/// One edit, positions taken modulo the current length.
#[derive(Debug, Clone)]
pub enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    DupLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

/// Bytes that change the meaning of TOML and JSON documents.
const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"[[",
    b"]]",
    b"{",
    b"}",
    b"\"",
    b"'",
    b"'''",
    b"\"\"\"",
    b"=",
    b",",
    b":",
    b"\n",
    b"#",
    b"\\",
    b"\\u0000",
    b"-1",
    b"1e400",
    b"99999999999999999999",
    b"true",
    b"null",
    b"\xff\xfe",
    b"\x00",
    b"../../",
    b"/",
    b"sha256:",
    b"..",
    b"\t",
];

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        (any::<usize>(), prop::sample::select(TOKENS))
            .prop_map(|(p, t)| Edit::Insert(p, t.to_vec())),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<usize>(), 1usize..32).prop_map(|(p, n)| Edit::Delete(p, n)),
        any::<usize>().prop_map(Edit::DupLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..6)
}

pub fn apply(doc: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut d = doc.to_vec();
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
        match e {
            Edit::Flip(p, b) if !d.is_empty() => {
                let i = at(*p, d.len());
                d[i] = *b;
            }
            Edit::Insert(p, bytes) => {
                let i = at(*p, d.len() + 1);
                d.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(p, n) if !d.is_empty() => {
                let i = at(*p, d.len());
                d.drain(i..(i + n).min(d.len()));
            }
            Edit::DupLine(p) | Edit::SwapLines(p, _) | Edit::Truncate(p) => {
                d = lines_edit(d, e, *p);
            }
            _ => {}
        }
    }
    d
}

fn lines_edit(d: Vec<u8>, e: &Edit, p: usize) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = d.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let n = lines.len();
    match e {
        Edit::DupLine(_) => {
            let l = lines[p % n].clone();
            lines.insert(p % n, l);
        }
        Edit::SwapLines(_, q) => lines.swap(p % n, q % n),
        Edit::Truncate(_) => lines.truncate(p % n + 1),
        _ => {}
    }
    lines.join(&b'\n')
}
