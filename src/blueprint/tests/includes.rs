//! Includes: merge order, conflicts between fragments (named at both places), the
//! blueprint deciding a conflict, cycles, and what a fragment may not say.

use super::{assert_err, Ws, HEAD};
use crate::blueprint::{Blueprint, BlueprintError, Layer};

const TWO: &str = "include = [\"../fragments/a.toml\", \"../fragments/b.toml\"]\n";

/// A blueprint that includes fragments a and b, plus `extra` of its own.
fn load_ab(ws: &Ws, a: &str, b: &str, extra: &str) -> Result<Blueprint, BlueprintError> {
    ws.write("blueprints/fragments/a.toml", a);
    ws.write("blueprints/fragments/b.toml", b);
    ws.load_bp(&format!("{TWO}{HEAD}{extra}"))
}

#[test]
fn config_conflict_names_both_fragments() {
    let ws = Ws::new();
    let e = load_ab(
        &ws,
        "[config]\nenv = { LANG = \"C.UTF-8\" }\n",
        "# monitoring\n[config]\nenv = { LANG = \"en_US.UTF-8\" }\n",
        "",
    )
    .unwrap_err();
    let a = ws.path("blueprints/fragments/a.toml");
    let b = ws.path("blueprints/fragments/b.toml");
    assert_err(
        &e,
        &b,
        3,
        16,
        &[
            "fragments conflict on [config] env.LANG",
            &format!("{}:3:16 sets \"en_US.UTF-8\"", b.display()),
            &format!("{}:2:16 sets \"C.UTF-8\"", a.display()),
            &format!(
                "set [config] env.LANG in the blueprint ({})",
                ws.bp_path().display()
            ),
        ],
    );
}

#[test]
fn whole_value_keys_conflict_too() {
    let ws = Ws::new();
    let e = load_ab(
        &ws,
        "[config]\nuser = \"app\"\n",
        "[config]\nuser = \"root\"\n",
        "",
    )
    .unwrap_err();
    assert_err(
        &e,
        &ws.path("blueprints/fragments/b.toml"),
        2,
        8,
        &[
            "conflict on [config] user",
            "\"root\"",
            "\"app\"",
            "a.toml:2:8",
        ],
    );
    let e = load_ab(
        &ws,
        "[config]\nentrypoint = [\"/bin/sh\"]\n",
        "[config]\nentrypoint = [\"/bin/bash\"]\n",
        "",
    )
    .unwrap_err();
    assert!(e.message.contains("[config] entrypoint"), "{e}");
}

#[test]
fn the_blueprint_decides_a_config_conflict() {
    let ws = Ws::new();
    let bp = load_ab(
        &ws,
        "[config]\nenv = { LANG = \"C.UTF-8\" }\nuser = \"app\"\n",
        "[config]\nenv = { LANG = \"en_US.UTF-8\" }\nuser = \"root\"\n",
        "[config]\nenv = { LANG = \"C\" }\nuser = \"nobody\"\n",
    )
    .unwrap();
    assert_eq!(bp.config.env["LANG"], "C");
    assert_eq!(bp.config.user.as_deref(), Some("nobody"));
}

#[test]
fn the_same_value_from_two_fragments_is_fine() {
    let ws = Ws::new();
    let bp = load_ab(
        &ws,
        "[config]\nenv = { LANG = \"C.UTF-8\" }\nexposed_ports = [\"22/tcp\"]\n[contract]\nsuites = [\"posix-base\"]\n",
        "[config]\nenv = { LANG = \"C.UTF-8\", TZ = \"UTC\" }\nexposed_ports = [\"22/tcp\", \"53/udp\"]\n[contract]\nsuites = [\"posix-base\"]\n",
        "",
    )
    .unwrap();
    assert_eq!(bp.config.env.len(), 2);
    assert_eq!(bp.config.env["LANG"], "C.UTF-8");
    assert_eq!(bp.config.exposed_ports, ["22/tcp", "53/udp"]);
    assert_eq!(bp.suites.len(), 1);
}

fn files_layer(src: &str, dest: &str, extra: &str) -> String {
    format!("[[layer]]\nfiles = [{{ src = \"{src}\", dest = \"{dest}\"{extra} }}]\n")
}

#[test]
fn dest_conflict_names_both_fragments() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/fa/motd", "hello from a\n");
    ws.write("blueprints/fragments/fb/motd", "hello from b\n");
    let e = load_ab(
        &ws,
        &files_layer("fa/motd", "/etc/motd", ""),
        &files_layer("fb/motd", "/etc//motd", ""),
        "",
    )
    .unwrap_err();
    assert_err(
        &e,
        &ws.path("blueprints/fragments/b.toml"),
        2,
        36,
        &[
            "fragments conflict on the file at dest \"/etc/motd\"",
            "a.toml:2:36",
            "b.toml:2:36",
            "fb/motd",
            "fa/motd",
            "add a files entry with dest \"/etc/motd\" in the blueprint",
        ],
    );
}

#[test]
fn dest_conflict_on_mode_with_the_same_src() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/motd", "hello\n");
    let e = load_ab(
        &ws,
        &files_layer("motd", "/etc/motd", ", mode = \"0644\""),
        &files_layer("motd", "/etc/motd", ", mode = \"0600\""),
        "",
    )
    .unwrap_err();
    assert!(
        e.message.contains("mode 0600") && e.message.contains("mode 0644"),
        "{e}"
    );
}

#[test]
fn same_content_at_one_dest_is_not_a_conflict() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/fa/motd", "same\n");
    ws.write("blueprints/fragments/fb/motd", "same\n");
    let bp = load_ab(
        &ws,
        &files_layer("fa/motd", "/etc/motd", ""),
        &files_layer("fb/motd", "/etc/motd", ""),
        "",
    )
    .unwrap();
    assert_eq!(bp.layers.len(), 2);
}

#[test]
fn directory_srcs_compare_by_tree_content() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/da/x/conf", "1\n");
    ws.write("blueprints/fragments/db/x/conf", "1\n");
    let ok = load_ab(
        &ws,
        &files_layer("da", "/opt/d", ""),
        &files_layer("db", "/opt/d", ""),
        "",
    );
    assert!(ok.is_ok(), "{ok:?}");
    ws.write("blueprints/fragments/db/x/extra", "2\n");
    let e = load_ab(
        &ws,
        &files_layer("da", "/opt/d", ""),
        &files_layer("db", "/opt/d", ""),
        "",
    )
    .unwrap_err();
    assert!(e.message.contains("dest \"/opt/d\""), "{e}");
}

#[test]
fn the_blueprint_decides_a_dest_conflict_and_its_layer_comes_last() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/fa/motd", "a\n");
    ws.write("blueprints/fragments/fb/motd", "b\n");
    ws.write("blueprints/demo/motd", "mine\n");
    let bp = load_ab(
        &ws,
        &files_layer("fa/motd", "/etc/motd", ""),
        &files_layer("fb/motd", "/etc/motd", ""),
        &files_layer("motd", "/etc/motd", ""),
    )
    .unwrap();
    let last = bp.layers.last().unwrap();
    assert!(
        matches!(last, Layer::Files(f) if f[0].src == ws.path("blueprints/demo/motd")),
        "{last:?}"
    );
}

#[test]
fn include_cycle_names_the_chain() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/a.toml", "include = [\"b.toml\"]\n");
    ws.write(
        "blueprints/fragments/b.toml",
        "# b\ninclude = [\"sub/../a.toml\"]\n",
    );
    let e = ws
        .load_bp(&format!("include = [\"../fragments/a.toml\"]\n{HEAD}"))
        .unwrap_err();
    let a = ws.path("blueprints/fragments/a.toml").display().to_string();
    let b = ws.path("blueprints/fragments/b.toml").display().to_string();
    std::fs::create_dir_all(ws.path("blueprints/fragments/sub")).unwrap();
    let e2 = ws
        .load_bp(&format!("include = [\"../fragments/a.toml\"]\n{HEAD}"))
        .unwrap_err();
    // without the `sub` dir the path does not resolve: that is a missing include
    assert_err(
        &e,
        &ws.path("blueprints/fragments/b.toml"),
        2,
        12,
        &["included file \"sub/../a.toml\" not found"],
    );
    assert_err(
        &e2,
        &ws.path("blueprints/fragments/b.toml"),
        2,
        12,
        &[
            &format!("include cycle: {a} -> {b} -> {a}"),
            "remove one of these includes",
        ],
    );
}

#[test]
fn a_fragment_including_the_blueprint_is_a_cycle() {
    let ws = Ws::new();
    ws.write(
        "blueprints/fragments/a.toml",
        "include = [\"../demo/blueprint.toml\"]\n",
    );
    let e = ws
        .load_bp(&format!("include = [\"../fragments/a.toml\"]\n{HEAD}"))
        .unwrap_err();
    let bp = ws.bp_path().display().to_string();
    assert!(
        e.message.starts_with(&format!("include cycle: {bp} -> ")),
        "{e}"
    );
    assert!(e.message.ends_with(&format!(" -> {bp}")), "{e}");
}

#[test]
fn missing_include_points_at_the_entry() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!("include = [\"../fragments/nope.toml\"]\n{HEAD}"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        1,
        12,
        &[
            "included file \"../fragments/nope.toml\" not found",
            "relative to the file that lists them",
        ],
    );
}

#[test]
fn a_fragment_may_not_set_blueprint_only_keys() {
    let ws = Ws::new();
    let e = load_ab(&ws, "[[layer]]\nrun = [\"true\"]\nname = \"x\"\n", "", "").unwrap_err();
    assert_err(
        &e,
        &ws.path("blueprints/fragments/a.toml"),
        3,
        1,
        &[
            "unknown field `name`",
            "`name` belongs in the blueprint, not in a fragment",
        ],
    );
    let e = load_ab(&ws, "", "[base]\nref = \"x:1\"\n", "").unwrap_err();
    assert_err(
        &e,
        &ws.path("blueprints/fragments/b.toml"),
        1,
        2,
        &["`base` belongs in the blueprint"],
    );
}

#[test]
fn fragment_srcs_resolve_against_the_fragment() {
    let ws = Ws::new();
    ws.write("blueprints/fragments/files/agent.conf", "x\n");
    let e = load_ab(
        &ws,
        &files_layer("files/agent.conf", "/a", ""),
        &files_layer("files/missing", "/b", ""),
        "",
    )
    .unwrap_err();
    let missing = ws.path("blueprints/fragments/files/missing");
    assert_err(
        &e,
        &ws.path("blueprints/fragments/b.toml"),
        2,
        18,
        &[&missing.display().to_string()],
    );
}

#[test]
fn nested_includes_come_before_their_includer_and_diamonds_are_read_once() {
    let ws = Ws::new();
    ws.write(
        "blueprints/fragments/common.toml",
        "[[layer]]\nrun = [\"common\"]\n",
    );
    let bp = load_ab(
        &ws,
        "include = [\"common.toml\"]\n[[layer]]\nrun = [\"a\"]\n",
        "include = [\"common.toml\"]\n[[layer]]\nrun = [\"b\"]\n",
        "[[layer]]\nrun = [\"mine\"]\n",
    )
    .unwrap();
    let order: Vec<&str> = bp
        .layers
        .iter()
        .map(|l| match l {
            Layer::Run(r) => r.argv[0].as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(order, ["common", "a", "b", "mine"]);
    assert_eq!(bp.sources.len(), 4);
}

#[test]
fn an_include_naming_a_directory_is_refused_at_its_line() {
    // Found by fuzzing: `include = [""]` named the fragment's own directory, and the
    // error said only "cannot read file: Is a directory", with no file or line.
    let ws = Ws::new();
    ws.write("blueprints/fragments/a.toml", "# a\ninclude = [\"\"]\n");
    let e = ws
        .load_bp(&format!("include = [\"../fragments/a.toml\"]\n{HEAD}"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.path("blueprints/fragments/a.toml"),
        2,
        12,
        &[
            "included \"\" is not a file",
            "name a fragment's .toml file",
        ],
    );
}
