//! The parts of a suite file that concern VMs: a `boot` test's firmware, direct boot,
//! `append` and `cloud_init`, and the suite's `targets`. Errors name the line and column.

use super::raw::{RawBoot, RawSuite};
use super::schema::{BootTest, CloudInit, Pattern, Target};
use crate::blueprint::{BlueprintError, Source};
use crate::disk::Firmware;
use std::time::Duration;
use toml::Spanned;

type Result<T> = std::result::Result<T, BlueprintError>;

/// Validates a `boot = { … }` table; `expect` and `timeout` come parsed from the caller.
pub fn boot(src: &Source, b: &RawBoot, expect: Pattern, timeout: Duration) -> Result<BootTest> {
    let firmware = b.firmware.as_ref().map(|f| firmwares(src, f)).transpose()?;
    let append = b.append.as_ref().filter(|a| !a.get_ref().trim().is_empty());
    let direct = match (&b.direct, &firmware, append) {
        (Some(d), Some(_), _) if *d.get_ref() => {
            return Err(src
                .error(d.span(), "`direct = true` boots without firmware, but this test names `firmware`")
                .with_hint("remove `firmware` for a direct kernel boot, or `direct` for a firmware boot"))
        }
        (_, Some(_), Some(a)) => {
            return Err(src
                .error(a.span(), "`append` changes the command line of a direct kernel boot; a firmware boot uses the disk's own")
                .with_hint("remove `firmware` (a test with `append` boots directly), or put the parameters in the blueprint's [outputs] kernel_cmdline"))
        }
        (Some(d), None, Some(a)) if !*d.get_ref() => {
            return Err(src
                .error(a.span(), "`append` needs a direct kernel boot, but this test says `direct = false`")
                .with_hint("remove `direct = false`, or move the parameters to the blueprint's kernel_cmdline"))
        }
        (d, _, a) => d.as_ref().is_some_and(|d| *d.get_ref()) || a.is_some(),
    };
    Ok(BootTest {
        expect,
        timeout,
        append: append.map(|a| a.get_ref().clone()),
        firmware,
        direct,
        cloud_init: b
            .cloud_init
            .as_ref()
            .map(|c| cloud_init(src, c))
            .transpose()?,
    })
}

fn firmwares(src: &Source, list: &Spanned<Vec<Spanned<String>>>) -> Result<Vec<Firmware>> {
    const HINT: &str = "use firmware = [\"bios\"], [\"uefi\"] or [\"bios\", \"uefi\"] (or leave it out: every firmware the disk supports)";
    if list.get_ref().is_empty() {
        return Err(src
            .error(
                list.span(),
                "`firmware` is empty: the test would never boot",
            )
            .with_hint(HINT));
    }
    let mut out: Vec<Firmware> = Vec::new();
    for f in list.get_ref() {
        let fw = Firmware::parse(f.get_ref()).ok_or_else(|| {
            src.error(f.span(), format!("unknown firmware {:?}", f.get_ref()))
                .with_hint(HINT)
        })?;
        if out.contains(&fw) {
            return Err(src.error(f.span(), format!("firmware {fw:?} is listed twice")));
        }
        out.push(fw);
    }
    Ok(out)
}

fn cloud_init(src: &Source, c: &Spanned<super::raw::RawCloudInit>) -> Result<CloudInit> {
    let u = &c.get_ref().user_data;
    let text = u.get_ref();
    if !(text.starts_with("#cloud-config") || text.starts_with("#!")) {
        return Err(src
            .error(
                u.span(),
                "cloud-init ignores this user_data: it must start with `#cloud-config` or `#!`",
            )
            .with_hint(
                "e.g. user_data = \"#cloud-config\\nruncmd:\\n  - echo MARKER > /dev/ttyS0\\n\"",
            ));
    }
    Ok(CloudInit {
        user_data: text.clone(),
    })
}

/// The suite's `targets` (default: the container only).
pub fn targets(src: &Source, raw: &RawSuite) -> Result<Vec<Target>> {
    const HINT: &str = "use targets = [\"container\"], [\"vm\"] or [\"container\", \"vm\"]";
    let Some(list) = &raw.targets else {
        return Ok(vec![Target::Container]);
    };
    if list.get_ref().is_empty() {
        return Err(src
            .error(
                list.span(),
                "`targets` is empty: the command tests would run nowhere",
            )
            .with_hint(HINT));
    }
    let mut out: Vec<Target> = Vec::new();
    for t in list.get_ref() {
        let target = Target::parse(t.get_ref()).ok_or_else(|| {
            src.error(t.span(), format!("unknown target {:?}", t.get_ref()))
                .with_hint(HINT)
        })?;
        if out.contains(&target) {
            return Err(src.error(
                t.span(),
                format!("target {:?} is listed twice", t.get_ref()),
            ));
        }
        out.push(target);
    }
    Ok(out)
}
