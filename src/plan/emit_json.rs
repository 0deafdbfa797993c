//! The JSON plan: the machine contract CI jobs script against (runbook/fan-out.md).

use super::Plan;
use anyhow::Result;

/// Pretty JSON with a final newline; field order is the struct's, maps are sorted.
pub fn render(plan: &Plan) -> Result<String> {
    Ok(serde_json::to_string_pretty(plan)? + "\n")
}
