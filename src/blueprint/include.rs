//! Follows `include = [...]` from a blueprint through its fragments, depth first, and
//! returns the fragments in merge order: a fragment's own includes come before it, and
//! siblings keep the order in which they are listed. A fragment reached twice (a diamond)
//! is read once, at its first place; a fragment that includes itself, directly or
//! through others, is an error naming the chain.

use super::error::{display_path, BlueprintError, Source};
use super::raw::{RawFragment, BLUEPRINT_ONLY_KEYS};
use std::collections::HashSet;
use std::path::PathBuf;
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

pub fn collect(root: &Source, includes: &[Spanned<String>]) -> Result<Vec<(Source, RawFragment)>> {
    let mut walk = Walk {
        stack: vec![root.path.clone()],
        seen: HashSet::from([root.path.clone()]),
        out: Vec::new(),
    };
    walk.visit(root, includes)?;
    Ok(walk.out)
}

struct Walk {
    stack: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
    out: Vec<(Source, RawFragment)>,
}

impl Walk {
    fn visit(&mut self, from: &Source, includes: &[Spanned<String>]) -> Result<()> {
        let dir = from.path.parent().expect("a loaded file has a parent");
        for inc in includes {
            let joined = dir.join(inc.get_ref());
            let target = joined.canonicalize().map_err(|e| {
                from.error(
                    inc.span(),
                    format!(
                        "included file {:?} not found: {} ({})",
                        inc.get_ref(),
                        joined.display(),
                        e.kind()
                    ),
                )
                .with_hint("include paths are relative to the file that lists them")
            })?;
            if !target.is_file() {
                return Err(from
                    .error(
                        inc.span(),
                        format!(
                            "included {:?} is not a file: {}",
                            inc.get_ref(),
                            target.display()
                        ),
                    )
                    .with_hint(
                        "name a fragment's .toml file, relative to the file that lists it",
                    ));
            }
            if let Some(at) = self.stack.iter().position(|p| *p == target) {
                let chain: Vec<String> = self.stack[at..]
                    .iter()
                    .chain(std::iter::once(&target))
                    .map(|p| display_path(p))
                    .collect();
                return Err(from
                    .error(inc.span(), format!("include cycle: {}", chain.join(" -> ")))
                    .with_hint("remove one of these includes; a fragment cannot include itself"));
            }
            if !self.seen.insert(target.clone()) {
                continue;
            }
            let src = Source::read(&target)?;
            let raw: RawFragment = src.parse().map_err(fragment_hint)?;
            self.stack.push(target);
            self.visit(&src, &raw.include)?;
            self.stack.pop();
            self.out.push((src, raw));
        }
        Ok(())
    }
}

/// A fragment that sets a blueprint-only key gets a hint that says why it is refused.
fn fragment_hint(e: BlueprintError) -> BlueprintError {
    let key = e
        .message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split_once('`'))
        .map(|(k, _)| k.to_string());
    match key {
        Some(k) if BLUEPRINT_ONLY_KEYS.contains(&k.as_str()) => e.with_hint(format!(
            "`{k}` belongs in the blueprint, not in a fragment; fragments may set only \
             include, [[layer]], [config], [contract] and [[change]]"
        )),
        _ => e,
    }
}
