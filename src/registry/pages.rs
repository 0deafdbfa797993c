//! Paginated listings (`/v2/<name>/tags/list`, `/v2/_catalog`): follows `Link: <…>;
//! rel="next"` page by page.

use super::http::{error_text, Body, Http};
use anyhow::{Context, Result};

/// Collects the names of every page, starting at `first` (a path). `missing_is_empty`:
/// a 404 on the first page means an empty listing.
pub fn collect(
    http: &Http,
    first: &str,
    scope: &str,
    what: &str,
    missing_is_empty: bool,
    parse: impl Fn(&[u8]) -> Result<Vec<String>, serde_json::Error>,
) -> Result<Vec<String>> {
    let mut path = first.to_string();
    let mut out = Vec::new();
    loop {
        let resp = http.request("GET", &path, &[], &Body::Empty, scope)?;
        match resp.status() {
            200 => {}
            404 if missing_is_empty => return Ok(out),
            _ => {
                return Err(crate::error::environment(format!(
                    "listing {what} at {}: the registry answered {}",
                    http.host,
                    error_text(resp)
                )))
            }
        }
        let next = next_link(&resp);
        let body = resp.into_string().context("reading a page")?;
        out.extend(parse(body.as_bytes()).with_context(|| format!("{what} does not parse"))?);
        match next {
            Some(n) => path = n,
            None => return Ok(out),
        }
    }
}

/// The `Link: <…>; rel="next"` of a paginated answer.
fn next_link(resp: &ureq::Response) -> Option<String> {
    let l = resp.header("Link")?;
    let start = l.find('<')? + 1;
    let end = l.find('>')?;
    l[end..]
        .contains("rel=\"next\"")
        .then(|| l[start..end].to_string())
}
