//! The site's stylesheet and script, written as files (no CDN, no inline script), from
//! `src/site/assets/`.

/// (path relative to the site root, content).
pub const FILES: &[(&str, &str)] = &[
    ("assets/site.css", include_str!("assets/site.css")),
    ("assets/site.js", include_str!("assets/site.js")),
];
