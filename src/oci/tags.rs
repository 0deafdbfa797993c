//! Tag lookups in `index.json` that parse only what they need. A catalog holds thousands
//! of tags (a version tag, `.sig`/`.att` and referrer-fallback tags, one per lifecycle
//! event) and looks them up often; parsing every descriptor with oci-spec (which checks
//! each digest) for each lookup was most of `catalog list`'s time. Here each entry is
//! kept as raw JSON, only its annotations are read, and only the descriptors asked for
//! are parsed (and checked) by oci-spec. The index is read afresh every time: no cache
//! that a concurrent writer could make stale.

use super::layout::REF_NAME;
use anyhow::Result;
use oci_spec::image::Descriptor;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Deserialize)]
struct Index<'a> {
    #[serde(borrow, default)]
    manifests: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Annotated<'a> {
    #[serde(borrow, default)]
    annotations: Option<HashMap<Cow<'a, str>, Cow<'a, str>>>,
}

/// Every entry of the index with its tag (`None` for an untagged entry), unparsed.
fn entries(index_json: &[u8]) -> serde_json::Result<Vec<(Option<String>, &RawValue)>> {
    let index: Index = serde_json::from_slice(index_json)?;
    index
        .manifests
        .into_iter()
        .map(|raw| {
            let a: Annotated = serde_json::from_str(raw.get())?;
            let tag = a
                .annotations
                .and_then(|mut m| m.remove(REF_NAME))
                .map(Cow::into_owned);
            Ok((tag, raw))
        })
        .collect()
}

fn parse(raw: &RawValue) -> serde_json::Result<Descriptor> {
    serde_json::from_str(raw.get())
}

/// The descriptor tagged `name`, parsed in full (the first, should a broken index hold
/// the tag twice).
pub fn find(index_json: &[u8], name: &str) -> Result<Option<Descriptor>, serde_json::Error> {
    let found = entries(index_json)?
        .into_iter()
        .find(|(t, _)| t.as_deref() == Some(name));
    found.map(|(_, raw)| parse(raw)).transpose()
}

/// Every tag, sorted, with its descriptor parsed in full.
pub fn all(index_json: &[u8]) -> Result<Vec<(String, Descriptor)>, serde_json::Error> {
    let mut v = entries(index_json)?
        .into_iter()
        .filter_map(|(t, raw)| t.map(|t| (t, raw)))
        .map(|(t, raw)| Ok((t, parse(raw)?)))
        .collect::<serde_json::Result<Vec<_>>>()?;
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// Every tag, sorted, without parsing the descriptors.
pub fn names(index_json: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let mut v: Vec<String> = entries(index_json)?
        .into_iter()
        .filter_map(|(t, _)| t)
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: Option<&str>, hex: char) -> String {
        let ann = tag
            .map(|t| format!(r#","annotations":{{"{REF_NAME}":"{t}","x":"y"}}"#))
            .unwrap_or_default();
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":7{ann}}}"#,
            hex.to_string().repeat(64)
        )
    }

    fn index(entries: &[String]) -> Vec<u8> {
        format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn finds_tags_and_parses_only_what_is_asked() {
        let idx = index(&[
            entry(Some("b:1"), 'b'),
            entry(None, 'c'),
            entry(Some("a:1"), 'a'),
            entry(Some("b:1"), 'd'),
        ]);
        let d = find(&idx, "b:1").unwrap().unwrap();
        assert_eq!(d.digest().to_string(), format!("sha256:{}", "b".repeat(64)));
        assert_eq!(d.size(), 7);
        assert!(find(&idx, "nope").unwrap().is_none());
        assert_eq!(names(&idx).unwrap(), ["a:1", "b:1", "b:1"]);
        let all = all(&idx).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].0, "a:1");
    }

    #[test]
    fn a_bad_descriptor_fails_when_it_is_read_and_bad_json_always() {
        let bad = r#"{"mediaType":"x","digest":"sha256:nothex","size":1,"annotations":{"org.opencontainers.image.ref.name":"bad"}}"#;
        let idx = index(&[entry(Some("good"), 'a'), bad.to_string()]);
        assert!(find(&idx, "good").unwrap().is_some());
        assert!(
            find(&idx, "bad").is_err(),
            "the digest is checked when parsed"
        );
        assert!(all(&idx).is_err());
        assert!(find(b"{not json", "good").is_err());
        assert!(find(br#"{"schemaVersion":2}"#, "x").unwrap().is_none());
    }
}
