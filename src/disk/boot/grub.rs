//! GRUB images made by the image's own `grub-mkimage`, run in the OCI runtime over an
//! overlay of the flattened image (read-only, no network, no capabilities), writing only
//! into a scratch directory bound in: the boot loader comes from the image's packages
//! (`grub-efi-amd64-bin`, `grub-pc-bin`), never from the build host.

use super::config;
use crate::contract::rootfs::RootFs;
use crate::disk::ids::DiskIds;
use crate::runtime::{self, Bind, OciRuntime, RunSpec, ScratchOverlay};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the scratch directory appears inside the container.
const OUT: &str = "/run/corebuild-grub";
/// A GRUB image bigger than this is not one we put on a disk.
const MAX_IMAGE: u64 = 16 << 20;
/// The BIOS boot partition holds core.img.
pub const MAX_CORE_IMG: u64 = crate::disk::gpt::BIOS_BOOT_SIZE;

/// The boot loader files of one disk.
#[derive(Debug, Default)]
pub struct GrubImages {
    /// `EFI/BOOT/BOOTX64.EFI` for the ESP.
    pub efi: Option<PathBuf>,
    /// The i386-pc `core.img` for the BIOS boot partition.
    pub core: Option<PathBuf>,
    /// The image's `boot.img` (the MBR's boot code).
    pub boot_img: Option<[u8; 512]>,
}

/// What to make.
pub struct MakeRequest<'a> {
    pub rootfs: &'a Path,
    pub ids: &'a DiskIds,
    pub bios: bool,
    pub uefi: bool,
    /// A scratch directory on the store's file system (for the overlay and the output).
    pub work: &'a Path,
    pub runtime: &'a str,
}

/// Runs grub-mkimage for each firmware asked for and reads the results back, bounded.
pub fn make(req: &MakeRequest<'_>) -> Result<GrubImages> {
    let out = req.work.join("grub-out");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("early.cfg"), config::early(req.ids))?;
    let mut script = String::from("set -eu\n");
    if req.uefi {
        script.push_str(&mkimage_line(
            "x86_64-efi",
            "BOOTX64.EFI",
            config::EFI_MODULES,
        ));
    }
    if req.bios {
        script.push_str(&mkimage_line("i386-pc", "core.img", config::BIOS_MODULES));
    }
    run(req, &out, script)?;
    let mut images = GrubImages::default();
    if req.uefi {
        images.efi = Some(checked(&out.join("BOOTX64.EFI"), MAX_IMAGE)?);
    }
    if req.bios {
        images.core = Some(checked(&out.join("core.img"), MAX_CORE_IMG)?);
        images.boot_img = Some(boot_img(req.rootfs)?);
    }
    Ok(images)
}

fn mkimage_line(platform: &str, file: &str, extra: &[&str]) -> String {
    let mut modules: Vec<&str> = config::COMMON_MODULES.to_vec();
    modules.extend_from_slice(extra);
    format!(
        "grub-mkimage -d /usr/lib/grub/{platform} -O {platform} -o {OUT}/{file} -p {prefix} \
         -c {OUT}/early.cfg {mods}\n",
        prefix = config::PREFIX,
        mods = modules.join(" ")
    )
}

/// Runs the script in the image: read-only root, the output directory bound read-write.
fn run(req: &MakeRequest<'_>, out: &Path, script: String) -> Result<()> {
    let rt = runtime::from_name(req.runtime)?;
    let mut spec = RunSpec::contract_test(vec!["/bin/sh".into(), "-c".into(), script]);
    spec.timeout = Duration::from_secs(300);
    spec.hostname = "corebuild".into();
    spec.binds.push(Bind {
        src: out.to_path_buf(),
        dest: OUT.into(),
        readonly: false,
    });
    let scratch = ScratchOverlay::mount(&[req.rootfs], req.work, "grub-")?;
    let outcome = rt.run(scratch.merged(), &spec);
    scratch.close()?;
    let outcome = outcome.context("running the image's grub-mkimage in the OCI runtime")?;
    if !outcome.success() {
        return Err(crate::error::input(format!(
            "the image's grub-mkimage failed ({}): {}",
            outcome.describe(),
            outcome.tail.join("\n  ")
        )));
    }
    Ok(())
}

/// A file grub-mkimage wrote: a regular file, not empty, at most `limit` bytes.
fn checked(path: &Path, limit: u64) -> Result<PathBuf> {
    let md = std::fs::symlink_metadata(path)
        .with_context(|| format!("grub-mkimage wrote no {}", path.display()))?;
    if !md.is_file() || md.len() == 0 || md.len() > limit {
        return Err(crate::error::input(format!(
            "grub-mkimage made {} of {} bytes; expected a file of at most {limit}",
            path.display(),
            md.len()
        )));
    }
    Ok(path.to_path_buf())
}

/// The image's `/usr/lib/grub/i386-pc/boot.img`, read inside the image root: exactly
/// one sector.
fn boot_img(rootfs: &Path) -> Result<[u8; 512]> {
    const PATH: &str = "/usr/lib/grub/i386-pc/boot.img";
    let fs = RootFs::new(rootfs);
    let found = fs
        .lookup(PATH, true)?
        .filter(|f| f.meta.is_file())
        .ok_or_else(|| missing(PATH, "grub-pc-bin"))?;
    let bytes = fs
        .read_limited(&found, 512)?
        .filter(|b| b.len() == 512)
        .ok_or_else(|| crate::error::input(format!("{PATH} in the image is not 512 bytes")))?;
    Ok(bytes.try_into().expect("checked length"))
}

/// The input error for a boot loader file the image lacks.
pub fn missing(path: &str, package: &str) -> anyhow::Error {
    crate::error::input(format!(
        "the image has no {path}: add {package:?} to a packages layer of the blueprint"
    ))
}
