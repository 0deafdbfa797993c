//! Paginated listings (`/v2/<name>/tags/list`, `/v2/_catalog`): follows `Link: <…>;
//! rel="next"` page by page, only on the registry's own origin, each page read with a
//! size cap, and no more than [`MAX_PAGES`] pages or [`MAX_LISTED`] names in all, so a
//! registry that always says `next` cannot keep us forever.

use super::http::{error_text, Body, Http};
use super::limits::{read_capped, JSON_LIMIT, MAX_LISTED, MAX_PAGES};
use anyhow::Result;

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
    let mut url = http.url(first);
    let mut out = Vec::new();
    for _page in 0..MAX_PAGES {
        let resp = http.request("GET", &url, &[], &Body::Empty, scope)?;
        match resp.status() {
            200 => {}
            404 if missing_is_empty && out.is_empty() => return Ok(out),
            _ => {
                return Err(crate::error::environment(format!(
                    "listing {what} at {}: the registry answered {}",
                    http.host,
                    error_text(resp)
                )))
            }
        }
        let next = next_link(&resp);
        let body = read_capped(resp, JSON_LIMIT, what)?;
        let names = parse(&body)
            .map_err(|e| crate::error::environment(format!("{what} does not parse: {e}")))?;
        out.extend(names);
        if out.len() > MAX_LISTED {
            return Err(crate::error::environment(format!(
                "{what} at {}: more than {MAX_LISTED} names",
                http.host
            )));
        }
        match next {
            Some(n) => url = http.link(&n, what)?,
            None => return Ok(out),
        }
    }
    Err(crate::error::environment(format!(
        "{what} at {}: still a next page after {MAX_PAGES} pages",
        http.host
    )))
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
