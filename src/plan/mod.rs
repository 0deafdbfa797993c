//! Fan-out plans for engines teams already run: one `corebuild release --locked` job per
//! blueprint of a directory, ordered by catalog-base dependencies into levels, emitted as
//! our own JSON contract, a GitHub Actions workflow, a GitLab CI pipeline or Kubernetes
//! Indexed Jobs. corebuild schedules nothing itself: the engine runs the levels in order.
//!
//! A plan is a pure function of the blueprints and the options: jobs sorted by name,
//! paths relative to the directory the jobs run from, no clock, host or absolute path.

mod discover;
mod emit_github;
mod emit_gitlab;
mod emit_json;
mod emit_k8s;
mod graph;
mod yaml;

pub use discover::{discover, Found};
pub use graph::levels;

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The version of the JSON plan format (runbook/fan-out.md).
pub const PLAN_VERSION: u32 = 1;

/// What the jobs run against; the same for every job.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The corebuild container image, pinned: `REF@sha256:<64 hex>`.
    pub image: String,
    /// The shared catalog every job publishes to and resolves bases from.
    pub catalog: String,
    /// Plain HTTP to a loopback registry catalog or cache (`COREBUILD_INSECURE=1`).
    pub insecure: bool,
    /// The shared layer cache (`registry:HOST[:PORT]/REPO`).
    pub cache: Option<String>,
}

/// A fan-out plan: every job with its level, and the levels in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub plan_version: u32,
    pub image: String,
    pub catalog: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// Job names per level: level N+1 starts when every job of level N has succeeded.
    pub levels: Vec<Vec<String>>,
    /// Sorted by name.
    pub jobs: Vec<Job>,
    /// What the engine should know but the plan cannot fix (printed on stderr, not emitted).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// One blueprint's release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// The blueprint's name (unique in a plan).
    pub name: String,
    pub version: String,
    /// The blueprint directory, relative to where the jobs run, `/`-separated.
    pub blueprint: String,
    /// The blueprint's `[base] ref`.
    pub base: String,
    /// 0 for a job that needs no other; else one more than the deepest job it needs.
    pub level: usize,
    /// The jobs whose releases this one's base is (sorted).
    pub after: Vec<String>,
    /// What to run, argv style.
    pub command: Vec<String>,
    /// The environment the command needs on top of the engine's own (sorted).
    pub env: BTreeMap<String, String>,
}

/// The formats `plan --emit` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    Json,
    GithubActions,
    GitlabCi,
    K8sJob,
}

/// Plans the blueprints under `dir`, with job paths relative to `run_dir` (where the
/// jobs will run: the checkout root).
pub fn plan(dir: &Path, run_dir: &Path, opts: &PlanOptions) -> Result<Plan> {
    check_image(&opts.image)?;
    check_cache(opts.cache.as_deref())?;
    let found = discover(dir, run_dir)?;
    let levels_of = levels(&found)?;
    let env = job_env(opts);
    let warnings = found
        .iter()
        .filter(|f| f.store_base)
        .map(|f| {
            format!(
                "{} builds on the store base {}, and every job starts with an empty store: \
                 import it in the job (or bake it into the image), or base it on a catalog:, \
                 docker:// or oci-layout: reference (runbook/fan-out.md)",
                f.path, f.base
            )
        })
        .collect();
    let mut jobs: Vec<Job> = found
        .iter()
        .zip(&levels_of)
        .map(|(f, (level, after))| Job {
            name: f.name.clone(),
            version: f.version.clone(),
            blueprint: f.path.clone(),
            base: f.base.clone(),
            level: *level,
            after: after.clone(),
            command: RELEASE_ARGV
                .iter()
                .copied()
                .chain([f.path.as_str()])
                .map(String::from)
                .collect(),
            env: env.clone(),
        })
        .collect();
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    let depth = jobs.iter().map(|j| j.level + 1).max().unwrap_or(0);
    let mut levels = vec![Vec::new(); depth];
    for j in &jobs {
        levels[j.level].push(j.name.clone());
    }
    Ok(Plan {
        plan_version: PLAN_VERSION,
        image: opts.image.clone(),
        catalog: opts.catalog.clone(),
        cache: opts.cache.clone(),
        levels,
        jobs,
        warnings,
    })
}

/// Renders a plan in one of the emitted formats (the file's bytes).
pub fn render(plan: &Plan, emit: Emit) -> Result<String> {
    match emit {
        Emit::Json => emit_json::render(plan),
        Emit::GithubActions => Ok(emit_github::render(plan)),
        Emit::GitlabCi => Ok(emit_gitlab::render(plan)),
        Emit::K8sJob => Ok(emit_k8s::render(plan)),
    }
}

/// What every job runs, before the blueprint path.
pub const RELEASE_ARGV: [&str; 3] = ["corebuild", "release", "--locked"];

/// The first lines of every emitted YAML file.
const YAML_HEADER: &str = "# Generated by `corebuild plan`: regenerate it rather than edit it.\n";

/// The jobs of one level, in name order, split into groups of at most `max` (an engine's
/// matrix limit), each with its engine job id: `level-N`, or `level-N-part-K` when split.
pub(crate) fn level_groups(plan: &Plan, level: usize, max: usize) -> Vec<(String, Vec<&Job>)> {
    let jobs: Vec<&Job> = plan.jobs.iter().filter(|j| j.level == level).collect();
    let groups: Vec<Vec<&Job>> = jobs.chunks(max).map(<[&Job]>::to_vec).collect();
    let split = groups.len() > 1;
    groups
        .into_iter()
        .enumerate()
        .map(|(k, g)| {
            let id = if split {
                format!("level-{level}-part-{}", k + 1)
            } else {
                format!("level-{level}")
            };
            (id, g)
        })
        .collect()
}

/// The environment every job shares (the same map in each job).
pub(crate) fn shared_env(plan: &Plan) -> BTreeMap<String, String> {
    plan.jobs.first().map(|j| j.env.clone()).unwrap_or_default()
}

fn job_env(opts: &PlanOptions) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([("COREBUILD_CATALOG".to_string(), opts.catalog.clone())]);
    if let Some(c) = &opts.cache {
        env.insert("COREBUILD_CACHE".into(), c.clone());
    }
    if opts.insecure {
        env.insert("COREBUILD_INSECURE".into(), "1".into());
    }
    env
}

/// The image must be pinned by digest: a tag would let two jobs of one plan run
/// different corebuilds.
fn check_image(image: &str) -> Result<()> {
    let pinned = image.split_once("@sha256:").is_some_and(|(name, hex)| {
        !name.is_empty()
            && !name.contains('@')
            && hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if pinned && image.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    Err(crate::error::input(format!(
        "the image {image:?} is not pinned by digest: pass --image REF@sha256:<64 hex> \
         (or set COREBUILD_IMAGE), e.g. the digest `corebuild build --json` printed for \
         blueprints/corebuild"
    )))
}

fn check_cache(cache: Option<&str>) -> Result<()> {
    match cache {
        Some(c) if !c.strip_prefix("registry:").is_some_and(|r| r.contains('/')) => Err(
            crate::error::input(format!("the cache {c:?} is not registry:HOST[:PORT]/REPO")),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
