#!/usr/bin/env bash
# Installs what corebuild and its tests need on a fresh Debian 12 machine, when missing.
# Idempotent; needs root (or sudo) only when something must be installed.
set -euo pipefail

# tool -> Debian package
declare -A NEED=(
  [runc]=runc
  [skopeo]=skopeo
  [umoci]=umoci
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [mmdebstrap]=mmdebstrap
  [mke2fs]=e2fsprogs
  [debugfs]=e2fsprogs
  [qemu-img]=qemu-utils
  [qemu-system-x86_64]=qemu-system-x86
  [e2fsck]=e2fsprogs
  [tar]=tar
  [zstd]=zstd
  [taskset]=util-linux
  [blkid]=util-linux
  [mkfs.fat]=dosfstools
  [fsck.fat]=dosfstools
  [mcopy]=mtools
  [mtype]=mtools
  [sgdisk]=gdisk
  [slirp4netns]=slirp4netns
  # the offline apt repository the security-response tests build and sign
  [apt-ftparchive]=apt-utils
  [gpg]=gnupg
  [gpg-agent]=gnupg
  # the independent verifier of signatures and DSSE envelopes
  [openssl]=openssl
  # the real browser the web catalog is checked in
  [chromium]=chromium
  # the peer of scripts/bench/incremental-build.sh (the test command runs every benchmark)
  [buildah]=buildah
)
missing=()
for tool in "${!NEED[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 || missing+=("${NEED[$tool]}")
done
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
# a Python venv for the PyPI schema checkers below
dpkg -s python3-venv >/dev/null 2>&1 || missing+=(python3-venv)
# UEFI firmware for boot tests (qemu's default SeaBIOS comes with qemu-system-x86).
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || missing+=(ovmf)
# mmdebstrap verifies Release files with this keyring.
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing ${pkgs[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# The offline schema checkers of the CI and Kubernetes files `corebuild plan` emits
# (tests/it/plan.rs), pinned, from PyPI into their own venv (Debian's python refuses
# system-wide pip installs), linked into /usr/local/bin.
PYTOOLS=/opt/corebuild-pytools
if ! command -v check-jsonschema >/dev/null 2>&1 || ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "setup: installing check-jsonschema and kubernetes-validate" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO python3 -m venv "$PYTOOLS"
  $SUDO "$PYTOOLS/bin/pip" install --quiet --disable-pip-version-check \
    check-jsonschema==0.39.0 kubernetes-validate==1.37.0
  $SUDO ln -sf "$PYTOOLS/bin/check-jsonschema" "$PYTOOLS/bin/kubernetes-validate" /usr/local/bin/
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install the Rust toolchain (rustup) first" >&2
  exit 3
fi

# cargo-audit for scripts/audit.sh (the advisory database is a git bundle: no network),
# for the test suite only (`setup.sh --with-audit`): the main job does not need it.
if [ "${1:-}" = "--with-audit" ] && ! command -v cargo-audit >/dev/null 2>&1; then
  echo "setup: installing cargo-audit" >&2
  cargo install --locked --quiet cargo-audit --version 0.22.0
fi
