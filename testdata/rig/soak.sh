#!/usr/bin/env bash
# soak.sh — boots the reference target, runs the wifi_soak suite against it
# with the qemu-rig profile, prints the verdict and the report path, and stops
# the VM. `make demo` is `testdata/rig/soak.sh --leak kernel --expect fail`.
#
# Usage: soak.sh [options] [-- extra suite flags, e.g. --duration 3m]
#   --leak MODE                 what to break (default kernel):
#                               kernel: wlansim leak=1 leak_every=100 (slab + kmemleak)
#                               daemon: wlansimd leaks 512 bytes per request
#                               pages:  RX pages (alloc_pages, order 1) pinned, one in 50 frames
#                               frags:  RX fragments (netdev_alloc_frag) pinned, one in 50 frames
#                               pages-clean, frags-clean: the same RX paths, nothing pinned
#                               none:   nothing
#   --kmemleak-off              boot with kmemleak=off (preflight must fail)
#   --expect fail|pass|any      exit 0 only when the suite's outcome matches (default any:
#                               the suite's own status)
#   --out DIR                   run folders (default out/rig-soak)
#   --profile FILE              default testdata/profiles/qemu-rig.yaml
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
leak=kernel expect=any out=$repo/out/rig-soak profile=$repo/testdata/profiles/qemu-rig.yaml
boot_flags=()
while [ $# -gt 0 ]; do
  case $1 in
    --leak) leak=$2; shift 2 ;;
    --kmemleak-off) boot_flags+=(--append kmemleak=off); shift ;;
    --expect) expect=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "soak: unknown option $1; see soak.sh --help" >&2; exit 2 ;;
  esac
done
case $leak in
  kernel) boot_flags+=(--param leak=1 --param leak_every=100) ;;
  daemon) boot_flags+=(--daemon-leak 512) ;;
  pages) boot_flags+=(--param rx_pages=1 --param rx_page_order=1 --param page_leak=1 --param leak_every=50) ;;
  frags) boot_flags+=(--param rx_frags=1 --param page_leak=1 --param leak_every=50) ;;
  pages-clean) boot_flags+=(--param rx_pages=1 --param rx_page_order=1) ;;
  frags-clean) boot_flags+=(--param rx_frags=1) ;;
  none) ;;
  *) echo "soak: --leak wants kernel, daemon, pages, frags, pages-clean, frags-clean or none" >&2; exit 2 ;;
esac
case $expect in fail|pass|any) ;; *) echo "soak: --expect wants fail, pass or any" >&2; exit 2 ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
profile=$(cd "$(dirname "$profile")" && pwd)/$(basename "$profile")

echo "soak: building the rig (cached)" >&2
rig=$("$here/build.sh")
state=$(mktemp -d "${TMPDIR:-/tmp}/leakgate-rig-soak.XXXXXX")
trap '"$here/stop.sh" "$state"; rm -rf "$state"' EXIT
"$here/boot.sh" --rig "$rig" --state "$state" "${boot_flags[@]}" >/dev/null
ssh_port=$(cat "$state/ssh_port")
echo "soak: rig up on ssh://root@127.0.0.1:$ssh_port (leak: $leak); soaking" >&2

before=$(ls -1 "$out" 2>/dev/null | wc -l)
set +e
(
  cd "$repo/suites/wifi_soak"
  export RIG_UDP_PORT RIG_SSH_PORT
  RIG_UDP_PORT=$(cat "$state/udp_port") RIG_SSH_PORT=$ssh_port \
    go test -tags soak -count=1 -timeout 30m . -args \
      --target "ssh://root@127.0.0.1:$ssh_port" \
      --identity "$(cat "$state/identity")" --known-hosts "$state/known_hosts" \
      --profile "$profile" --out "$out" "$@"
)
status=$?
set -e
run=$(ls -1td "$out"/*/ 2>/dev/null | head -1)
if [ "$(ls -1 "$out" | wc -l)" -gt "$before" ] && [ -n "$run" ]; then
  echo "soak: run folder ${run%/}" >&2
  [ -e "$run/report.html" ] && echo "soak: report ${run}report.html" >&2
fi
case $expect in
  any) exit $status ;;
  fail) [ $status -ne 0 ] || { echo "soak: the suite passed, but a failure was expected" >&2; exit 1; } ;;
  pass) [ $status -eq 0 ] || { echo "soak: the suite failed, but a pass was expected" >&2; exit 1; } ;;
esac
exit 0
