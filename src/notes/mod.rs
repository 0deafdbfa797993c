//! Release notes and technical notes, and the image diff they are built from.

pub mod diff;
pub mod render_diff;
pub mod tree;

pub use diff::{diff_images, ImageDiff};
