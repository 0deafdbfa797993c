//! Release notes and technical notes, and the image diff they are built from.

pub mod diff;
pub mod facts;
pub mod gather;
pub mod import;
pub mod links;
pub mod product;
pub mod release;
pub mod render_diff;
pub mod technical;
pub mod tree;
pub mod tree_files;
pub mod tree_ops;
pub mod words;

pub use diff::{diff_images, ImageDiff};

#[cfg(test)]
mod tests;
