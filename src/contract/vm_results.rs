//! Reading the results of command tests run in the VM off its console (the lines
//! [`vm_script`](super::vm_script) prints). The console is the guest's: nothing in it is
//! trusted. Lines are length-checked before they are split, fields must be exactly what
//! the script prints, decoded output may not exceed what the script sends, and a test
//! with no result, a garbled one or two of them gets a reason instead of an output.

use super::exec::CommandOutput;
use super::vm_script::{STREAM_LIMIT, TAG};
use base64::Engine as _;
use std::collections::BTreeMap;

/// The longest result line the script can print (two base64 streams and small fields).
const MAX_LINE: usize = 2 * (STREAM_LIMIT.div_ceil(3) * 4) + 256;

/// What the console said about a run of `count` tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VmResults {
    /// The script started (the guest booted and cloud-init ran it).
    pub begun: bool,
    /// The script printed its last line.
    pub ended: bool,
    /// Per test index: its output, or why there is none that can be used.
    pub results: BTreeMap<usize, Result<CommandOutput, String>>,
}

impl VmResults {
    /// The result of test `i`, or why there is none.
    pub fn get(&self, i: usize) -> Result<CommandOutput, String> {
        match self.results.get(&i) {
            Some(r) => r.clone(),
            None if !self.begun => {
                Err("the VM never started the test script (cloud-init did not run it)".into())
            }
            None => Err("the VM printed no result for this test before it stopped".into()),
        }
    }
}

/// Parses the results of `count` tests tagged with `nonce` from a console transcript.
pub fn parse(console: &[u8], nonce: &str, count: usize) -> VmResults {
    let mut r = VmResults::default();
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for line in console.split(|b| *b == b'\n') {
        let Some(rest) = strip_tag(line, nonce) else {
            continue;
        };
        if line.len() > MAX_LINE {
            // Which test it was cannot be trusted either; a missing result says enough.
            continue;
        }
        let fields: Vec<&[u8]> = rest.split(|b| *b == b' ').collect();
        match fields.as_slice() {
            [b"begin", n] if parse_num(n) == Some(count) => r.begun = true,
            [b"end"] => r.ended = true,
            [i, rc, to, out, err] => {
                let Some(i) = parse_num(i).filter(|i| *i < count) else {
                    continue;
                };
                *seen.entry(i).or_default() += 1;
                r.results.insert(i, result(rc, to, out, err));
            }
            _ => {}
        }
    }
    // The script prints one line per test: a second one is not to be believed either.
    for (i, n) in seen {
        if n > 1 {
            r.results
                .insert(i, Err("the VM printed two results for this test".into()));
        }
    }
    r
}

fn strip_tag<'a>(line: &'a [u8], nonce: &str) -> Option<&'a [u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let prefix = format!("{TAG} {nonce} ");
    let start = find(line, prefix.as_bytes())?;
    Some(&line[start + prefix.len()..])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_num(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn result(rc: &[u8], to: &[u8], out: &[u8], err: &[u8]) -> Result<CommandOutput, String> {
    let code = parse_num(rc)
        .filter(|c| *c <= 255)
        .ok_or("the VM's result line has no valid exit status")?;
    let timed_out = match to {
        b"0" => false,
        b"1" => true,
        _ => return Err("the VM's result line is garbled (timed-out flag)".into()),
    };
    Ok(CommandOutput {
        exit_code: Some(code as i32),
        signal: None,
        timed_out,
        stdout: decode(out)
            .map_err(|e| format!("the VM's stdout for this test is garbled: {e}"))?,
        stderr: decode(err)
            .map_err(|e| format!("the VM's stderr for this test is garbled: {e}"))?,
    })
}

fn decode(field: &[u8]) -> Result<Vec<u8>, String> {
    if field == b"-" {
        return Ok(Vec::new());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(field)
        .map_err(|e| format!("bad base64 ({e})"))?;
    if bytes.len() > STREAM_LIMIT {
        return Err(format!("{} bytes, more than the script sends", bytes.len()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn results_are_read_between_noise_and_carriage_returns() {
        let console = format!(
            "[  OK  ] Started cloud-final.service\r\n@CBVM n1 begin 3\r\n\
             noise @CBVM other 0 0 0 - -\n\
             @CBVM n1 0 0 0 {} -\r\n\
             [   12.3] random: crng init done\n\
             @CBVM n1 2 124 1 - {}\n@CBVM n1 end\n",
            b64(b"ok\n"),
            b64(b"slow")
        );
        let r = parse(console.as_bytes(), "n1", 3);
        assert!(r.begun && r.ended);
        let first = r.get(0).unwrap();
        assert_eq!((first.exit_code, first.timed_out), (Some(0), false));
        assert_eq!(first.stdout, b"ok\n");
        assert!(first.stderr.is_empty());
        let third = r.get(2).unwrap();
        assert!(third.timed_out);
        assert_eq!(third.stderr, b"slow");
        assert!(r.get(1).unwrap_err().contains("no result"));
    }

    #[test]
    fn hostile_output_never_passes_for_a_result() {
        let huge = "A".repeat(MAX_LINE + 10);
        let too_much = b64(&vec![b'x'; STREAM_LIMIT + 3]);
        let console = format!(
            "@CBVM n begin 6\n\
             @CBVM n 0 0 0 {huge} -\n\
             @CBVM n 1 0 0 not*base64 -\n\
             @CBVM n 2 0 0 - {too_much}\n\
             @CBVM n 3 0 0 - -\n@CBVM n 3 1 0 - -\n\
             @CBVM n 4 300 0 - -\n\
             @CBVM n 5 0 0 - - extra\n\
             @CBVM n 99999999999999 0 0 - -\n@CBVM n 7 0 0 - -\n"
        );
        let r = parse(console.as_bytes(), "n", 6);
        assert!(r.get(0).unwrap_err().contains("no result"));
        assert!(r.get(1).unwrap_err().contains("bad base64"));
        assert!(r.get(2).unwrap_err().contains("more than the script sends"));
        assert!(r.get(3).unwrap_err().contains("two results"));
        assert!(r.get(4).unwrap_err().contains("exit status"));
        assert!(r.get(5).is_err());
        assert_eq!(r.results.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(!r.ended);
    }

    #[test]
    fn a_script_that_never_ran_says_so() {
        let r = parse(b"login: ", "n", 2);
        assert!(!r.begun);
        assert!(r.get(0).unwrap_err().contains("never started"));
        // A begin line for another count is someone else's.
        assert!(!parse(b"@CBVM n begin 3\n", "n", 2).begun);
    }
}
