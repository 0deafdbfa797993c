//! Every class of bad input gets an error at the right file, line and column, with a
//! message that says what is wrong and a hint that says what to do.

use super::{assert_err, Ws, HEAD};
use crate::blueprint::{load, LoadOptions};

/// A `[[layer]]` with a `files` entry whose src exists, for tests about other keys.
fn with_m(ws: &Ws) {
    ws.write("blueprints/demo/m", "x");
}

#[test]
fn unknown_field_suggests_the_nearest_key() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[layer]]\nfils = [{{ src = \"m\", dest = \"/m\" }}]\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        1,
        &[
            "unknown field `fils`",
            "expected one of",
            "hint: did you mean `files`?",
        ],
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}:8:1: unknown field `fils`", e.file.display())),
        "{text}"
    );
}

#[test]
fn unknown_field_in_config_and_top_level() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!("{HEAD}[config]\nentrypiont = [\"/bin/sh\"]\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        1,
        &["unknown field `entrypiont`", "did you mean `entrypoint`?"],
    );
    let e = ws
        .load_bp(&format!("descripton = \"x\"\n{HEAD}"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        1,
        1,
        &["unknown field `descripton`", "did you mean `description`?"],
    );
}

#[test]
fn bad_semver_points_at_the_version() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&HEAD.replace("\"1.0.0\"", "\"1.0\""))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        2,
        11,
        &["invalid version \"1.0\"", "MAJOR.MINOR.PATCH"],
    );
}

#[test]
fn bad_name_suggests_a_valid_one() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&HEAD.replace("\"demo\"", "\"Core_Minimal\""))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        1,
        8,
        &["invalid name \"Core_Minimal\"", "name = \"core-minimal\""],
    );
    let e = ws
        .load_bp(&HEAD.replace("\"demo\"", "\"-demo\""))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        1,
        8,
        &["starting with a letter or digit"],
    );
}

#[test]
fn missing_src_names_the_line_and_resolved_path() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[layer]]\nfiles = [\n  {{ src = \"files/nope\", dest = \"/etc/nope\" }},\n]\n"
        ))
        .unwrap_err();
    let resolved = ws.path("blueprints/demo/files/nope");
    assert_err(
        &e,
        &ws.bp_path(),
        9,
        11,
        &[
            "src \"files/nope\" not found",
            &resolved.display().to_string(),
            "relative to the file that declares them",
        ],
    );
}

#[test]
fn bad_modes_are_refused_with_the_octal_string_form() {
    let ws = Ws::new();
    with_m(&ws);
    let layer = |mode: &str| {
        format!("{HEAD}[[layer]]\nfiles = [{{ src = \"m\", dest = \"/m\", mode = {mode} }}]\n")
    };
    let e = ws.load_bp(&layer("\"0999\"")).unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        43,
        &["invalid mode \"0999\"", "mode = \"0644\""],
    );
    let e = ws.load_bp(&layer("\"17777\"")).unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        43,
        &["invalid mode \"17777\"", "at most 7777"],
    );
    // `mode = 644` is decimal in TOML; never guess, ask for the string form
    let e = ws.load_bp(&layer("644")).unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        43,
        &["mode must be a string", "mode = \"0644\""],
    );
    let ok = ws.load_bp(&layer("\"4755\"")).unwrap();
    assert!(
        matches!(&ok.layers[0], crate::blueprint::Layer::Files(f) if f[0].mode == Some(0o4755))
    );
}

#[test]
fn dest_must_be_absolute_and_stay_inside() {
    let ws = Ws::new();
    with_m(&ws);
    let layer =
        |dest: &str| format!("{HEAD}[[layer]]\nfiles = [{{ src = \"m\", dest = \"{dest}\" }}]\n");
    let e = ws.load_bp(&layer("etc/motd")).unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        30,
        &["not an absolute path", "\"/etc/motd\""],
    );
    let e = ws.load_bp(&layer("/etc/../../x")).unwrap_err();
    assert_err(&e, &ws.bp_path(), 8, 30, &["contains `..`"]);
}

#[test]
fn bad_date_is_not_a_calendar_date() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[lifecycle]\nend_of_support = \"2027-02-30\"\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        18,
        &["invalid date \"2027-02-30\"", "YYYY-MM-DD"],
    );
    let e = ws
        .load_bp(&format!(
            "{HEAD}[lifecycle]\nend_of_support = \"31/12/2027\"\n"
        ))
        .unwrap_err();
    assert_err(&e, &ws.bp_path(), 8, 18, &["invalid date"]);
}

#[test]
fn bad_change_kind_lists_the_kinds() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[change]]\nkind = \"bugfixx\"\nsummary = \"x\"\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        8,
        &[
            "unknown variant `bugfixx`",
            "`security`, `bugfix`, `enhancement`, `workaround`",
            "did you mean `bugfix`?",
        ],
    );
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[change]]\nkind = \"security\"\nsummary = \" \"\n"
        ))
        .unwrap_err();
    assert_err(&e, &ws.bp_path(), 9, 11, &["change summary is empty"]);
}

#[test]
fn layer_with_two_kinds_names_both_lines() {
    let ws = Ws::new();
    with_m(&ws);
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[layer]]\nfiles = [{{ src = \"m\", dest = \"/m\" }}]\nrun = [\"true\"]\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        9,
        7,
        &[
            "has both `files` (line 8) and `run`",
            "exactly one of files, packages or run",
            "split it into two [[layer]]",
        ],
    );
}

#[test]
fn layer_with_no_kind_or_misplaced_run_keys() {
    let ws = Ws::new();
    with_m(&ws);
    let e = ws
        .load_bp(&format!("{HEAD}[[layer]]\nuser = \"root\"\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        7,
        1,
        &["none of `files`, `packages` or `run`", "exactly one of"],
    );
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[layer]]\nfiles = [{{ src = \"m\", dest = \"/m\" }}]\nenv = {{ A = \"1\" }}\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        9,
        7,
        &["`env` only applies to a `run` layer"],
    );
    let e = ws
        .load_bp(&format!("{HEAD}[[layer]]\nrun = []\n"))
        .unwrap_err();
    assert_err(&e, &ws.bp_path(), 8, 7, &["`run` needs a command"]);
    let e = ws
        .load_bp(&format!("{HEAD}[[layer]]\nfiles = []\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        9,
        &["`files` is empty", "remove this [[layer]]"],
    );
    let e = ws
        .load_bp(&format!("{HEAD}[[layer]]\npackages = []\n"))
        .unwrap_err();
    assert_err(&e, &ws.bp_path(), 8, 12, &["`packages` is empty"]);
}

#[test]
fn bad_package_spec() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[[layer]]\npackages = [\"curl\", \"Bad Name=1\"]\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        21,
        &["invalid package \"Bad Name=1\"", "NAME=VERSION"],
    );
}

#[test]
fn bad_digest_and_base_ref() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&HEAD.replace(
            "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "sha256:abc",
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        6,
        10,
        &["invalid digest \"sha256:abc\"", "corebuild lock"],
    );
    let e = ws
        .load_bp(&HEAD.replace("debian-minbase:12", "debian-minbase"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        5,
        7,
        &["invalid base ref", "NAME:VERSION"],
    );
    // A registry reference without a host: the error says to write it, the hint shows the form.
    let e = ws
        .load_bp(&HEAD.replace("debian-minbase:12", "docker://debian:12"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        5,
        7,
        &[
            "invalid base ref \"docker://debian:12\"",
            "write the host explicitly",
            "docker://HOST[:PORT]/REPOSITORY:TAG",
        ],
    );
}

#[test]
fn bad_outputs() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!("{HEAD}[outputs]\ncompression = \"lz4\"\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        15,
        &["unknown compression \"lz4\"", "\"gzip\"", "\"zstd\""],
    );
    let e = ws
        .load_bp(&format!("{HEAD}[outputs]\nqcow2 = {{ size = \"2GB\" }}\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        18,
        &["invalid size \"2GB\"", "KiB, MiB, GiB"],
    );
    let e = ws
        .load_bp(&format!("{HEAD}[outputs]\nqcow2 = {{ boot = \"efi\" }}\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        18,
        &["unknown boot mode \"efi\"", "\"bios+uefi\"", "\"none\""],
    );
    let e = ws
        .load_bp(&format!(
            "{HEAD}[outputs]\nkernel_cmdline = [\"quiet\", \"a; reboot\"]\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        28,
        &[
            "kernel parameter \"a; reboot\" is not one plain word",
            "one parameter per string",
        ],
    );
}

#[test]
fn bad_config_values() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[config]\nexposed_ports = [\"80/tcp\", \"http\"]\n"
        ))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        28,
        &["invalid port \"http\"", "8080/tcp"],
    );
    let e = ws
        .load_bp(&format!("{HEAD}[config]\nworkdir = \"srv\"\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        11,
        &["workdir \"srv\" is not an absolute path"],
    );
}

#[test]
fn missing_suite_file_lists_the_available_ones() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!(
            "{HEAD}[contract]\nsuites = [\"posix-base\", \"posix-extra\"]\n"
        ))
        .unwrap_err();
    let expected = ws.path("contract-tests/posix-extra.toml");
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        25,
        &[
            "contract suite \"posix-extra\" not found",
            &expected.display().to_string(),
            "use one of: posix-base",
        ],
    );
}

#[test]
fn no_contract_tests_directory_anywhere_above() {
    let ws = Ws::new();
    std::fs::remove_dir_all(ws.path("contract-tests")).unwrap();
    let e = ws
        .load_bp(&format!("{HEAD}[contract]\nsuites = [\"posix-base\"]\n"))
        .unwrap_err();
    // (a contract-tests/ above the temp dir would be found instead; tempdirs have none)
    assert_err(&e, &ws.bp_path(), 8, 11, &["no contract-tests/ directory"]);
}

#[test]
fn unparseable_suite_file_is_named() {
    let ws = Ws::new();
    let suite = ws.write(
        "contract-tests/broken.toml",
        "name = \"broken\"\nversion = \"one\"\ndescription = \"b\"\n",
    );
    let e = ws
        .load_bp(&format!("{HEAD}[contract]\nsuites = [\"broken\"]\n"))
        .unwrap_err();
    assert_err(&e, &suite, 2, 11, &["invalid suite version \"one\""]);
    let suite = ws.write("contract-tests/nameless.toml", "version = \"1.0.0\"\n");
    let e = ws
        .load_bp(&format!("{HEAD}[contract]\nsuites = [\"nameless\"]\n"))
        .unwrap_err();
    assert_eq!(e.file, suite);
    assert!(e.message.contains("missing field `name`"), "{e}");
    let suite = ws.write(
        "contract-tests/other.toml",
        "name = \"another\"\nversion = \"1.0.0\"\ndescription = \"b\"\n",
    );
    let e = ws
        .load_bp(&format!("{HEAD}[contract]\nsuites = [\"other\"]\n"))
        .unwrap_err();
    assert_err(&e, &suite, 1, 8, &["declares name \"another\""]);
}

#[test]
fn bad_suite_name_cannot_escape_the_suites_dir() {
    let ws = Ws::new();
    let e = ws
        .load_bp(&format!("{HEAD}[contract]\nsuites = [\"../secrets\"]\n"))
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        8,
        11,
        &["invalid suite name \"../secrets\""],
    );
}

#[test]
fn missing_blueprint_and_toml_syntax_errors() {
    let ws = Ws::new();
    let e = load(&ws.path("blueprints/none"), &LoadOptions::default()).unwrap_err();
    assert_eq!(e.file, ws.path("blueprints/none/blueprint.toml"));
    assert_eq!(e.line, None);
    assert!(e.to_string().contains("cannot open blueprint"), "{e}");
    let e = ws.load_bp(&format!("{HEAD}[config\n")).unwrap_err();
    assert_eq!(
        (e.file.as_path(), e.line),
        (ws.bp_path().as_path(), Some(7)),
        "{e}"
    );
    let e = ws
        .load_bp(&HEAD[..HEAD.find("[base]").unwrap()])
        .unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        1,
        1,
        &["missing field `base`", "add a [base] table"],
    );
    let e = ws.load_bp("name = \"demo\"\n").unwrap_err();
    assert_err(
        &e,
        &ws.bp_path(),
        1,
        1,
        &["missing field `version`", "add `version = ...`"],
    );
}

#[test]
fn errors_classify_as_bad_input() {
    let ws = Ws::new();
    let e = ws.load_bp("name = 1\n").unwrap_err();
    let any = anyhow::Error::new(e).context("loading demo");
    assert_eq!(crate::error::exit_code(&any), 2);
}
