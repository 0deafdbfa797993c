//! The client against hostile registries (a scripted fake on loopback addresses):
//! credentials stay on the registry's origin, answers are read with caps, listings end.

use super::fake::{answer, Fake, Seen};
use super::*;
use std::time::Duration;

#[test]
fn insecure_only_on_loopback() {
    for h in ["127.0.0.1:5000", "localhost:1", "[::1]:5000", "127.1.2.3"] {
        assert!(is_loopback(h), "{h}");
    }
    for h in ["example.com", "10.0.0.1:5000", "registry:5000"] {
        assert!(!is_loopback(h), "{h}");
    }
    assert!(Client::new("example.com", true, RetryPolicy::default()).is_err());
}

const BASIC: &str = "Basic dTpw"; // u:p

fn client(reg: &Fake) -> Client {
    let retry = RetryPolicy {
        budget: Duration::from_secs(5),
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_attempts: 3,
    };
    let creds = Credentials {
        username: "u".into(),
        password: "p".into(),
    };
    Client::with_credentials(&reg.addr, true, retry, Some(creds)).unwrap()
}

/// A registry on 127.0.0.1 that wants Basic `u:p` and answers the rest with `then`.
fn basic_registry(then: impl Fn(&Seen, &str) -> Vec<u8> + Send + Sync + 'static) -> Fake {
    Fake::start("127.0.0.1", move |s, me| {
        if s.authorization.as_deref() != Some(BASIC) {
            let challenge = ("WWW-Authenticate", r#"Basic realm="test""#.to_string());
            return answer("401 Unauthorized", &[challenge], b"");
        }
        then(s, me)
    })
}

fn no_credentials_seen(other: &Fake) {
    for s in other.seen() {
        assert_eq!(
            s.authorization, None,
            "credentials went to {}: {s:?}",
            other.addr
        );
    }
}

#[test]
fn an_upload_location_on_another_host_gets_the_bytes_but_no_credentials() {
    let storage = Fake::start("127.0.0.2", |s, _| {
        let status = if s.method == "PUT" {
            "201 Created"
        } else {
            "404 Not Found"
        };
        answer(status, &[], b"")
    });
    let loc = format!("http://{}/upload/1?sig=x", storage.addr);
    let reg = basic_registry(move |s, _| match s.method.as_str() {
        "POST" => answer("202 Accepted", &[("Location", loc.clone())], b""),
        _ => answer("404 Not Found", &[], b""),
    });
    let bytes = b"hello".to_vec();
    let d = Digest::of_bytes(&bytes);
    let open = || -> Result<Box<dyn Read + Send + '_>> { Ok(Box::new(&bytes[..])) };
    client(&reg).push_blob("ns/a", &d, 5, &open).unwrap();
    let put = storage.seen();
    assert!(
        put.iter()
            .any(|s| s.method == "PUT" && s.path.contains(&format!("digest={d}"))),
        "{put:?}"
    );
    no_credentials_seen(&storage);
}

#[test]
fn a_next_page_on_another_host_is_refused() {
    let other = Fake::start("127.0.0.2", |_, _| {
        answer("200 OK", &[], br#"{"tags":["b"]}"#)
    });
    let link = format!(
        "<http://{}/v2/ns/a/tags/list?last=a>; rel=\"next\"",
        other.addr
    );
    let reg = basic_registry(move |_, _| {
        answer("200 OK", &[("Link", link.clone())], br#"{"tags":["a"]}"#)
    });
    let err = client(&reg).tags("ns/a").unwrap_err();
    assert!(format!("{err:#}").contains("another origin"), "{err:#}");
    assert!(
        other.seen().is_empty(),
        "followed the link: {:?}",
        other.seen()
    );
}

/// Runs `f` on a thread and fails the test if it takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("did not finish in time")
}

#[test]
fn a_registry_that_always_says_next_is_left_after_max_pages() {
    let reg = basic_registry(|s, _| {
        let link = format!("<{}&x=1>; rel=\"next\"", s.path);
        answer("200 OK", &[("Link", link)], br#"{"tags":["a"]}"#)
    });
    let c = client(&reg);
    let err = within(120, move || c.tags("ns/a").map(|t| t.len())).unwrap_err();
    assert!(format!("{err:#}").contains("pages"), "{err:#}");
    assert_eq!(crate::error::exit_code(&err), 3);
    assert!(reg.seen().len() <= 2 * MAX_PAGES + 2);
}

/// A JSON document of about `size` bytes: `{"KEY":["xxx…"]}`.
fn big_json(key: &str, size: usize) -> Vec<u8> {
    format!(r#"{{"{key}":["{}"]}}"#, "x".repeat(size)).into_bytes()
}

#[test]
fn oversized_tag_lists_and_too_many_names_are_refused() {
    let reg = basic_registry(|_, _| answer("200 OK", &[], &big_json("tags", 5 << 20)));
    let err = client(&reg).tags("ns/a").unwrap_err();
    assert!(format!("{err:#}").contains("larger than"), "{err:#}");
    let many: Vec<String> = (0..=MAX_LISTED).map(|i| format!("t{i}")).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "repositories": many })).unwrap();
    let reg = basic_registry(move |_, _| answer("200 OK", &[], &body));
    let err = client(&reg).repositories().unwrap_err();
    assert!(format!("{err:#}").contains("names"), "{err:#}");
}

#[test]
fn an_oversized_referrers_index_is_refused() {
    let index = "application/vnd.oci.image.index.v1+json".to_string();
    let reg = basic_registry(move |_, _| {
        answer(
            "200 OK",
            &[("Content-Type", index.clone())],
            &big_json("manifests", 5 << 20),
        )
    });
    let subject = Digest::of_bytes(b"s");
    let err = client(&reg).referrers("ns/a", &subject).unwrap_err();
    assert!(format!("{err:#}").contains("larger than"), "{err:#}");
}

/// A registry on 127.0.0.1 that answers everything with a Bearer challenge naming `realm`.
fn bearer_registry(realm: String) -> Fake {
    Fake::start("127.0.0.1", move |s, _| {
        if s.authorization.as_deref() == Some("Bearer t0k") {
            return answer("200 OK", &[], b"");
        }
        let challenge =
            format!(r#"Bearer realm="{realm}",service="reg",scope="repository:ns/a:pull""#);
        answer("401 Unauthorized", &[("WWW-Authenticate", challenge)], b"")
    })
}

#[test]
fn basic_credentials_never_go_to_a_plain_http_realm_on_another_host() {
    let token = Fake::start("127.0.0.2", |_, _| {
        answer("200 OK", &[], br#"{"token":"t0k"}"#)
    });
    let reg = bearer_registry(format!("http://{}/token", token.addr));
    let err = client(&reg)
        .has_blob("ns/a", &Digest::of_bytes(b"x"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("realm"), "{err:#}");
    assert!(
        token.seen().is_empty(),
        "asked the realm: {:?}",
        token.seen()
    );
}

#[test]
fn an_oversized_token_answer_is_refused() {
    let token = Fake::start("127.0.0.1", |_, _| {
        answer("200 OK", &[], &big_json("token", 5 << 20))
    });
    let reg = bearer_registry(format!("http://{}/token", token.addr));
    let err = client(&reg)
        .has_blob("ns/a", &Digest::of_bytes(b"x"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("larger than"), "{err:#}");
    // The same realm with a small answer works: the token goes to the registry.
    let token = Fake::start("127.0.0.1", |_, _| {
        answer("200 OK", &[], br#"{"token":"t0k"}"#)
    });
    let reg = bearer_registry(format!("http://{}/token", token.addr));
    assert!(client(&reg)
        .has_blob("ns/a", &Digest::of_bytes(b"x"))
        .unwrap());
    assert_eq!(token.seen()[0].authorization.as_deref(), Some(BASIC));
}

#[test]
fn a_4xx_other_than_429_is_asked_once() {
    let reg = basic_registry(|_, _| answer("408 Request Timeout", &[], br#"{"errors":[]}"#));
    let c = client(&reg);
    assert!(c.get_manifest("ns/a", "1.0.0").is_err());
    let asked = reg
        .seen()
        .iter()
        .filter(|s| s.authorization.is_some())
        .count();
    assert_eq!(asked, 1, "{:?}", reg.seen());
}
