//! How much of an answer the client reads: every body is read through a cap, so a
//! registry that streams without end costs bounded memory and time.

use super::http::Attempt;
use std::io::Read;

/// The largest manifest (or index) we read.
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// The largest small JSON answer (a token, a page of tags, the referrers index).
pub const JSON_LIMIT: u64 = 4 << 20;
/// The most pages one listing may take.
pub const MAX_PAGES: usize = 1000;
/// The most names one listing may return.
pub const MAX_LISTED: usize = 100_000;

/// Reads at most `limit` bytes of `resp`'s body; more is bad input, a broken stream is
/// worth a retry.
pub fn read_capped_attempt(
    resp: ureq::Response,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, Attempt> {
    let mut bytes = Vec::new();
    if let Err(e) = resp.into_reader().take(limit + 1).read_to_end(&mut bytes) {
        return Err(Attempt::Retry {
            why: format!("reading {what}: {e}"),
            after: None,
        });
    }
    if bytes.len() as u64 > limit {
        return Err(Attempt::Fatal(crate::error::input(format!(
            "{what}: the answer is larger than {limit} bytes"
        ))));
    }
    Ok(bytes)
}

/// [`read_capped_attempt`] for a caller that does not retry.
pub fn read_capped(resp: ureq::Response, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    read_capped_attempt(resp, limit, what).map_err(|a| match a {
        Attempt::Fatal(e) => e,
        Attempt::Retry { why, .. } => crate::error::environment(why),
    })
}
