//! What a release fixed is read from files inside images and documents from a catalog:
//! mutated changelogs (text and gzip) and OpenVEX documents end in a result, never a
//! panic, and the ids found are always well-formed.

use super::mutate::{apply, edits};
use crate::debian::changelog;
use crate::debian::version::DebVersion;
use proptest::prelude::*;
use std::io::Write;

const CHANGELOG: &str = "\
corelib (1:1.0-2+deb12u1) bookworm-security; urgency=high

  * Fix CVE-2026-0001 and CVE-2026-10002 (DSA-6001-1, DLA-4000-2).

 -- Core Team <core@example.org>  Mon, 05 Jan 2026 00:00:00 +0000

corelib (1:1.0-1) bookworm; urgency=medium

  * Initial release.

 -- Core Team <core@example.org>  Thu, 01 Jan 2026 00:00:00 +0000
";

const VEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://corebuild.dev/vex/core/sha256-00",
  "author": "corebuild",
  "timestamp": "2026-01-05T00:00:00Z",
  "version": 1,
  "statements": [
    {
      "vulnerability": { "name": "CVE-2026-0001" },
      "products": [
        {
          "@id": "pkg:oci/core@sha256%3A00",
          "subcomponents": [ { "@id": "pkg:deb/debian/corelib@1.0-2?arch=amd64" } ]
        }
      ],
      "status": "fixed"
    }
  ]
}"#;

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn mutated_changelogs_give_well_formed_ids(e in edits()) {
        let text = String::from_utf8_lossy(&apply(CHANGELOG.as_bytes(), &e)).into_owned();
        let old = DebVersion::parse("1:1.0-1").unwrap();
        let new = DebVersion::parse("1:1.0-2+deb12u1").unwrap();
        let ok = regex::Regex::new(r"^(CVE-\d{4}-\d{4,12}|(DSA|DLA)-\d{2,9}(-\d{1,4})?)$").unwrap();
        for id in changelog::advisories_between(&text, Some(&old), &new) {
            prop_assert!(ok.is_match(&id), "{id}");
        }
    }

    #[test]
    fn mutated_gzip_changelogs_decompress_or_fail_cleanly(e in edits()) {
        let bytes = apply(&gz(CHANGELOG.as_bytes()), &e);
        if let Err(err) = changelog::decompress("corelib", &bytes) {
            prop_assert!(err.to_string().contains("corelib"), "{err}");
        }
    }

    #[test]
    fn mutated_openvex_documents_parse_or_fail_cleanly(e in edits()) {
        let _ = crate::advisory::vex::parse(&apply(VEX.as_bytes(), &e));
    }
}
