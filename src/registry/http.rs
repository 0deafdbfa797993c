//! HTTP to a registry: one blocking client (ureq, rustls) with authentication on 401
//! (Basic, or a Bearer token from the challenge's realm) and bounded retries.
//!
//! Retries happen only for idempotent work, on 429, 5xx and dropped connections,
//! with exponential backoff and jitter, honouring `Retry-After`, and never past the
//! policy's total time. A 4xx answer other than 429 (a digest or manifest rejection, an
//! unknown name, a 408) is returned to the caller, never retried.
//!
//! Credentials are attached only to requests for the registry's own origin
//! ([`super::origin`]); ureq never carries `Authorization` across a redirect.

use super::auth::Credentials;
use super::origin::{self, Origin};
use anyhow::Result;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total time one operation may spend retrying.
    pub budget: Duration,
    /// The first backoff; each retry doubles it, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The most attempts of one operation.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            budget: Duration::from_secs(60),
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
            max_attempts: 8,
        }
    }
}

/// A request body. `Stream` is opened again for each attempt.
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    Stream {
        len: u64,
        open: &'a super::OpenBlob<'a>,
    },
}

/// Why one attempt did not succeed.
pub enum Attempt {
    /// Worth another try (408, 429, 5xx, a dropped connection), after `after` if given.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Final: report it.
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for Attempt {
    fn from(e: anyhow::Error) -> Self {
        Attempt::Fatal(e)
    }
}

pub struct Http {
    agent: ureq::Agent,
    /// `http://host:port` or `https://host`.
    pub base: String,
    pub host: String,
    /// The registry's origin: the only one credentials go to.
    pub origin: Origin,
    pub(super) creds: Option<Credentials>,
    /// The `Authorization` header that last worked, per repository (`""` for the registry).
    auth: Mutex<HashMap<String, String>>,
    pub retry: RetryPolicy,
}

fn is_retryable(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

fn retry_after(resp: &ureq::Response) -> Option<Duration> {
    resp.header("Retry-After")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

impl Http {
    pub fn new(
        host: &str,
        insecure: bool,
        retry: RetryPolicy,
        creds: Option<Credentials>,
    ) -> Result<Self> {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60))
            .timeout_write(Duration::from_secs(60))
            .max_idle_connections_per_host(8)
            .redirect_auth_headers(ureq::RedirectAuthHeaders::Never)
            .user_agent(concat!("corebuild/", env!("CARGO_PKG_VERSION")))
            .build();
        let scheme = if insecure { "http" } else { "https" };
        let base = format!("{scheme}://{host}");
        let origin = Origin::of(&base).ok_or_else(|| {
            crate::error::input(format!("{host:?} is not a registry host (NAME[:PORT])"))
        })?;
        Ok(Http {
            agent,
            base,
            host: host.to_string(),
            origin,
            creds,
            auth: Mutex::new(HashMap::new()),
            retry,
        })
    }

    /// The absolute URL of one of our paths (`/v2/…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The absolute URL of an upload `Location` the registry gave, if we may go there.
    pub fn location(&self, loc: &str, what: &str) -> Result<String> {
        origin::location(&self.origin, loc)
            .map_err(|e| crate::error::environment(format!("{what} at {}: {e}", self.host)))
    }

    /// The absolute URL of a pagination `Link` the registry gave, if we may go there.
    pub fn link(&self, link: &str, what: &str) -> Result<String> {
        origin::link(&self.origin, link)
            .map_err(|e| crate::error::environment(format!("{what} at {}: {e}", self.host)))
    }

    /// Whether `url` is on the registry's own origin (where credentials may go).
    fn is_own(&self, url: &str) -> bool {
        Origin::of(url).as_ref() == Some(&self.origin)
    }

    /// Runs `f` until it succeeds, fails for good, or the policy's time or attempts run out.
    pub fn retrying<T>(&self, what: &str, mut f: impl FnMut() -> Result<T, Attempt>) -> Result<T> {
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match f() {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry { why, after }) => {
                    let backoff = self
                        .retry
                        .base_delay
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(self.retry.max_delay);
                    // Jitter: up to half the backoff again, so retrying clients spread out.
                    let nanos = Instant::now().duration_since(start).subsec_nanos() as u64;
                    let jitter = Duration::from_nanos(nanos % (backoff.as_nanos() as u64 / 2 + 1));
                    let wait = after.unwrap_or(backoff + jitter);
                    if attempt >= self.retry.max_attempts
                        || start.elapsed() + wait > self.retry.budget
                    {
                        return Err(crate::error::environment(format!(
                            "{what} at {}: gave up after {attempt} attempts in {:.1}s: {why}",
                            self.host,
                            start.elapsed().as_secs_f64()
                        )));
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// One attempt at a request, authenticating on 401. Any HTTP status comes back as
    /// `Ok`, except that retryable ones become [`Attempt::Retry`].
    pub fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        scope_repo: &str,
    ) -> Result<ureq::Response, Attempt> {
        let own = self.is_own(url);
        let cached = own
            .then(|| {
                self.auth
                    .lock()
                    .expect("auth lock")
                    .get(scope_repo)
                    .cloned()
            })
            .flatten();
        let resp = self.send(method, url, headers, body, cached.as_deref())?;
        let resp = if resp.status() == 401 && !own {
            return Err(Attempt::Fatal(crate::error::environment(format!(
                "{method} {url} asks for credentials; they are only sent to {}",
                self.base
            ))));
        } else if resp.status() == 401 {
            let header = resp.header("WWW-Authenticate").unwrap_or("").to_string();
            let value = self.authenticate(&header, url)?;
            let r = self.send(method, url, headers, body, Some(&value))?;
            if r.status() != 401 {
                self.auth
                    .lock()
                    .expect("auth lock")
                    .insert(scope_repo.to_string(), value);
            }
            r
        } else {
            resp
        };
        if is_retryable(resp.status()) {
            return Err(Attempt::Retry {
                why: format!("{method} {url} answered {}", resp.status()),
                after: retry_after(&resp),
            });
        }
        Ok(resp)
    }

    /// A request retried under the policy (for idempotent requests only).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        scope_repo: &str,
    ) -> Result<ureq::Response> {
        let url = if path.starts_with('/') {
            self.url(path)
        } else {
            path.to_string()
        };
        self.retrying(&format!("{method} {path}"), || {
            self.once(method, &url, headers, body, scope_repo)
        })
    }

    pub(super) fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        auth: Option<&str>,
    ) -> Result<ureq::Response, Attempt> {
        let mut req = self.agent.request(method, url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        if let Some(a) = auth {
            req = req.set("Authorization", a);
        }
        let result = match body {
            Body::Empty => req.call(),
            Body::Bytes(b) => req.send_bytes(b),
            Body::Stream { len, open } => {
                let reader = open().map_err(Attempt::Fatal)?;
                req.set("Content-Length", &len.to_string()).send(reader)
            }
        };
        // After the registry acted on the request, before we act on its answer: the window
        // the crash tests kill in (`failpoint`, test-only).
        crate::failpoint::hit("registry.answered");
        match result {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(_, r)) => Ok(r),
            Err(ureq::Error::Transport(t)) => {
                // A body that failed verification is not a network problem: never retry it.
                if let Some(io) =
                    std::error::Error::source(&t).and_then(|s| s.downcast_ref::<std::io::Error>())
                {
                    if io
                        .get_ref()
                        .is_some_and(|i| i.is::<crate::oci::DigestMismatch>())
                    {
                        return Err(Attempt::Fatal(crate::error::input(format!(
                            "{method} {url}: {io}"
                        ))));
                    }
                }
                Err(Attempt::Retry {
                    why: format!("{method} {url}: {t}"),
                    after: None,
                })
            }
        }
    }
}

/// The registry's error text from a 4xx body (its `errors` array), for messages.
pub fn error_text(resp: ureq::Response) -> String {
    let status = resp.status();
    let body = resp.into_string().unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let errs = v.get("errors")?.as_array()?.clone();
            Some(
                errs.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
                            e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    format!("{status} {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(budget_ms: u64) -> Http {
        Http::new(
            "127.0.0.1:9",
            true,
            RetryPolicy {
                budget: Duration::from_millis(budget_ms),
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                max_attempts: 5,
            },
            None,
        )
        .unwrap()
    }

    #[test]
    fn retries_until_success_and_honours_retry_after() {
        let h = http(5_000);
        let mut n = 0;
        let start = Instant::now();
        let v = h
            .retrying("op", || {
                n += 1;
                match n {
                    1 => Err(Attempt::Retry {
                        why: "429".into(),
                        after: Some(Duration::from_millis(200)),
                    }),
                    2 => Err(Attempt::Retry {
                        why: "dropped".into(),
                        after: None,
                    }),
                    _ => Ok(n),
                }
            })
            .unwrap();
        assert_eq!(v, 3);
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "Retry-After ignored"
        );
    }

    #[test]
    fn gives_up_within_the_budget_and_never_retries_a_fatal_answer() {
        let h = http(50);
        let start = Instant::now();
        let err = h
            .retrying("op", || -> Result<(), Attempt> {
                Err(Attempt::Retry {
                    why: "503".into(),
                    after: Some(Duration::from_secs(30)),
                })
            })
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(crate::error::exit_code(&err), 3);
        assert!(format!("{err}").contains("gave up"), "{err}");
        let mut n = 0;
        let _ = h.retrying("op", || -> Result<(), Attempt> {
            n += 1;
            Err(Attempt::Fatal(anyhow::anyhow!("400 DIGEST_INVALID")))
        });
        assert_eq!(n, 1);
        let mut n = 0;
        let _ = http(60_000).retrying("op", || -> Result<(), Attempt> {
            n += 1;
            Err(Attempt::Retry {
                why: "500".into(),
                after: None,
            })
        });
        assert_eq!(n, 5, "bounded by attempts");
    }
}
