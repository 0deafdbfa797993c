//! The dependency order of a plan: a blueprint whose base is `catalog:NAME:VERSION` of
//! another blueprint in the set runs after it. Its level is the length of the longest
//! chain of such bases below it; a cycle is bad input, named in full.

use super::discover::Found;
use anyhow::Result;

/// For each blueprint (in `found`'s order): its level and the names it runs after.
pub fn levels(found: &[Found]) -> Result<Vec<(usize, Vec<String>)>> {
    let needs: Vec<Option<usize>> = found.iter().map(|f| base_in_set(found, f)).collect();
    let mut level: Vec<Option<usize>> = vec![None; found.len()];
    for start in 0..found.len() {
        let mut chain = vec![start];
        // Follow the base chain down until a known level or a blueprint with no base in
        // the set (each blueprint has at most one base, so the chain is a path).
        while level[*chain.last().expect("non-empty")].is_none() {
            let Some(next) = needs[*chain.last().expect("non-empty")] else {
                break;
            };
            if let Some(at) = chain.iter().position(|&c| c == next) {
                return Err(cycle(found, &chain[at..]));
            }
            chain.push(next);
        }
        let mut below = match level[*chain.last().expect("non-empty")] {
            Some(l) => l,
            None => {
                level[*chain.last().expect("non-empty")] = Some(0);
                0
            }
        };
        for &c in chain.iter().rev().skip(1) {
            below += 1;
            level[c] = Some(below);
        }
    }
    Ok(found
        .iter()
        .zip(needs)
        .zip(level)
        .map(|((_, n), l)| {
            let after = n.map(|i| vec![found[i].name.clone()]).unwrap_or_default();
            (l.expect("every level is set"), after)
        })
        .collect())
}

/// The blueprint of the set that `f`'s catalog base names (same name and version).
fn base_in_set(found: &[Found], f: &Found) -> Option<usize> {
    let (name, version) = f.catalog_base.as_ref()?;
    found
        .iter()
        .position(|g| &g.name == name && &g.version == version)
}

fn cycle(found: &[Found], members: &[usize]) -> anyhow::Error {
    let mut names: Vec<String> = members
        .iter()
        .map(|&i| format!("{} ({})", found[i].name, found[i].path))
        .collect();
    names.push(names[0].clone());
    crate::error::input(format!(
        "the blueprints' bases form a cycle: {}; each of them is built on the next, so none \
         can be built first: base one of them on a release outside the cycle",
        names.join(" -> ")
    ))
}
