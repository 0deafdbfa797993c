//! What core-vm needs from `packages` layers, against the real Debian mirror and runc:
//! the per-machine state that dbus and openssh-server's maintainer scripts generate is
//! scrubbed, dates come from the epoch, and two `--no-cache` builds give one digest.

use crate::util::*;

/// The build epoch's day, as /etc/shadow counts days (1735689600 / 86400).
const EPOCH_DAY: &str = "20089";

#[test]
fn packages_layer_has_no_machine_state_and_is_reproducible() {
    let ws = Ws::new();
    ws.minbase();
    let bp = ws.blueprint(
        "vm-state",
        "name = \"vm-state\"\nversion = \"1.0.0\"\ndescription = \"t\"\nepoch = 1735689600\n\
         [base]\nref = \"debian-minbase:12\"\n\
         [[layer]]\npackages = [\"dbus\", \"openssh-server\"]\n",
    );
    let build =
        |extra: &[&str]| build_json(ws.cb().arg("build").args(extra).arg(&bp).arg("--json"));
    let first = build(&[]);
    let second = build(&["--no-cache"]);
    assert_eq!(
        first["layers"][1]["diff_id"], second["layers"][1]["diff_id"],
        "the packages layer differs between two --no-cache builds"
    );

    let root = ws.path().join("rootfs");
    run_ok(ws.cb().arg("unpack").arg("vm-state:1.0.0").arg(&root));
    let keys: Vec<String> = std::fs::read_dir(root.join("etc/ssh"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("ssh_host_"))
        .collect();
    assert!(keys.is_empty(), "host keys baked into the image: {keys:?}");
    assert_eq!(
        std::fs::read_link(root.join("var/lib/dbus/machine-id")).unwrap(),
        std::path::Path::new("/etc/machine-id")
    );
    if let Ok(id) = std::fs::read(root.join("etc/machine-id")) {
        assert!(id.is_empty(), "machine id baked in: {id:?}");
    }
    let shadow = std::fs::read_to_string(root.join("etc/shadow")).unwrap();
    for user in ["messagebus", "sshd"] {
        let line = shadow
            .lines()
            .find(|l| l.starts_with(&format!("{user}:")))
            .unwrap_or_else(|| panic!("no {user} in /etc/shadow:\n{shadow}"));
        assert_eq!(line.split(':').nth(2), Some(EPOCH_DAY), "{line}");
    }
}
