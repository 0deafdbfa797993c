//! Kubernetes: one `batch/v1` Indexed Job per dependency level, its pods mapping
//! `JOB_COMPLETION_INDEX` to a blueprint with a shell `case`. Kubernetes has no ordering
//! between Jobs, so the documents come in level order and the file's header says to
//! apply level N+1 only once level N is complete (`kubectl wait`). An init container
//! that waits on the previous Job would need API credentials and RBAC in every pod; a
//! plan that stays plain manifests keeps that choice with the operator.

use super::{level_groups, shared_env, yaml, Job, Plan, RELEASE_ARGV, YAML_HEADER};
use serde_json::{json, Value};

/// Where the pod finds the checkout (a volume the operator provides) and keeps its store.
const CHECKOUT_CLAIM: &str = "corebuild-checkout";
const CHECKOUT_MOUNT: &str = "/checkout";
const STORE_MOUNT: &str = "/var/lib/corebuild";

pub fn render(plan: &Plan) -> String {
    let mut out = format!(
        "{YAML_HEADER}# Kubernetes does not order Jobs: apply one document (level) at a time, \
         and the next\n# only when it is complete, e.g. `kubectl wait --for=condition=complete \
         --timeout=-1s job/corebuild-level-0`.\n# The pods mount the checkout from the \
         PersistentVolumeClaim {CHECKOUT_CLAIM:?} (runbook/fan-out.md).\n"
    );
    for level in 0..plan.levels.len() {
        for (_, group) in level_groups(plan, level, usize::MAX) {
            out.push_str("---\n");
            out.push_str(&yaml::to_yaml(&job(plan, level, &group)));
        }
    }
    out
}

fn job(plan: &Plan, level: usize, group: &[&Job]) -> Value {
    let labels = json!({
        "app.kubernetes.io/name": "corebuild",
        "app.kubernetes.io/component": "fan-out",
        "corebuild-level": level.to_string(),
    });
    let mut env: Vec<Value> = shared_env(plan)
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    env.push(json!({"name": "COREBUILD_STORE", "value": format!("{STORE_MOUNT}/store")}));
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": format!("corebuild-level-{level}"), "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": group.len(),
            "parallelism": group.len(),
            // A failed release is a verdict (exit 1) or needs a person; not retried blindly.
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "release",
                        "image": plan.image,
                        "command": ["/bin/sh", "-c", script(group)],
                        "env": env,
                        "workingDir": CHECKOUT_MOUNT,
                        // Build steps run in runc, which needs a privileged container.
                        "securityContext": {"privileged": true},
                        "volumeMounts": [
                            {"name": "checkout", "mountPath": CHECKOUT_MOUNT},
                            {"name": "store", "mountPath": STORE_MOUNT},
                        ],
                    }],
                    "volumes": [
                        {"name": "checkout", "persistentVolumeClaim": {"claimName": CHECKOUT_CLAIM}},
                        {"name": "store", "emptyDir": {}},
                    ],
                },
            },
        },
    })
}

/// The pod's script: the completion index picks the blueprint.
fn script(group: &[&Job]) -> String {
    let mut s = String::from("case \"$JOB_COMPLETION_INDEX\" in\n");
    for (i, j) in group.iter().enumerate() {
        // Paths are letters, digits, `.`, `_`, `-` and `/` (discover checks): no quoting issue.
        s.push_str(&format!("  {i}) bp='{}' ;;\n", j.blueprint));
    }
    s.push_str("  *) echo \"no blueprint for index $JOB_COMPLETION_INDEX\" >&2; exit 2 ;;\nesac\n");
    s.push_str(&format!("exec {} \"$bp\"\n", RELEASE_ARGV.join(" ")));
    s
}
