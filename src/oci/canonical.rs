//! Canonical JSON for everything we hash: keys sorted, no insignificant whitespace.
//! oci-spec keeps annotations and labels in `HashMap`s, whose order is random per process,
//! so serializing through `serde_json::Value` (a sorted map) is what makes digests stable.

use serde::Serialize;

pub fn to_canonical_json<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let v = serde_json::to_value(value)?;
    serde_json::to_vec(&v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn hashmap_order_does_not_leak() {
        let mut outs = std::collections::BTreeSet::new();
        for _ in 0..20 {
            // Each HashMap gets its own random hash seed, so iteration order varies.
            let m: HashMap<String, u32> = (0..16).map(|k| (format!("key{k:02}"), k)).collect();
            outs.insert(to_canonical_json(&m).unwrap());
        }
        assert_eq!(outs.len(), 1);
        let s = String::from_utf8(outs.into_iter().next().unwrap()).unwrap();
        assert!(s.starts_with("{\"key00\":0,\"key01\":1"), "{s}");
    }
}
