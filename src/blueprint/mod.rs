//! Blueprints: the TOML schema, includes, the lock file, and resolution into a plan.
//! (Placeholder: the blueprint helper replaces this module.)

/// A blueprint, fragment or lock file is bad; names the file, line and column.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct BlueprintError {
    pub file: std::path::PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}
