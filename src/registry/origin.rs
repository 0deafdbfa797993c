//! Where a URL points, and where the client lets the registry send it. Credentials (the
//! Docker config's password, a cached `Authorization`) go only to the registry's own
//! origin (scheme, host, port), Basic credentials also to a token realm that passes
//! [`realm`]. A registry may name another origin for an upload session (a storage
//! front); the bytes go there, credentials never. Pagination stays on the registry.

/// A URL's scheme and `host[:port]` (default ports dropped), lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL; `None` for anything else (including
    /// a URL with user info, which we never follow).
    pub fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => ":443",
            "http" => ":80",
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let host = authority
            .strip_suffix(default_port)
            .unwrap_or(&authority)
            .to_string();
        Some(Origin { scheme, host })
    }

    /// The host name without the port.
    fn name(&self) -> &str {
        if self.host.starts_with('[') {
            return self.host.split_inclusive(']').next().unwrap_or(&self.host);
        }
        self.host.rsplit_once(':').map_or(&self.host, |(h, _)| h)
    }

    fn is_loopback(&self) -> bool {
        super::is_loopback(&self.host)
    }
}

/// `url` made absolute against `base`: a path (`/v2/…`) or an absolute URL.
fn absolute(base: &Origin, url: &str) -> Result<(String, Origin), String> {
    if url.starts_with('/') && !url.starts_with("//") {
        let abs = format!("{}://{}{url}", base.scheme, base.host);
        return Ok((abs, base.clone()));
    }
    let o = Origin::of(url).ok_or_else(|| format!("{url:?} is not an http(s) URL or a path"))?;
    Ok((url.to_string(), o))
}

/// A pagination `Link`: only on the registry's own origin.
pub fn link(base: &Origin, url: &str) -> Result<String, String> {
    let (abs, o) = absolute(base, url)?;
    if o != *base {
        return Err(format!(
            "the next page is on another origin ({}://{}); listings stay on the registry",
            o.scheme, o.host
        ));
    }
    Ok(abs)
}

/// An upload `Location`: the registry's origin, another origin over https, or (for a
/// plain-HTTP loopback registry) another loopback host. Never a downgrade to plain HTTP.
pub fn location(base: &Origin, url: &str) -> Result<String, String> {
    let (abs, o) = absolute(base, url)?;
    let allowed = o == *base
        || o.scheme == "https"
        || (base.scheme == "http" && o.is_loopback() && base.is_loopback());
    if !allowed {
        return Err(format!(
            "the upload location {}://{} is plain HTTP on another host",
            o.scheme, o.host
        ));
    }
    Ok(abs)
}

/// A Bearer challenge's `realm`, where Basic credentials are sent for a token: any host
/// over https (token services often live on their own host), plain HTTP only when the
/// registry itself is plain HTTP (loopback) and the realm is on the same host.
pub fn realm(base: &Origin, url: &str) -> Result<(), String> {
    let o = Origin::of(url).ok_or_else(|| format!("the token realm {url:?} is not a URL"))?;
    let ok = o.scheme == "https" || (base.scheme == "http" && o.name() == base.name());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the token realm {url} is plain HTTP on another host than the registry: credentials are not sent there"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(url: &str) -> Origin {
        Origin::of(url).unwrap()
    }

    #[test]
    fn origins_ignore_default_ports_and_refuse_user_info() {
        assert_eq!(o("https://Reg.example:443/v2/"), o("https://reg.example"));
        assert_ne!(o("http://reg.example/"), o("https://reg.example/"));
        assert_ne!(o("http://127.0.0.1:5000/"), o("http://127.0.0.1:5001/"));
        assert!(Origin::of("https://user:pw@evil.example/").is_none());
        assert!(Origin::of("file:///etc/passwd").is_none());
    }

    #[test]
    fn links_stay_on_the_registry() {
        let b = o("https://reg.example");
        assert_eq!(
            link(&b, "/v2/a/tags/list?last=x").unwrap(),
            "https://reg.example/v2/a/tags/list?last=x"
        );
        assert!(link(&b, "https://reg.example/v2/x").is_ok());
        for bad in [
            "https://evil.example/v2/x",
            "http://reg.example/v2/x",
            "//evil.example/v2/x",
            "v2/x",
        ] {
            assert!(link(&b, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locations_may_leave_but_never_downgrade() {
        let tls = o("https://reg.example");
        assert!(location(&tls, "/v2/a/blobs/uploads/u1").is_ok());
        assert!(location(&tls, "https://storage.example/u1?sig=x").is_ok());
        assert!(location(&tls, "http://storage.example/u1").is_err());
        assert!(location(&tls, "http://reg.example/u1").is_err());
        let lo = o("http://127.0.0.1:5000");
        assert!(location(&lo, "http://127.0.0.2:9/u1").is_ok());
        assert!(location(&lo, "http://storage.example/u1").is_err());
    }

    #[test]
    fn realms_are_https_or_the_plain_http_registrys_own_host() {
        let tls = o("https://reg.example");
        assert!(realm(&tls, "https://auth.example/token").is_ok());
        assert!(realm(&tls, "http://reg.example/token").is_err());
        let lo = o("http://127.0.0.1:5000");
        assert!(realm(&lo, "http://127.0.0.1:5001/token").is_ok());
        assert!(realm(&lo, "http://127.0.0.2:5000/token").is_err());
        assert!(realm(&lo, "http://auth.example/token").is_err());
        assert!(realm(&lo, "ftp://127.0.0.1/token").is_err());
    }
}
