//! The GitLab CI pipeline: a stage per dependency level (stages run in order), a job per
//! level with `parallel: matrix:` over its blueprints (split past GitLab's 200), run in
//! the pinned corebuild image.

use super::{level_groups, shared_env, yaml, Plan, RELEASE_ARGV, YAML_HEADER};
use serde_json::{json, Map, Value};

/// GitLab's limit of jobs one `parallel: matrix:` may generate.
const MATRIX_MAX: usize = 200;

pub fn render(plan: &Plan) -> String {
    let mut doc = Map::new();
    let stages: Vec<String> = (0..plan.levels.len())
        .map(|l| format!("level-{l}"))
        .collect();
    doc.insert("stages".into(), json!(stages));
    doc.insert("variables".into(), json!(shared_env(plan)));
    for level in 0..plan.levels.len() {
        for (id, group) in level_groups(plan, level, MATRIX_MAX) {
            let paths: Vec<&str> = group.iter().map(|j| j.blueprint.as_str()).collect();
            let job = json!({
                "stage": format!("level-{level}"),
                "image": plan.image,
                "parallel": {"matrix": [{"BLUEPRINT": paths}]},
                "script": [format!("{} \"$BLUEPRINT\"", RELEASE_ARGV.join(" "))],
            });
            doc.insert(id, job);
        }
    }
    format!("{YAML_HEADER}{}", yaml::to_yaml(&Value::Object(doc)))
}
