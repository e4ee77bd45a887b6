#!/usr/bin/env bash
# boot.sh — boots the leakgate reference target in QEMU on free 127.0.0.1
# ports and waits until SSH answers. Prints the state folder on stdout.
#
# Usage: boot.sh [options]
#   --rig DIR          build output (default: run build.sh, which is cached)
#   --state DIR        state folder (default: a new folder under ${TMPDIR:-/tmp})
#   --append ARG       extra kernel command line word (repeatable), e.g. kmemleak=off;
#                      kmemleak=, page_owner= and slub_debug=/slab_debug= replace the defaults
#                      (the defaults: slub_debug=U kmemleak=on page_owner=on)
#   --param K=V        wlansim module parameter at load time (repeatable), e.g. leak=1
#   --daemon-leak N    start wlansimd with its leak knob on (N bytes per request)
#   --accel auto|tcg|kvm   default auto: KVM only when a quick probe boots a guest
#   --mem SIZE         guest memory (default 512M)
#   --timeout SECS     how long to wait for SSH (default 300)
#   --allow-reboot     let a guest reboot (reboot -f, sysrq b, a panic) restart it in the same
#                      QEMU on the same ports; by default QEMU runs with -no-reboot and exits
#
# The state folder holds: pid, ssh_port, udp_port, known_hosts, ssh_config,
# identity (path of the client key), console.log, accel, cmdline, rig.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${LEAKGATE_RIG_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/leakgate/rig}
rig="" state="" accel=auto mem=512M timeout=300 no_reboot=-no-reboot
extra=() params=() daemon_leak=""

die() { echo "rig: $*" >&2; exit 1; }
log() { echo "rig: $*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --rig) rig=$2; shift 2 ;;
    --state) state=$2; shift 2 ;;
    --append) extra+=("$2"); shift 2 ;;
    --param) params+=("$2"); shift 2 ;;
    --daemon-leak) daemon_leak=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --allow-reboot) no_reboot=""; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) die "unknown option $1; see boot.sh --help" ;;
  esac
done

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing; run scripts/deps.sh and retry"
[ -n "$rig" ] || rig=$("$here/build.sh")
[ -e "$rig/.done" ] || die "$rig is not a finished rig build; run testdata/rig/build.sh"
if [ -z "$state" ]; then
  state=$(mktemp -d "${TMPDIR:-/tmp}/leakgate-rig.XXXXXX")
fi
mkdir -p "$state"
state=$(cd "$state" && pwd)
if [ -e "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
  die "a rig is already running from $state (pid $(cat "$state/pid")); stop it with testdata/rig/stop.sh $state"
fi

# ---- kernel command line ------------------------------------------------------
want_kmemleak=1 want_slab=1 want_page_owner=1
for a in "${extra[@]}"; do
  case $a in
    kmemleak=*) want_kmemleak=0 ;;
    page_owner=*) want_page_owner=0 ;;
    slub_debug=*|slab_debug=*) want_slab=0 ;;
  esac
  case $a in *[!A-Za-z0-9_.,=:/+-]*) die "kernel argument $a has unsafe characters" ;; esac
done
# no_timer_check: on a busy host TCG can miss the IO-APIC timer check and panic.
cmdline="console=ttyS0 panic=-1 no_timer_check"
[ $want_slab = 1 ] && cmdline="$cmdline slub_debug=U"
[ $want_kmemleak = 1 ] && cmdline="$cmdline kmemleak=on"
# page_owner: per-stack page counts in /sys/kernel/debug/page_owner_stacks
# (CONFIG_PAGE_OWNER does nothing without it). allocinfo is on from boot
# (CONFIG_MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT).
[ $want_page_owner = 1 ] && cmdline="$cmdline page_owner=on"
for a in "${extra[@]}"; do cmdline="$cmdline $a"; done
for p in "${params[@]}"; do
  case $p in
    *=*) ;;
    *) die "module parameter $p is not KEY=VALUE" ;;
  esac
  case $p in *[!A-Za-z0-9_.,=-]*) die "module parameter $p has unsafe characters" ;; esac
  cmdline="$cmdline wlansim.$p"
done
if [ -n "$daemon_leak" ]; then
  case $daemon_leak in *[!0-9]*) die "--daemon-leak wants a number of bytes" ;; esac
  cmdline="$cmdline wlansimd.leak=$daemon_leak"
fi

# ---- accelerator ----------------------------------------------------------------
# KVM is used only when a quick probe shows a guest really runs under it (the
# device may exist on a nested host that cannot run guests). The answer is
# cached per host.
kvm_probe() {
  [ -w /dev/kvm ] || return 1
  local key probe out
  key=$( { uname -r; qemu-system-x86_64 --version | head -1; grep -m1 'model name' /proc/cpuinfo; sha256sum <"$rig/bzImage"; } | sha256sum | cut -c1-16)
  probe=$cache_root/kvm-probe-$key
  if [ ! -e "$probe" ]; then
    out=$(mktemp)
    timeout 20 qemu-system-x86_64 -accel kvm -m 128M -display none -monitor none -no-reboot \
      -serial "file:$out" -kernel "$rig/bzImage" -append "console=ttyS0 panic=1" >/dev/null 2>&1 || true
    if grep -q 'Kernel panic' "$out"; then echo yes >"$probe"; else echo no >"$probe"; fi
    rm -f "$out"
  fi
  [ "$(cat "$probe")" = yes ]
}
case $accel in
  auto) if kvm_probe; then accel=kvm; else accel=tcg; fi ;;
  tcg|kvm) ;;
  *) die "--accel wants auto, tcg or kvm" ;;
esac

# ---- ports ----------------------------------------------------------------------
# A random port not listed as in use; QEMU's bind is the real test, so a
# collision is retried with other ports.
in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null | awk '{print $2}' | grep -qi ":$hex\$"
}
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    in_use "$p" || { echo "$p"; return; }
  done
}

: >"$state/console.log"
started=0
for attempt in 1 2 3 4 5 6 7 8; do
  ssh_port=$(pick_port)
  udp_port=$(pick_port)
  [ "$ssh_port" != "$udp_port" ] || continue
  rm -f "$state/pid"
  if qemu-system-x86_64 -accel "$accel" -m "$mem" -smp 1 \
      -display none -monitor none -serial "file:$state/console.log" ${no_reboot:+"$no_reboot"} \
      -kernel "$rig/bzImage" -initrd "$rig/initramfs.cpio.gz" -append "$cmdline" \
      -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$ssh_port-:22,hostfwd=udp:127.0.0.1:$udp_port-:5555" \
      -device virtio-net-pci,netdev=n0 -device virtio-rng-pci \
      -daemonize -pidfile "$state/pid" 2>"$state/qemu.err"; then
    started=1
    break
  fi
  grep -qi 'hostfwd\|address already in use\|could not set up host forwarding' "$state/qemu.err" ||
    die "qemu failed: $(cat "$state/qemu.err")"
  log "port collision (attempt $attempt), retrying"
done
[ $started = 1 ] || die "no free port after 8 attempts: $(cat "$state/qemu.err")"
pid=$(cat "$state/pid")

echo "$ssh_port" >"$state/ssh_port"
echo "$udp_port" >"$state/udp_port"
echo "$accel" >"$state/accel"
echo "$cmdline" >"$state/cmdline"
echo "$rig" >"$state/rig"
echo "$rig/keys/id_ed25519" >"$state/identity"
echo "[127.0.0.1]:$ssh_port $(cat "$rig/keys/host_key.pub")" >"$state/known_hosts"
cat >"$state/ssh_config" <<CFG
Host leakgate-rig
  HostName 127.0.0.1
  Port $ssh_port
  User root
  IdentityFile $rig/keys/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $state/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
CFG

# ---- wait for SSH ---------------------------------------------------------------
log "booting ($accel, pid $pid, ssh 127.0.0.1:$ssh_port, udp 127.0.0.1:$udp_port)"
deadline=$((SECONDS + timeout))
until ssh -F "$state/ssh_config" -o ConnectTimeout=5 leakgate-rig true </dev/null >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    die "qemu exited during boot; console: $(tail -20 "$state/console.log")"
  fi
  if [ $SECONDS -ge $deadline ]; then
    "$here/stop.sh" "$state" >/dev/null 2>&1 || true
    die "SSH did not answer within ${timeout}s; console tail: $(tail -20 "$state/console.log")"
  fi
  sleep 1
done
log "up after ${SECONDS}s"
echo "$state"
