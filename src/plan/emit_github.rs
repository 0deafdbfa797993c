//! The GitHub Actions workflow: one job per dependency level, each a matrix over the
//! level's blueprints (split past GitHub's 256 entries), `needs:` the previous level,
//! run in the pinned corebuild image.

use super::{level_groups, shared_env, yaml, Plan, RELEASE_ARGV, YAML_HEADER};
use serde_json::{json, Map, Value};

/// GitHub's limit of jobs one matrix may generate.
const MATRIX_MAX: usize = 256;

/// actions/checkout v4.2.2, pinned by commit like the image is by digest.
const CHECKOUT: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683";

pub fn render(plan: &Plan) -> String {
    let mut jobs = Map::new();
    let mut previous: Vec<String> = Vec::new();
    for level in 0..plan.levels.len() {
        let groups = level_groups(plan, level, MATRIX_MAX);
        let ids: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
        for (id, group) in groups {
            let include: Vec<Value> = group
                .iter()
                .map(|j| json!({"name": j.name, "blueprint": j.blueprint}))
                .collect();
            let mut job = json!({
                "name": format!("level {level}: ${{{{ matrix.name }}}}"),
                "runs-on": "ubuntu-latest",
                // Build steps run in runc, which needs a privileged container.
                "container": {"image": plan.image, "options": "--privileged"},
                "strategy": {"fail-fast": false, "matrix": {"include": include}},
                "steps": [
                    {"uses": CHECKOUT, "with": {"persist-credentials": false}},
                    {
                        "name": "corebuild release",
                        // The path goes through the environment, never into the script.
                        "env": {"BLUEPRINT": "${{ matrix.blueprint }}"},
                        "run": format!("{} \"$BLUEPRINT\"", RELEASE_ARGV.join(" ")),
                    },
                ],
            });
            if !previous.is_empty() {
                job["needs"] = json!(previous);
            }
            jobs.insert(id, job);
        }
        previous = ids;
    }
    let workflow = json!({
        "name": "corebuild fan-out",
        "on": {"workflow_dispatch": {}, "workflow_call": {}},
        "permissions": {"contents": "read"},
        "env": shared_env(plan),
        "jobs": jobs,
    });
    format!("{YAML_HEADER}{}", yaml::to_yaml(&workflow))
}
