#!/usr/bin/env bash
# build.sh — builds the leakgate QEMU reference target into a cache folder
# outside the work tree and prints that folder on stdout (logs go to stderr).
#
# Two cached stages, each keyed by the hash of its inputs and reused when the
# inputs are unchanged:
#   kernel-<hash>/  Linux 6.12 from /usr/src/linux-source-6.12.tar.xz, tinyconfig
#                   + kernel.fragment (the tree is kept: wlansim builds against it)
#   <hash>/         bzImage, initramfs.cpio.gz, wlansim.ko, wlansimd, SSH keys
#
# Environment:
#   LEAKGATE_RIG_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/leakgate/rig)
#   RIG_JOBS            make -j (default 2)
#   RIG_KERNEL_ONLY=1   stop after the kernel stage
#
# Older builds are pruned: the 3 newest rig builds and the 2 newest kernel
# trees are kept (this one among them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${LEAKGATE_RIG_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/leakgate/rig}
jobs=${RIG_JOBS:-2}
ksrc_tar=${RIG_KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
# Bump when the kernel stage below changes in a way that needs a rebuild.
kernel_stage_version=1

log() { echo "rig: $*" >&2; }
die() { echo "rig: $*" >&2; exit 1; }

need() {
  local missing=()
  for p in "$@"; do [ -e "$p" ] || command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}; run scripts/deps.sh (installs the rig packages) and retry"
}
need "$ksrc_tar" make gcc flex bison bc cpio gzip xz /bin/busybox /usr/sbin/dropbear dropbearkey ssh-keygen sha256sum flock

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9

hash_of() { sha256sum | cut -c1-16; }

# ---- kernel stage -----------------------------------------------------------
khash=$( {
  echo "stage $kernel_stage_version"
  stat -c '%n %s %Y' "$ksrc_tar"
  cat "$here/kernel.fragment"
} | hash_of)
kdir=$cache_root/kernel-$khash

if [ ! -e "$kdir/.done" ]; then
  log "building kernel into $kdir (tinyconfig + kernel.fragment, make -j$jobs; takes minutes)"
  rm -rf "$kdir"
  mkdir -p "$kdir"
  tar -xJf "$ksrc_tar" -C "$kdir"
  mv "$kdir"/linux-source-* "$kdir/src"
  (
    cd "$kdir/src"
    make -s tinyconfig >&2
    scripts/kconfig/merge_config.sh -m .config "$here/kernel.fragment" >&2
    make -s olddefconfig >&2
    # Every option the fragment sets must survive olddefconfig.
    bad=0
    while IFS= read -r line; do
      case $line in
        CONFIG_*=*) grep -qxF "$line" .config || { echo "rig: kernel option lost: $line" >&2; bad=1; } ;;
        "# CONFIG_"*" is not set")
          opt=${line#"# "}; opt=${opt%% *}
          if grep -q "^$opt=" .config; then echo "rig: kernel option not cleared: $opt" >&2; bad=1; fi ;;
      esac
    done <"$here/kernel.fragment"
    [ $bad -eq 0 ] || exit 1
    make -j"$jobs" bzImage modules_prepare >&2
    make -j"$jobs" modules >&2  # writes Module.symvers for out-of-tree modules
  )
  touch "$kdir/.done"
  log "kernel built"
fi
[ "${RIG_KERNEL_ONLY:-}" = 1 ] && { echo "$kdir"; exit 0; }

# ---- rig stage ----------------------------------------------------------------
rhash=$( {
  echo "kernel $khash"
  cd "$here"
  # Everything that goes into the image: this script, the module, the daemon,
  # the initramfs layout. Not boot.sh/stop.sh (they do not change the image)
  # and not captured/ (fixtures taken from a running rig).
  find build.sh initramfs wlansim wlansimd -type f | LC_ALL=C sort | while IFS= read -r f; do
    echo "$f $(stat -c %a "$f")"; cat "$f"
  done
  stat -c '%n %s %Y' /bin/busybox /usr/sbin/dropbear
} | hash_of)
out=$cache_root/$rhash

if [ ! -e "$out/.done" ]; then
  log "building the rig into $out"
  tmp=$(mktemp -d "$cache_root/.tmp-$rhash.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT

  # wlansim.ko, out of tree against the rig kernel.
  mkdir -p "$tmp/wlansim-build"
  cp "$here/wlansim/"* "$tmp/wlansim-build/"
  make -s -C "$kdir/src" M="$tmp/wlansim-build" modules >&2
  cp "$tmp/wlansim-build/wlansim.ko" "$tmp/wlansim.ko"

  # wlansimd, static.
  gcc -static -O2 -Wall -Wextra -o "$tmp/wlansimd" "$here/wlansimd/wlansimd.c"

  # Keys: the guest's host key and the client key the tests log in with.
  mkdir -p "$tmp/keys"
  dropbearkey -t ed25519 -f "$tmp/keys/dropbear_ed25519_host_key" >/dev/null 2>&1
  dropbearkey -y -f "$tmp/keys/dropbear_ed25519_host_key" 2>/dev/null | grep '^ssh-ed25519 ' | cut -d' ' -f1,2 >"$tmp/keys/host_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C leakgate-rig -f "$tmp/keys/id_ed25519"
  chmod 600 "$tmp/keys/id_ed25519"

  # initramfs tree.
  root=$tmp/root
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,tmp,run,root/.ssh,etc/dropbear,var/log}
  cp -a "$here/initramfs/." "$root/"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  cp /usr/sbin/dropbear "$root/usr/sbin/dropbear"
  # dropbear is dynamically linked: bring its libraries and the loader.
  for lib in $(ldd /usr/sbin/dropbear | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp "$tmp/wlansimd" "$root/usr/sbin/wlansimd"
  cp "$tmp/wlansim.ko" "$root/lib/modules/wlansim.ko"
  cp "$tmp/keys/dropbear_ed25519_host_key" "$root/etc/dropbear/"
  cp "$tmp/keys/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  chmod 700 "$root/root" "$root/root/.ssh"
  chmod 600 "$root/root/.ssh/authorized_keys" "$root/etc/dropbear/dropbear_ed25519_host_key"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -9 >"$tmp/initramfs.cpio.gz"
  rm -rf "$root" "$tmp/wlansim-build"

  cp "$kdir/src/arch/x86/boot/bzImage" "$tmp/bzImage"
  cp "$kdir/src/.config" "$tmp/kernel.config"
  cp "$kdir/src/System.map" "$tmp/System.map"
  echo "$khash" >"$tmp/kernel.hash"
  touch "$tmp/.done"
  rm -rf "$out"
  mv "$tmp" "$out"
  trap - EXIT
  log "rig built"
fi

# ---- prune ------------------------------------------------------------------
# Keep this build and the newest few others (a rig booted from an older build
# may still be running); a kernel tree is 1.8 GB, a rig build 8 MB.
prune() { # prune KEEP DIR... (newest first)
  local keep=$1; shift
  local n=0 d
  for d in "$@"; do
    n=$((n + 1))
    [ "$n" -le "$keep" ] && continue
    log "pruning old build $d"
    rm -rf "$d"
  done
}
touch "$out" "$kdir"
# shellcheck disable=SC2046 # cache entries are hex names: no spaces or globs
prune 3 $(ls -1dt "$cache_root"/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f] 2>/dev/null)
# shellcheck disable=SC2046
prune 2 $(ls -1dt "$cache_root"/kernel-[0-9a-f]* 2>/dev/null)
echo "$out"
